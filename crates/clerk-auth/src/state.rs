//! The one session state the app shows, published on a `watch` channel.

use serde::{Deserialize, Serialize};

/// The signed-in person, from the ID token's claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// `sub`: the Clerk user id, e.g. `user_2AdaLovelace1815000000`.
    pub id: String,
    /// `name`, or `given_name family_name`.
    pub name: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `picture`: an avatar URL.
    pub picture: Option<String>,
}

/// Why the session is signed out: a code for programs, a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignOutReason {
    /// `session_ended`, `state_mismatch`, `access_denied` (or another OAuth
    /// error code), `timeout`, `cancelled`, `network`, `keychain`,
    /// `invalid_id_token`, `protocol`, `config`.
    pub code: String,
    /// What happened and what to do, for a person.
    pub message: String,
}

/// The session as the app shows it; serialized as the `auth://state-changed`
/// payload (`{"status": "signedIn", "user": {...}, "offline": false}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum AuthState {
    /// Reading the keychain and refreshing (app start).
    Loading,
    /// No session. `reason` says why, when it was not the person's choice.
    SignedOut {
        /// Why the last attempt or the session ended, if it was an error.
        reason: Option<SignOutReason>,
    },
    /// A sign-in flow is open.
    SigningIn,
    /// Signed in. `offline`: the issuer cannot be reached right now; the
    /// session is kept and refresh is retried.
    SignedIn {
        /// Who.
        user: User,
        /// The issuer was unreachable at the last refresh.
        offline: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_app_event_payload() {
        let s = AuthState::SignedIn {
            user: User {
                id: "user_1".into(),
                name: Some("Ada Lovelace".into()),
                email: None,
                picture: None,
            },
            offline: false,
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"status": "signedIn", "user": {"id": "user_1", "name": "Ada Lovelace", "email": null, "picture": null}, "offline": false})
        );
        let out = AuthState::SignedOut {
            reason: Some(SignOutReason {
                code: "session_ended".into(),
                message: "m".into(),
            }),
        };
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            serde_json::json!({"status": "signedOut", "reason": {"code": "session_ended", "message": "m"}})
        );
        assert_eq!(
            serde_json::to_value(AuthState::SigningIn).unwrap(),
            serde_json::json!({"status": "signingIn"})
        );
        assert_eq!(
            serde_json::to_value(AuthState::Loading).unwrap(),
            serde_json::json!({"status": "loading"})
        );
    }
}

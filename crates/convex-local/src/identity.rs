//! `ctx.auth.getUserIdentity()`: the verified claims under Convex's names.

use serde_json::{Map, Value};

/// Claims that are either renamed below or protocol plumbing, never custom.
const NOT_CUSTOM: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "name",
    "given_name",
    "family_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
];

/// Builds the identity object from verified claims: `tokenIdentifier` is
/// `iss|sub`; standard claims get Convex's camelCase names; other claims
/// are kept as they are.
pub(crate) fn identity_from_claims(claims: &Map<String, Value>) -> Value {
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut out = Map::new();
    out.insert("tokenIdentifier".into(), format!("{iss}|{sub}").into());
    out.insert("subject".into(), sub.into());
    out.insert("issuer".into(), iss.into());
    let strings = [
        ("name", "name"),
        ("given_name", "givenName"),
        ("family_name", "familyName"),
        ("nickname", "nickname"),
        ("preferred_username", "preferredUsername"),
        ("profile", "profileUrl"),
        ("picture", "pictureUrl"),
        ("website", "websiteUrl"),
        ("email", "email"),
        ("gender", "gender"),
        ("birthdate", "birthday"),
        ("zoneinfo", "timezone"),
        ("locale", "language"),
        ("phone_number", "phoneNumber"),
    ];
    for (claim, field) in strings {
        if let Some(Value::String(s)) = claims.get(claim) {
            out.insert(field.into(), s.clone().into());
        }
    }
    for (claim, field) in [
        ("email_verified", "emailVerified"),
        ("phone_number_verified", "phoneNumberVerified"),
    ] {
        if let Some(Value::Bool(b)) = claims.get(claim) {
            out.insert(field.into(), (*b).into());
        }
    }
    if let Some(formatted) = claims
        .get("address")
        .and_then(|a| a.get("formatted"))
        .and_then(Value::as_str)
    {
        out.insert("address".into(), formatted.into());
    }
    if let Some(secs) = claims.get("updated_at").and_then(Value::as_i64) {
        out.insert("updatedAt".into(), rfc3339(secs).into());
    }
    for (k, v) in claims {
        if !NOT_CUSTOM.contains(&k.as_str()) && !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SS+00:00` (chrono's
/// `to_rfc3339`, which Convex uses for `updatedAt`).
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_get_convex_names_and_custom_claims_stay() {
        let claims = json!({
            "iss": "https://clerk.example", "sub": "user_1", "aud": "c", "exp": 1, "iat": 0,
            "name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
            "email": "ada@example.com", "email_verified": true,
            "picture": "https://clerk.example/a.svg", "updated_at": 1_700_000_000,
            "org_role": "admin", "nonce": "n"
        });
        let id = identity_from_claims(claims.as_object().unwrap());
        assert_eq!(id["tokenIdentifier"], "https://clerk.example|user_1");
        assert_eq!(id["givenName"], "Ada");
        assert_eq!(id["familyName"], "Lovelace");
        assert_eq!(id["emailVerified"], true);
        assert_eq!(id["pictureUrl"], "https://clerk.example/a.svg");
        assert_eq!(id["updatedAt"], "2023-11-14T22:13:20+00:00");
        assert_eq!(id["org_role"], "admin");
        assert!(id.get("nonce").is_none() && id.get("aud").is_none());
    }
}

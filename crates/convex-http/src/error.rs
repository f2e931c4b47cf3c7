//! What can go wrong calling Convex.

use std::fmt;

use crate::{TokenError, TokenErrorKind};

/// A failed Convex call. Variants keep what a caller needs to decide: the
/// function's own error and data, Convex's auth error code, the HTTP status
/// and a snippet of an unexpected body.
#[derive(Debug, thiserror::Error)]
pub enum ConvexError {
    /// The function ran and threw (`{"status":"error"}`): `message` is
    /// Convex's `errorMessage`, `data` its `errorData` (a `ConvexError`'s
    /// payload) when there was one.
    #[error("{message}")]
    Function {
        /// Convex's `errorMessage`, e.g. `Uncaught Error: Not authenticated`.
        message: String,
        /// Convex's `errorData`, when the function threw a `ConvexError`.
        data: Option<serde_json::Value>,
    },
    /// Convex answered HTTP 401 to the call and to its one retry after a
    /// forced token refresh (`code` is e.g. `Unauthenticated`,
    /// `InvalidAuthHeader`, `NoAuthProvider`).
    #[error("Convex did not accept the sign-in token ({code}): {message}")]
    Unauthenticated {
        /// Convex's error code.
        code: String,
        /// Convex's message.
        message: String,
    },
    /// Any other unexpected HTTP status (including redirects, which are not
    /// followed); `body` is the start of the body (at most 512 bytes).
    #[error("Convex answered HTTP {status}: {body}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The request did not complete: no connection, timeout, broken stream.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The answer was not Convex's JSON envelope, or its `value` did not fit
    /// the requested type (or, rarely, the arguments could not be encoded
    /// as JSON: a map with non-string keys).
    #[error("could not read Convex's answer: {what}")]
    Decode {
        /// What was being read, with the start of the offending text.
        what: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The [`TokenSource`](crate::TokenSource) could not provide a token.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Bad configuration (`CONVEX_URL` missing or not http(s), client setup).
    #[error("{0}")]
    Config(String),
    /// The deployment URL is plain `http` on a host that is not this
    /// machine: the ID token would cross the network in clear. Only
    /// loopback (127.0.0.0/8, ::1, localhost) may use `http`.
    #[error(
        "the Convex URL {url} uses plain http on a host that is not this machine: \
         set CONVEX_URL to its https:// address (http is allowed for 127.0.0.1, ::1 and localhost only)"
    )]
    InsecureUrl {
        /// The URL as configured.
        url: String,
    },
}

impl ConvexError {
    /// True when the backend or the issuer could not be reached (connect
    /// failure or timeout, or the token source was offline): keep the
    /// session, show "offline", retry later.
    pub fn is_offline(&self) -> bool {
        match self {
            Self::Transport(t) => t.is_offline(),
            Self::Token(t) => t.kind() == TokenErrorKind::Offline,
            _ => false,
        }
    }

    /// True when there is no session to call with: the person must sign in.
    pub fn is_not_signed_in(&self) -> bool {
        matches!(self, Self::Token(t) if t.kind() == TokenErrorKind::NotSignedIn)
    }
}

/// What kind of transport failure happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection could be made (refused, DNS, unreachable, connect timeout).
    Connect,
    /// The request did not finish within the client's timeout.
    Timeout,
    /// The connection broke or the body could not be read.
    Other,
}

/// A request that did not complete; the `reqwest` error is the source.
#[derive(Debug)]
pub struct TransportError {
    kind: TransportErrorKind,
    source: reqwest::Error,
}

impl TransportError {
    pub(crate) fn new(source: reqwest::Error) -> Self {
        let kind = if source.is_timeout() {
            TransportErrorKind::Timeout
        } else if source.is_connect() {
            TransportErrorKind::Connect
        } else {
            TransportErrorKind::Other
        };
        Self { kind, source }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// True for connect failures and timeouts (the "offline" cases).
    pub fn is_offline(&self) -> bool {
        matches!(
            self.kind,
            TransportErrorKind::Connect | TransportErrorKind::Timeout
        )
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            TransportErrorKind::Connect => "could not connect to Convex",
            TransportErrorKind::Timeout => "Convex did not answer in time",
            TransportErrorKind::Other => "the request to Convex failed",
        })
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The start of `text`, at most `max` bytes, cut on a character boundary.
pub(crate) fn snippet(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_cuts_on_char_boundaries() {
        assert_eq!(snippet("short", 10), "short");
        assert_eq!(snippet("ééé", 3), "é…");
        assert_eq!(snippet("abcdef", 4), "abcd…");
    }

    #[test]
    fn offline_and_signed_out_helpers() {
        let offline = ConvexError::Token(TokenError::new(TokenErrorKind::Offline, "down"));
        assert!(offline.is_offline());
        assert!(!offline.is_not_signed_in());
        let signed_out = ConvexError::Token(TokenError::not_signed_in());
        assert!(signed_out.is_not_signed_in());
        assert!(!signed_out.is_offline());
        let function = ConvexError::Function {
            message: "boom".into(),
            data: None,
        };
        assert!(!function.is_offline() && !function.is_not_signed_in());
        assert_eq!(function.to_string(), "boom");
    }
}

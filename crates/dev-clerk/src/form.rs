//! Reading `application/x-www-form-urlencoded` bodies and query strings,
//! strictly: a repeated parameter is an error (RFC 6749 section 3.1), a
//! body is bounded, and the content type must be the form's.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};

use crate::server::MAX_BODY;

/// Parameters of one request.
#[derive(Default)]
pub(crate) struct Params {
    values: HashMap<String, String>,
    repeated: Vec<String>,
}

/// Names only: values include passwords, codes, verifiers and tokens.
impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.values.keys().map(String::as_str).collect();
        names.sort_unstable();
        let mut map = f.debug_map();
        for name in names {
            map.entry(&name, &crate::secret::REDACTED);
        }
        map.finish()
    }
}

impl Params {
    /// Parses `a=1&b=2`. Empty values count as absent, as RFC 6749 section 3.1 says.
    pub(crate) fn parse(bytes: &[u8]) -> Params {
        let mut params = Params::default();
        for (k, v) in url::form_urlencoded::parse(bytes) {
            if v.is_empty() {
                continue;
            }
            if params.values.contains_key(k.as_ref()) {
                if !params.repeated.iter().any(|r| r == k.as_ref()) {
                    params.repeated.push(k.into_owned());
                }
            } else {
                params.values.insert(k.into_owned(), v.into_owned());
            }
        }
        params
    }

    /// A parameter's value, if present and not empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether `name` appeared more than once.
    pub(crate) fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|r| r == name)
    }

    /// The first parameter that appeared more than once.
    pub(crate) fn first_repeated(&self) -> Option<&str> {
        self.repeated.first().map(String::as_str)
    }

    /// The first parameter longer than `max` bytes.
    pub(crate) fn first_too_long(&self, max: usize) -> Option<&str> {
        self.values
            .iter()
            .find(|(_, v)| v.len() > max)
            .map(|(k, _)| k.as_str())
    }
}

/// Why a form body was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyError {
    TooLarge,
    WrongContentType,
    NotUtf8,
}

impl BodyError {
    pub(crate) fn describe(&self) -> String {
        match self {
            BodyError::TooLarge => format!("request body larger than {MAX_BODY} bytes"),
            BodyError::WrongContentType => {
                "Content-Type must be application/x-www-form-urlencoded".to_string()
            }
            BodyError::NotUtf8 => "request body is not valid UTF-8".to_string(),
        }
    }
}

/// Reads a bounded form body.
pub(crate) async fn read_form(headers: &HeaderMap, body: Body) -> Result<Params, BodyError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > MAX_BODY {
            return Err(BodyError::TooLarge);
        }
    }
    // Past the length check above, a failed read is a chunked body over the
    // limit (a client that hung up reads no answer anyway).
    let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| BodyError::TooLarge)?;
    if !is_form {
        return Err(BodyError::WrongContentType);
    }
    if std::str::from_utf8(&bytes).is_err() {
        return Err(BodyError::NotUtf8);
    }
    Ok(Params::parse(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_names_not_values() {
        let p = Params::parse(
            b"password=hunter2-secret&code=c0de-secret&refresh_token=rt-secret&client_id=app",
        );
        let text = format!("{p:?}");
        for secret in ["hunter2-secret", "c0de-secret", "rt-secret", "app\""] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("\"password\": \"[redacted]\""), "{text}");
    }

    #[test]
    fn repeats_and_empty_values() {
        let p = Params::parse(b"a=1&a=2&b=&c=3");
        assert!(p.is_repeated("a") && !p.is_repeated("c"));
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.first_repeated(), Some("a"));
    }
}

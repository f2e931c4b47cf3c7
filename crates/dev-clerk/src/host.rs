//! Answering only for the issuer's own `Host`: a web page whose name was
//! re-pointed at 127.0.0.1 (DNS rebinding) sends its own name as `Host`,
//! so refusing every other name keeps such pages from reading dev-clerk's
//! pages and posting its forms as if same-origin.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::error::Error;
use crate::server::Shared;

/// The authority of the issuer URL, as a `Host` header must name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AllowedHost {
    /// Lowercase; IPv6 in brackets, as in a URL.
    host: String,
    port: u16,
    /// Whether the port may be left out (it is the scheme's default).
    default_port: bool,
}

impl AllowedHost {
    /// From the issuer URL, e.g. `http://127.0.0.1:4810`.
    pub(crate) fn of_issuer(issuer: &str) -> Result<AllowedHost, Error> {
        let url =
            Url::parse(issuer).map_err(|e| Error::Config(format!("issuer URL {issuer:?}: {e}")))?;
        let host = url
            .host_str()
            .ok_or_else(|| Error::Config(format!("issuer URL {issuer:?} has no host")))?
            .to_ascii_lowercase();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Error::Config(format!("issuer URL {issuer:?} has no port")))?;
        Ok(AllowedHost {
            host,
            port,
            default_port: url.port().is_none(),
        })
    }

    /// `host[:port]` as the issuer URL names it.
    fn shown(&self) -> String {
        if self.default_port {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Whether a `Host` header value names the issuer.
    pub(crate) fn matches(&self, value: &str) -> bool {
        let (host, port) = if value.starts_with('[') {
            match value.find(']') {
                Some(end) => (&value[..=end], &value[end + 1..]),
                None => return false,
            }
        } else {
            match value.find(':') {
                Some(at) => (&value[..at], &value[at..]),
                None => (value, ""),
            }
        };
        let port_ok = match port.strip_prefix(':') {
            None if port.is_empty() => self.default_port,
            None => false,
            Some(digits) => {
                !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && digits.parse::<u16>().is_ok_and(|p| p == self.port)
            }
        };
        port_ok && host.eq_ignore_ascii_case(&self.host)
    }
}

/// Middleware: 421 Misdirected Request for any other `Host` (or none).
pub(crate) async fn host_check(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    // An absolute-form request target names the host too; it must agree.
    let target_ok = request
        .uri()
        .authority()
        .is_none_or(|a| shared.host.matches(a.as_str()));
    if target_ok && given.is_some_and(|h| shared.host.matches(h)) {
        return next.run(request).await;
    }
    let shown: String = given.unwrap_or("(none)").chars().take(200).collect();
    tracing::warn!(host = %shown, "request refused: Host is not the issuer's");
    let text = format!(
        "dev-clerk answers only for Host {} (its issuer URL is {}); this request named Host {shown:?}. \
         Open the issuer URL itself.\n",
        shared.host.shown(),
        shared.issuer
    );
    let mut response = (StatusCode::MISDIRECTED_REQUEST, text).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_issuers_authority_matches() {
        let h = AllowedHost::of_issuer("http://127.0.0.1:4810").unwrap();
        assert!(h.matches("127.0.0.1:4810"));
        for bad in [
            "127.0.0.1",
            "127.0.0.1:4811",
            "127.0.0.1:",
            "127.0.0.1:04810x",
            "localhost:4810",
            "evil.example:4810",
            "127.0.0.1.:4810",
            "127.0.0.1:4810:4810",
            "",
            "[::1]:4810",
        ] {
            assert!(!h.matches(bad), "{bad:?}");
        }
        let d = AllowedHost::of_issuer("https://Auth.Example/").unwrap();
        assert!(d.matches("auth.example") && d.matches("AUTH.example:443"));
        assert!(!d.matches("auth.example:80"));
        let v6 = AllowedHost::of_issuer("http://[::1]:9000").unwrap();
        assert!(v6.matches("[::1]:9000") && !v6.matches("[::1]") && !v6.matches("[::1"));
        assert!(AllowedHost::of_issuer("not a url").is_err());
    }
}

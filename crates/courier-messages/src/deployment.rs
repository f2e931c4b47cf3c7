//! The Convex deployment URL. The ID token goes there, so it is checked
//! before anything connects: http(s) with a host, and plain http only to
//! this machine.

use url::Url;

/// The setting holding the Convex deployment URL.
pub const CONVEX_URL: &str = "CONVEX_URL";

/// A deployment URL that cannot be used, and what to set instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// `CONVEX_URL` is missing or blank.
    #[error(
        "{CONVEX_URL} is not set: set it to your Convex deployment URL \
         (for example https://happy-otter-123.convex.cloud, or \
         http://127.0.0.1:3210 for convex-local) in the environment or a .env file"
    )]
    NotSet,
    /// Not a URL at all.
    #[error(
        "{CONVEX_URL} is not a valid URL ({0}): expected something like \
         https://happy-otter-123.convex.cloud"
    )]
    Invalid(String),
    /// Another scheme than http or https.
    #[error("the Convex URL must start with http:// or https://, not {0}://")]
    Scheme(String),
    /// No host.
    #[error(
        "the Convex URL has no host: expected something like https://happy-otter-123.convex.cloud"
    )]
    NoHost,
    /// A query or fragment, which Convex URLs never have.
    #[error("the Convex URL must not carry a query or fragment")]
    QueryOrFragment,
    /// Plain `http` on a host that is not this machine: the ID token would
    /// cross the network in clear.
    #[error(
        "the Convex URL {url} uses plain http on a host that is not this machine: \
         set {CONVEX_URL} to its https:// address (http is allowed for 127.0.0.1, ::1 and localhost only)"
    )]
    Insecure {
        /// The URL as configured.
        url: String,
    },
}

/// Reads the deployment URL from `CONVEX_URL` via `lookup` (the merged
/// settings of the app or the CLI). The value is trimmed, then checked with
/// [`check`].
pub fn url_from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Url, UrlError> {
    let raw = lookup(CONVEX_URL).unwrap_or_default();
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(UrlError::NotSet);
    }
    let url = Url::parse(raw).map_err(|e| UrlError::Invalid(e.to_string()))?;
    check(&url)?;
    Ok(url)
}

/// What every deployment URL must satisfy, wherever it came from.
pub fn check(url: &Url) -> Result<(), UrlError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlError::Scheme(url.scheme().to_owned()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::NoHost);
    }
    if url.scheme() == "http" && !is_loopback(url) {
        return Err(UrlError::Insecure {
            url: url.as_str().to_owned(),
        });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(UrlError::QueryOrFragment);
    }
    Ok(())
}

/// Whether the URL points at this machine (127.0.0.0/8, ::1, localhost):
/// the only hosts where plain http keeps the token on the machine.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(value: Option<&str>) -> impl Fn(&str) -> Option<String> + '_ {
        move |key| {
            assert_eq!(key, CONVEX_URL);
            value.map(str::to_owned)
        }
    }

    #[test]
    fn reads_http_and_https_urls() {
        let url = url_from_env(lookup(Some(" http://127.0.0.1:3210 "))).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:3210/");
        let url = url_from_env(lookup(Some("https://happy-otter-123.convex.cloud"))).unwrap();
        assert_eq!(url.host_str(), Some("happy-otter-123.convex.cloud"));
    }

    #[test]
    fn missing_or_blank_says_what_to_set() {
        for value in [None, Some(""), Some("   ")] {
            let err = url_from_env(lookup(value)).unwrap_err();
            assert_eq!(err, UrlError::NotSet);
            assert!(err.to_string().contains("CONVEX_URL is not set"), "{err}");
        }
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:3210",
            "http://127.1.2.3:3210",
            "http://[::1]:3210",
            "http://localhost:3210",
            "http://LOCALHOST",
            "https://happy-otter-123.convex.cloud",
            "https://10.0.0.5",
        ] {
            assert!(url_from_env(lookup(Some(ok))).is_ok(), "{ok}");
        }
        for bad in [
            "http://happy-otter-123.convex.cloud",
            "http://10.0.0.5:3210",
            "http://[::2]:3210",
            "http://localhost.evil.example.com",
            "http://128.0.0.1",
        ] {
            let err = url_from_env(lookup(Some(bad))).unwrap_err();
            assert!(
                matches!(&err, UrlError::Insecure { url } if url.starts_with("http://")),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().contains("https://"), "{err}");
            assert!(err.to_string().contains("CONVEX_URL"), "{err}");
        }
    }

    #[test]
    fn rejects_other_schemes_and_garbage() {
        let err = url_from_env(lookup(Some("ftp://example.com"))).unwrap_err();
        assert!(err.to_string().contains("http:// or https://"), "{err}");
        let err = url_from_env(lookup(Some("happy-otter-123.convex.cloud"))).unwrap_err();
        assert!(err.to_string().contains("not a valid URL"), "{err}");
        let err = url_from_env(lookup(Some("https://x.convex.cloud/?a=b"))).unwrap_err();
        assert!(err.to_string().contains("query"), "{err}");
    }
}

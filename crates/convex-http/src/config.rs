//! Reading the deployment URL from the environment.

use url::Url;

use crate::ConvexError;

/// The environment variable holding the Convex deployment URL.
pub const CONVEX_URL: &str = "CONVEX_URL";

/// Reads the deployment URL from `CONVEX_URL` via `lookup` (usually
/// `|k| std::env::var(k).ok()`, after the binary loaded its `.env` files).
///
/// The value is trimmed; it must be an absolute `http` or `https` URL with a
/// host (`https://happy-otter-123.convex.cloud`, `http://127.0.0.1:3210`).
/// Anything else is a [`ConvexError::Config`] whose message says what to set.
pub fn url_from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Url, ConvexError> {
    let raw = lookup(CONVEX_URL).unwrap_or_default();
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ConvexError::Config(format!(
            "{CONVEX_URL} is not set: set it to your Convex deployment URL \
             (for example https://happy-otter-123.convex.cloud, or \
             http://127.0.0.1:3210 for convex-local) in the environment or a .env file"
        )));
    }
    let url = Url::parse(raw).map_err(|e| {
        ConvexError::Config(format!(
            "{CONVEX_URL} is not a valid URL ({e}): expected something like \
             https://happy-otter-123.convex.cloud"
        ))
    })?;
    check_deployment_url(&url)?;
    Ok(url)
}

/// Checks what every deployment URL must satisfy, whatever its origin.
pub(crate) fn check_deployment_url(url: &Url) -> Result<(), ConvexError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConvexError::Config(format!(
            "the Convex URL must start with http:// or https://, not {}://",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConvexError::Config(
            "the Convex URL has no host: expected something like https://happy-otter-123.convex.cloud"
                .to_owned(),
        ));
    }
    if url.scheme() == "http" && !is_loopback(url) {
        return Err(ConvexError::InsecureUrl {
            url: url.as_str().to_owned(),
        });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConvexError::Config(
            "the Convex URL must not carry a query or fragment".to_owned(),
        ));
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
            assert!(matches!(err, ConvexError::Config(_)), "{err:?}");
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
                matches!(&err, ConvexError::InsecureUrl { url } if url.starts_with("http://")),
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

//! Where the issuer is and who we are: [`ClerkConfig`] from the environment.

use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use url::Url;

/// Default clock leeway for ID token `exp`/`nbf` checks.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// How the app shows the issuer's sign-in page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SignInMode {
    /// A window of the app itself (a webview) that intercepts the redirect.
    #[default]
    Webview,
    /// The system browser, redirecting to the loopback listener (RFC 8252).
    Browser,
}

impl std::str::FromStr for SignInMode {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "webview" => Ok(SignInMode::Webview),
            "browser" => Ok(SignInMode::Browser),
            _ => Err(ConfigError::BadSignInMode(s.to_owned())),
        }
    }
}

/// What clerk-auth needs to know about the issuer and this client.
#[derive(Clone, Debug, PartialEq)]
pub struct ClerkConfig {
    /// The issuer (Clerk Frontend API URL), e.g. `https://verb-noun-00.clerk.accounts.dev`.
    pub issuer: Url,
    /// The OAuth client id (= the ID token's `aud`).
    pub client_id: String,
    /// Webview or system browser.
    pub sign_in_mode: SignInMode,
    /// A fixed loopback port for the redirect; `None` picks a free one per flow.
    pub redirect_port: Option<u16>,
    /// Clock leeway for `exp` and `nbf` ([`DEFAULT_LEEWAY`]; tests use zero).
    pub leeway: Duration,
}

/// A configuration value is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Neither an issuer URL nor a publishable key is set.
    #[error("no Clerk issuer configured: set CLERK_FRONTEND_API_URL (or CLERK_PUBLISHABLE_KEY)")]
    MissingIssuer,
    /// The issuer URL does not parse or is not https (http is allowed on loopback only).
    #[error("invalid Clerk issuer URL {url:?}: {why}")]
    BadIssuerUrl {
        /// The value as given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The publishable key is not `pk_test_`/`pk_live_` + base64 of `<host>$`.
    #[error("invalid CLERK_PUBLISHABLE_KEY: {0}")]
    BadPublishableKey(String),
    /// `CLERK_OAUTH_CLIENT_ID` is missing or empty.
    #[error("no OAuth client id configured: set CLERK_OAUTH_CLIENT_ID")]
    MissingClientId,
    /// `COURIER_SIGN_IN_MODE` is neither `webview` nor `browser`.
    #[error("invalid COURIER_SIGN_IN_MODE {0:?}: use \"webview\" or \"browser\"")]
    BadSignInMode(String),
    /// `COURIER_REDIRECT_PORT` is not a port number.
    #[error("invalid COURIER_REDIRECT_PORT {0:?}: use a number from 1 to 65535")]
    BadRedirectPort(String),
    /// `COURIER_CLOCK_LEEWAY_SECS` is not a number of seconds.
    #[error("invalid COURIER_CLOCK_LEEWAY_SECS {0:?}: use a number of seconds (default 30)")]
    BadLeeway(String),
}

impl ClerkConfig {
    /// A configuration with defaults: webview mode, random redirect port,
    /// [`DEFAULT_LEEWAY`].
    pub fn new(issuer: Url, client_id: impl Into<String>) -> Self {
        ClerkConfig {
            issuer,
            client_id: client_id.into(),
            sign_in_mode: SignInMode::default(),
            redirect_port: None,
            leeway: DEFAULT_LEEWAY,
        }
    }

    /// Reads `CLERK_FRONTEND_API_URL` (alias `CLERK_JWT_ISSUER_DOMAIN`), else
    /// `CLERK_PUBLISHABLE_KEY`; `CLERK_OAUTH_CLIENT_ID`; `COURIER_SIGN_IN_MODE`;
    /// `COURIER_REDIRECT_PORT`; `COURIER_CLOCK_LEEWAY_SECS` (default
    /// [`DEFAULT_LEEWAY`]; tests use 0 so that a broken refresh cannot hide
    /// behind it), through `lookup` (e.g. `|k| std::env::var(k).ok()`).
    /// Empty values count as unset.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let issuer = match get("CLERK_FRONTEND_API_URL").or_else(|| get("CLERK_JWT_ISSUER_DOMAIN"))
        {
            Some(url) => parse_issuer(&url)?,
            None => match get("CLERK_PUBLISHABLE_KEY") {
                Some(pk) => issuer_from_publishable_key(&pk)?,
                None => return Err(ConfigError::MissingIssuer),
            },
        };
        let client_id = get("CLERK_OAUTH_CLIENT_ID").ok_or(ConfigError::MissingClientId)?;
        let sign_in_mode = match get("COURIER_SIGN_IN_MODE") {
            Some(m) => m.parse()?,
            None => SignInMode::default(),
        };
        let redirect_port = match get("COURIER_REDIRECT_PORT") {
            Some(p) => match p.parse::<u16>() {
                Ok(0) => None,
                Ok(n) => Some(n),
                Err(_) => return Err(ConfigError::BadRedirectPort(p)),
            },
            None => None,
        };
        let leeway = match get("COURIER_CLOCK_LEEWAY_SECS") {
            Some(raw) => raw
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| ConfigError::BadLeeway(raw))?,
            None => DEFAULT_LEEWAY,
        };
        Ok(ClerkConfig {
            issuer,
            client_id,
            sign_in_mode,
            redirect_port,
            leeway,
        })
    }

    /// The issuer as the ID token's `iss` spells it: no trailing slash.
    pub fn issuer_str(&self) -> String {
        self.issuer.as_str().trim_end_matches('/').to_owned()
    }

    /// The keychain account for this issuer and client: `<issuer>|<client_id>`.
    pub fn keychain_account(&self) -> String {
        format!("{}|{}", self.issuer_str(), self.client_id)
    }
}

/// Parses an issuer URL: `https://...`, or `http://` on a loopback host.
/// A bare host (`verb-noun-00.clerk.accounts.dev`, as the Convex docs write
/// it) gets `https://`.
pub fn parse_issuer(raw: &str) -> Result<Url, ConfigError> {
    let bad = |why: &str| ConfigError::BadIssuerUrl {
        url: raw.to_owned(),
        why: why.to_owned(),
    };
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("https://{raw}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("an issuer has no query or fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(bad(
                "http is allowed for 127.0.0.1/localhost only; use https",
            ))
        }
        _ => return Err(bad("the scheme must be https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    Ok(url)
}

/// Whether the URL points at this machine (127.0.0.0/8, ::1, localhost).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Decodes a Clerk publishable key (`pk_test_`/`pk_live_` + base64 of
/// `<frontend api host>$`) to the issuer URL `https://<host>`.
pub fn issuer_from_publishable_key(key: &str) -> Result<Url, ConfigError> {
    let bad = |why: &str| ConfigError::BadPublishableKey(why.to_owned());
    let encoded = key
        .strip_prefix("pk_test_")
        .or_else(|| key.strip_prefix("pk_live_"))
        .ok_or_else(|| bad("it must start with pk_test_ or pk_live_"))?;
    let trimmed = encoded.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
        .map_err(|_| bad("the part after the prefix is not base64"))?;
    let text = String::from_utf8(bytes).map_err(|_| bad("the decoded key is not text"))?;
    let host = text
        .strip_suffix('$')
        .ok_or_else(|| bad("the decoded key does not end with '$'"))?;
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':')
    {
        return Err(bad("the decoded key is not a host name"));
    }
    Url::parse(&format!("https://{host}")).map_err(|e| bad(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn pk(host: &str, prefix: &str) -> String {
        format!(
            "{prefix}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{host}$"))
        )
    }

    #[test]
    fn publishable_key_decodes_to_https_host() {
        let url = issuer_from_publishable_key(&pk("verb-noun-00.clerk.accounts.dev", "pk_test_"))
            .unwrap();
        assert_eq!(url.as_str(), "https://verb-noun-00.clerk.accounts.dev/");
        let live = issuer_from_publishable_key(&pk("clerk.example.com", "pk_live_")).unwrap();
        assert_eq!(live.host_str(), Some("clerk.example.com"));
    }

    #[test]
    fn malformed_publishable_keys_are_clear_errors() {
        for key in [
            "sk_test_abc",
            "pk_test_",
            "pk_test_!!!notbase64",
            &format!(
                "pk_test_{}",
                base64::engine::general_purpose::STANDARD_NO_PAD.encode("no-dollar.example.com")
            ),
            &format!(
                "pk_test_{}",
                base64::engine::general_purpose::STANDARD_NO_PAD.encode("bad host/$")
            ),
        ] {
            let err = issuer_from_publishable_key(key).unwrap_err();
            assert!(
                matches!(err, ConfigError::BadPublishableKey(_)),
                "{key}: {err:?}"
            );
            assert!(err.to_string().contains("CLERK_PUBLISHABLE_KEY"));
        }
    }

    #[test]
    fn from_env_reads_every_key_with_precedence() {
        let c = ClerkConfig::from_env(env(&[
            ("CLERK_FRONTEND_API_URL", "http://127.0.0.1:4810"),
            ("CLERK_JWT_ISSUER_DOMAIN", "https://ignored.example.com"),
            (
                "CLERK_PUBLISHABLE_KEY",
                &pk("ignored.example.com", "pk_test_"),
            ),
            ("CLERK_OAUTH_CLIENT_ID", "courier-desktop"),
            ("COURIER_SIGN_IN_MODE", "browser"),
            ("COURIER_REDIRECT_PORT", "53682"),
        ]))
        .unwrap();
        assert_eq!(c.issuer_str(), "http://127.0.0.1:4810");
        assert_eq!(c.client_id, "courier-desktop");
        assert_eq!(c.sign_in_mode, SignInMode::Browser);
        assert_eq!(c.redirect_port, Some(53682));
        assert_eq!(c.leeway, DEFAULT_LEEWAY);
        assert_eq!(
            c.keychain_account(),
            "http://127.0.0.1:4810|courier-desktop"
        );

        let alias = ClerkConfig::from_env(env(&[
            ("CLERK_JWT_ISSUER_DOMAIN", "verb-noun-00.clerk.accounts.dev"),
            ("CLERK_OAUTH_CLIENT_ID", "x"),
        ]))
        .unwrap();
        assert_eq!(
            alias.issuer_str(),
            "https://verb-noun-00.clerk.accounts.dev"
        );
        assert_eq!(alias.sign_in_mode, SignInMode::Webview);
        assert_eq!(alias.redirect_port, None);

        let from_pk = ClerkConfig::from_env(env(&[
            (
                "CLERK_PUBLISHABLE_KEY",
                &pk("verb-noun-00.clerk.accounts.dev", "pk_test_"),
            ),
            ("CLERK_OAUTH_CLIENT_ID", "x"),
        ]))
        .unwrap();
        assert_eq!(
            from_pk.issuer_str(),
            "https://verb-noun-00.clerk.accounts.dev"
        );
    }

    #[test]
    fn from_env_errors() {
        assert_eq!(
            ClerkConfig::from_env(env(&[("CLERK_OAUTH_CLIENT_ID", "x")])).unwrap_err(),
            ConfigError::MissingIssuer
        );
        assert_eq!(
            ClerkConfig::from_env(env(&[("CLERK_FRONTEND_API_URL", "https://a.example.com")]))
                .unwrap_err(),
            ConfigError::MissingClientId
        );
        let base = [
            ("CLERK_FRONTEND_API_URL", "https://a.example.com"),
            ("CLERK_OAUTH_CLIENT_ID", "x"),
        ];
        let with = |k: &'static str, v: &'static str| {
            let mut p = base.to_vec();
            p.push((k, v));
            ClerkConfig::from_env(env(&p))
        };
        assert!(matches!(
            with("COURIER_SIGN_IN_MODE", "popup"),
            Err(ConfigError::BadSignInMode(_))
        ));
        assert!(matches!(
            with("COURIER_REDIRECT_PORT", "70000"),
            Err(ConfigError::BadRedirectPort(_))
        ));
        assert!(matches!(
            ClerkConfig::from_env(env(&[
                ("CLERK_FRONTEND_API_URL", "http://evil.example.com"),
                ("CLERK_OAUTH_CLIENT_ID", "x")
            ])),
            Err(ConfigError::BadIssuerUrl { .. })
        ));
        assert!(matches!(
            parse_issuer("ftp://x.example.com"),
            Err(ConfigError::BadIssuerUrl { .. })
        ));
        assert!(parse_issuer("http://localhost:4810").is_ok());
    }
}

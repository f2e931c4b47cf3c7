//! Settings: clients, users, token lifetimes, and where state lives.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::Error;

/// The port of the embedded default (`http://127.0.0.1:4810`).
pub const DEFAULT_PORT: u16 = 4810;

/// The id of the one OAuth client registered by default: Courier's desktop app.
pub const DEFAULT_CLIENT_ID: &str = "courier-desktop";

/// The redirect URI registered for [`DEFAULT_CLIENT_ID`]. A loopback URI, so
/// any port matches ([RFC 8252 section 7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)).
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// The seeded demo users (the same everywhere: dev-clerk, convex-local, tests).
pub mod demo {
    /// Ada Lovelace's Clerk-style user id.
    pub const ADA_ID: &str = "user_2AdaLovelace1815000000";
    /// Ada Lovelace's email address.
    pub const ADA_EMAIL: &str = "ada@example.com";
    /// Grace Hopper's Clerk-style user id.
    pub const GRACE_ID: &str = "user_2GraceHopper1906000000";
    /// Grace Hopper's email address.
    pub const GRACE_EMAIL: &str = "grace@example.com";
    /// The password of both demo users.
    pub const PASSWORD: &str = "courier-demo";
}

/// A registered OAuth client.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// The `client_id`.
    pub id: String,
    /// The client secret; `None` makes a public client, which must use PKCE.
    #[serde(default)]
    pub secret: Option<String>,
    /// Registered redirect URIs, matched exactly, except that a loopback IP
    /// URI (`http://127.0.0.1/...`, `http://[::1]/...`) matches any port.
    pub redirect_uris: Vec<String>,
    /// The name shown on the sign-in page ("continue to <name>").
    #[serde(default)]
    pub name: Option<String>,
}

impl Client {
    /// A public client (no secret; PKCE required).
    pub fn public(id: impl Into<String>, redirect_uris: &[&str]) -> Self {
        Client {
            id: id.into(),
            secret: None,
            redirect_uris: redirect_uris.iter().map(|s| s.to_string()).collect(),
            name: None,
        }
    }

    /// A confidential client, authenticated by `client_secret_basic` or `client_secret_post`.
    pub fn confidential(
        id: impl Into<String>,
        secret: impl Into<String>,
        redirect_uris: &[&str],
    ) -> Self {
        Client {
            secret: Some(secret.into()),
            ..Client::public(id, redirect_uris)
        }
    }

    /// Courier's desktop app: public, redirect `http://127.0.0.1/callback` (any port).
    pub fn courier_desktop() -> Self {
        Client {
            name: Some("Courier".to_string()),
            ..Client::public(DEFAULT_CLIENT_ID, &[DEFAULT_REDIRECT_URI])
        }
    }

    /// Whether this client has no secret.
    pub fn is_public(&self) -> bool {
        self.secret.is_none()
    }

    pub(crate) fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("redirect_uris", &self.redirect_uris)
            .field("name", &self.name)
            .finish()
    }
}

/// A user who can sign in with email and password.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Clerk-style user id (`user_...`), the `sub` claim.
    pub id: String,
    /// Email address, the sign-in name (matched case-insensitively).
    pub email: String,
    /// Password, compared in constant time.
    pub password: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Last profile update, seconds since the Unix epoch (`updated_at` claim).
    #[serde(default)]
    pub updated_at: u64,
}

impl User {
    /// A user with the given id, email, password and names.
    pub fn new(
        id: impl Into<String>,
        email: impl Into<String>,
        password: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
    ) -> Self {
        User {
            id: id.into(),
            email: email.into(),
            password: password.into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            updated_at: 1_700_000_000,
        }
    }

    /// Ada Lovelace, the first demo user.
    pub fn ada() -> Self {
        User::new(
            demo::ADA_ID,
            demo::ADA_EMAIL,
            demo::PASSWORD,
            "Ada",
            "Lovelace",
        )
    }

    /// Grace Hopper, the second demo user.
    pub fn grace() -> Self {
        User::new(
            demo::GRACE_ID,
            demo::GRACE_EMAIL,
            demo::PASSWORD,
            "Grace",
            "Hopper",
        )
    }

    /// "First Last".
    pub fn full_name(&self) -> String {
        match (self.first_name.is_empty(), self.last_name.is_empty()) {
            (false, false) => format!("{} {}", self.first_name, self.last_name),
            (false, true) => self.first_name.clone(),
            (true, false) => self.last_name.clone(),
            (true, true) => self.email.clone(),
        }
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .finish()
    }
}

/// Everything a [`crate::DevClerk`] needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The issuer (`iss`); default `http://127.0.0.1:<bound port>`. A trailing slash is dropped.
    pub issuer_url: Option<String>,
    /// Folder for keys (`keys.json`, mode 0600) and grants (`state.json`).
    pub data_dir: PathBuf,
    /// Registered clients; default: [`Client::courier_desktop`].
    pub clients: Vec<Client>,
    /// Users; default: Ada and Grace ([`demo`]).
    pub users: Vec<User>,
    /// ID token lifetime; default 1 day (Clerk's).
    pub id_token_ttl: Duration,
    /// Access token lifetime; default 1 day (Clerk's).
    pub access_token_ttl: Duration,
    /// Refresh token lifetime; default 90 days.
    pub refresh_token_ttl: Duration,
    /// Authorization code lifetime; default 10 minutes (Clerk's).
    pub code_ttl: Duration,
}

impl Config {
    /// The embedded default: port [`DEFAULT_PORT`], the Courier client, the demo users.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            port: DEFAULT_PORT,
            issuer_url: None,
            data_dir: data_dir.into(),
            clients: vec![Client::courier_desktop()],
            users: vec![User::ada(), User::grace()],
            id_token_ttl: Duration::from_secs(24 * 3600),
            access_token_ttl: Duration::from_secs(24 * 3600),
            refresh_token_ttl: Duration::from_secs(90 * 24 * 3600),
            code_ttl: Duration::from_secs(600),
        }
    }

    /// As [`Config::new`], on a free port.
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            port: 0,
            ..Config::new(data_dir)
        }
    }

    /// Applies a JSON or TOML file (by extension; `.toml` is TOML, anything
    /// else JSON). Every key is optional: `port`, `issuer_url`, `clients`
    /// (replace the defaults), `users` (replace the defaults), and the four
    /// lifetimes as strings such as `"5s"` (`id_token_ttl`, ...).
    pub fn apply_file(&mut self, path: &Path) -> Result<(), Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file: ConfigFile = if path.extension().is_some_and(|e| e == "toml") {
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
        } else {
            serde_json::from_str(&text)
                .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
        };
        if let Some(port) = file.port {
            self.port = port;
        }
        if let Some(url) = file.issuer_url {
            self.issuer_url = Some(url);
        }
        if let Some(clients) = file.clients {
            self.clients = clients;
        }
        if let Some(users) = file.users {
            self.users = users;
        }
        for (value, slot) in [
            (file.id_token_ttl, &mut self.id_token_ttl),
            (file.access_token_ttl, &mut self.access_token_ttl),
            (file.refresh_token_ttl, &mut self.refresh_token_ttl),
            (file.code_ttl, &mut self.code_ttl),
        ] {
            if let Some(text) = value {
                *slot = parse_duration(&text)?;
            }
        }
        Ok(())
    }

    /// Checks what a server cannot run with: no clients, duplicate ids, zero lifetimes.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let mut ids = std::collections::HashSet::new();
        for c in &self.clients {
            if c.id.is_empty() || !ids.insert(c.id.as_str()) {
                return Err(Error::Config(format!(
                    "client id {:?} is empty or repeated",
                    c.id
                )));
            }
            for uri in &c.redirect_uris {
                let parsed = url::Url::parse(uri).map_err(|e| {
                    Error::Config(format!("client {}: redirect URI {uri:?}: {e}", c.id))
                })?;
                if parsed.fragment().is_some() {
                    return Err(Error::Config(format!(
                        "client {}: redirect URI {uri:?} has a fragment",
                        c.id
                    )));
                }
            }
        }
        let mut emails = std::collections::HashSet::new();
        let mut uids = std::collections::HashSet::new();
        for u in &self.users {
            if !uids.insert(u.id.as_str()) || !emails.insert(u.email.to_lowercase()) {
                return Err(Error::Config(format!("user {:?} is repeated", u.id)));
            }
            if u.id.is_empty()
                || !u
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(Error::Config(format!(
                    "user id {:?} must be letters, digits, '_' or '-'",
                    u.id
                )));
            }
        }
        for (name, ttl) in [
            ("id_token_ttl", self.id_token_ttl),
            ("access_token_ttl", self.access_token_ttl),
            ("refresh_token_ttl", self.refresh_token_ttl),
            ("code_ttl", self.code_ttl),
        ] {
            if ttl.as_secs() == 0 {
                return Err(Error::Config(format!("{name} must be at least one second")));
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    port: Option<u16>,
    issuer_url: Option<String>,
    clients: Option<Vec<Client>>,
    users: Option<Vec<User>>,
    id_token_ttl: Option<String>,
    access_token_ttl: Option<String>,
    refresh_token_ttl: Option<String>,
    code_ttl: Option<String>,
}

/// Parses `30` (seconds), `5s`, `10m`, `1h`, `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, Error> {
    let text = text.trim();
    let bad = || {
        Error::Config(format!(
            "{text:?} is not a duration (try 30, 5s, 10m, 1h or 1d)"
        ))
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        for bad in ["", "s", "5x", "-1", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn debug_hides_secrets_and_passwords() {
        let text = format!(
            "{:?}",
            (
                Client::confidential("c", "s3cret-value", &["https://x/cb"]),
                User::ada()
            )
        );
        assert!(!text.contains("s3cret-value"));
        assert!(!text.contains(demo::PASSWORD));
        assert!(text.contains("[redacted]"));
    }

    #[test]
    fn files_in_toml_and_json_replace_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("c.toml");
        std::fs::write(
            &toml_path,
            r#"
id_token_ttl = "5s"
[[clients]]
id = "web"
secret = "shh"
redirect_uris = ["https://app.example/cb"]
"#,
        )
        .unwrap();
        let mut config = Config::new(dir.path());
        config.apply_file(&toml_path).unwrap();
        assert_eq!(config.id_token_ttl, Duration::from_secs(5));
        assert_eq!(config.clients.len(), 1);
        assert!(!config.clients[0].is_public());
        assert_eq!(config.users.len(), 2);

        let json_path = dir.path().join("c.json");
        std::fs::write(&json_path, r#"{"users":[{"id":"user_1","email":"a@b.c","password":"p","first_name":"A","last_name":"B"}]}"#).unwrap();
        config.apply_file(&json_path).unwrap();
        assert_eq!(config.users.len(), 1);
        config.validate().unwrap();

        std::fs::write(&json_path, r#"{"colour":"blue"}"#).unwrap();
        assert!(config.apply_file(&json_path).is_err());
    }

    #[test]
    fn validation_rejects_repeats_and_zero_lifetimes() {
        let mut config = Config::for_tests("/tmp/x");
        config.validate().unwrap();
        config.users.push(User::ada());
        assert!(config.validate().is_err());
        let mut config = Config::for_tests("/tmp/x");
        config.code_ttl = Duration::ZERO;
        assert!(config.validate().is_err());
    }
}

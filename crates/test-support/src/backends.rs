//! dev-clerk + convex-local in-process, on port 0, in temporary folders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use convex_local::{AuthProvider, ConvexLocal};
use dev_clerk::{DevClerk, DEFAULT_CLIENT_ID};

use crate::Result;

/// dev-clerk's key file: generating an RSA key takes seconds in a debug
/// build, so the first one made is reused by later backends, in this process
/// and (through a file in the temp folder) in later test processes. It is a
/// test-only key.
const KEYS_FILE: &str = "keys.json";
static KEYS: Mutex<Option<Vec<u8>>> = Mutex::new(None);

fn shared_key_cache() -> PathBuf {
    std::env::temp_dir()
        .join("courier-test-support")
        .join("dev-clerk-keys.json")
}

/// Options for [`TestBackends`]; [`TestBackends::builder`].
#[derive(Clone, Debug)]
pub struct TestBackendsBuilder {
    id_token_ttl: Option<Duration>,
    access_token_ttl: Option<Duration>,
    refresh_token_ttl: Option<Duration>,
    code_ttl: Option<Duration>,
    convex_leeway: Duration,
    seed_demo: bool,
    convex: bool,
}

impl Default for TestBackendsBuilder {
    fn default() -> Self {
        TestBackendsBuilder {
            id_token_ttl: None,
            access_token_ttl: None,
            refresh_token_ttl: None,
            code_ttl: None,
            convex_leeway: Duration::ZERO,
            seed_demo: true,
            convex: true,
        }
    }
}

impl TestBackendsBuilder {
    /// ID token lifetime (e.g. 3 s to watch refresh happen).
    pub fn id_token_ttl(mut self, ttl: Duration) -> Self {
        self.id_token_ttl = Some(ttl);
        self
    }

    /// Access token lifetime.
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = Some(ttl);
        self
    }

    /// Both ID and access token lifetimes.
    pub fn token_ttl(self, ttl: Duration) -> Self {
        self.id_token_ttl(ttl).access_token_ttl(ttl)
    }

    /// Refresh token lifetime.
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_token_ttl = Some(ttl);
        self
    }

    /// Authorization code lifetime.
    pub fn code_ttl(mut self, ttl: Duration) -> Self {
        self.code_ttl = Some(ttl);
        self
    }

    /// convex-local's clock leeway (default zero).
    pub fn convex_leeway(mut self, leeway: Duration) -> Self {
        self.convex_leeway = leeway;
        self
    }

    /// Seed convex-local with the demo messages (default true).
    pub fn seed_demo(mut self, seed: bool) -> Self {
        self.seed_demo = seed;
        self
    }

    /// Start convex-local too (default true); false for auth-only tests.
    pub fn with_convex(mut self, on: bool) -> Self {
        self.convex = on;
        self
    }

    /// Starts the servers.
    pub async fn start(self) -> Result<TestBackends> {
        let clerk_dir = tempfile::tempdir()?;
        let convex_dir = tempfile::tempdir()?;
        seed_keys(clerk_dir.path());
        let clerk = DevClerk::start(self.clerk_config(clerk_dir.path(), 0)).await?;
        remember_keys(clerk_dir.path());
        let convex = if self.convex {
            let config = self.convex_config(convex_dir.path(), &clerk.issuer_url(), 0);
            Some(ConvexLocal::start(config).await?)
        } else {
            None
        };
        Ok(TestBackends {
            convex_port: convex.as_ref().map_or(0, |c| c.port()),
            clerk_port: clerk.port(),
            issuer: clerk.issuer_url(),
            clerk: Some(clerk),
            convex,
            options: self,
            clerk_dir,
            convex_dir,
        })
    }

    fn convex_config(&self, dir: &Path, issuer: &str, port: u16) -> convex_local::Config {
        let mut config = convex_local::Config::for_tests(dir);
        config.port = port;
        config.providers = vec![AuthProvider {
            domain: issuer.to_owned(),
            application_id: DEFAULT_CLIENT_ID.to_owned(),
        }];
        config.leeway = self.convex_leeway;
        config.seed_demo = self.seed_demo;
        config
    }

    fn clerk_config(&self, dir: &Path, port: u16) -> dev_clerk::Config {
        let mut config = dev_clerk::Config::for_tests(dir);
        config.port = port;
        if let Some(t) = self.id_token_ttl {
            config.id_token_ttl = t;
        }
        if let Some(t) = self.access_token_ttl {
            config.access_token_ttl = t;
        }
        if let Some(t) = self.refresh_token_ttl {
            config.refresh_token_ttl = t;
        }
        if let Some(t) = self.code_ttl {
            config.code_ttl = t;
        }
        config
    }
}

fn seed_keys(dir: &Path) {
    let mut cached = KEYS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if cached.is_none() {
        cached = std::fs::read(shared_key_cache())
            .ok()
            .filter(|b| !b.is_empty());
    }
    if let Some(bytes) = cached {
        let path = dir.join(KEYS_FILE);
        if std::fs::write(&path, bytes).is_ok() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
}

fn remember_keys(dir: &Path) {
    let mut cached = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    if cached.is_none() {
        if let Ok(bytes) = std::fs::read(dir.join(KEYS_FILE)) {
            let path = shared_key_cache();
            if !path.exists() {
                // Write-then-rename, so a parallel process never reads half a file.
                if let Some(parent) = path.parent() {
                    let _ = std::fs::create_dir_all(parent);
                    let tmp = parent.join(format!("keys-{}.tmp", std::process::id()));
                    if std::fs::write(&tmp, &bytes).is_ok() {
                        #[cfg(unix)]
                        {
                            use std::os::unix::fs::PermissionsExt;
                            let _ = std::fs::set_permissions(
                                &tmp,
                                std::fs::Permissions::from_mode(0o600),
                            );
                        }
                        let _ = std::fs::rename(&tmp, &path);
                    }
                }
            }
            *cached = Some(bytes);
        }
    }
}

/// dev-clerk and (by default) convex-local, running in this process.
/// Dropping it stops both and removes their folders.
pub struct TestBackends {
    clerk: Option<DevClerk>,
    convex: Option<ConvexLocal>,
    clerk_port: u16,
    convex_port: u16,
    issuer: String,
    options: TestBackendsBuilder,
    clerk_dir: tempfile::TempDir,
    convex_dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestBackends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestBackends")
            .field("issuer", &self.issuer)
            .field("convex", &self.convex.as_ref().map(|c| c.url()))
            .finish()
    }
}

impl TestBackends {
    /// Both servers with default lifetimes and convex leeway zero.
    pub async fn start() -> Result<TestBackends> {
        TestBackendsBuilder::default().start().await
    }

    /// Options: short lifetimes, leeway, convex on/off.
    pub fn builder() -> TestBackendsBuilder {
        TestBackendsBuilder::default()
    }

    /// The dev-clerk handle (grants, faults, ending grants).
    ///
    /// # Panics
    /// While dev-clerk is stopped ([`stop_clerk`](Self::stop_clerk)).
    pub fn clerk(&self) -> &DevClerk {
        self.clerk.as_ref().expect("dev-clerk is stopped")
    }

    /// The convex-local handle.
    ///
    /// # Panics
    /// When started without convex-local.
    pub fn convex(&self) -> &ConvexLocal {
        self.convex.as_ref().expect("convex-local was not started")
    }

    /// The issuer URL (no trailing slash); stays the same across restarts.
    pub fn issuer_url(&self) -> String {
        self.issuer.clone()
    }

    /// dev-clerk's port.
    pub fn clerk_port(&self) -> u16 {
        self.clerk_port
    }

    /// dev-clerk's data folder (kept across restarts).
    pub fn clerk_data_dir(&self) -> PathBuf {
        self.clerk_dir.path().to_path_buf()
    }

    /// The client id the servers trust: `courier-desktop`.
    pub fn client_id(&self) -> &'static str {
        DEFAULT_CLIENT_ID
    }

    /// `CLERK_FRONTEND_API_URL`, `CLERK_OAUTH_CLIENT_ID` and (with
    /// convex-local) `CONVEX_URL`, as the app reads them.
    pub fn env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        env.insert("CLERK_FRONTEND_API_URL".to_owned(), self.issuer.clone());
        env.insert(
            "CLERK_OAUTH_CLIENT_ID".to_owned(),
            DEFAULT_CLIENT_ID.to_owned(),
        );
        if self.convex_port != 0 {
            // The same while convex-local is stopped for a restart.
            env.insert(
                "CONVEX_URL".to_owned(),
                format!("http://127.0.0.1:{}", self.convex_port),
            );
        }
        env
    }

    /// [`env`](Self::env) as a lookup function for `from_env` constructors.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
        let env = self.env();
        move |k| env.get(k).cloned()
    }

    /// Stops dev-clerk (the issuer is "down"): its port is closed.
    pub async fn stop_clerk(&mut self) {
        if let Some(c) = self.clerk.take() {
            c.stop().await;
        }
    }

    /// Starts dev-clerk again on the same port with the same data folder
    /// (same keys, same grants), retrying the bind for a few seconds.
    pub async fn start_clerk(&mut self) -> Result<()> {
        if self.clerk.is_some() {
            return Ok(());
        }
        let mut last = None;
        for _ in 0..50 {
            match DevClerk::start(
                self.options
                    .clerk_config(self.clerk_dir.path(), self.clerk_port),
            )
            .await
            {
                Ok(c) => {
                    self.clerk = Some(c);
                    return Ok(());
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Err(last.expect("at least one attempt").into())
    }

    /// Stops convex-local (the backend is "down"): its port is closed and
    /// its sockets end.
    ///
    /// # Panics
    /// When started without convex-local.
    pub async fn stop_convex(&mut self) {
        assert!(self.convex_port != 0, "convex-local was not started");
        if let Some(c) = self.convex.take() {
            c.stop().await;
        }
    }

    /// Starts convex-local again on the same port with the same database,
    /// retrying the bind for a few seconds.
    pub async fn start_convex(&mut self) -> Result<()> {
        if self.convex.is_some() {
            return Ok(());
        }
        let mut last = None;
        for _ in 0..50 {
            let config =
                self.options
                    .convex_config(self.convex_dir.path(), &self.issuer, self.convex_port);
            match ConvexLocal::start(config).await {
                Ok(c) => {
                    self.convex = Some(c);
                    return Ok(());
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Err(last.expect("at least one attempt").into())
    }

    /// Stops both servers (state flushed).
    pub async fn stop(mut self) {
        if let Some(c) = self.clerk.take() {
            c.stop().await;
        }
        if let Some(c) = self.convex.take() {
            c.stop().await;
        }
    }
}

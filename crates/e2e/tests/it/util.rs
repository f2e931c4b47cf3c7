use std::time::Duration;

use e2e::{App, AppDirs, Launch};
use test_support::TestBackends;

pub(crate) use test_support::demo;

/// Both servers, convex leeway zero.
pub(crate) async fn backends() -> TestBackends {
    TestBackends::start().await.expect("servers start")
}

/// Both servers with short ID tokens (to watch refresh happen).
pub(crate) async fn backends_with_ttl(ttl: Duration) -> TestBackends {
    TestBackends::builder()
        .token_ttl(ttl)
        .start()
        .await
        .expect("servers start")
}

/// The app configured for these servers, with zero clock leeway.
pub(crate) async fn launch(name: &str, backends: &TestBackends, dirs: Option<&AppDirs>) -> App {
    let mut env: Vec<(String, String)> = backends.env().into_iter().collect();
    env.push(("COURIER_CLOCK_LEEWAY_SECS".into(), "0".into()));
    App::launch(Launch { env, dirs, name }).await
}

/// The files of the app's message cache (in its data folder).
pub(crate) fn cached_message_files(dirs: &AppDirs) -> usize {
    std::fs::read_dir(dirs.app_data().join("messages"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

/// The app's configuration, for `courier-cli` beside it.
pub(crate) fn cli_env(backends: &TestBackends) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = backends.env().into_iter().collect();
    env.push(("COURIER_CLOCK_LEEWAY_SECS".into(), "0".into()));
    env
}

/// Launches and signs in as Ada.
pub(crate) async fn signed_in_as_ada(
    name: &str,
    backends: &TestBackends,
    dirs: Option<&AppDirs>,
) -> App {
    let mut app = launch(name, backends, dirs).await;
    app.visible("#screen-signed-out").await;
    app.sign_in(demo::ADA_EMAIL, demo::PASSWORD).await;
    app.text_contains("#user-name", "Ada Lovelace").await;
    app
}

/// Whether `secret-tool` finds a Courier keychain entry for this issuer
/// (other tests' entries, for other issuers, may be there too).
pub(crate) fn keychain_has_entry(backends: &TestBackends) -> bool {
    keychain_entries().contains(&format!("{}|", backends.issuer_url()))
}

/// What `secret-tool` finds under Courier's keychain service.
fn keychain_entries() -> String {
    let output = std::process::Command::new("secret-tool")
        .args(["search", "--all", "service", "dev.courier.desktop"])
        .output()
        .expect("secret-tool is installed (scripts/test installs libsecret-tools)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

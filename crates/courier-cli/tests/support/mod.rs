//! Running `courier-cli` as a person does, for the subprocess tests.

#![allow(dead_code, unreachable_pub)] // each test file uses a part

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use test_support::demo;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;
use url::Url;

/// What one run printed, and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// `courier-cli` with the test backends' configuration, in an empty working
/// directory and config folder (so no `.env` of the developer is read), and
/// the session bus of the test (the keychain).
pub fn cli(env: &BTreeMap<String, String>, dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_courier-cli"));
    for key in [
        "CLERK_FRONTEND_API_URL",
        "CLERK_JWT_ISSUER_DOMAIN",
        "CLERK_PUBLISHABLE_KEY",
        "CLERK_OAUTH_CLIENT_ID",
        "CONVEX_URL",
        "COURIER_SIGN_IN_MODE",
        "COURIER_REDIRECT_PORT",
    ] {
        cmd.env_remove(key);
    }
    // Zero clock leeway, so that a broken refresh cannot hide behind it.
    cmd.env("COURIER_CLOCK_LEEWAY_SECS", "0")
        .envs(env)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

pub async fn run(mut cmd: Command, args: &[&str]) -> Run {
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.args(args).output())
        .await
        .expect("courier-cli finished in time")
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `courier-cli login --no-browser`: reads the URL it prints, signs in as
/// `email` like a person in a browser, and follows the redirect to its
/// loopback listener.
pub async fn login(env: &BTreeMap<String, String>, dir: &Path, email: &str) -> Run {
    let mut child = cli(env, dir)
        .args(["login", "--no-browser", "--timeout", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let authorize = loop {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(30), stderr.read_line(&mut line))
            .await
            .expect("the sign-in URL in time")
            .unwrap();
        assert!(n > 0, "login ended without printing a URL: {seen}");
        seen.push_str(&line);
        let trimmed = line.trim();
        if trimmed.starts_with("http") && trimmed.contains("/oauth/authorize") {
            break Url::parse(trimmed).unwrap();
        }
    };
    let callback = test_support::play_browser(&authorize, email, demo::PASSWORD)
        .await
        .unwrap();
    let delivered = test_support::deliver(&callback).await.unwrap();
    assert_eq!(
        delivered.status, 200,
        "the loopback page: {}",
        delivered.body
    );

    let mut rest = String::new();
    stderr.read_to_string(&mut rest).await.unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("login finished after the callback")
        .unwrap();
    Run {
        code: status.code(),
        stdout,
        stderr: seen + &rest,
    }
}

pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub fn require_keychain() {
    assert!(
        test_support::secret_service_available(),
        "{}",
        test_support::KEYCHAIN_ENV_NOTE
    );
}

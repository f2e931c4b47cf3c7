use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::util::{TestIssuer, CLIENT_ID};

/// Kills the child on drop so a failing assertion leaves no server behind.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_prints_ready_and_trusts_the_issuer_from_the_environment() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_convex-local"))
            .args(["--port", "0", "--leeway", "0", "--data-dir"])
            .arg(&data)
            .current_dir(dir.path())
            .env_remove("CLERK_JWT_ISSUER_DOMAIN")
            .env_remove("CLERK_PUBLISHABLE_KEY")
            .env("CLERK_FRONTEND_API_URL", &issuer.url)
            .env("CLERK_OAUTH_CLIENT_ID", CLIENT_ID)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let url = line
        .trim()
        .strip_prefix("ready ")
        .expect("ready line")
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let http = reqwest::Client::new();
    let me: Value = http
        .post(format!("{url}/api/query"))
        .bearer_auth(issuer.ada())
        .json(&json!({"path": "users:me", "args": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["value"]["tokenIdentifier"],
        issuer.token_identifier("user_ada")
    );
    // Demo messages were seeded for the issuer from the environment.
    let demo = issuer.claims(
        "user_2AdaLovelace1815000000",
        "Ada Lovelace",
        "ada@example.com",
    );
    let mine: Value = http
        .post(format!("{url}/api/query"))
        .bearer_auth(crate::util::sign("rsa_a", &demo))
        .json(&json!({"path": "messages:getForCurrentUser", "args": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(mine["value"].as_array().unwrap().len() >= 5, "{mine}");
    assert!(data.join("convex-local.sqlite3").exists());
}

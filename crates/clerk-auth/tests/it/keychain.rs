//! The real keychain: store, read back from another process, delete.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clerk_auth::{KeyringStore, RefreshToken, SessionStore, StoredSession, User, KEYCHAIN_SERVICE};

const HELPER_ENV: &str = "CLERK_AUTH_KEYCHAIN_HELPER";
const ISSUER: &str = "http://127.0.0.1:9";

fn session(issuer_tag: &str) -> StoredSession {
    StoredSession {
        refresh_token: RefreshToken::new(format!("rt_test_{issuer_tag}")),
        user: User {
            id: "user_2AdaLovelace1815000000".into(),
            name: Some("Ada Lovelace".into()),
            email: Some("ada@example.com".into()),
            picture: None,
        },
        issued_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        nonce: Some("nonce".into()),
    }
}

/// Runs in the child process: reads the entry and prints what it found.
#[test]
fn keychain_helper_process() {
    let Ok(client) = std::env::var(HELPER_ENV) else {
        return;
    };
    let store = KeyringStore::new(KEYCHAIN_SERVICE, ISSUER, &client).expect("keychain");
    match store.load().expect("load") {
        Some(s) => println!("HELPER-FOUND {} {}", s.refresh_token.secret(), s.user.id),
        None => println!("HELPER-NONE"),
    }
}

fn read_in_new_process(client: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "keychain::keychain_helper_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, client)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    stdout
        .lines()
        .find(|l| l.starts_with("HELPER-"))
        .unwrap_or_else(|| panic!("helper printed nothing: {stdout}"))
        .to_owned()
}

#[test]
#[ignore = "needs Secret Service (run by the test command)"]
fn keychain_round_trip_across_processes() {
    let client = format!(
        "clerk-auth-test-{}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let store = KeyringStore::new(KEYCHAIN_SERVICE, ISSUER, &client).expect("a Secret Service");
    assert_eq!(store.account(), format!("{ISSUER}|{client}"));
    assert_eq!(store.load().unwrap(), None);

    let s = session("one");
    let t = std::time::Instant::now();
    store.save(&s).unwrap();
    let saved_in = t.elapsed();
    assert_eq!(store.load().unwrap(), Some(s));
    assert_eq!(
        read_in_new_process(&client),
        "HELPER-FOUND rt_test_one user_2AdaLovelace1815000000"
    );

    // Rotation replaces the entry; it never duplicates it.
    store.save(&session("two")).unwrap();
    assert_eq!(
        read_in_new_process(&client),
        "HELPER-FOUND rt_test_two user_2AdaLovelace1815000000"
    );

    let t = std::time::Instant::now();
    for _ in 0..10 {
        store.load().unwrap();
    }
    let per_read = t.elapsed() / 10;
    eprintln!("keychain: save {saved_in:?}, read {per_read:?}");

    store.delete().unwrap();
    store.delete().unwrap();
    assert_eq!(store.load().unwrap(), None);
    assert_eq!(read_in_new_process(&client), "HELPER-NONE");
}

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
        id_token: Some(format!("eyJhbGciOiJSUzI1NiJ9.{issuer_tag}.sig")),
    }
}

/// Runs in the child process: reads the entry and prints what it found.
#[test]
fn keychain_helper_process() {
    let Ok(client) = std::env::var(HELPER_ENV) else {
        return;
    };
    if client == "probe-missing" {
        match KeyringStore::new(KEYCHAIN_SERVICE, ISSUER, "x") {
            Ok(_) => println!("HELPER-OPENED"),
            Err(e) => println!("HELPER-ERROR {e:?} / {}", e.user_message()),
        }
        return;
    }
    let store = KeyringStore::new(KEYCHAIN_SERVICE, ISSUER, &client).expect("keychain");
    match store.load().expect("load") {
        Some(s) => println!(
            "HELPER-FOUND {} {} {}",
            s.refresh_token.secret(),
            s.user.id,
            s.id_token.as_deref().unwrap_or("no-id-token")
        ),
        None => println!("HELPER-NONE"),
    }
}

fn read_in_new_process(client: &str) -> String {
    helper(client, &[])
}

fn helper(client: &str, env: &[(&str, &str)]) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .envs(env.iter().copied())
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
    // libtest may print "test name ... " on the same line first.
    stdout
        .lines()
        .find_map(|l| l.find("HELPER-").map(|i| l[i..].trim().to_owned()))
        .unwrap_or_else(|| panic!("helper printed nothing: {stdout}"))
}

/// No Secret Service on the bus: a typed error for the person, never a
/// silent fallback (keyring's default in-memory store is not linked in).
#[test]
fn a_missing_keychain_is_a_typed_error() {
    let dir = std::env::temp_dir().join(format!("no-bus-{}", std::process::id()));
    let bus = format!("unix:path={}/bus", dir.display());
    let line = helper(
        "probe-missing",
        &[("DBUS_SESSION_BUS_ADDRESS", bus.as_str())],
    );
    assert!(line.starts_with("HELPER-ERROR Unavailable("), "{line}");
    assert!(line.contains("Secret Service"), "{line}");
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
        "HELPER-FOUND rt_test_one user_2AdaLovelace1815000000 eyJhbGciOiJSUzI1NiJ9.one.sig"
    );

    // Rotation replaces the entries; it never duplicates them.
    store.save(&session("two")).unwrap();
    assert_eq!(
        read_in_new_process(&client),
        "HELPER-FOUND rt_test_two user_2AdaLovelace1815000000 eyJhbGciOiJSUzI1NiJ9.two.sig"
    );
    // A token too large for one credential (Windows: 2,560 bytes) is not
    // cached: the cache entry goes, the session stays.
    let mut large = session("three");
    large.id_token = Some("x".repeat(clerk_auth::MAX_STORED_BYTES + 1));
    store.save(&large).unwrap();
    assert_eq!(
        read_in_new_process(&client),
        "HELPER-FOUND rt_test_three user_2AdaLovelace1815000000 no-id-token"
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

/// The whole path on the real keychain: sign in, a new manager restores
/// from the keychain, sign out deletes the entry.
#[tokio::test]
#[ignore = "needs Secret Service (run by the test command)"]
async fn sign_in_restore_and_sign_out_on_the_real_keychain() {
    use std::sync::Arc;

    use clerk_auth::{AuthState, SessionManager};

    let b = crate::util::backends(None).await;
    let config = crate::util::config(&b);
    let store = Arc::new(KeyringStore::for_config(&config).expect("a Secret Service"));
    assert_eq!(
        store.account(),
        format!("{}|courier-desktop", b.issuer_url())
    );
    let m = SessionManager::new(config.clone(), store.clone()).unwrap();
    m.restore().await;
    assert_eq!(m.state(), AuthState::SignedOut { reason: None });
    let user = crate::util::sign_in(&m).await;
    drop(m);
    // Both entries of a dev-clerk session, as the keychain holds them.
    let stored = store.load().unwrap().expect("stored");
    let session_bytes = stored.to_json().unwrap().len();
    let id_token_bytes = stored
        .id_token
        .as_deref()
        .expect("the ID token is cached")
        .len();
    eprintln!("keychain entries: session {session_bytes} bytes, id_token {id_token_bytes} bytes");
    assert!(session_bytes <= clerk_auth::MAX_STORED_BYTES);
    assert!(id_token_bytes <= clerk_auth::MAX_STORED_BYTES);

    let again = SessionManager::new(
        config,
        Arc::new(KeyringStore::for_config(&crate::util::config(&b)).unwrap()),
    )
    .unwrap();
    again.restore().await;
    assert_eq!(
        again.state(),
        AuthState::SignedIn {
            user,
            offline: false
        }
    );
    again.sign_out().await.unwrap();
    assert_eq!(store.load().unwrap(), None);
}

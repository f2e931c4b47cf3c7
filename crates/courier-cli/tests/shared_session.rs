//! Several `courier-cli` processes on one session, as people run them: real
//! processes, the real keychain, dev-clerk rotating refresh tokens and
//! revoking the whole grant on reuse, zero clock leeway. What dev-clerk's
//! handle counted is asserted, not only that the calls succeeded.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clerk_auth::{SessionLock, KEYCHAIN_SERVICE};
use test_support::{demo, TestBackends, TokenFault};

use support::{cli, jwt_claims, login, require_keychain, run};

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Signed in as Ada with `ttl` ID tokens; the backends and the folder.
async fn signed_in(ttl: Duration) -> (TestBackends, BTreeMap<String, String>, tempfile::TempDir) {
    require_keychain();
    let backends = TestBackends::builder()
        .token_ttl(ttl)
        .with_convex(false)
        .start()
        .await
        .unwrap();
    let env = backends.env();
    let dir = tempfile::tempdir().unwrap();
    let r = login(&env, dir.path(), demo::ADA_EMAIL).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    (backends, env, dir)
}

/// `courier-cli token` printed one valid ID token of Ada's, unexpired when
/// the process ended (`at_ms`).
fn assert_valid_token_at(r: &support::Run, backends: &TestBackends, at_ms: u128) {
    assert_eq!(r.code, Some(0), "{r:?}");
    let token = r.stdout.trim();
    assert_eq!(r.stdout.lines().count(), 1, "{r:?}");
    let claims = jwt_claims(token);
    assert_eq!(claims["sub"], demo::ADA_ID);
    assert_eq!(claims["iss"], backends.issuer_url().as_str());
    assert_eq!(claims["aud"], backends.client_id());
    let exp_ms = u128::from(claims["exp"].as_u64().expect("exp")) * 1000;
    assert!(exp_ms > at_ms, "an expired token was printed");
}

fn assert_valid_token(r: &support::Run, backends: &TestBackends) {
    assert_valid_token_at(r, backends, now_ms());
}

/// `waited_us=` values of the "session lock taken" debug lines.
fn lock_waits(stderr: &str) -> Vec<u64> {
    stderr
        .lines()
        .filter(|l| l.contains("session lock taken"))
        .filter_map(|l| {
            let at = l.find("waited_us=")? + "waited_us=".len();
            l[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs Secret Service (run by the test command)"]
async fn three_token_loops_for_thirty_seconds_never_reuse_a_refresh_token() {
    let (backends, env, dir) = signed_in(Duration::from_secs(4)).await;
    let before = backends.clerk().grants();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut loops = Vec::new();
    for n in 0..3u64 {
        let env = env.clone();
        let dir = dir.path().to_owned();
        loops.push(tokio::spawn(async move {
            let mut runs = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                let r = run(cli(&env, &dir), &["-vv", "token"]).await;
                runs.push((r, now_ms()));
                // 0.2 to 0.5 s between calls, different in each loop.
                let pause = 200 + (i * 97 + n * 131) % 301;
                tokio::time::sleep(Duration::from_millis(pause)).await;
                i += 1;
            }
            runs
        }));
    }
    let mut runs = Vec::new();
    for l in loops {
        runs.extend(l.await.unwrap());
    }
    for (r, at_ms) in &runs {
        assert_valid_token_at(r, &backends, *at_ms);
        assert!(
            !r.stderr.contains(r.stdout.trim()),
            "a token reached the log"
        );
    }
    let grants = backends.clerk().grants();
    let refreshes = grants.refresh_token - before.refresh_token;
    let calls = runs.len() as u64;
    let mut waits: Vec<u64> = runs
        .iter()
        .flat_map(|(r, _)| lock_waits(&r.stderr))
        .collect();
    waits.sort_unstable();
    eprintln!(
        "{calls} calls, {refreshes} refresh grants ({:.1} per 100 calls); \
         lock taken {} times, wait p50 {} us, p99 {} us",
        refreshes as f64 * 100.0 / calls as f64,
        waits.len(),
        percentile(&waits, 0.5),
        percentile(&waits, 0.99),
    );
    assert_eq!(
        grants.reused_refresh_tokens, 0,
        "a refresh token was reused"
    );
    assert_eq!(backends.clerk().active_grants(), 1, "the grant was revoked");
    assert!(calls >= 90, "only {calls} calls in 30 s");
    assert!(refreshes >= 5, "4 s tokens for 30 s: {refreshes} refreshes");
    assert!(
        refreshes * 4 < calls,
        "{refreshes} refresh grants for {calls} calls"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Secret Service (run by the test command)"]
async fn token_twice_within_a_lifetime_costs_no_refresh_grant() {
    let (backends, env, dir) = signed_in(Duration::from_secs(60)).await;
    let before = backends.clerk().grants().refresh_token;
    let first = run(cli(&env, dir.path()), &["token"]).await;
    assert_valid_token(&first, &backends);
    let second = run(cli(&env, dir.path()), &["token"]).await;
    assert_valid_token(&second, &backends);
    assert_eq!(first.stdout, second.stdout, "the cached token");
    assert_eq!(
        backends.clerk().grants().refresh_token - before,
        0,
        "no refresh grant after a fresh sign-in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Secret Service (run by the test command)"]
async fn token_after_expiry_refreshes_once_then_serves_the_cache() {
    let (backends, env, dir) = signed_in(Duration::from_secs(3)).await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let before = backends.clerk().grants().refresh_token;
    for _ in 0..2 {
        let r = run(cli(&env, dir.path()), &["token"]).await;
        assert_valid_token(&r, &backends);
    }
    assert_eq!(backends.clerk().grants().refresh_token - before, 1);
}

/// The lock file the CLI takes (same user folders as this process).
fn session_lock(backends: &TestBackends) -> SessionLock {
    let account = format!("{}|{}", backends.issuer_url(), backends.client_id());
    SessionLock::for_account(KEYCHAIN_SERVICE, &account)
}

async fn wait_until_locked(lock: &SessionLock) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match lock.acquire(Duration::ZERO) {
            Err(_) => return, // someone holds it
            Ok(guard) => drop(guard),
        }
        assert!(Instant::now() < deadline, "the CLI never took the lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Secret Service (run by the test command)"]
async fn a_process_killed_holding_the_lock_never_blocks_the_next() {
    let (backends, env, dir) = signed_in(Duration::from_secs(2)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await; // the cached token expired
                                                           // The refresh request stalls at the issuer, so the process sits inside
                                                           // the locked section; then it is killed there.
    backends
        .clerk()
        .set_token_fault(TokenFault::Stall(Duration::from_secs(120)));
    let mut holder = cli(&env, dir.path())
        .arg("token")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = session_lock(&backends);
    wait_until_locked(&lock).await;
    holder.start_kill().unwrap(); // SIGKILL
    let status = holder.wait().await.unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    backends.clerk().set_token_fault(TokenFault::None);

    let before = backends.clerk().grants().refresh_token;
    let started = Instant::now();
    let r = run(cli(&env, dir.path()), &["token"]).await;
    let took = started.elapsed();
    assert_valid_token(&r, &backends);
    assert_eq!(backends.clerk().grants().refresh_token - before, 1);
    eprintln!("the next process refreshed in {took:?}");
    // The lock's timeout is 30 s: anything near it means the dead holder blocked.
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Secret Service (run by the test command)"]
async fn logout_in_one_process_is_seen_by_the_next_and_nothing_comes_back() {
    let (backends, env, dir) = signed_in(Duration::from_secs(60)).await;
    let r = run(cli(&env, dir.path()), &["logout"]).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(backends.clerk().active_grants(), 0, "revoked at the issuer");
    let r = run(cli(&env, dir.path()), &["token"]).await;
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.is_empty());
    entries_gone(&backends, dir.path());
}

/// Neither keychain entry of this issuer is left.
fn entries_gone(backends: &TestBackends, _dir: &Path) {
    let out = std::process::Command::new("secret-tool")
        .args(["search", "--all", "service", KEYCHAIN_SERVICE])
        .output()
        .expect("secret-tool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains(&format!("{}|", backends.issuer_url())),
        "an entry is left: {text}"
    );
}

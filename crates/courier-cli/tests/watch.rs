//! `courier-cli messages --watch` as a person uses it: the newest messages,
//! then each new one as it arrives (pushed over the sync protocol, with no
//! polling), until Ctrl-C.

mod support;

use std::process::Stdio;
use std::time::Duration;

use test_support::{demo, TestBackends};
use tokio::io::{AsyncBufReadExt, BufReader};

use support::{cli, login, require_keychain, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Secret Service (run by the test command)"]
async fn watch_prints_new_messages_as_they_arrive_until_ctrl_c() {
    require_keychain();
    let backends = TestBackends::start().await.unwrap();
    let env = backends.env();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    assert_eq!(login(&env, dir, demo::ADA_EMAIL).await.code, Some(0));
    let r = run(cli(&env, dir), &["send", "before the watch"]).await;
    assert_eq!(r.code, Some(0), "{r:?}");

    let mut watch = cli(&env, dir)
        .args(["messages", "--watch", "-n", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut next_line = async || {
        tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .expect("still running")
    };
    // The newest three, oldest first, as `tail` shows them.
    let first: Vec<String> = vec![next_line().await, next_line().await, next_line().await];
    assert!(first[2].ends_with("before the watch"), "{first:?}");
    assert!(
        first.iter().all(|l| l.contains("Ada Lovelace")),
        "{first:?}"
    );

    for text in ["pushed one", "pushed two"] {
        let r = run(cli(&env, dir), &["send", text]).await;
        assert_eq!(r.code, Some(0), "{r:?}");
        let line = next_line().await;
        assert!(line.ends_with(text), "{line:?}");
    }

    // Ctrl-C: a clean exit.
    let pid = watch.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), watch.wait())
        .await
        .expect("stopped in time")
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

use std::time::{Duration, Instant};

use courier_messages::{Connection, LiveMessages};
use test_support::demo;

use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Secret Service (run by the test command)"]
async fn four_second_tokens_for_thirty_seconds_on_one_open_socket() {
    let b = backends(Some(Duration::from_secs(4))).await;
    let session = signed_in(&b, demo::ADA_EMAIL).await;
    let watching = client(&b, &session).await;
    let mut connection = watching.connection();
    watching.connected(PUSH).await.unwrap();
    connection.borrow_and_update();
    let live = LiveMessages::start(&watching, 20);
    let mut snapshots = live.snapshots();
    wait_for(&mut snapshots, "the first page", |s| s.loaded).await;
    let grants_before = b.clerk().grants().refresh_token;

    let sender = client(&b, &session).await;
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        n += 1;
        let body = format!("message {n}");
        sender.send(&body, &format!("t-{n}")).await.unwrap();
        let s = wait_for(&mut snapshots, &body, |s| {
            s.messages.first().is_some_and(|m| m.body == body) || s.error.is_some()
        })
        .await;
        assert!(s.error.is_none(), "after {:?}: {s:?}", start.elapsed());
    }
    assert!(n >= 12, "{n}");
    // The socket never dropped: an expired token would have ended it.
    assert!(
        !connection.has_changed().unwrap(),
        "reconnected: {:?}",
        *connection.borrow()
    );
    assert_eq!(*connection.borrow(), Connection::Connected);
    let grants = b.clerk().grants();
    assert!(
        grants.refresh_token - grants_before >= 6,
        "tokens were refreshed ahead: {grants:?}"
    );
    assert_eq!(grants.reused_refresh_tokens, 0);
    session.sign_out().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Secret Service (run by the test command)"]
async fn after_sign_out_the_socket_is_not_authenticated() {
    let b = backends(None).await;
    let session = signed_in(&b, demo::ADA_EMAIL).await;
    let c = client(&b, &session).await;
    let live = LiveMessages::start(&c, 20);
    let mut snapshots = live.snapshots();
    let s = wait_for(&mut snapshots, "the first page", |s| s.loaded).await;
    assert!(!s.messages.is_empty(), "Ada's demo messages");
    session.sign_out().await.unwrap();
    let s = wait_for(&mut snapshots, "Not authenticated", |s| s.not_authenticated).await;
    assert!(s.messages.is_empty(), "nothing of Ada's is left: {s:?}");
    let err = c.send("hi", "after").await.unwrap_err();
    assert!(
        matches!(err, courier_messages::MessagesError::NotAuthenticated),
        "{err:?}"
    );
}

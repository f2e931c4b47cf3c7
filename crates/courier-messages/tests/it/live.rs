use std::collections::HashSet;

use courier_messages::{LiveMessages, MessagesError, PageRequest};
use test_support::demo;

use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Secret Service (run by the test command)"]
async fn a_message_sent_from_another_socket_reaches_the_live_page() {
    let b = backends(None).await;
    let session = signed_in(&b, demo::ADA_EMAIL).await;
    let watching = client(&b, &session).await;
    let live = LiveMessages::start(&watching, 20);
    let mut snapshots = live.snapshots();
    let first = wait_for(&mut snapshots, "the first page", |s| s.loaded).await;
    assert!(first.error.is_none(), "{first:?}");

    // A second socket (as courier-cli would open) sends.
    let sender = client(&b, &session).await;
    let id = sender.send("  pushed, not polled  ", "c-1").await.unwrap();
    let s = wait_for(&mut snapshots, "the pushed message", |s| {
        s.messages.first().is_some_and(|m| m.id == id)
    })
    .await;
    assert_eq!(s.messages[0].body, "pushed, not polled", "stored trimmed");
    assert_eq!(s.messages.len(), first.messages.len() + 1);

    // The same client message id again: the first message's id, no copy.
    assert_eq!(sender.send("pushed, not polled", "c-1").await.unwrap(), id);
    let stored = b.convex().messages_by_author(&ada(&b)).unwrap();
    assert_eq!(
        stored
            .iter()
            .filter(|m| m["body"] == "pushed, not polled")
            .count(),
        1
    );
    session.sign_out().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Secret Service (run by the test command)"]
async fn pages_loaded_while_messages_arrive_never_repeat_or_skip() {
    let b = backends(None).await;
    let session = signed_in(&b, demo::ADA_EMAIL).await;
    let c = client(&b, &session).await;
    for i in 0..45 {
        c.send(&format!("old {i}"), &format!("old-{i}"))
            .await
            .unwrap();
    }
    let live = LiveMessages::start(&c, 20);
    let mut snapshots = live.snapshots();
    wait_for(&mut snapshots, "the first page", |s| s.messages.len() == 20).await;

    let mut sent = 0;
    let mut send_some = async |n: usize| {
        for _ in 0..n {
            sent += 1;
            c.send(&format!("new {sent}"), &format!("new-{sent}"))
                .await
                .unwrap();
        }
        sent
    };
    let upto = send_some(3).await;
    wait_for(&mut snapshots, "new messages on top", |s| {
        s.messages[0].body == format!("new {upto}")
    })
    .await;
    live.load_more();
    let upto = send_some(2).await;
    wait_for(&mut snapshots, "a second page and two more", |s| {
        s.messages[0].body == format!("new {upto}") && !s.loading_more && s.messages.len() >= 45
    })
    .await;
    live.load_more();
    let all = b.convex().messages_by_author(&ada(&b)).unwrap();
    let s = wait_for(&mut snapshots, "every message", |s| {
        s.is_done && s.messages.len() == all.len()
    })
    .await;

    let ids: Vec<&str> = s.messages.iter().map(|m| m.id.as_str()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a message repeated");
    let stored: Vec<&str> = all.iter().map(|m| m["_id"].as_str().unwrap()).collect();
    assert_eq!(ids, stored, "the pages are the store, newest first");
    session.sign_out().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Secret Service (run by the test command)"]
async fn another_users_live_page_never_sees_the_messages() {
    let b = backends(None).await;
    let ada = signed_in(&b, demo::ADA_EMAIL).await;
    let grace = signed_in(&b, demo::GRACE_EMAIL).await;
    let ada_client = client(&b, &ada).await;
    let grace_client = client(&b, &grace).await;
    let live = LiveMessages::start(&grace_client, 50);
    let mut snapshots = live.snapshots();
    let before = wait_for(&mut snapshots, "Grace's page", |s| s.loaded).await;

    ada_client.send("for Ada's eyes", "a-1").await.unwrap();
    grace_client.send("Grace's own", "g-1").await.unwrap();
    let s = wait_for(&mut snapshots, "Grace's message", |s| {
        bodies(s).contains(&"Grace's own")
    })
    .await;
    assert!(!bodies(&s).contains(&"for Ada's eyes"), "{s:?}");
    assert_eq!(s.messages.len(), before.messages.len() + 1);
    assert!(s
        .messages
        .iter()
        .all(|m| m.author.ends_with(demo::GRACE_ID)));
    ada.sign_out().await.unwrap();
    grace.sign_out().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Secret Service (run by the test command)"]
async fn bad_bodies_and_an_unreachable_backend_get_clear_errors() {
    let b = backends(None).await;
    let session = signed_in(&b, demo::ADA_EMAIL).await;
    let c = client(&b, &session).await;
    let err = c.send(" \n ", "x").await.unwrap_err();
    assert_eq!(err.to_string(), "Write something first.");
    let err = c.send(&"a".repeat(10_001), "x").await.unwrap_err();
    assert!(matches!(err, MessagesError::Body(_)), "{err:?}");
    assert!(b
        .convex()
        .messages_by_author(&ada(&b))
        .unwrap()
        .iter()
        .all(|m| m["body"] != "a"));

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = url::Url::parse(&format!("http://127.0.0.1:{closed}")).unwrap();
    let away = courier_messages::MessagesClient::connect(&url, session.clone())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let err = away.page(&PageRequest::first(5)).await.unwrap_err();
    assert!(err.is_offline(), "{err:?}");
    assert!(
        err.to_string().contains("could not connect to Convex"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    let insecure = url::Url::parse("http://example.com").unwrap();
    let err = courier_messages::MessagesClient::connect(&insecure, session.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, MessagesError::Url(_)), "{err:?}");
    session.sign_out().await.unwrap();
}

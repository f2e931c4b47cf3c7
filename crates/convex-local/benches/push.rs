//! `cargo bench -p convex-local --bench push`: push latency over the sync
//! protocol, from a `messages:send` over HTTP to the `Transition` carrying
//! the new message at every subscribed socket, with 1, 100 and 1,000
//! sockets subscribed to the same user's live first page, and the HTTP
//! round trip of the same mutation beside it. Prints a table.
//!
//! Subscribers are bare sync-protocol sockets (messages built with
//! `convex_sync_types`) that look for the new message's body in the text
//! rather than parsing it, so the bench client costs little CPU beside the
//! server on the same machine. Every subscriber's page grows by one
//! message per write (a live page keeps its end), as the app's would.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;
use support::{issuer, token};

use convex_local::{AuthProvider, Config, ConvexLocal};
use convex_sync_types::types::SerializedArgs;
use convex_sync_types::{AuthenticationToken, ClientMessage, Query, QueryId, QuerySetModification};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

/// (subscribers, writes measured)
const RUNS: [(usize, usize); 3] = [(1, 200), (100, 100), (1000, 30)];
const WARMUP_WRITES: usize = 5;

fn text(m: ClientMessage) -> Message {
    Message::Text(Value::try_from(m).unwrap().to_string().into())
}

/// One subscribed socket: reports when each awaited body arrives.
async fn subscriber(
    ws_url: String,
    tok: String,
    ready: mpsc::Sender<()>,
    mut awaited: watch::Receiver<Option<(String, Instant)>>,
    arrived: mpsc::UnboundedSender<Duration>,
) {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    ws.send(text(ClientMessage::Authenticate {
        base_version: 0,
        token: AuthenticationToken::User(tok),
    }))
    .await
    .unwrap();
    let add = QuerySetModification::Add(Query {
        query_id: QueryId::new(0),
        udf_path: "messages:list".parse().unwrap(),
        args: SerializedArgs::from_args(vec![
            json!({"paginationOpts": {"numItems": 10.0, "cursor": null}}),
        ])
        .unwrap(),
        journal: None,
        component_path: None,
    });
    ws.send(text(ClientMessage::ModifyQuerySet {
        base_version: 0,
        new_version: 1,
        modifications: vec![add],
    }))
    .await
    .unwrap();
    let mut subscribed = false;
    let mut seen: Option<String> = None;
    loop {
        tokio::select! {
            frame = ws.next() => {
                let Some(Ok(frame)) = frame else { return };
                let Message::Text(t) = frame else { continue };
                if !subscribed && t.contains("QueryUpdated") {
                    subscribed = true;
                    ready.send(()).await.unwrap();
                }
                let want = awaited.borrow().clone();
                if let Some((marker, t0)) = want {
                    if seen.as_ref() != Some(&marker) && t.contains(&marker) {
                        let _ = arrived.send(t0.elapsed());
                        seen = Some(marker);
                    }
                }
            }
            changed = awaited.changed() => if changed.is_err() { return },
        }
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

struct Row {
    clients: usize,
    writes: usize,
    push: Vec<Duration>,
    http: Vec<Duration>,
}

async fn run(iss: &str, clients: usize, writes: usize) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path());
    config.seed_demo = false;
    config.providers = vec![AuthProvider {
        domain: iss.to_owned(),
        application_id: "courier-desktop".into(),
    }];
    let server = ConvexLocal::start(config).await.unwrap();
    let tok = token(iss, "user_bench");
    let http = reqwest::Client::new();
    let ws_url = format!("{}/api/sync", server.url().replacen("http", "ws", 1));

    let (ready_tx, mut ready_rx) = mpsc::channel(clients);
    let (awaited_tx, awaited_rx) = watch::channel(None);
    let (arrived_tx, mut arrived_rx) = mpsc::unbounded_channel();
    let awaited_tx = Arc::new(awaited_tx);
    for _ in 0..clients {
        tokio::spawn(subscriber(
            ws_url.clone(),
            tok.clone(),
            ready_tx.clone(),
            awaited_rx.clone(),
            arrived_tx.clone(),
        ));
    }
    for _ in 0..clients {
        ready_rx.recv().await.unwrap();
    }

    let mut push = Vec::new();
    let mut round_trips = Vec::new();
    for i in 0..(WARMUP_WRITES + writes) {
        let body = format!("bench message {i:06}");
        let t0 = Instant::now();
        awaited_tx.send_replace(Some((format!("\"{body}\""), t0)));
        http.post(format!("{}/api/mutation", server.url()))
            .bearer_auth(&tok)
            .json(&json!({"path": "messages:send", "args": {"body": body}, "format": "json"}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        let rt = t0.elapsed();
        let mut got = Vec::with_capacity(clients);
        while got.len() < clients {
            match tokio::time::timeout(Duration::from_secs(30), arrived_rx.recv()).await {
                Ok(Some(d)) => got.push(d),
                _ => panic!("write {i}: {} of {clients} updates arrived", got.len()),
            }
        }
        if i >= WARMUP_WRITES {
            push.extend(got);
            round_trips.push(rt);
        }
    }
    drop(awaited_tx);
    server.stop().await;
    push.sort();
    round_trips.sort();
    Row {
        clients,
        writes,
        push,
        http: round_trips,
    }
}

#[tokio::main]
async fn main() {
    let iss = issuer().await;
    let mut rows = Vec::new();
    for (clients, writes) in RUNS {
        rows.push(run(&iss, clients, writes).await);
    }
    println!();
    println!("push latency: HTTP messages:send sent -> Transition with the message received");
    println!(
        "{:>8} {:>7} {:>11} {:>11} {:>11} {:>13} {:>13}",
        "clients", "writes", "push p50", "push p99", "push max", "HTTP rt p50", "HTTP rt p99"
    );
    for r in rows {
        println!(
            "{:>8} {:>7} {:>11} {:>11} {:>11} {:>13} {:>13}",
            r.clients,
            r.writes,
            ms(pct(&r.push, 0.5)),
            ms(pct(&r.push, 0.99)),
            ms(*r.push.last().unwrap()),
            ms(pct(&r.http, 0.5)),
            ms(pct(&r.http, 0.99)),
        );
    }
}

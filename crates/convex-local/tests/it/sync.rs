//! Convex's sync protocol, checked with the official Rust client
//! (`convex::ConvexClient`) and, where the client hides the protocol, a raw
//! WebSocket speaking `convex_sync_types` messages.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use convex::{ConvexClient, ConvexClientBuilder, FunctionResult, WebSocketState};
use convex_sync_types::types::{ClientEvent, SerializedArgs};
use convex_sync_types::{
    AuthenticationToken, ClientMessage, Query, QueryId, QuerySetModification, ServerMessage,
    StateModification,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

use crate::util::{b64, now, sign, Backend, TestIssuer};

/// Long enough for any push on an idle machine; a missing one fails the test.
const PUSH: Duration = Duration::from_secs(10);

fn args(v: Value) -> BTreeMap<String, convex::Value> {
    let Value::Object(map) = v else {
        panic!("args must be an object")
    };
    map.into_iter()
        .map(|(k, v)| (k, convex::Value::try_from(v).unwrap()))
        .collect()
}

async fn client(backend: &Backend, token: Option<String>) -> ConvexClient {
    let mut c = ConvexClient::new(&backend.server.url()).await.unwrap();
    if token.is_some() {
        c.set_auth(token).await;
    }
    c
}

/// The next value the subscription yields, as JSON.
async fn next_value(sub: &mut convex::QuerySubscription) -> Value {
    match timeout(PUSH, sub.next()).await {
        Ok(Some(FunctionResult::Value(v))) => Value::from(v),
        other => panic!("expected a value, got {other:?}"),
    }
}

fn bodies(v: &Value) -> Vec<String> {
    let page = if v.is_array() { v } else { &v["page"] };
    page.as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

/// Sends a message over HTTP.
async fn http_send(backend: &Backend, token: &str, body: &str) {
    backend
        .ok(
            "mutation",
            "messages:send",
            json!({"body": body}),
            Some(token),
        )
        .await;
}

/// A token with a lifetime of `secs` seconds.
fn short_token(issuer: &TestIssuer, secs: u64) -> String {
    let mut claims = issuer.claims("user_ada", "Ada Lovelace", "ada@example.com");
    claims["exp"] = (now() + secs).into();
    sign("rsa_a", &claims)
}

#[tokio::test]
async fn a_subscription_gets_the_first_result() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let backend = Backend::start(&issuer).await;
    http_send(&backend, &issuer.ada(), "one").await;
    http_send(&backend, &issuer.ada(), "two").await;
    let mut c = client(&backend, Some(issuer.ada())).await;
    let mut all = c
        .subscribe("messages:getForCurrentUser", args(json!({})))
        .await
        .unwrap();
    assert_eq!(bodies(&next_value(&mut all).await), ["two", "one"]);
    let mut page = c
        .subscribe(
            "messages:list",
            args(json!({"paginationOpts": {"numItems": 1.0, "cursor": null}})),
        )
        .await
        .unwrap();
    let first = next_value(&mut page).await;
    assert_eq!(bodies(&first), ["two"]);
    assert_eq!(first["isDone"], false);
}

#[tokio::test]
async fn writes_from_another_client_and_http_reach_a_subscription() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let backend = Backend::start(&issuer).await;
    let mut watcher = client(&backend, Some(issuer.ada())).await;
    let mut sub = watcher
        .subscribe("messages:getForCurrentUser", args(json!({})))
        .await
        .unwrap();
    assert_eq!(bodies(&next_value(&mut sub).await), Vec::<String>::new());

    let mut writer = client(&backend, Some(issuer.ada())).await;
    let sent = writer
        .mutation("messages:send", args(json!({"body": "over the socket"})))
        .await
        .unwrap();
    assert!(
        matches!(sent, FunctionResult::Value(convex::Value::String(_))),
        "{sent:?}"
    );
    assert_eq!(bodies(&next_value(&mut sub).await), ["over the socket"]);

    http_send(&backend, &issuer.ada(), "over http").await;
    assert_eq!(
        bodies(&next_value(&mut sub).await),
        ["over http", "over the socket"]
    );

    // The writer's own mutation completes only once its transition arrived:
    // its own subscription already holds the message.
    let mut mine = writer
        .subscribe("messages:getForCurrentUser", args(json!({})))
        .await
        .unwrap();
    assert_eq!(next_value(&mut mine).await.as_array().unwrap().len(), 2);
    writer
        .mutation("messages:send", args(json!({"body": "three"})))
        .await
        .unwrap();
    assert_eq!(bodies(&next_value(&mut mine).await)[0], "three");
}

#[tokio::test]
async fn short_tokens_refreshed_on_one_socket_keep_updates_coming() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let backend = Backend::start(&issuer).await;
    let (state_tx, mut states) = tokio::sync::mpsc::channel(64);
    let mut c = ConvexClientBuilder::new(&backend.server.url())
        .with_on_state_change(state_tx)
        .build()
        .await
        .unwrap();
    c.set_auth(Some(short_token(&issuer, 4))).await;
    let mut sub = c
        .subscribe("messages:getForCurrentUser", args(json!({})))
        .await
        .unwrap();
    assert!(next_value(&mut sub).await.as_array().unwrap().is_empty());
    let start = std::time::Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(30) {
        // As the app does: a fresh token well before the old one expires.
        tokio::time::sleep(Duration::from_secs(2)).await;
        c.set_auth(Some(short_token(&issuer, 4))).await;
        n += 1;
        let body = format!("message {n}");
        http_send(&backend, &issuer.ada(), &body).await;
        // The client may repeat a result (it re-reads results when auth
        // changes); what matters is that the new message arrives.
        let arrived = timeout(PUSH, async {
            while bodies(&next_value(&mut sub).await).first() != Some(&body) {}
        })
        .await;
        assert!(
            arrived.is_ok(),
            "{body} missing after {:?}",
            start.elapsed()
        );
    }
    assert!(n >= 12, "{n}");
    let me = c.query("users:me", args(json!({}))).await.unwrap();
    assert!(
        matches!(&me, FunctionResult::Value(convex::Value::Object(o)) if o.contains_key("tokenIdentifier")),
        "{me:?}"
    );
    // One socket all along: connected once, never reconnecting.
    let mut seen = Vec::new();
    while let Ok(s) = states.try_recv() {
        seen.push(s);
    }
    let reconnects = seen
        .iter()
        .filter(|s| matches!(s, WebSocketState::Connecting))
        .count();
    assert!(reconnects <= 1, "{seen:?}");
}

#[tokio::test]
async fn an_unauthenticated_subscription_fails() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let backend = Backend::start(&issuer).await;
    let mut c = client(&backend, None).await;
    let mut sub = c
        .subscribe("messages:getForCurrentUser", args(json!({})))
        .await
        .unwrap();
    // `convex/messages.ts` throws `ConvexError("Not authenticated")`, so the
    // failure carries the data, as a real deployment sends it.
    match timeout(PUSH, sub.next()).await {
        Ok(Some(FunctionResult::ConvexError(e))) => {
            assert!(e.message.contains("Not authenticated"), "{}", e.message);
            assert_eq!(e.data, convex::Value::from("Not authenticated"));
        }
        other => panic!("expected Not authenticated, got {other:?}"),
    }
    let me = c.query("users:me", args(json!({}))).await.unwrap();
    assert_eq!(me, FunctionResult::Value(convex::Value::Null));
}

/// Ada's signature over Grace's claims.
fn forged(issuer: &TestIssuer) -> String {
    let ada = issuer.ada();
    let parts: Vec<&str> = ada.split('.').collect();
    let grace = issuer.claims("user_grace", "Grace Hopper", "grace@example.com");
    format!(
        "{}.{}.{}",
        parts[0],
        b64(grace.to_string().as_bytes()),
        parts[2]
    )
}

#[tokio::test]
async fn a_forged_token_never_authenticates() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let backend = Backend::start(&issuer).await;
    http_send(&backend, &issuer.grace(), "grace's").await;

    // On the wire: AuthError, an attempted update, from identity version 0.
    let mut raw = Raw::connect(&backend, "/api/sync").await;
    raw.send(ClientMessage::Authenticate {
        base_version: 0,
        token: AuthenticationToken::User(forged(&issuer)),
    })
    .await;
    match raw.next().await {
        Some(ServerMessage::AuthError {
            base_version,
            auth_update_attempted,
            ..
        }) => {
            assert_eq!(base_version, Some(0));
            assert_eq!(auth_update_attempted, Some(true));
        }
        other => panic!("expected AuthError, got {other:?}"),
    }
    assert!(raw.next().await.is_none(), "the socket closes");

    // The official client retries with the same token and never gets a result.
    let mut c = client(&backend, Some(forged(&issuer))).await;
    let mut sub = c
        .subscribe("messages:getForCurrentUser", args(json!({})))
        .await
        .unwrap();
    if let Ok(got) = timeout(Duration::from_secs(3), sub.next()).await {
        panic!("a forged token got {got:?}");
    }
}

#[tokio::test]
async fn a_token_that_expires_on_an_open_socket_ends_it() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let backend = Backend::start(&issuer).await;
    let mut raw = Raw::connect(&backend, "/api/sync").await;
    raw.authenticate(short_token(&issuer, 2)).await;
    raw.add(0, 0, "messages:getForCurrentUser", json!({})).await;
    raw.transition().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The next update finds the identity expired, as Convex's worker does.
    http_send(&backend, &issuer.ada(), "after expiry").await;
    match raw.next().await {
        Some(ServerMessage::AuthError {
            base_version,
            auth_update_attempted,
            ..
        }) => {
            assert_eq!(base_version, Some(1));
            assert_eq!(auth_update_attempted, Some(false));
        }
        other => panic!("expected AuthError, got {other:?}"),
    }
    assert!(raw.next().await.is_none(), "the socket closes");
}

#[tokio::test]
async fn stopping_the_server_ends_its_sockets() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let backend = Backend::start(&issuer).await;
    let mut raw = Raw::connect(&backend, "/api/sync").await;
    raw.add(0, 0, "users:me", json!({})).await;
    raw.transition().await;
    let Backend { server, dir, .. } = backend;
    server.stop().await;
    assert!(raw.next().await.is_none());
    drop(dir);
}

#[tokio::test]
async fn another_users_subscription_never_sees_the_messages() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let backend = Backend::start(&issuer).await;
    let mut grace = client(&backend, Some(issuer.grace())).await;
    let mut theirs = grace
        .subscribe("messages:getForCurrentUser", args(json!({})))
        .await
        .unwrap();
    assert!(next_value(&mut theirs).await.as_array().unwrap().is_empty());

    // Grace's raw socket too: not even an empty transition for Ada's writes.
    let mut raw = Raw::connect(&backend, "/api/sync").await;
    raw.authenticate(issuer.grace()).await;
    raw.add(0, 1, "messages:getForCurrentUser", json!({})).await;
    let first = raw.transition().await;
    assert_eq!(first.len(), 1);

    let mut ada = client(&backend, Some(issuer.ada())).await;
    ada.mutation("messages:send", args(json!({"body": "ada's"})))
        .await
        .unwrap();
    http_send(&backend, &issuer.ada(), "ada's too").await;
    if let Ok(got) = timeout(Duration::from_secs(1), theirs.next()).await {
        panic!("grace's subscription got {got:?}");
    }
    if let Ok(got) = timeout(Duration::from_millis(300), raw.next()).await {
        panic!("grace's socket got {got:?}");
    }
    // Her own write still arrives.
    http_send(&backend, &issuer.grace(), "grace's").await;
    assert_eq!(bodies(&next_value(&mut theirs).await), ["grace's"]);
}

#[tokio::test]
async fn a_removed_query_stops_updating() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let backend = Backend::start(&issuer).await;
    // convex-js's URL, with its client version.
    let mut raw = Raw::connect(&backend, "/api/1.48.0/sync").await;
    raw.authenticate(issuer.ada()).await;
    raw.add(0, 0, "messages:getForCurrentUser", json!({})).await;
    raw.add(1, 1, "users:me", json!({})).await;
    let mut got = raw.transition().await;
    got.extend(raw.transition().await);
    assert_eq!(got.len(), 2, "{got:?}");

    raw.send(ClientMessage::ModifyQuerySet {
        base_version: 2,
        new_version: 3,
        modifications: vec![QuerySetModification::Remove {
            query_id: QueryId::new(0),
        }],
    })
    .await;
    let removed = raw.transition().await;
    assert!(
        matches!(removed.as_slice(), [StateModification::QueryRemoved { query_id }] if query_id.get_id() == 0),
        "{removed:?}"
    );
    http_send(&backend, &issuer.ada(), "unseen").await;
    if let Ok(got) = timeout(Duration::from_millis(500), raw.next()).await {
        panic!("a removed query was updated: {got:?}");
    }
}

#[tokio::test]
async fn a_mutation_response_is_followed_by_a_transition_reaching_it() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let backend = Backend::start(&issuer).await;
    let mut raw = Raw::connect(&backend, "/api/sync").await;
    raw.send(ClientMessage::Event(ClientEvent {
        event_type: "ClientConnect".into(),
        event: json!({"marks": []}),
    }))
    .await;
    raw.authenticate(issuer.ada()).await;
    raw.add(0, 0, "messages:getForCurrentUser", json!({})).await;
    raw.transition().await;
    raw.send(ClientMessage::Mutation {
        request_id: 1,
        udf_path: "messages:send".parse().unwrap(),
        args: SerializedArgs::from_args(vec![json!({"body": "hi"})]).unwrap(),
        component_path: None,
    })
    .await;
    let ts = match raw.next().await {
        Some(ServerMessage::MutationResponse {
            request_id: 1,
            result: Ok(convex::Value::String(_)),
            ts: Some(ts),
            ..
        }) => ts,
        other => panic!("expected a MutationResponse, got {other:?}"),
    };
    match raw.next().await {
        Some(ServerMessage::Transition {
            end_version,
            modifications,
            ..
        }) => {
            assert!(end_version.ts >= ts);
            assert_eq!(modifications.len(), 1, "{modifications:?}");
        }
        other => panic!("expected a Transition, got {other:?}"),
    }
    // A function error answers the request and changes nothing else.
    raw.send(ClientMessage::Action {
        request_id: 2,
        udf_path: "messages:send".parse().unwrap(),
        args: SerializedArgs::from_args(vec![json!({"body": "hi"})]).unwrap(),
        component_path: None,
    })
    .await;
    match raw.next().await {
        Some(ServerMessage::ActionResponse {
            request_id: 2,
            result: Err(e),
            ..
        }) => assert!(e.get_message().contains("as Action"), "{}", e.get_message()),
        other => panic!("expected an ActionResponse, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_query_set_version_is_fatal() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let backend = Backend::start(&issuer).await;
    let mut raw = Raw::connect(&backend, "/api/sync").await;
    raw.send(ClientMessage::ModifyQuerySet {
        base_version: 7,
        new_version: 8,
        modifications: vec![],
    })
    .await;
    match raw.next().await {
        Some(ServerMessage::FatalError { error_message }) => {
            assert!(error_message.contains("Base version 7"), "{error_message}")
        }
        other => panic!("expected FatalError, got {other:?}"),
    }
    assert!(raw.next().await.is_none(), "the socket closes");
}

#[tokio::test]
async fn a_live_first_page_keeps_its_end() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let backend = Backend::start(&issuer).await;
    let ada = issuer.ada();
    for i in 0..7 {
        http_send(&backend, &ada, &format!("m{i}")).await;
    }
    let mut raw = Raw::connect(&backend, "/api/sync").await;
    raw.authenticate(ada.clone()).await;
    let opts = json!({"paginationOpts": {"numItems": 3.0, "cursor": null}});
    raw.add(0, 1, "messages:list", opts.clone()).await;
    let (first, journal) = raw.updated().await;
    assert_eq!(bodies(&first), ["m6", "m5", "m4"]);
    let journal = journal.expect("a paginated result carries a journal");
    let end = first["continueCursor"].as_str().unwrap().to_owned();

    // Later pages, loaded from the live page's end.
    let second = backend
        .ok(
            "query",
            "messages:list",
            json!({"paginationOpts": {"numItems": 3, "cursor": end}}),
            Some(&ada),
        )
        .await;
    assert_eq!(bodies(&second), ["m3", "m2", "m1"]);

    // A new message: the first page grows, its end stays.
    http_send(&backend, &ada, "m7").await;
    let (grown, _) = raw.updated().await;
    assert_eq!(bodies(&grown), ["m7", "m6", "m5", "m4"]);
    assert_eq!(grown["continueCursor"], end);

    // Resubscribing with the journal keeps the same end.
    let mut again = Raw::connect(&backend, "/api/sync").await;
    again.authenticate(ada.clone()).await;
    again
        .send(ClientMessage::ModifyQuerySet {
            base_version: 0,
            new_version: 1,
            modifications: vec![QuerySetModification::Add(query(
                0,
                "messages:list",
                opts,
                Some(journal),
            ))],
        })
        .await;
    let (resumed, _) = again.updated().await;
    assert_eq!(resumed["continueCursor"], end);

    let third = backend
        .ok(
            "query",
            "messages:list",
            json!({"paginationOpts": {"numItems": 3, "cursor": second["continueCursor"]}}),
            Some(&ada),
        )
        .await;
    let mut seen = HashSet::new();
    let all: Vec<String> = [bodies(&resumed), bodies(&second), bodies(&third)].concat();
    assert!(
        all.iter().all(|b| seen.insert(b.clone())),
        "duplicates: {all:?}"
    );
    assert_eq!(all.len(), 8, "{all:?}");
}

#[tokio::test]
async fn an_idle_socket_gets_pings() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let backend = Backend::start(&issuer).await;
    let url = format!(
        "{}/api/sync",
        backend.server.url().replacen("http", "ws", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let start = std::time::Instant::now();
    let (mut frames, mut sync_ping) = (0, None);
    while start.elapsed() < Duration::from_secs(17) && sync_ping.is_none() {
        match timeout(Duration::from_secs(17), ws.next()).await {
            Ok(Some(Ok(Message::Ping(_)))) => frames += 1,
            Ok(Some(Ok(Message::Text(t)))) => {
                let m: Value = serde_json::from_str(&t).unwrap();
                assert_eq!(m["type"], "Ping", "{m}");
                sync_ping = Some(start.elapsed());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let at = sync_ping.expect("a sync Ping after 15 s of silence");
    assert!(at >= Duration::from_secs(14), "{at:?}");
    assert!(frames >= 2, "{frames} ping frames");
}

fn query(id: u32, path: &str, args: Value, journal: Option<String>) -> Query {
    Query {
        query_id: QueryId::new(id),
        udf_path: path.parse().unwrap(),
        args: SerializedArgs::from_args(vec![args]).unwrap(),
        journal: journal.map(Some),
        component_path: None,
    }
}

/// A bare sync-protocol client.
struct Raw {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    identity: u32,
}

impl Raw {
    async fn connect(backend: &Backend, path: &str) -> Raw {
        let url = format!("{}{path}", backend.server.url().replacen("http", "ws", 1));
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Raw { ws, identity: 0 }
    }

    async fn send(&mut self, m: ClientMessage) {
        let text = Value::try_from(m).unwrap().to_string();
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    async fn authenticate(&mut self, token: String) {
        self.send(ClientMessage::Authenticate {
            base_version: self.identity,
            token: AuthenticationToken::User(token),
        })
        .await;
        self.identity += 1;
    }

    /// Adds query `id` from query-set version `base`.
    async fn add(&mut self, base: u32, id: u32, path: &str, args: Value) {
        self.send(ClientMessage::ModifyQuerySet {
            base_version: base,
            new_version: base + 1,
            modifications: vec![QuerySetModification::Add(query(id, path, args, None))],
        })
        .await;
    }

    /// The next server message other than `Ping`; `None` once closed.
    async fn next(&mut self) -> Option<ServerMessage<convex::Value>> {
        loop {
            match timeout(PUSH, self.ws.next())
                .await
                .expect("a message in time")?
            {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    let m = ServerMessage::<convex::Value>::try_from(v).unwrap();
                    if !matches!(m, ServerMessage::Ping) {
                        return Some(m);
                    }
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next transition's modifications, skipping transitions that only
    /// move the version (as the one answering `Authenticate`).
    async fn transition(&mut self) -> Vec<StateModification<convex::Value>> {
        loop {
            match self.next().await {
                Some(ServerMessage::Transition { modifications, .. })
                    if modifications.is_empty() => {}
                Some(ServerMessage::Transition { modifications, .. }) => return modifications,
                other => panic!("expected a Transition, got {other:?}"),
            }
        }
    }

    /// The next transition's single `QueryUpdated`: value and journal.
    async fn updated(&mut self) -> (Value, Option<String>) {
        let mods = self.transition().await;
        match mods.as_slice() {
            [StateModification::QueryUpdated { value, journal, .. }] => {
                (Value::from(value.clone()), journal.clone())
            }
            other => panic!("expected one QueryUpdated, got {other:?}"),
        }
    }
}

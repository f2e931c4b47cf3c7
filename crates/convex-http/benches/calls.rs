//! What one Convex call costs through `ConvexClient`, over loopback:
//! against a trivial echo server (the client's own overhead: JSON, HTTP,
//! token source) and against the real convex-local with a dev-clerk ID
//! token (query and mutation). Prints a table; `cargo bench -p convex-http`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::{Json, Router};
use convex_http::{ConvexClient, StaticToken};
use serde_json::{json, Value};
use test_support::{demo, TestBackends};
use url::Url;

#[path = "../tests/it/dev_clerk_session.rs"]
mod dev_clerk_session;

use dev_clerk_session::DevClerkSession;

const SEQUENTIAL: usize = 400;
const TASKS: usize = 8;
const PER_TASK: usize = 100;

struct Figures {
    name: &'static str,
    calls: usize,
    wall: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn row(mut self) -> String {
        self.latencies.sort();
        let pct = |p: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
            self.latencies[i].as_secs_f64() * 1e3
        };
        format!(
            "| {:<38} | {:>6} | {:>9.0} | {:>8.3} | {:>8.3} | {:>8.3} |",
            self.name,
            self.calls,
            self.calls as f64 / self.wall.as_secs_f64(),
            pct(0.5),
            pct(0.95),
            pct(0.99),
        )
    }
}

async fn sequential<F, Fut>(name: &'static str, call: F) -> Figures
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for i in SEQUENTIAL..SEQUENTIAL + 20 {
        call(i).await; // warm the pool
    }
    let mut latencies = Vec::with_capacity(SEQUENTIAL);
    let started = Instant::now();
    for i in 0..SEQUENTIAL {
        let t = Instant::now();
        call(i).await;
        latencies.push(t.elapsed());
    }
    Figures {
        name,
        calls: SEQUENTIAL,
        wall: started.elapsed(),
        latencies,
    }
}

async fn concurrent(
    name: &'static str,
    convex: ConvexClient,
    path: &'static str,
    args: Value,
) -> Figures {
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let convex = convex.clone();
            let args = args.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(PER_TASK);
                for _ in 0..PER_TASK {
                    let t = Instant::now();
                    let _: Value = convex.query(path, &args).await.unwrap();
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    Figures {
        name,
        calls: TASKS * PER_TASK,
        wall: started.elapsed(),
        latencies,
    }
}

async fn echo_server() -> Url {
    let app = Router::new().route(
        "/api/{kind}",
        post(|Json(body): Json<Value>| async move {
            Json(json!({"status": "success", "value": body["args"], "logLines": []}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut rows = Vec::new();

    let echo = ConvexClient::new(
        echo_server().await,
        Arc::new(StaticToken::new("bench-token")),
    )
    .unwrap();
    let args = json!({"paginationOpts": {"numItems": 10, "cursor": null}});
    rows.push(
        sequential("echo server: query (sequential)", |_| {
            let echo = echo.clone();
            let args = args.clone();
            async move {
                let _: Value = echo.query("messages:list", &args).await.unwrap();
            }
        })
        .await,
    );
    rows.push(
        concurrent(
            "echo server: query (8 tasks)",
            echo.clone(),
            "messages:list",
            args.clone(),
        )
        .await,
    );

    let backends = TestBackends::start().await.unwrap();
    let ada = DevClerkSession::sign_in(&backends, demo::ADA_EMAIL).await;
    let convex =
        ConvexClient::new(Url::parse(&backends.convex().url()).unwrap(), ada.clone()).unwrap();
    rows.push(
        sequential("convex-local: messages:list 10", |_| {
            let convex = convex.clone();
            let args = args.clone();
            async move {
                let _: Value = convex.query("messages:list", &args).await.unwrap();
            }
        })
        .await,
    );
    rows.push(
        concurrent(
            "convex-local: messages:list (8 tasks)",
            convex.clone(),
            "messages:list",
            args.clone(),
        )
        .await,
    );
    rows.push(
        sequential("convex-local: messages:send", |i| {
            let convex = convex.clone();
            async move {
                let args =
                    json!({"body": format!("bench {i}"), "clientMessageId": format!("bench-{i}")});
                let _: Value = convex.mutation("messages:send", &args).await.unwrap();
            }
        })
        .await,
    );
    assert_eq!(ada.refreshes(), 0, "no 401 during the bench");

    println!(
        "| {:<38} | {:>6} | {:>9} | {:>8} | {:>8} | {:>8} |",
        "case", "calls", "calls/s", "p50 ms", "p95 ms", "p99 ms"
    );
    println!(
        "|{:-<40}|{:->8}|{:->11}|{:->10}|{:->10}|{:->10}|",
        "", "", "", "", "", ""
    );
    for figures in rows {
        println!("{}", figures.row());
    }
}

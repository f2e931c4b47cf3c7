//! `cargo bench -p convex-local`: throughput and latency of `/api/query`
//! `messages:list` with a valid RS256 token at 64 connections, next to a
//! bare axum hello-world measured in the same run, and the first-page
//! latency with 100,000 messages for one user. Prints a table; ~30 s.
//!
//! The load comes from a second process (this bench binary started again
//! with `LOADGEN_URL` set), so the client's CPU is not taken from the
//! server's runtime: both sides share the machine's cores the way a real
//! client and server would.

use std::time::{Duration, Instant};

mod support;
use support::{issuer, token};

use axum::routing::post;
use axum::Router;
use convex_local::{AuthProvider, Config, ConvexLocal};
use serde_json::{json, Value};

const CONNECTIONS: usize = 64;
const RUN: Duration = Duration::from_secs(5);
const WARMUP: Duration = Duration::from_secs(1);
const BIG: usize = 100_000;

struct Figures {
    rps: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

/// The load generator's side: run [`load`] with what the parent put in the
/// environment and print the figures on one line.
fn loadgen_main(url: String) {
    let body: Value = serde_json::from_str(&std::env::var("LOADGEN_BODY").unwrap()).unwrap();
    let token = std::env::var("LOADGEN_TOKEN").ok();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let f = rt.block_on(load(&url, body, token));
    println!(
        "{}",
        json!({"rps": f.rps, "p50_us": f.p50.as_micros() as u64,
               "p99_us": f.p99.as_micros() as u64, "errors": f.errors})
    );
}

/// Runs [`load`] in a child process (this binary again) and reads its figures.
async fn load_from_another_process(url: &str, body: Value, token: Option<String>) -> Figures {
    let mut cmd = tokio::process::Command::new(std::env::current_exe().unwrap());
    cmd.env("LOADGEN_URL", url)
        .env("LOADGEN_BODY", body.to_string())
        .stdout(std::process::Stdio::piped());
    match token {
        Some(t) => cmd.env("LOADGEN_TOKEN", t),
        None => cmd.env_remove("LOADGEN_TOKEN"),
    };
    let out = cmd.output().await.expect("the load generator runs");
    assert!(out.status.success(), "the load generator failed");
    let v: Value = serde_json::from_slice(&out.stdout).expect("the load generator's figures");
    let us = |k: &str| Duration::from_micros(v[k].as_u64().unwrap());
    Figures {
        rps: v["rps"].as_f64().unwrap(),
        p50: us("p50_us"),
        p99: us("p99_us"),
        errors: v["errors"].as_u64().unwrap() as usize,
    }
}

/// `CONNECTIONS` clients posting `body` to `url` for `RUN`.
async fn load(url: &str, body: Value, token: Option<String>) -> Figures {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .unwrap();
    let go = |deadline: Instant, record: bool| {
        let mut tasks = Vec::new();
        for _ in 0..CONNECTIONS {
            let (client, url, body, token) =
                (client.clone(), url.to_owned(), body.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let mut req = client.post(&url).json(&body);
                    if let Some(tok) = &token {
                        req = req.bearer_auth(tok);
                    }
                    match req.send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                        }
                        _ => errors += 1,
                    }
                    if record {
                        lat.push(t.elapsed());
                    }
                }
                (lat, errors)
            }));
        }
        tasks
    };
    for t in go(Instant::now() + WARMUP, false) {
        t.await.unwrap();
    }
    let start = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in go(start + RUN, true) {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    let elapsed = start.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Figures {
        rps: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        errors,
    }
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    if let Ok(url) = std::env::var("LOADGEN_URL") {
        return loadgen_main(url);
    }
    tokio::runtime::Runtime::new().unwrap().block_on(bench());
}

async fn bench() {
    let iss = issuer().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path());
    config.seed_demo = false;
    config.providers = vec![AuthProvider {
        domain: iss.clone(),
        application_id: "courier-desktop".into(),
    }];

    // 1. Throughput: messages:list (20 messages, page of 10) vs hello world.
    let server = ConvexLocal::start(config.clone()).await.unwrap();
    let tok = token(&iss, "user_bench");
    let http = reqwest::Client::new();
    for i in 0..20 {
        http.post(format!("{}/api/mutation", server.url()))
            .bearer_auth(&tok)
            .json(&json!({"path": "messages:send", "args": {"body": format!("message {i}")}}))
            .send()
            .await
            .unwrap();
    }
    let list = json!({"path": "messages:list", "args": {"paginationOpts": {"numItems": 10, "cursor": null}}, "format": "json"});
    let hello_url = serve(Router::new().route("/", post(|| async { "Hello, World!" }))).await;
    let hello = load_from_another_process(&format!("{hello_url}/"), json!({}), None).await;
    let convex = load_from_another_process(
        &format!("{}/api/query", server.url()),
        list.clone(),
        Some(tok.clone()),
    )
    .await;
    server.stop().await;

    // 2. First page with 100,000 messages for one user (and 20,000 for another).
    let big_dir = tempfile::tempdir().unwrap();
    let mut big = config.clone();
    big.data_dir = big_dir.path().to_owned();
    ConvexLocal::start(big.clone()).await.unwrap().stop().await;
    let fill = Instant::now();
    {
        let mut conn =
            rusqlite::Connection::open(big_dir.path().join("convex-local.sqlite3")).unwrap();
        let tx = conn.transaction().unwrap();
        {
            let mut st = tx
                .prepare("INSERT INTO messages (id, creation_time, author, author_name, body) VALUES (?1, ?2, ?3, ?4, ?5)")
                .unwrap();
            let t0 = 1.7e12;
            for i in 0..(BIG + 20_000) {
                let author = if i < BIG {
                    format!("{iss}|user_big")
                } else {
                    format!("{iss}|user_other")
                };
                st.execute(rusqlite::params![
                    format!("id{i:010}"),
                    t0 + i as f64,
                    author,
                    "Big",
                    format!("message number {i}")
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let fill = fill.elapsed();
    let server = ConvexLocal::start(big).await.unwrap();
    let big_tok = token(&iss, "user_big");
    let url = format!("{}/api/query", server.url());
    let mut lat = Vec::new();
    let mut first = None;
    let mut cursor = Value::Null;
    for i in 0..300 {
        // Alternate first pages and second pages to show cursors cost the same.
        let c = if i % 2 == 0 {
            Value::Null
        } else {
            cursor.clone()
        };
        let body = json!({"path": "messages:list", "args": {"paginationOpts": {"numItems": 50, "cursor": c}}});
        let t = Instant::now();
        let v: Value = http
            .post(&url)
            .bearer_auth(&big_tok)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let d = t.elapsed();
        assert_eq!(v["status"], "success", "{v}");
        assert_eq!(v["value"]["page"].as_array().unwrap().len(), 50);
        if i == 0 {
            first = Some(d);
            cursor = v["value"]["continueCursor"].clone();
        } else {
            lat.push(d);
        }
    }
    lat.sort();
    server.stop().await;

    println!();
    println!("convex-local bench ({CONNECTIONS} connections, {}s per run, load from a second process on the same cores)", RUN.as_secs());
    println!("| scenario | requests/s | p50 | p99 | errors |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| bare axum hello-world (POST /) | {:.0} | {} | {} | {} |",
        hello.rps,
        ms(hello.p50),
        ms(hello.p99),
        hello.errors
    );
    println!(
        "| /api/query messages:list, RS256 token, page of 10 | {:.0} | {} | {} | {} |",
        convex.rps,
        ms(convex.p50),
        ms(convex.p99),
        convex.errors
    );
    println!(
        "| ratio convex-local / hello-world | {:.2} | | | |",
        convex.rps / hello.rps
    );
    println!();
    println!(
        "| {} messages for one user (+20,000 others; filled in {}) | latency |",
        BIG,
        ms(fill)
    );
    println!("|---|---:|");
    println!(
        "| first request after start (keys fetched, page of 50) | {} |",
        ms(first.unwrap())
    );
    println!(
        "| messages:list page of 50, p50 of 299 | {} |",
        ms(lat[lat.len() / 2])
    );
    println!(
        "| messages:list page of 50, p99 of 299 | {} |",
        ms(lat[lat.len() * 99 / 100])
    );
}

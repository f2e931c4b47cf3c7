//! Refresh grants per second on loopback: 16 concurrent clients, each
//! rotating its own refresh token as fast as the issuer answers.
//! `cargo bench -p dev-clerk` prints a table.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dev_clerk::{demo, Config, DevClerk, DEFAULT_CLIENT_ID};
use sha2::{Digest, Sha256};

const CLIENTS: usize = 16;
const REDIRECT: &str = "http://127.0.0.1:5000/callback";

/// One signed-in grant's refresh token, obtained through the real flow.
async fn sign_in(http: &reqwest::Client, issuer: &str) -> String {
    let verifier = "v".repeat(43) + &format!("{:x}", rand_u64());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut url = url::Url::parse(&format!("{issuer}/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", DEFAULT_CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email offline_access")
        .append_pair("state", "bench-state-1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let html = http.get(url).send().await.unwrap().text().await.unwrap();
    let hidden = |name: &str| {
        let marker = format!(r#"name="{name}" value=""#);
        let at = html.find(&marker).unwrap() + marker.len();
        html[at..at + html[at..].find('"').unwrap()].to_string()
    };
    let (request, csrf) = (hidden("request"), hidden("csrf"));
    let resp = http
        .post(format!("{issuer}/sign-in"))
        .form(&[
            ("request", request.as_str()),
            ("csrf", csrf.as_str()),
            ("email", demo::ADA_EMAIL),
            ("password", demo::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let body: serde_json::Value = http
        .post(format!("{issuer}/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", DEFAULT_CLIENT_ID),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["refresh_token"].as_str().unwrap().to_string()
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let clerk = DevClerk::start(Config::for_tests(dir.path())).await.unwrap();
        let issuer = clerk.issuer_url();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .unwrap();
        let mut tokens = Vec::new();
        for _ in 0..CLIENTS {
            tokens.push(sign_in(&http, &issuer).await);
        }

        println!("dev-clerk refresh benchmark: {CLIENTS} concurrent clients, loopback, RS256 (2 signatures per grant)");
        println!("{:>10} {:>10} {:>12} {:>10} {:>10} {:>10}", "seconds", "grants", "grants/s", "p50 ms", "p99 ms", "max ms");
        for window in [Duration::from_secs(2), Duration::from_secs(5)] {
            let before = clerk.grants().refresh_token;
            let started = Instant::now();
            let mut tasks = Vec::new();
            for token in tokens.drain(..) {
                let (http, url) = (http.clone(), format!("{issuer}/oauth/token"));
                tasks.push(tokio::spawn(async move {
                    let mut token = token;
                    let mut latencies = Vec::new();
                    while started.elapsed() < window {
                        let t = Instant::now();
                        let body: serde_json::Value = http
                            .post(&url)
                            .form(&[("grant_type", "refresh_token"), ("refresh_token", &token), ("client_id", DEFAULT_CLIENT_ID)])
                            .send()
                            .await
                            .unwrap()
                            .json()
                            .await
                            .unwrap();
                        latencies.push(t.elapsed());
                        token = body["refresh_token"].as_str().expect("a rotated refresh token").to_string();
                    }
                    (token, latencies)
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                let (token, latencies) = t.await.unwrap();
                tokens.push(token);
                all.extend(latencies);
            }
            let elapsed = started.elapsed().as_secs_f64();
            let grants = clerk.grants().refresh_token - before;
            assert_eq!(grants as usize, all.len(), "every answer was a counted grant");
            all.sort();
            println!(
                "{:>10.2} {:>10} {:>12.0} {:>10.2} {:>10.2} {:>10.2}",
                elapsed,
                grants,
                grants as f64 / elapsed,
                percentile(&all, 0.5).as_secs_f64() * 1e3,
                percentile(&all, 0.99).as_secs_f64() * 1e3,
                all.last().unwrap().as_secs_f64() * 1e3,
            );
        }
        clerk.stop().await;
    });
}

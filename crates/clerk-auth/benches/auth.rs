//! `cargo bench -p clerk-auth`: ID token validation, refresh round trip and
//! full sign-in round trip against dev-clerk on loopback (the browser is
//! played over HTTP, so no typing is measured).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clerk_auth::{
    ClerkConfig, IdTokenValidator, JwkSet, MemoryStore, NonceCheck, SessionManager, SignInOptions,
};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use test_support::{deliver, demo, play_browser, TestBackends};

const RSA_KEY: &str = include_str!("../tests/fixtures/rsa-test-key.pem");
const JWKS: &str = include_str!("../tests/fixtures/jwks.json");

struct Stats {
    name: &'static str,
    unit: &'static str,
    samples: Vec<f64>,
}

impl Stats {
    fn row(&mut self) -> String {
        self.samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let n = self.samples.len();
        let mean = self.samples.iter().sum::<f64>() / n as f64;
        let p = |q: f64| self.samples[((n as f64 - 1.0) * q).round() as usize];
        format!(
            "| {:<40} | {:>6} | {:>10.1} | {:>10.1} | {:>10.1} | {:<2} |",
            self.name,
            n,
            mean,
            p(0.5),
            p(0.95),
            self.unit
        )
    }
}

fn validation() -> Stats {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": "http://127.0.0.1:4810", "sub": demo::ADA_ID, "aud": "courier-desktop",
        "exp": now + 3600, "iat": now, "nonce": "n", "name": "Ada Lovelace", "email": demo::ADA_EMAIL,
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-rsa".into());
    let token = encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(RSA_KEY.as_bytes()).unwrap(),
    )
    .unwrap();
    let jwks: JwkSet = serde_json::from_str(JWKS).unwrap();
    let v = IdTokenValidator::new(
        "http://127.0.0.1:4810",
        "courier-desktop",
        &["RS256".into()],
        &jwks,
        Duration::ZERO,
    )
    .unwrap();
    for _ in 0..200 {
        v.validate(&token, NonceCheck::Exact("n")).unwrap();
    }
    let mut samples = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        v.validate(&token, NonceCheck::Exact("n")).unwrap();
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Stats {
        name: "ID token validation (RS256, 2048-bit)",
        unit: "µs",
        samples,
    }
}

async fn sign_in(m: &SessionManager) {
    let pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    let location = play_browser(pending.authorize_url(), demo::ADA_EMAIL, demo::PASSWORD)
        .await
        .unwrap();
    let (user, page) = tokio::join!(pending.finish(Duration::from_secs(20)), deliver(&location));
    user.unwrap();
    assert_eq!(page.unwrap().status, 200);
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows = vec![validation()];
    rt.block_on(async {
        let b = TestBackends::builder()
            .with_convex(false)
            .start()
            .await
            .unwrap();
        let mut config = ClerkConfig::from_env(b.lookup()).unwrap();
        config.leeway = Duration::ZERO;
        let m = SessionManager::new(config, Arc::new(MemoryStore::new())).unwrap();
        m.set_auto_refresh(false);

        let mut samples = Vec::new();
        for i in 0..60 {
            let t = Instant::now();
            sign_in(&m).await;
            if i >= 10 {
                samples.push(t.elapsed().as_secs_f64() * 1e3);
            }
            m.sign_out().await.unwrap();
        }
        rows.push(Stats {
            name: "full sign-in round trip (loopback)",
            unit: "ms",
            samples,
        });

        sign_in(&m).await;
        let mut samples = Vec::new();
        for i in 0..320 {
            let t = Instant::now();
            m.force_refresh().await.unwrap();
            if i >= 20 {
                samples.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        rows.push(Stats {
            name: "refresh round trip (rotate + validate)",
            unit: "ms",
            samples,
        });
        b.stop().await;
    });
    println!(
        "| {:<40} | {:>6} | {:>10} | {:>10} | {:>10} | {:<2} |",
        "clerk-auth", "n", "mean", "p50", "p95", ""
    );
    println!(
        "|{:-<42}|{:-<8}|{:-<12}|{:-<12}|{:-<12}|{:-<4}|",
        "", "", "", "", "", ""
    );
    for r in &mut rows {
        println!("{}", r.row());
    }
}

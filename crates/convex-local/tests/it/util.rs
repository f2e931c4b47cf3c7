//! Test helpers: a test OIDC issuer (discovery + JWKS on 127.0.0.1:0)
//! with fixed test keys, token signing, and a convex-local on a temp dir.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use convex_local::{AuthProvider, Config, ConvexLocal};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

pub(crate) const CLIENT_ID: &str = "courier-desktop";

/// The fixed test key pairs (tests/fixtures/test-keys.json).
pub(crate) fn keys() -> Value {
    serde_json::from_str(include_str!("../fixtures/test-keys.json")).unwrap()
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[derive(Clone, Default)]
struct IssuerState {
    url: Arc<Mutex<String>>,
    jwks: Arc<Mutex<Vec<Value>>>,
    jwks_hits: Arc<AtomicUsize>,
    /// While set, discovery answers nothing for a minute (a hung issuer).
    stalled: Arc<AtomicBool>,
}

/// A minimal OIDC issuer: discovery document and JWKS, nothing else.
pub(crate) struct TestIssuer {
    pub(crate) url: String,
    state: IssuerState,
    task: tokio::task::JoinHandle<()>,
}

impl TestIssuer {
    /// Serves the JWKs named (`rsa_a`, `rsa_b`, `ed`).
    pub(crate) async fn start(kids: &[&str]) -> TestIssuer {
        let state = IssuerState::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        *state.url.lock().unwrap() = url.clone();
        let issuer = TestIssuer {
            url,
            state: state.clone(),
            task: tokio::spawn(async move {
                let app = Router::new()
                    .route("/.well-known/openid-configuration", get(discovery))
                    .route("/.well-known/jwks.json", get(jwks))
                    .with_state(state);
                axum::serve(listener, app).await.unwrap();
            }),
        };
        issuer.set_keys(kids);
        issuer
    }

    /// Replaces the published keys (key rotation).
    pub(crate) fn set_keys(&self, kids: &[&str]) {
        let all = keys();
        *self.state.jwks.lock().unwrap() = kids.iter().map(|k| all[k]["jwk"].clone()).collect();
    }

    /// Makes discovery hang (true) or answer again (false).
    pub(crate) fn set_stalled(&self, stalled: bool) {
        self.state.stalled.store(stalled, Ordering::SeqCst);
    }

    /// Stops serving: connections are refused from now on.
    pub(crate) async fn stop(&self) {
        self.task.abort();
        while !self.task.is_finished() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    pub(crate) fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    /// Standard claims for `sub`, valid for ten minutes.
    pub(crate) fn claims(&self, sub: &str, name: &str, email: &str) -> Value {
        let t = now();
        json!({
            "iss": self.url, "sub": sub, "aud": CLIENT_ID,
            "iat": t, "exp": t + 600, "name": name, "email": email, "email_verified": true,
        })
    }

    pub(crate) fn token_identifier(&self, sub: &str) -> String {
        format!("{}|{}", self.url, sub)
    }

    pub(crate) fn ada(&self) -> String {
        sign(
            "rsa_a",
            &self.claims("user_ada", "Ada Lovelace", "ada@example.com"),
        )
    }

    pub(crate) fn grace(&self) -> String {
        sign(
            "rsa_a",
            &self.claims("user_grace", "Grace Hopper", "grace@example.com"),
        )
    }
}

async fn discovery(State(s): State<IssuerState>) -> Json<Value> {
    if s.stalled.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    }
    let url = s.url.lock().unwrap().clone();
    Json(json!({
        "issuer": url,
        "jwks_uri": format!("{url}/.well-known/jwks.json"),
        "id_token_signing_alg_values_supported": ["RS256", "EdDSA"],
    }))
}

async fn jwks(State(s): State<IssuerState>) -> Json<Value> {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    Json(json!({"keys": *s.jwks.lock().unwrap()}))
}

/// Signs `claims` with the named test key (`rsa_a`, `rsa_b` -> RS256, `ed` -> EdDSA).
pub(crate) fn sign(kid: &str, claims: &Value) -> String {
    let mut header = if kid == "ed" {
        Header::new(Algorithm::EdDSA)
    } else {
        Header::new(Algorithm::RS256)
    };
    header.kid = Some(kid.to_owned());
    sign_with_header(kid, header, claims)
}

pub(crate) fn sign_with_header(key: &str, header: Header, claims: &Value) -> String {
    let pem = keys()[key]["private_pem"].as_str().unwrap().to_owned();
    let enc = if key == "ed" {
        EncodingKey::from_ed_pem(pem.as_bytes()).unwrap()
    } else {
        EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
    };
    jsonwebtoken::encode(&header, claims, &enc).unwrap()
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A convex-local trusting `issuer`, in its own temp dir.
pub(crate) struct Backend {
    pub(crate) server: ConvexLocal,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) http: reqwest::Client,
}

pub(crate) fn config_for(issuer: &TestIssuer, dir: &std::path::Path) -> Config {
    let mut config = Config::for_tests(dir);
    config.providers = vec![AuthProvider {
        domain: issuer.url.clone(),
        application_id: CLIENT_ID.into(),
    }];
    config.seed_demo = false;
    config
}

impl Backend {
    pub(crate) async fn start(issuer: &TestIssuer) -> Backend {
        Backend::start_with(issuer, |_| {}).await
    }

    pub(crate) async fn start_with(
        issuer: &TestIssuer,
        adjust: impl FnOnce(&mut Config),
    ) -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_for(issuer, dir.path());
        adjust(&mut config);
        let server = ConvexLocal::start(config).await.unwrap();
        Backend {
            server,
            dir,
            http: reqwest::Client::new(),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.url(), path)
    }

    /// POSTs `{path, args, format: "json"}` to `/api/{kind}`; returns status and body.
    pub(crate) async fn call(
        &self,
        kind: &str,
        path: &str,
        args: Value,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.url(&format!("/api/{kind}")))
            .json(&json!({"path": path, "args": args, "format": "json"}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    /// Calls and unwraps a success value, failing loudly on anything else.
    pub(crate) async fn ok(
        &self,
        kind: &str,
        path: &str,
        args: Value,
        token: Option<&str>,
    ) -> Value {
        let (status, body) = self.call(kind, path, args, token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "success", "{body}");
        body["value"].clone()
    }

    /// Calls and returns the function error's body (status "error").
    pub(crate) async fn err(
        &self,
        kind: &str,
        path: &str,
        args: Value,
        token: Option<&str>,
    ) -> Value {
        let (status, body) = self.call(kind, path, args, token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "error", "{body}");
        body
    }
}

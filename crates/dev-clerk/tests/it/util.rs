//! Shared helpers: start a dev-clerk with its own data folder, play the
//! browser's part of a sign-in, and run the client side with `openidconnect`.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use dev_clerk::{demo, Config, DevClerk, DEFAULT_CLIENT_ID};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreTokenResponse,
};
use openidconnect::{
    AuthorizationCode, ClientId, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use reqwest::header;
use url::Url;

/// The OIDC client type `from_provider_metadata` gives.
pub(crate) type Oidc = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// RSA key generation takes seconds in a debug build: generate one key per
/// test binary and copy it into each test's own data folder (grants stay separate).
fn key_template() -> &'static PathBuf {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("dev-clerk-keys")
            .tempdir()
            .unwrap()
            .keep();
        let for_thread = dir.clone();
        // Its own thread: the caller may be inside a runtime already.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let clerk = DevClerk::start(Config::for_tests(&for_thread))
                    .await
                    .unwrap();
                clerk.stop().await;
            });
        })
        .join()
        .unwrap();
        dir
    })
}

/// A fresh data folder holding the shared test key.
pub(crate) fn data_dir() -> tempfile::TempDir {
    let template = key_template().clone();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(template.join("keys.json"), dir.path().join("keys.json")).unwrap();
    dir
}

/// An HTTP client that never follows redirects (the test reads each one).
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A running dev-clerk with its own data folder.
pub(crate) struct Env {
    pub(crate) clerk: DevClerk,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) http: reqwest::Client,
}

impl Env {
    pub(crate) async fn start() -> Env {
        Env::start_with(|_| {}).await
    }

    pub(crate) async fn start_with(adjust: impl FnOnce(&mut Config)) -> Env {
        let dir = data_dir();
        let mut config = Config::for_tests(dir.path());
        adjust(&mut config);
        let clerk = DevClerk::start(config).await.unwrap();
        Env {
            clerk,
            dir,
            http: http(),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.clerk.issuer_url())
    }

    /// The OIDC client of Courier's desktop app, from discovery.
    pub(crate) async fn oidc(&self, redirect: &str) -> Oidc {
        let issuer = IssuerUrl::new(self.clerk.issuer_url()).unwrap();
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .unwrap();
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(DEFAULT_CLIENT_ID.to_string()),
            None,
        )
        .set_redirect_uri(RedirectUrl::new(redirect.to_string()).unwrap())
    }
}

/// The redirect URI the tests use: the registered loopback URI on some port.
pub(crate) const REDIRECT: &str = "http://127.0.0.1:43117/callback";

/// What a started sign-in holds (as `clerk-auth`'s `PendingSignIn` would).
pub(crate) struct Flow {
    pub(crate) url: Url,
    pub(crate) csrf: CsrfToken,
    pub(crate) nonce: Nonce,
    pub(crate) verifier: PkceCodeVerifier,
}

/// Starts a code + PKCE flow with Courier's scopes.
pub(crate) fn begin(client: &Oidc) -> Flow {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    Flow {
        url,
        csrf,
        nonce,
        verifier,
    }
}

/// A browser: one cookie (the session), redirects read, not followed.
#[derive(Default)]
pub(crate) struct Browser {
    pub(crate) cookie: Option<String>,
}

/// What the issuer answered to the authorize request.
pub(crate) enum Page {
    /// The sign-in form, with the values of its hidden `request` and `csrf` inputs.
    Form {
        html: String,
        request: String,
        csrf: String,
        csp: String,
    },
    /// The consent page of a signed-in browser ("Continue as ...").
    Consent {
        html: String,
        request: String,
        csrf: String,
    },
    /// A redirect to the client.
    Redirect(Url),
    /// Anything else: status and body.
    Other(u16, String),
}

impl Browser {
    pub(crate) async fn open(&self, http: &reqwest::Client, url: &str) -> Page {
        let mut req = http.get(url);
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        let resp = req.send().await.unwrap();
        self.page(resp).await
    }

    async fn page(&self, resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        if resp.status().is_redirection() {
            let location = resp.headers()[header::LOCATION].to_str().unwrap();
            return Page::Redirect(Url::parse(location).unwrap());
        }
        let csp = resp
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let html = resp.text().await.unwrap();
        match (hidden(&html, "request"), hidden(&html, "csrf")) {
            (Some(request), Some(csrf))
                if status == 200 && html.contains(r#"id="consent-form""#) =>
            {
                Page::Consent {
                    html,
                    request,
                    csrf,
                }
            }
            (Some(request), Some(csrf)) if status == 200 => Page::Form {
                html,
                request,
                csrf,
                csp,
            },
            _ => Page::Other(status, html),
        }
    }

    /// Presses a consent page button (`continue` or `switch`), with this browser's cookie.
    pub(crate) async fn consent(
        &self,
        http: &reqwest::Client,
        issuer: &str,
        request: &str,
        csrf: &str,
        action: &str,
    ) -> Page {
        let mut req = http.post(format!("{issuer}/consent")).form(&[
            ("request", request),
            ("csrf", csrf),
            ("action", action),
        ]);
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        let resp = req.send().await.unwrap();
        self.page(resp).await
    }

    /// Submits the sign-in form; remembers the session cookie it sets.
    pub(crate) async fn submit(
        &mut self,
        http: &reqwest::Client,
        issuer: &str,
        request: &str,
        csrf: &str,
        email: &str,
        password: &str,
    ) -> (Page, bool) {
        let resp = http
            .post(format!("{issuer}/sign-in"))
            .form(&[
                ("request", request),
                ("csrf", csrf),
                ("email", email),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        let set_cookie = resp
            .headers()
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_string());
        if let Some(c) = &set_cookie {
            assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"), "{c}");
            self.cookie = Some(c.split(';').next().unwrap().to_string());
        }
        (self.page(resp).await, set_cookie.is_some())
    }

    /// Opens the authorize URL, signs in if asked (or continues on the
    /// consent page of a signed-in browser), returns the callback URL.
    pub(crate) async fn sign_in(
        &mut self,
        http: &reqwest::Client,
        issuer: &str,
        url: &Url,
        email: &str,
        password: &str,
    ) -> Url {
        match self.open(http, url.as_str()).await {
            Page::Redirect(u) => u,
            Page::Form { request, csrf, .. } => {
                match self
                    .submit(http, issuer, &request, &csrf, email, password)
                    .await
                    .0
                {
                    Page::Redirect(u) => u,
                    Page::Form { html, .. } => panic!("sign-in refused: {html}"),
                    Page::Consent { html, .. } => panic!("consent after sign-in: {html}"),
                    Page::Other(s, b) => panic!("sign-in answered {s}: {b}"),
                }
            }
            Page::Consent { request, csrf, .. } => {
                match self
                    .consent(http, issuer, &request, &csrf, "continue")
                    .await
                {
                    Page::Redirect(u) => u,
                    Page::Other(s, b) => panic!("consent answered {s}: {b}"),
                    _ => panic!("consent showed a page"),
                }
            }
            Page::Other(s, b) => panic!("authorize answered {s}: {b}"),
        }
    }
}

/// The value of `<input type="hidden" name="NAME" value="...">`.
pub(crate) fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let at = html.find(&marker)?;
    let rest = &html[at + marker.len()..];
    Some(rest[..rest.find('"')?].to_string())
}

/// A query parameter of a URL.
pub(crate) fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Signs Ada in through the whole code flow; returns the flow and the token response.
pub(crate) async fn sign_in_ada(env: &Env, client: &Oidc) -> (Flow, CoreTokenResponse) {
    let flow = begin(client);
    let mut browser = Browser::default();
    let callback = browser
        .sign_in(
            &env.http,
            &env.clerk.issuer_url(),
            &flow.url,
            demo::ADA_EMAIL,
            demo::PASSWORD,
        )
        .await;
    assert_eq!(
        param(&callback, "state").as_deref(),
        Some(flow.csrf.secret().as_str())
    );
    let code = param(&callback, "code").expect("a code");
    let verifier = PkceCodeVerifier::new(flow.verifier.secret().clone());
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&env.http)
        .await
        .unwrap();
    (flow, tokens)
}

/// Posts a form to the token endpoint; returns status and JSON.
pub(crate) async fn post_form(
    env: &Env,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let resp = env
        .http
        .post(env.url(path))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// Decodes a JWT part without checking anything (to look at headers and claims).
pub(crate) fn jwt_part(token: &str, index: usize) -> serde_json::Value {
    use base64::Engine as _;
    let part = token.split('.').nth(index).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Waits a little longer than `secs` seconds of wall clock time, to the next whole second.
pub(crate) async fn sleep_past(secs: u64) {
    tokio::time::sleep(Duration::from_millis(secs * 1000 + 1100)).await;
}

//! The sign-in flow: authorization code + PKCE
//! ([RFC 7636](https://www.rfc-editor.org/rfc/rfc7636)) to a loopback
//! redirect ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)).
//! [`PendingSignIn`] holds the verifier, `state` and `nonce` and completes
//! exactly once.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oauth2::{CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope};
use tokio::sync::{mpsc, oneshot};
use url::Url;

use crate::config::SignInMode;
use crate::error::AuthError;
use crate::loopback::Loopback;
use crate::provider::Provider;
use crate::secret::Secret;
use crate::session::SessionManager;
use crate::state::{AuthState, User};

/// Scopes asked for: identity, profile, email, and a refresh token.
pub const SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Options of one sign-in.
#[derive(Clone, Copy, Debug, Default)]
pub struct SignInOptions {
    /// Send `prompt=login`, so the issuer asks for credentials again. It is
    /// sent anyway once a session ended in this process (to choose another
    /// account): see [`SessionManager::prompt_login`].
    pub prompt_login: bool,
    /// How the page is shown, remembered for the app while the flow is open
    /// ([`SessionManager::open_sign_in`]); `None`: the configured mode.
    pub mode: Option<SignInMode>,
}

/// What reaches the flow: a callback URL (with, from the loopback listener,
/// a way to answer the browser), or a cancellation.
pub(crate) enum Event {
    Callback {
        url: Url,
        reply: Option<oneshot::Sender<Result<(), String>>>,
    },
    Cancel,
}

struct HandleShared {
    redirect_uri: Url,
    taken: AtomicBool,
    tx: mpsc::UnboundedSender<Event>,
}

/// Delivers the callback (or a cancellation) to a [`PendingSignIn`] from
/// anywhere: the webview's navigation hook, a menu, the loopback listener.
#[derive(Clone)]
pub struct SignInHandle {
    shared: Arc<HandleShared>,
}

impl std::fmt::Debug for SignInHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInHandle")
            .field("redirect_uri", &self.shared.redirect_uri.as_str())
            .field("taken", &self.shared.taken.load(Ordering::SeqCst))
            .finish()
    }
}

impl SignInHandle {
    /// Whether `url` is this flow's redirect (same scheme, host, port, path).
    pub fn is_callback(&self, url: &Url) -> bool {
        let r = &self.shared.redirect_uri;
        url.scheme() == r.scheme()
            && url.host_str() == r.host_str()
            && url.port_or_known_default() == r.port_or_known_default()
            && url.path() == r.path()
    }

    /// Hands the callback URL to the flow. `true` if taken: it is this
    /// flow's callback and the flow had not ended or been answered yet.
    pub fn deliver(&self, url: Url) -> bool {
        self.deliver_with_reply(url, None)
    }

    pub(crate) fn deliver_with_reply(
        &self,
        url: Url,
        reply: Option<oneshot::Sender<Result<(), String>>>,
    ) -> bool {
        if !self.is_callback(&url) || self.shared.taken.swap(true, Ordering::SeqCst) {
            return false;
        }
        self.shared.tx.send(Event::Callback { url, reply }).is_ok()
    }

    /// Cancels the flow (no effect once a callback was taken).
    pub fn cancel(&self) {
        if !self.shared.taken.swap(true, Ordering::SeqCst) {
            let _ = self.shared.tx.send(Event::Cancel);
        }
    }

    pub(crate) fn redirect_uri(&self) -> &Url {
        &self.shared.redirect_uri
    }

    fn take(&self) {
        self.shared.taken.store(true, Ordering::SeqCst);
    }
}

/// An open sign-in. Completes exactly once: [`complete`](Self::complete) or
/// [`finish`](Self::finish). Dropping it cancels the flow and closes the
/// loopback listener.
pub struct PendingSignIn {
    manager: SessionManager,
    flow_id: u64,
    provider: Arc<Provider>,
    authorize_url: Url,
    redirect_uri: Url,
    verifier: Option<PkceCodeVerifier>,
    state: Secret,
    nonce: Secret,
    handle: SignInHandle,
    events: mpsc::UnboundedReceiver<Event>,
    loopback: Option<Loopback>,
    done: bool,
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("redirect_uri", &self.redirect_uri.as_str())
            .finish_non_exhaustive()
    }
}

impl SessionManager {
    /// Opens a sign-in: discovery, a loopback listener on 127.0.0.1, PKCE
    /// S256, `state` and `nonce`. State becomes `SigningIn`. Open
    /// [`PendingSignIn::authorize_url`] in a webview or browser, then
    /// [`finish`](PendingSignIn::finish) it. A flow already open is cancelled.
    pub async fn begin_sign_in(&self, opts: SignInOptions) -> Result<PendingSignIn, AuthError> {
        if self.is_signed_in().await {
            return Err(AuthError::AlreadySignedIn);
        }
        let flow_id = self.next_flow_id();
        let (tx, events) = mpsc::unbounded_channel();
        // The redirect URI is known once the port is; fill in a placeholder
        // handle to claim the flow slot first.
        let placeholder = SignInHandle {
            shared: Arc::new(HandleShared {
                redirect_uri: Url::parse("http://127.0.0.1/callback").expect("static URL"),
                taken: AtomicBool::new(false),
                tx: tx.clone(),
            }),
        };
        if let Some((_, old)) = self.lock_flow().replace((flow_id, placeholder)) {
            old.cancel();
        }
        *self.lock_flow_mode() = opts.mode.unwrap_or(self.inner.config.sign_in_mode);
        self.set_state(AuthState::SigningIn);

        let fail = |e: AuthError| {
            self.flow_failed(flow_id, &e);
            e
        };
        let provider = self.provider().await.map_err(fail)?;
        let port = self.inner.config.redirect_port.unwrap_or(0);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| fail(AuthError::Listener(e.to_string())))?;
        let port = listener
            .local_addr()
            .map_err(|e| fail(AuthError::Listener(e.to_string())))?
            .port();
        let redirect_uri =
            Url::parse(&format!("http://127.0.0.1:{port}/callback")).expect("valid URL");
        let handle = SignInHandle {
            shared: Arc::new(HandleShared {
                redirect_uri: redirect_uri.clone(),
                taken: AtomicBool::new(false),
                tx,
            }),
        };
        {
            let mut flow = self.lock_flow();
            match flow.as_ref() {
                Some((id, _)) if *id == flow_id => *flow = Some((flow_id, handle.clone())),
                _ => return Err(AuthError::Cancelled), // superseded meanwhile
            }
        }

        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256_len(32);
        let state = CsrfToken::new_random_len(32);
        let nonce = CsrfToken::new_random_len(32).secret().clone();
        let redirect = RedirectUrl::from_url(redirect_uri.clone());
        let mut request = provider
            .oauth
            .authorize_url(|| state.clone())
            .add_scopes(SCOPES.iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(redirect))
            .add_extra_param("nonce", nonce.clone());
        if opts.prompt_login || self.prompt_login() {
            request = request.add_extra_param("prompt", "login");
        }
        let (authorize_url, _) = request.url();
        let loopback = Loopback::start(listener, handle.clone());
        tracing::info!(port, "sign-in started");

        Ok(PendingSignIn {
            manager: self.clone(),
            flow_id,
            provider,
            authorize_url,
            redirect_uri,
            verifier: Some(verifier),
            state: Secret(state.secret().clone()),
            nonce: Secret(nonce),
            handle,
            events,
            loopback: Some(loopback),
            done: false,
        })
    }

    /// Ends flow `flow_id` with an error: SignedOut with the reason, if it
    /// is still the current flow.
    pub(crate) fn flow_failed(&self, flow_id: u64, error: &AuthError) {
        let mut flow = self.lock_flow();
        if flow.as_ref().is_some_and(|(id, _)| *id == flow_id) {
            *flow = None;
            drop(flow);
            tracing::info!(code = %error.code(), "sign-in ended without a session");
            self.set_state(AuthState::SignedOut {
                reason: Some(error.reason()),
            });
        }
    }

    fn flow_succeeded(&self, flow_id: u64) {
        let mut flow = self.lock_flow();
        if flow.as_ref().is_some_and(|(id, _)| *id == flow_id) {
            *flow = None;
        }
    }

    fn is_current_flow(&self, flow_id: u64) -> bool {
        self.lock_flow()
            .as_ref()
            .is_some_and(|(id, _)| *id == flow_id)
    }
}

impl PendingSignIn {
    /// The issuer's authorization URL to open.
    pub fn authorize_url(&self) -> &Url {
        &self.authorize_url
    }

    /// `http://127.0.0.1:<port>/callback`.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// A handle to deliver the callback or cancel from elsewhere.
    pub fn handle(&self) -> SignInHandle {
        self.handle.clone()
    }

    /// Completes the flow with a callback URL the app intercepted.
    pub async fn complete(mut self, callback: &Url) -> Result<User, AuthError> {
        self.handle.take();
        let result = self.process(callback).await;
        self.close().await;
        result
    }

    /// Waits for whichever comes first: the loopback callback,
    /// [`SignInHandle::deliver`], [`SignInHandle::cancel`], or `timeout`;
    /// then checks, exchanges, validates, stores: SignedIn.
    pub async fn finish(mut self, timeout: Duration) -> Result<User, AuthError> {
        let event = tokio::select! {
            ev = self.events.recv() => ev,
            _ = tokio::time::sleep(timeout) => None,
        };
        let result = match event {
            Some(Event::Callback { url, reply }) => {
                let result = self.process(&url).await;
                if let Some(reply) = reply {
                    let _ =
                        reply.send(result.as_ref().map(|_| ()).map_err(AuthError::user_message));
                }
                result
            }
            Some(Event::Cancel) => Err(self.fail(AuthError::Cancelled)),
            None => {
                self.handle.take();
                Err(self.fail(AuthError::TimedOut))
            }
        };
        self.close().await;
        result
    }

    fn fail(&mut self, e: AuthError) -> AuthError {
        self.done = true;
        self.manager.flow_failed(self.flow_id, &e);
        e
    }

    async fn close(&mut self) {
        if let Some(l) = self.loopback.take() {
            l.close().await;
        }
    }

    async fn process(&mut self, url: &Url) -> Result<User, AuthError> {
        match self.exchange(url).await {
            Ok(user) => {
                self.done = true;
                self.manager.flow_succeeded(self.flow_id);
                tracing::info!("signed in");
                Ok(user)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    async fn exchange(&mut self, url: &Url) -> Result<User, AuthError> {
        if !self.handle.is_callback(url) {
            return Err(AuthError::Protocol(
                "the URL is not this sign-in's redirect".into(),
            ));
        }
        let mut query: HashMap<String, String> = HashMap::new();
        for (k, v) in url.query_pairs() {
            if query.insert(k.to_string(), v.to_string()).is_some() {
                return Err(AuthError::Protocol(format!("the callback repeats {k:?}")));
            }
        }
        let state_ok = query
            .get("state")
            .is_some_and(|s| constant_time_eq(s.as_bytes(), self.state.0.as_bytes()));
        if let Some(error) = query.get("error") {
            if query.contains_key("state") && !state_ok {
                return Err(AuthError::StateMismatch);
            }
            return Err(AuthError::Callback {
                error: error.clone(),
                description: query.get("error_description").cloned(),
            });
        }
        if !state_ok {
            return Err(AuthError::StateMismatch);
        }
        // RFC 9207: the issuer names itself in the response; check it when
        // present, and require it when the issuer says it sends it.
        match query.get("iss") {
            Some(iss)
                if iss.trim_end_matches('/')
                    != self.provider.metadata.issuer.trim_end_matches('/') =>
            {
                return Err(AuthError::Protocol(
                    "the callback comes from another issuer (iss)".into(),
                ));
            }
            None if self
                .provider
                .metadata
                .authorization_response_iss_parameter_supported =>
            {
                return Err(AuthError::Protocol(
                    "the callback lacks the iss parameter".into(),
                ));
            }
            _ => {}
        }
        let code = query
            .remove("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| AuthError::Protocol("the callback has no code".into()))?;
        let verifier = self
            .verifier
            .take()
            .ok_or_else(|| AuthError::Protocol("the flow was already used".into()))?;
        let redirect = RedirectUrl::from_url(self.redirect_uri.clone());
        let tokens = self
            .provider
            .exchange_code(code, verifier, &redirect, &self.nonce.0)
            .await?;
        let refresh_token = tokens.refresh_token.ok_or_else(|| {
            AuthError::Protocol(
                "the issuer sent no refresh token (offline_access not granted)".into(),
            )
        })?;
        if !self.manager.is_current_flow(self.flow_id) {
            return Err(AuthError::Cancelled);
        }
        self.manager
            .install_session(
                &tokens.claims,
                &tokens.id_token,
                refresh_token,
                self.nonce.0.clone(),
            )
            .await
    }
}

impl Drop for PendingSignIn {
    fn drop(&mut self) {
        if !self.done {
            self.manager
                .flow_failed(self.flow_id, &AuthError::Cancelled);
        }
        // Loopback's own Drop closes the listener.
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

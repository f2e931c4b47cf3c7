//! The sign-in flow: authorization code + PKCE
//! ([RFC 7636](https://www.rfc-editor.org/rfc/rfc7636)) to a loopback
//! redirect ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)).
//! [`PendingSignIn`] holds the verifier, `state` and `nonce` and completes
//! exactly once: only a callback whose `state` matches ends it
//! ([`crate::callback`]), and a cancellation wins over a code exchange still
//! in flight.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oauth2::{CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope};
use tokio::sync::{mpsc, oneshot, Notify};
use url::Url;

use crate::callback::{parse_callback, Callback};
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

/// What reaches the flow: this flow's callback (with, from the loopback
/// listener, a way to answer the browser), or a cancellation.
pub(crate) enum Event {
    Callback {
        callback: Callback,
        reply: Option<oneshot::Sender<Result<(), String>>>,
    },
    Cancel,
}

/// What became of a request to the redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// It was this flow's callback; the flow goes on with it.
    Taken,
    /// Not this flow's (another URL, no or another `state`, a repeated
    /// parameter): refused, and the flow keeps waiting.
    NotThisFlow,
    /// The flow already has its callback, or has ended.
    Ended,
}

struct HandleShared {
    redirect_uri: Url,
    /// The `state` sent with the authorization request.
    state: Secret,
    taken: AtomicBool,
    cancelled: AtomicBool,
    /// Wakes a code exchange in flight when the flow is cancelled.
    cancel: Notify,
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
    /// flow's callback (its `state` matches) and the flow had not ended or
    /// been answered yet. A URL with no or another `state` is refused and
    /// the flow keeps waiting ([RFC 6749 §4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1)).
    pub fn deliver(&self, url: Url) -> bool {
        self.deliver_with_reply(url, None) == Delivery::Taken
    }

    pub(crate) fn deliver_with_reply(
        &self,
        url: Url,
        reply: Option<oneshot::Sender<Result<(), String>>>,
    ) -> Delivery {
        if !self.is_callback(&url) {
            return Delivery::NotThisFlow;
        }
        let callback = match parse_callback(url.query(), &self.shared.state.0) {
            Ok(callback) => callback,
            Err(why) => {
                tracing::warn!(?why, "refused a request to the sign-in redirect");
                return Delivery::NotThisFlow;
            }
        };
        if self.shared.taken.swap(true, Ordering::SeqCst) {
            return Delivery::Ended;
        }
        match self.shared.tx.send(Event::Callback { callback, reply }) {
            Ok(()) => Delivery::Taken,
            Err(_) => Delivery::Ended,
        }
    }

    /// Cancels the flow. Before the callback it ends at once; after it, the
    /// code exchange in flight is abandoned (tokens it still brings are
    /// revoked) and no session is installed. No effect once the flow ended.
    pub fn cancel(&self) {
        self.shared.cancelled.store(true, Ordering::SeqCst);
        self.shared.cancel.notify_one();
        if !self.shared.taken.swap(true, Ordering::SeqCst) {
            let _ = self.shared.tx.send(Event::Cancel);
        }
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::SeqCst)
    }

    pub(crate) fn redirect_uri(&self) -> &Url {
        &self.shared.redirect_uri
    }

    /// Claims the callback slot; `false` if something else had it.
    fn try_take(&self) -> bool {
        !self.shared.taken.swap(true, Ordering::SeqCst)
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
        let state = CsrfToken::new_random_len(32);
        let shared = |redirect_uri: Url, tx: mpsc::UnboundedSender<Event>| {
            Arc::new(HandleShared {
                redirect_uri,
                state: Secret(state.secret().clone()),
                taken: AtomicBool::new(false),
                cancelled: AtomicBool::new(false),
                cancel: Notify::new(),
                tx,
            })
        };
        // The redirect URI is known once the port is; fill in a placeholder
        // handle to claim the flow slot first.
        let placeholder = SignInHandle {
            shared: shared(
                Url::parse("http://127.0.0.1/callback").expect("static URL"),
                tx.clone(),
            ),
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
            shared: shared(redirect_uri.clone(), tx),
        };
        {
            let mut flow = self.lock_flow();
            match flow.as_ref() {
                Some((id, _)) if *id == flow_id => *flow = Some((flow_id, handle.clone())),
                _ => return Err(AuthError::Cancelled), // superseded meanwhile
            }
        }

        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256_len(32);
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

    /// Completes the flow with a callback URL the app intercepted. A URL
    /// that is not this flow's (another address, no or another `state`) is
    /// refused with [`AuthError::StateMismatch`] and the flow stays open:
    /// call again with the right one, or [`finish`](Self::finish).
    pub async fn complete(&mut self, callback: &Url) -> Result<User, AuthError> {
        if self.done {
            return Err(AuthError::Protocol("this sign-in has already ended".into()));
        }
        if !self.handle.is_callback(callback) {
            return Err(AuthError::StateMismatch);
        }
        let parsed = parse_callback(callback.query(), &self.handle.shared.state.0)
            .map_err(|_| AuthError::StateMismatch)?;
        let result = if self.handle.try_take() {
            self.process(parsed).await
        } else if self.handle.is_cancelled() {
            Err(self.fail(AuthError::Cancelled))
        } else {
            // The loopback listener or `deliver` took the callback first:
            // `finish` completes the flow with it.
            return Err(AuthError::Protocol(
                "this sign-in already received its callback".into(),
            ));
        };
        self.close().await;
        result
    }

    /// Waits for whichever comes first: the loopback callback,
    /// [`SignInHandle::deliver`], [`SignInHandle::cancel`], or `timeout`;
    /// then checks, exchanges, validates, stores: SignedIn. Requests that
    /// are not this flow's callback do not end the wait.
    pub async fn finish(mut self, timeout: Duration) -> Result<User, AuthError> {
        let event = tokio::select! {
            ev = self.events.recv() => ev,
            _ = tokio::time::sleep(timeout) => None,
        };
        let result = match event {
            Some(Event::Callback { callback, reply }) => {
                let result = self.process(callback).await;
                if let Some(reply) = reply {
                    let _ =
                        reply.send(result.as_ref().map(|_| ()).map_err(AuthError::user_message));
                }
                result
            }
            Some(Event::Cancel) => Err(self.fail(AuthError::Cancelled)),
            None => {
                self.handle.try_take();
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

    async fn process(&mut self, callback: Callback) -> Result<User, AuthError> {
        match self.exchange(callback).await {
            Ok(user) => {
                self.done = true;
                self.manager.flow_succeeded(self.flow_id);
                tracing::info!("signed in");
                Ok(user)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// RFC 9207: the issuer names itself in the response; check it when
    /// present, and require it when the issuer says it sends it.
    fn check_iss(&self, iss: Option<&str>) -> Result<(), AuthError> {
        match iss {
            Some(iss)
                if iss.trim_end_matches('/')
                    != self.provider.metadata.issuer.trim_end_matches('/') =>
            {
                Err(AuthError::Protocol(
                    "the callback comes from another issuer (iss)".into(),
                ))
            }
            None if self
                .provider
                .metadata
                .authorization_response_iss_parameter_supported =>
            {
                Err(AuthError::Protocol(
                    "the callback lacks the iss parameter".into(),
                ))
            }
            _ => Ok(()),
        }
    }

    async fn exchange(&mut self, callback: Callback) -> Result<User, AuthError> {
        let code = match callback {
            Callback::Code { code, iss } => {
                self.check_iss(iss.as_deref())?;
                code
            }
            Callback::Error {
                error,
                description,
                iss,
            } => {
                // An error from another issuer is not this issuer's word.
                if iss.is_some() {
                    self.check_iss(iss.as_deref())?;
                }
                return Err(AuthError::Callback { error, description });
            }
            Callback::Incomplete => {
                return Err(AuthError::Protocol("the callback has no code".into()))
            }
        };
        let verifier = self
            .verifier
            .take()
            .ok_or_else(|| AuthError::Protocol("the flow was already used".into()))?;
        let tokens = self.exchange_unless_cancelled(code, verifier).await?;
        let refresh_token = tokens.refresh_token.ok_or_else(|| {
            AuthError::Protocol(
                "the issuer sent no refresh token (offline_access not granted)".into(),
            )
        })?;
        // Cancel wins: tokens that came back after it are revoked, not kept.
        if self.handle.is_cancelled() || !self.manager.is_current_flow(self.flow_id) {
            revoke_in_background(self.provider.clone(), refresh_token);
            return Err(AuthError::Cancelled);
        }
        let handle = self.handle.clone();
        let (manager, flow_id) = (self.manager.clone(), self.flow_id);
        let still_wanted = move || !handle.is_cancelled() && manager.is_current_flow(flow_id);
        let user = match self
            .manager
            .install_session(
                &tokens.claims,
                &tokens.id_token,
                refresh_token.clone(),
                self.nonce.0.clone(),
                &still_wanted,
            )
            .await
        {
            Err(AuthError::Cancelled) => {
                revoke_in_background(self.provider.clone(), refresh_token);
                return Err(AuthError::Cancelled);
            }
            other => other?,
        };
        if self.handle.is_cancelled() {
            // Cancelled while the session was being stored: undo it.
            tracing::info!("sign-in cancelled while the session was stored: signing out");
            let _ = self.manager.sign_out().await;
            self.manager.set_state(AuthState::SignedOut {
                reason: Some(AuthError::Cancelled.reason()),
            });
            return Err(AuthError::Cancelled);
        }
        Ok(user)
    }

    /// The code exchange, abandoned as soon as the flow is cancelled. It
    /// runs in a task of its own so that an abandoned exchange still
    /// finishes: its refresh token is then revoked.
    async fn exchange_unless_cancelled(
        &self,
        code: String,
        verifier: PkceCodeVerifier,
    ) -> Result<crate::provider::Tokens, AuthError> {
        if self.handle.is_cancelled() {
            return Err(AuthError::Cancelled);
        }
        let provider = self.provider.clone();
        let redirect = RedirectUrl::from_url(self.redirect_uri.clone());
        let nonce = self.nonce.0.clone();
        let mut task = tokio::spawn(async move {
            provider
                .exchange_code(code, verifier, &redirect, &nonce)
                .await
        });
        let shared = self.handle.shared.clone();
        tokio::select! {
            joined = &mut task => joined
                .map_err(|e| AuthError::Protocol(format!("the code exchange stopped: {e}")))?,
            () = shared.cancel.notified() => {
                let provider = self.provider.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(tokens)) = task.await {
                        if let Some(refresh_token) = tokens.refresh_token {
                            revoke_in_background(provider, refresh_token);
                        }
                    }
                });
                Err(AuthError::Cancelled)
            }
        }
    }
}

/// Revokes tokens a cancelled flow obtained anyway (best effort).
fn revoke_in_background(provider: Arc<Provider>, refresh_token: crate::secret::RefreshToken) {
    tokio::spawn(async move {
        match tokio::time::timeout(Duration::from_secs(10), provider.revoke(&refresh_token)).await {
            Ok(Ok(())) => tracing::info!("revoked the tokens of a cancelled sign-in"),
            Ok(Err(error)) => {
                tracing::warn!(%error, "could not revoke the tokens of a cancelled sign-in")
            }
            Err(_) => tracing::warn!("revoking the tokens of a cancelled sign-in timed out"),
        }
    });
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

//! What dev-clerk remembers: browser sessions and grants (persisted to
//! `state.json`), authorization codes and sign-in requests in progress
//! (memory only: they live minutes).
//!
//! Only hashes of secrets are kept: session cookies, codes and refresh tokens
//! are looked up by their SHA-256.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fsutil;
use crate::oauth_error::OAuthError;
use crate::secret;

/// File name of the persisted state in the data folder.
pub(crate) const STATE_FILE: &str = "state.json";

/// How many rotated-away refresh tokens a grant remembers for reuse detection.
const USED_REFRESH_MEMORY: usize = 64;

/// How long a signed-in browser session lasts: one day, so a cookie left in
/// a shared browser stops vouching for its person soon.
pub(crate) const SESSION_TTL_SECS: u64 = 86_400;

/// How long a sign-in page stays usable.
const PENDING_TTL_SECS: u64 = 30 * 60;

/// Pages in progress kept at most: anyone can open the authorize URL, so
/// the oldest are dropped rather than memory growing without bound.
const MAX_PENDING: usize = 20_000;

/// Expired pages are swept at most this often (a sweep walks them all).
const PENDING_SWEEP_SECS: u64 = 60;

#[derive(Serialize, Deserialize, Default)]
struct Persisted {
    version: u32,
    /// By hash of the cookie value.
    sessions: HashMap<String, SessionRec>,
    /// By grant id.
    grants: HashMap<String, GrantRec>,
}

#[derive(Serialize, Deserialize, Clone)]
struct SessionRec {
    id: String,
    user_id: String,
    auth_time: u64,
    expires_at: u64,
}

#[derive(Serialize, Deserialize, Clone)]
struct GrantRec {
    id: String,
    user_id: String,
    client_id: String,
    scope: String,
    session_id: String,
    auth_time: u64,
    created_at: u64,
    /// The refresh token that may be used now (hash), if `offline_access`.
    refresh: Option<RefreshRec>,
    /// Hashes of refresh tokens already rotated away, newest last.
    #[serde(default)]
    used_refresh: Vec<String>,
    /// Latest expiry of an access token issued under this grant.
    access_expires_at: u64,
    /// Access tokens revoked one by one: jti and expiry.
    #[serde(default)]
    revoked_access: Vec<(String, u64)>,
}

#[derive(Serialize, Deserialize, Clone)]
struct RefreshRec {
    hash: String,
    issued_at: u64,
    expires_at: u64,
}

/// A validated authorization request waiting for the person to sign in.
#[derive(Clone)]
pub(crate) struct AuthRequest {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) state: String,
    pub(crate) scope: String,
    pub(crate) code_challenge: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) login_hint: Option<String>,
}

impl std::fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `state` and `nonce` bind the response to the client's flow: keep them out of logs.
        f.debug_struct("AuthRequest")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("state", &secret::REDACTED)
            .field("scope", &self.scope)
            .field("code_challenge", &self.code_challenge)
            .field("nonce", &self.nonce.as_ref().map(|_| secret::REDACTED))
            .field("login_hint", &self.login_hint)
            .finish()
    }
}

/// A signed-in browser session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) auth_time: u64,
}

/// A request waiting on a page (sign-in form or consent page).
#[derive(Clone)]
pub(crate) struct PendingRequest {
    pub(crate) request: AuthRequest,
    /// The CSRF token every form of this request must carry back.
    pub(crate) csrf: String,
    /// For a consent page: the session it offers to continue.
    pub(crate) consent: Option<Session>,
}

impl std::fmt::Debug for PendingRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingRequest")
            .field("request", &self.request)
            .field("csrf", &secret::REDACTED)
            .field("consent", &self.consent)
            .finish()
    }
}

/// The ids a page carries in its hidden inputs.
pub(crate) struct PendingIds {
    /// The hidden `request` input.
    pub(crate) id: String,
    /// The hidden `csrf` input.
    pub(crate) csrf: String,
}

struct Pending {
    pending: PendingRequest,
    expires_at: u64,
}

struct CodeRec {
    request: AuthRequest,
    user_id: String,
    session_id: String,
    auth_time: u64,
    expires_at: u64,
    /// Set when redeemed: the grant it created, revoked if the code is replayed.
    redeemed: Option<String>,
}

/// What a successful grant gives the token minting step.
#[derive(Clone)]
pub(crate) struct Issued {
    pub(crate) grant_id: String,
    pub(crate) user_id: String,
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) session_id: String,
    pub(crate) auth_time: u64,
    pub(crate) nonce: Option<String>,
    /// The new refresh token in clear (only here, never stored).
    pub(crate) refresh_token: Option<String>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("grant_id", &self.grant_id)
            .field("user_id", &self.user_id)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("session_id", &self.session_id)
            .field("auth_time", &self.auth_time)
            .field("nonce", &self.nonce.as_ref().map(|_| secret::REDACTED))
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| secret::REDACTED),
            )
            .finish()
    }
}

/// What introspection says of a refresh token.
pub(crate) struct RefreshInfo {
    pub(crate) user_id: String,
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) session_id: String,
    pub(crate) issued_at: u64,
    pub(crate) expires_at: u64,
}

#[derive(Default)]
struct Inner {
    persisted: Persisted,
    /// Refresh token hash (current or used) to grant id.
    refresh_index: HashMap<String, String>,
    /// By hash of the code.
    codes: HashMap<String, CodeRec>,
    /// By request id (the hidden `request` input of the sign-in form).
    pending: HashMap<String, Pending>,
    /// When expired pending requests were last swept.
    pending_swept_at: u64,
    /// Bumped on every change of `persisted`.
    generation: u64,
}

/// The store; one lock, never held across an await.
pub(crate) struct Store {
    inner: Mutex<Inner>,
    /// Refresh tokens presented again after rotation (each revoked its grant).
    pub(crate) reused_refresh_tokens: std::sync::atomic::AtomicU64,
    path: PathBuf,
    /// Serialises writers and remembers the generation last written.
    written: Mutex<u64>,
}

impl Store {
    /// Loads `state.json` if present.
    pub(crate) fn load(data_dir: &Path) -> Result<Store, Error> {
        let path = data_dir.join(STATE_FILE);
        let persisted: Persisted = match fsutil::read_optional(&path)? {
            Some(text) => serde_json::from_str(&text).map_err(|e| Error::Corrupt {
                path: path.clone(),
                message: e.to_string(),
            })?,
            None => Persisted::default(),
        };
        let mut inner = Inner {
            persisted,
            ..Inner::default()
        };
        inner.reindex();
        Ok(Store {
            inner: Mutex::new(inner),
            reused_refresh_tokens: Default::default(),
            path,
            written: Mutex::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic in a handler must not take the whole issuer down.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the persisted part if it changed since the last write. Returns
    /// whether it wrote.
    pub(crate) fn flush(&self, now: u64) -> Result<bool, Error> {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let (generation, bytes) = {
            let mut inner = self.lock();
            if inner.generation == *written && self.path.exists() {
                return Ok(false);
            }
            inner.prune(now);
            let bytes = serde_json::to_vec(&inner.persisted).map_err(|e| Error::Corrupt {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
            (inner.generation, bytes)
        };
        fsutil::write_private_atomic(&self.path, &bytes)?;
        *written = generation;
        Ok(true)
    }

    /// Whether something changed since the last flush.
    pub(crate) fn is_dirty(&self) -> bool {
        let written = *self.written.lock().unwrap_or_else(|p| p.into_inner());
        self.lock().generation != written
    }

    // --- browser sessions -------------------------------------------------

    /// The session a cookie value names, if alive.
    pub(crate) fn session(&self, cookie: &str, now: u64) -> Option<Session> {
        let inner = self.lock();
        let s = inner.persisted.sessions.get(&secret::hash(cookie))?;
        // Sessions saved when they lasted 30 days end one day after sign-in too.
        let alive = s.expires_at > now && s.auth_time.saturating_add(SESSION_TTL_SECS) > now;
        alive.then(|| Session {
            id: s.id.clone(),
            user_id: s.user_id.clone(),
            auth_time: s.auth_time,
        })
    }

    /// Starts a session; returns `(cookie value, session id)`.
    pub(crate) fn create_session(&self, user_id: &str, now: u64) -> (String, String) {
        let cookie = secret::random_token(32);
        let id = format!("sess_{}", secret::random_token(15));
        let mut inner = self.lock();
        inner.persisted.sessions.insert(
            secret::hash(&cookie),
            SessionRec {
                id: id.clone(),
                user_id: user_id.to_string(),
                auth_time: now,
                expires_at: now + SESSION_TTL_SECS,
            },
        );
        inner.generation += 1;
        (cookie, id)
    }

    // --- sign-in requests in progress --------------------------------------

    /// Remembers a validated request (and, for a consent page, the session
    /// it offers); returns the ids its page carries, the CSRF token fresh and random.
    pub(crate) fn put_pending(
        &self,
        request: AuthRequest,
        consent: Option<Session>,
        now: u64,
    ) -> PendingIds {
        let ids = PendingIds {
            id: secret::random_token(24),
            csrf: secret::random_token(32),
        };
        let mut inner = self.lock();
        inner.sweep_pending(now);
        inner.pending.insert(
            ids.id.clone(),
            Pending {
                pending: PendingRequest {
                    request,
                    csrf: ids.csrf.clone(),
                    consent,
                },
                expires_at: now + PENDING_TTL_SECS,
            },
        );
        ids
    }

    /// The request behind a page, if still valid.
    pub(crate) fn pending(&self, id: &str, now: u64) -> Option<PendingRequest> {
        let inner = self.lock();
        let p = inner.pending.get(id)?;
        (p.expires_at > now).then(|| p.pending.clone())
    }

    /// Ends a sign-in request (after a successful sign-in).
    pub(crate) fn take_pending(&self, id: &str) {
        self.lock().pending.remove(id);
    }

    // --- authorization codes -----------------------------------------------

    /// Issues a code for a signed-in user; returns it in clear.
    pub(crate) fn issue_code(
        &self,
        request: AuthRequest,
        user_id: &str,
        session_id: &str,
        auth_time: u64,
        expires_at: u64,
        now: u64,
    ) -> String {
        let code = secret::random_token(32);
        let mut inner = self.lock();
        // Redeemed codes stay until they expire so that a replay can be recognised.
        inner.codes.retain(|_, c| c.expires_at > now);
        inner.codes.insert(
            secret::hash(&code),
            CodeRec {
                request,
                user_id: user_id.to_string(),
                session_id: session_id.to_string(),
                auth_time,
                expires_at,
                redeemed: None,
            },
        );
        code
    }

    /// The `authorization_code` grant ([RFC 6749 section 4.1.3](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3),
    /// PKCE per [RFC 7636 section 4.6](https://www.rfc-editor.org/rfc/rfc7636#section-4.6)).
    /// A failed check changes nothing, except a replayed code, which revokes
    /// the grant its first use created (RFC 6749 section 4.1.2).
    pub(crate) fn redeem_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        refresh_ttl: u64,
        now: u64,
    ) -> Result<Issued, OAuthError> {
        let mut inner = self.lock();
        let key = secret::hash(code);
        let Some(rec) = inner.codes.get(&key) else {
            return Err(OAuthError::invalid_grant(
                "the authorization code is unknown or expired",
            ));
        };
        if rec.expires_at <= now {
            return Err(OAuthError::invalid_grant(
                "the authorization code has expired",
            ));
        }
        if rec.request.client_id != client_id {
            return Err(OAuthError::invalid_grant(
                "the authorization code was issued to another client",
            ));
        }
        if let Some(grant_id) = rec.redeemed.clone() {
            let revoked = inner.remove_grant(&grant_id);
            tracing::warn!(
                client_id,
                revoked,
                "authorization code replayed; its grant is revoked"
            );
            return Err(OAuthError::invalid_grant(
                "the authorization code was already used; tokens issued with it are revoked",
            ));
        }
        let Some(redirect_uri) = redirect_uri else {
            return Err(OAuthError::invalid_request("redirect_uri is required"));
        };
        if rec.request.redirect_uri != redirect_uri {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        match (&rec.request.code_challenge, verifier) {
            (Some(_), None) => {
                return Err(OAuthError::invalid_request(
                    "code_verifier is required (PKCE)",
                ))
            }
            (None, Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "code_verifier given but the authorization request had no code_challenge",
                ))
            }
            (Some(challenge), Some(verifier)) => {
                if !secret::is_valid_verifier(verifier) {
                    return Err(OAuthError::invalid_request(
                        "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]",
                    ));
                }
                if !secret::s256_matches(verifier, challenge) {
                    return Err(OAuthError::invalid_grant(
                        "code_verifier does not match the code_challenge",
                    ));
                }
            }
            (None, None) => {}
        }
        let grant_id = format!("grant_{}", secret::random_token(15));
        let rec = inner.codes.get_mut(&key).expect("looked up above");
        rec.redeemed = Some(grant_id.clone());
        let issued = Issued {
            grant_id: grant_id.clone(),
            user_id: rec.user_id.clone(),
            client_id: rec.request.client_id.clone(),
            scope: rec.request.scope.clone(),
            session_id: rec.session_id.clone(),
            auth_time: rec.auth_time,
            nonce: rec.request.nonce.clone(),
            refresh_token: has_scope(&rec.request.scope, "offline_access")
                .then(|| secret::random_token(32)),
        };
        let refresh = issued.refresh_token.as_deref().map(|t| RefreshRec {
            hash: secret::hash(t),
            issued_at: now,
            expires_at: now + refresh_ttl,
        });
        if let Some(r) = &refresh {
            inner.refresh_index.insert(r.hash.clone(), grant_id.clone());
        }
        inner.persisted.grants.insert(
            grant_id.clone(),
            GrantRec {
                id: grant_id,
                user_id: issued.user_id.clone(),
                client_id: issued.client_id.clone(),
                scope: issued.scope.clone(),
                session_id: issued.session_id.clone(),
                auth_time: issued.auth_time,
                created_at: now,
                refresh,
                used_refresh: Vec::new(),
                access_expires_at: 0,
                revoked_access: Vec::new(),
            },
        );
        inner.generation += 1;
        Ok(issued)
    }

    /// The `refresh_token` grant with rotation: the token presented is used
    /// up and a new one returned. Presenting a used one revokes the whole grant
    /// ([RFC 9700 section 4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2)).
    pub(crate) fn refresh(
        &self,
        token: &str,
        client_id: &str,
        scope: Option<&str>,
        refresh_ttl: u64,
        now: u64,
    ) -> Result<Issued, OAuthError> {
        let mut inner = self.lock();
        let hash = secret::hash(token);
        let unknown =
            || OAuthError::invalid_grant("the refresh token is unknown, expired or revoked");
        let Some(grant_id) = inner.refresh_index.get(&hash).cloned() else {
            return Err(unknown());
        };
        let Some(grant) = inner.persisted.grants.get(&grant_id) else {
            return Err(unknown());
        };
        if grant.client_id != client_id {
            return Err(OAuthError::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        let current = grant.refresh.as_ref().filter(|r| r.hash == hash);
        let Some(current) = current else {
            let user_id = grant.user_id.clone();
            inner.remove_grant(&grant_id);
            self.reused_refresh_tokens
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tracing::warn!(
                client_id,
                user_id,
                "refresh token reused; its grant is revoked"
            );
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; the grant is revoked",
            ));
        };
        if current.expires_at <= now {
            return Err(OAuthError::invalid_grant("the refresh token has expired"));
        }
        if let Some(asked) = scope {
            if let Some(extra) = asked
                .split(' ')
                .filter(|s| !s.is_empty())
                .find(|s| !has_scope(&grant.scope, s))
            {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {extra:?} was not granted; a refresh may only narrow scope"
                )));
            }
        }
        let fresh = secret::random_token(32);
        let fresh_hash = secret::hash(&fresh);
        let grant = inner
            .persisted
            .grants
            .get_mut(&grant_id)
            .expect("looked up above");
        let old = grant.refresh.replace(RefreshRec {
            hash: fresh_hash.clone(),
            issued_at: now,
            expires_at: now + refresh_ttl,
        });
        grant.used_refresh.push(old.expect("checked above").hash);
        let forgotten: Vec<String> = if grant.used_refresh.len() > USED_REFRESH_MEMORY {
            let n = grant.used_refresh.len() - USED_REFRESH_MEMORY;
            grant.used_refresh.drain(..n).collect()
        } else {
            Vec::new()
        };
        let issued = Issued {
            grant_id: grant_id.clone(),
            user_id: grant.user_id.clone(),
            client_id: grant.client_id.clone(),
            scope: scope
                .map(normalize_scope)
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| grant.scope.clone()),
            session_id: grant.session_id.clone(),
            auth_time: grant.auth_time,
            nonce: None,
            refresh_token: Some(fresh),
        };
        for h in forgotten {
            inner.refresh_index.remove(&h);
        }
        inner.refresh_index.insert(fresh_hash, grant_id);
        inner.generation += 1;
        Ok(issued)
    }

    /// Records the expiry of an access token issued under a grant, so the
    /// grant is kept (for introspection) until its tokens expire.
    pub(crate) fn note_access_token(&self, grant_id: &str, exp: u64) {
        let mut inner = self.lock();
        if let Some(g) = inner.persisted.grants.get_mut(grant_id) {
            if exp > g.access_expires_at {
                g.access_expires_at = exp;
                inner.generation += 1;
            }
        }
    }

    /// Whether an access token of this grant (by jti) is still good.
    pub(crate) fn access_token_active(&self, grant_id: &str, jti: &str) -> bool {
        let inner = self.lock();
        inner
            .persisted
            .grants
            .get(grant_id)
            .is_some_and(|g| !g.revoked_access.iter().any(|(j, _)| j == jti))
    }

    /// Revokes one access token ([RFC 7009](https://www.rfc-editor.org/rfc/rfc7009)).
    pub(crate) fn revoke_access_token(&self, grant_id: &str, jti: &str, exp: u64) {
        let mut inner = self.lock();
        if let Some(g) = inner.persisted.grants.get_mut(grant_id) {
            if !g.revoked_access.iter().any(|(j, _)| j == jti) {
                g.revoked_access.push((jti.to_string(), exp));
                inner.generation += 1;
            }
        }
    }

    /// Revokes the grant of a refresh token (current or used) of this client.
    /// Returns whether something was revoked.
    pub(crate) fn revoke_refresh_token(&self, token: &str, client_id: &str) -> bool {
        let mut inner = self.lock();
        let Some(grant_id) = inner.refresh_index.get(&secret::hash(token)).cloned() else {
            return false;
        };
        if inner
            .persisted
            .grants
            .get(&grant_id)
            .is_none_or(|g| g.client_id != client_id)
        {
            return false;
        }
        inner.remove_grant(&grant_id)
    }

    /// Introspection of a refresh token: only the current one of a live grant is active.
    pub(crate) fn refresh_info(&self, token: &str, now: u64) -> Option<RefreshInfo> {
        let inner = self.lock();
        let hash = secret::hash(token);
        let grant_id = inner.refresh_index.get(&hash)?;
        let g = inner.persisted.grants.get(grant_id)?;
        let r = g
            .refresh
            .as_ref()
            .filter(|r| r.hash == hash && r.expires_at > now)?;
        Some(RefreshInfo {
            user_id: g.user_id.clone(),
            client_id: g.client_id.clone(),
            scope: g.scope.clone(),
            session_id: g.session_id.clone(),
            issued_at: r.issued_at,
            expires_at: r.expires_at,
        })
    }

    /// Revokes every grant of a user; returns how many.
    pub(crate) fn end_user_grants(&self, user_id: &str) -> usize {
        let mut inner = self.lock();
        let ids: Vec<String> = inner
            .persisted
            .grants
            .values()
            .filter(|g| g.user_id == user_id)
            .map(|g| g.id.clone())
            .collect();
        ids.iter().filter(|id| inner.remove_grant(id)).count()
    }

    /// How many grants are alive (for tests and logs).
    pub(crate) fn grant_count(&self) -> usize {
        self.lock().persisted.grants.len()
    }
}

impl Inner {
    fn sweep_pending(&mut self, now: u64) {
        let full = self.pending.len() >= MAX_PENDING;
        if full || now >= self.pending_swept_at + PENDING_SWEEP_SECS {
            self.pending.retain(|_, p| p.expires_at > now);
            self.pending_swept_at = now;
        }
        if self.pending.len() >= MAX_PENDING {
            let mut by_age: Vec<(u64, String)> = self
                .pending
                .iter()
                .map(|(id, p)| (p.expires_at, id.clone()))
                .collect();
            by_age.sort_unstable();
            for (_, id) in by_age.iter().take(MAX_PENDING / 10) {
                self.pending.remove(id);
            }
        }
    }

    fn reindex(&mut self) {
        self.refresh_index.clear();
        for g in self.persisted.grants.values() {
            for h in g
                .refresh
                .iter()
                .map(|r| &r.hash)
                .chain(g.used_refresh.iter())
            {
                self.refresh_index.insert(h.clone(), g.id.clone());
            }
        }
    }

    /// Revoking a grant forgets it: its refresh tokens and access tokens
    /// then look unknown, which is what revoked means to every endpoint.
    fn remove_grant(&mut self, grant_id: &str) -> bool {
        let Some(g) = self.persisted.grants.remove(grant_id) else {
            return false;
        };
        for h in g
            .refresh
            .iter()
            .map(|r| &r.hash)
            .chain(g.used_refresh.iter())
        {
            self.refresh_index.remove(h);
        }
        self.generation += 1;
        true
    }

    /// Drops what can no longer be used: expired sessions, grants whose
    /// refresh and access tokens have all expired, expired revocations.
    fn prune(&mut self, now: u64) {
        self.persisted.sessions.retain(|_, s| s.expires_at > now);
        let dead: Vec<String> = self
            .persisted
            .grants
            .values()
            .filter(|g| {
                g.refresh.as_ref().is_none_or(|r| r.expires_at <= now) && g.access_expires_at <= now
            })
            .map(|g| g.id.clone())
            .collect();
        for id in dead {
            self.remove_grant(&id);
        }
        for g in self.persisted.grants.values_mut() {
            g.revoked_access.retain(|(_, exp)| *exp > now);
        }
    }
}

/// Whether a space-separated scope string contains `wanted`.
pub(crate) fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split(' ').any(|s| s == wanted)
}

/// Scope values in order, once each, single spaces.
pub(crate) fn normalize_scope(scope: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out.join(" ")
}

/// Path of the store inside a data folder (for tests that inspect it).
#[cfg(test)]
pub(crate) fn state_path(data_dir: &Path) -> PathBuf {
    data_dir.join(STATE_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(scope: &str) -> AuthRequest {
        AuthRequest {
            client_id: "app".into(),
            redirect_uri: "http://127.0.0.1:5000/callback".into(),
            state: "state-1234".into(),
            scope: scope.into(),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            nonce: Some("n".into()),
            login_hint: None,
        }
    }
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const URI: &str = "http://127.0.0.1:5000/callback";

    fn code(store: &Store, scope: &str) -> String {
        store.issue_code(request(scope), "user_1", "sess_1", 100, 700, 100)
    }

    #[test]
    fn bad_redemptions_change_nothing_and_a_good_one_works_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::load(dir.path()).unwrap();
        let c = code(&store, "openid offline_access");
        let wrong_verifier = "x".repeat(43);
        for (client, uri, verifier, expected) in [
            ("other", Some(URI), Some(VERIFIER), "invalid_grant"),
            (
                "app",
                Some("http://127.0.0.1:5001/callback"),
                Some(VERIFIER),
                "invalid_grant",
            ),
            ("app", None, Some(VERIFIER), "invalid_request"),
            ("app", Some(URI), None, "invalid_request"),
            ("app", Some(URI), Some("short"), "invalid_request"),
            (
                "app",
                Some(URI),
                Some(wrong_verifier.as_str()),
                "invalid_grant",
            ),
        ] {
            let err = store
                .redeem_code(&c, client, uri, verifier, 1000, 101)
                .unwrap_err();
            assert_eq!(err.code, expected, "{client} {uri:?} {verifier:?}");
        }
        assert_eq!(store.grant_count(), 0);
        let issued = store
            .redeem_code(&c, "app", Some(URI), Some(VERIFIER), 1000, 102)
            .unwrap();
        assert!(issued.refresh_token.is_some());
        assert_eq!(store.grant_count(), 1);

        let replay = store
            .redeem_code(&c, "app", Some(URI), Some(VERIFIER), 1000, 103)
            .unwrap_err();
        assert_eq!(replay.code, "invalid_grant");
        assert_eq!(store.grant_count(), 0, "replay revokes the grant");
        let refresh = store.refresh(
            issued.refresh_token.as_deref().unwrap(),
            "app",
            None,
            1000,
            104,
        );
        assert_eq!(refresh.unwrap_err().code, "invalid_grant");
    }

    #[test]
    fn codes_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::load(dir.path()).unwrap();
        let c = code(&store, "openid");
        let err = store
            .redeem_code(&c, "app", Some(URI), Some(VERIFIER), 1000, 700)
            .unwrap_err();
        assert_eq!(err.description, "the authorization code has expired");
    }

    #[test]
    fn rotation_reuse_detection_and_persistence() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::load(dir.path()).unwrap();
        let c = code(&store, "openid offline_access");
        let first = store
            .redeem_code(&c, "app", Some(URI), Some(VERIFIER), 1000, 100)
            .unwrap();
        let r1 = first.refresh_token.unwrap();
        let second = store.refresh(&r1, "app", None, 1000, 101).unwrap();
        let r2 = second.refresh_token.unwrap();
        assert_ne!(r1, r2);
        assert_eq!(second.grant_id, first.grant_id);
        assert!(store.refresh_info(&r1, 101).is_none());
        assert!(store.refresh_info(&r2, 101).is_some());
        assert_eq!(
            store
                .refresh(&r2, "other", None, 1000, 102)
                .unwrap_err()
                .description,
            "the refresh token was issued to another client"
        );
        assert_eq!(
            store
                .refresh(&r2, "app", Some("openid email"), 1000, 102)
                .unwrap_err()
                .code,
            "invalid_scope"
        );

        assert!(store.flush(102).unwrap());
        assert!(!store.flush(102).unwrap(), "nothing new to write");
        let text = std::fs::read_to_string(state_path(dir.path())).unwrap();
        assert!(!text.contains(&r2), "only hashes are stored");
        let reloaded = Store::load(dir.path()).unwrap();
        let third = reloaded.refresh(&r2, "app", None, 1000, 103).unwrap();

        // r2 is now used: presenting it again ends the grant, and so r3 too.
        let reuse = reloaded.refresh(&r2, "app", None, 1000, 104).unwrap_err();
        assert_eq!(
            reuse.description,
            "the refresh token was already used; the grant is revoked"
        );
        let r3 = third.refresh_token.unwrap();
        assert_eq!(
            reloaded
                .refresh(&r3, "app", None, 1000, 105)
                .unwrap_err()
                .code,
            "invalid_grant"
        );
    }

    #[test]
    fn without_offline_access_there_is_no_refresh_token() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::load(dir.path()).unwrap();
        let c = code(&store, "openid profile");
        let issued = store
            .redeem_code(&c, "app", Some(URI), Some(VERIFIER), 1000, 100)
            .unwrap();
        assert!(issued.refresh_token.is_none());
    }

    #[test]
    fn ending_a_users_grants_and_pruning() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::load(dir.path()).unwrap();
        for _ in 0..3 {
            let c = code(&store, "openid offline_access");
            store
                .redeem_code(&c, "app", Some(URI), Some(VERIFIER), 50, 100)
                .unwrap();
        }
        assert_eq!(store.end_user_grants("user_2"), 0);
        assert_eq!(store.end_user_grants("user_1"), 3);
        let c = code(&store, "openid offline_access");
        store
            .redeem_code(&c, "app", Some(URI), Some(VERIFIER), 50, 100)
            .unwrap();
        store.flush(200).unwrap();
        assert_eq!(
            store.grant_count(),
            0,
            "refresh expired at 150, no access token: pruned"
        );
    }

    #[test]
    fn sessions_last_one_day_even_if_saved_for_longer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::load(dir.path()).unwrap();
        let (cookie, id) = store.create_session("user_1", 100);
        assert_eq!(store.session(&cookie, 100 + 86_399).map(|s| s.id), Some(id));
        assert!(store.session(&cookie, 100 + 86_400).is_none());
        // A session written when they lasted 30 days.
        let (old, _) = store.create_session("user_1", 100);
        store
            .lock()
            .persisted
            .sessions
            .get_mut(&secret::hash(&old))
            .unwrap()
            .expires_at = 100 + 30 * 86_400;
        assert!(store.session(&old, 100 + 2 * 86_400).is_none());
    }

    #[test]
    fn debug_never_prints_secrets() {
        let mut r = request("openid offline_access");
        r.state = "state-secret-1234".into();
        r.nonce = Some("nonce-secret".into());
        let issued = Issued {
            grant_id: "grant_1".into(),
            user_id: "user_1".into(),
            client_id: "app".into(),
            scope: "openid".into(),
            session_id: "sess_1".into(),
            auth_time: 1,
            nonce: Some("nonce-secret".into()),
            refresh_token: Some("refresh-secret".into()),
        };
        let pending = PendingRequest {
            request: r.clone(),
            csrf: "csrf-secret".into(),
            consent: None,
        };
        let text = format!("{r:?} {issued:?} {pending:?}");
        for secret in [
            "state-secret-1234",
            "nonce-secret",
            "refresh-secret",
            "csrf-secret",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(
            text.contains("[redacted]") && text.contains("grant_1"),
            "{text}"
        );
    }

    #[test]
    fn scopes_normalize() {
        assert_eq!(normalize_scope(" openid  email openid "), "openid email");
        assert!(has_scope("openid email", "email"));
        assert!(!has_scope("openid emails", "email"));
    }
}

//! The authorization endpoint ([RFC 6749 section 4.1.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1))
//! and the sign-in form behind it.
//!
//! Until the client and its redirect URI are known good, errors are shown to
//! the person as a page; after that they go back to the client as
//! `error=...&state=...` (RFC 6749 section 4.1.2.1).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::config::Client;
use crate::discovery::SCOPES;
use crate::form::{read_form, Params};
use crate::limit::Locked;
use crate::pages;
use crate::secret;
use crate::server::{now, Shared};
use crate::store::{normalize_scope, AuthRequest, PendingIds, PendingRequest, SESSION_TTL_SECS};

/// Name of the browser session cookie.
pub(crate) const SESSION_COOKIE: &str = "dev_clerk_session";

/// Longest parameter value accepted.
const MAX_PARAM: usize = 2048;

/// `GET /oauth/authorize`.
pub(crate) async fn authorize_get(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    authorize(&shared, &headers, &params)
}

/// `POST /oauth/authorize` (the same request, form-encoded).
pub(crate) async fn authorize_post(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match read_form(&headers, body).await {
        Ok(params) => authorize(&shared, &headers, &params),
        Err(e) => pages::error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in request is malformed",
            &e.describe(),
        ),
    }
}

pub(crate) fn authorize(shared: &Shared, headers: &HeaderMap, p: &Params) -> Response {
    let now = now();
    let bad_page =
        |title: &str, detail: &str| pages::error_page(StatusCode::BAD_REQUEST, title, detail);
    if p.is_repeated("client_id") || p.is_repeated("redirect_uri") {
        return bad_page(
            "This sign-in link is malformed",
            "client_id or redirect_uri appears more than once.",
        );
    }
    let Some(client_id) = p.get("client_id") else {
        return bad_page(
            "This sign-in link is incomplete",
            "The request has no client_id.",
        );
    };
    let Some(client) = shared.client(client_id) else {
        tracing::info!(client_id, "authorize: unknown client");
        return bad_page(
            "Unknown application",
            &format!(
                "No application with client_id \u{201c}{client_id}\u{201d} is registered here."
            ),
        );
    };
    let Some(redirect_uri) = p.get("redirect_uri") else {
        return bad_page(
            "This sign-in link is incomplete",
            "The request has no redirect_uri.",
        );
    };
    if !redirect_matches(client, redirect_uri) {
        tracing::info!(client_id, "authorize: redirect_uri not registered");
        return bad_page(
            "This redirect is not allowed",
            &format!(
                "\u{201c}{redirect_uri}\u{201d} is not a registered redirect URI of {}.",
                client.display_name()
            ),
        );
    }

    // From here on the redirect URI is trusted: errors go back to the client.
    let state = p.get("state");
    let fail = |code: &str, description: &str| {
        tracing::info!(client_id, error = code, "authorize: request refused");
        redirect_error(shared, redirect_uri, code, description, state)
    };
    if let Some(name) = p.first_repeated() {
        return fail(
            "invalid_request",
            &format!("parameter {name} appears more than once"),
        );
    }
    if let Some(name) = p.first_too_long(MAX_PARAM) {
        return fail(
            "invalid_request",
            &format!("parameter {name} is longer than {MAX_PARAM} bytes"),
        );
    }
    if p.get("request").is_some() {
        return fail("request_not_supported", "request objects are not supported");
    }
    if p.get("request_uri").is_some() {
        return fail("request_uri_not_supported", "request_uri is not supported");
    }
    match p.get("response_type") {
        None => return fail("invalid_request", "response_type is required"),
        Some("code") => {}
        Some(_) => {
            return fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            )
        }
    }
    if p.get("response_mode").is_some_and(|m| m != "query") {
        return fail("invalid_request", "only response_mode=query is supported");
    }
    match state {
        None => return fail("invalid_request", "state is required"),
        Some(s) if s.chars().count() < 8 => {
            return fail("invalid_request", "state must be at least 8 characters")
        }
        Some(_) => {}
    }
    let Some(scope) = p
        .get("scope")
        .map(normalize_scope)
        .filter(|s| !s.is_empty())
    else {
        return fail("invalid_request", "scope is required");
    };
    if let Some(unknown) = scope.split(' ').find(|s| !SCOPES.contains(s)) {
        return fail(
            "invalid_scope",
            &format!("scope {unknown:?} is not supported"),
        );
    }
    let challenge = p.get("code_challenge");
    match (challenge, p.get("code_challenge_method")) {
        (None, Some(_)) => {
            return fail(
                "invalid_request",
                "code_challenge_method without code_challenge",
            )
        }
        (None, None) if client.is_public() => {
            return fail(
                "invalid_request",
                "code_challenge is required (PKCE with S256)",
            )
        }
        (None, None) => {}
        (Some(_), None) => {
            return fail(
                "invalid_request",
                "code_challenge_method is required and must be S256",
            )
        }
        (Some(_), Some(m)) if m != "S256" => {
            return fail("invalid_request", "code_challenge_method must be S256")
        }
        (Some(c), Some(_)) if !secret::is_valid_s256_challenge(c) => {
            return fail(
                "invalid_request",
                "code_challenge must be 43 characters of base64url",
            )
        }
        (Some(_), Some(_)) => {}
    }
    let prompts: Vec<&str> = p
        .get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(bad) = prompts
        .iter()
        .find(|v| !["none", "login", "consent", "select_account"].contains(v))
    {
        return fail(
            "invalid_request",
            &format!("prompt value {bad:?} is not supported"),
        );
    }
    if prompts.contains(&"none") && prompts.len() > 1 {
        return fail(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        );
    }

    let request = AuthRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_string(),
        state: state.unwrap_or_default().to_string(),
        scope,
        code_challenge: challenge.map(str::to_string),
        nonce: p.get("nonce").map(str::to_string),
        login_hint: p.get("login_hint").map(str::to_string),
    };
    let force_form = prompts.contains(&"login") || prompts.contains(&"select_account");
    let session = session_cookie(headers)
        .and_then(|c| shared.store.session(c, now))
        .and_then(|s| shared.user(&s.user_id).map(|u| (s, u)));
    // RFC 8252 section 8.6: any program on this computer can listen on a
    // loopback port, so a code for a loopback redirect needs the person's
    // say-so even when the browser is signed in.
    let ask_consent = is_loopback_redirect(redirect_uri) || prompts.contains(&"consent");
    match session {
        Some((session, user)) if !force_form && !ask_consent => {
            tracing::info!(
                client_id,
                user_id = %user.id,
                "authorize: signed-in session, code issued"
            );
            let code = shared.store.issue_code(
                request.clone(),
                &session.user_id,
                &session.id,
                session.auth_time,
                now + shared.config.code_ttl.as_secs(),
                now,
            );
            redirect_success(shared, &request, &code, StatusCode::FOUND, None)
        }
        Some(_) if prompts.contains(&"none") => fail(
            "consent_required",
            "signed in, but a loopback redirect needs the person's consent and prompt=none forbids asking",
        ),
        Some((session, user)) if !force_form => {
            let ids = shared.store.put_pending(request.clone(), Some(session), now);
            pages::consent_page(client, &request, &ids, user)
        }
        _ if prompts.contains(&"none") => {
            fail("login_required", "no signed-in session and prompt=none")
        }
        _ => {
            let email = request.login_hint.clone().unwrap_or_default();
            let ids = shared.store.put_pending(request.clone(), None, now);
            pages::sign_in_page(shared, client, &request, &ids, &email, None, StatusCode::OK)
        }
    }
}

/// Whether a redirect URI points at this computer (a loopback IP or `localhost`).
pub(crate) fn is_loopback_redirect(uri: &str) -> bool {
    let Ok(url) = Url::parse(uri) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        None => false,
    }
}

/// Why a page's form was refused before anything else was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FormRefusal {
    /// `request` or `csrf` was sent twice.
    #[error("request or csrf appears more than once.")]
    Repeated,
    /// No such request, or it expired or was used.
    #[error("Go back to the application and start signing in again.")]
    Expired,
    /// The CSRF token is missing or is not the one issued with the request.
    #[error(
        "Its security token is missing or wrong. Go back to the application and start signing in again."
    )]
    BadCsrf,
}

impl IntoResponse for FormRefusal {
    fn into_response(self) -> Response {
        let title = match self {
            FormRefusal::Repeated => "This sign-in form is malformed",
            FormRefusal::Expired => "This sign-in page has expired",
            FormRefusal::BadCsrf => "This form was not sent by this sign-in page",
        };
        pages::error_page(StatusCode::BAD_REQUEST, title, &self.to_string())
    }
}

/// The page's request, if its id is known and its CSRF token is the one
/// issued with it. Anything else is a 400 page and nothing is issued.
fn pending_from_form(
    shared: &Shared,
    p: &Params,
    now: u64,
) -> Result<(PendingIds, PendingRequest), FormRefusal> {
    if p.is_repeated("request") || p.is_repeated("csrf") {
        return Err(FormRefusal::Repeated);
    }
    let Some((id, pending)) = p
        .get("request")
        .and_then(|id| shared.store.pending(id, now).map(|r| (id, r)))
    else {
        return Err(FormRefusal::Expired);
    };
    let csrf_ok = p
        .get("csrf")
        .is_some_and(|given| secret::constant_time_eq(given.as_bytes(), pending.csrf.as_bytes()));
    if !csrf_ok {
        tracing::warn!(client_id = %pending.request.client_id, "form refused: missing or wrong CSRF token");
        return Err(FormRefusal::BadCsrf);
    }
    let ids = PendingIds {
        id: id.to_string(),
        csrf: pending.csrf.clone(),
    };
    Ok((ids, pending))
}

fn malformed_form(e: &crate::form::BodyError) -> Response {
    pages::error_page(
        StatusCode::BAD_REQUEST,
        "This sign-in form is malformed",
        &e.describe(),
    )
}

fn unknown_client_page() -> Response {
    pages::error_page(
        StatusCode::BAD_REQUEST,
        "Unknown application",
        "The application is no longer registered.",
    )
}

/// `POST /sign-in`: the sign-in form. A wrong password shows the form again and issues nothing.
pub(crate) async fn sign_in_submit(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match read_form(&headers, body).await {
        Ok(p) => sign_in_form(&shared, &p, now()),
        Err(e) => malformed_form(&e),
    }
}

/// The sign-in form's checks, in order: the request and its CSRF token, the
/// account's lockout, then the password.
pub(crate) fn sign_in_form(shared: &Shared, p: &Params, now: u64) -> Response {
    let (ids, pending) = match pending_from_form(shared, p, now) {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let request = pending.request;
    let Some(client) = shared.client(&request.client_id) else {
        return unknown_client_page();
    };
    let email = p.get("email").unwrap_or("").trim();
    let password = p.get("password").unwrap_or("");
    let locked_page = |locked: Locked| {
        let mut page = pages::sign_in_page(
            shared,
            client,
            &request,
            &ids,
            email,
            Some(&locked.to_string()),
            StatusCode::TOO_MANY_REQUESTS,
        );
        page.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(locked.0));
        page
    };
    if let Err(locked) = shared.limiter.check(email, now) {
        tracing::info!(client_id = %request.client_id, "sign-in: account locked after failed attempts");
        return locked_page(locked);
    }
    let user = shared
        .user_by_email(email)
        .filter(|u| secret::constant_time_eq(u.password.as_bytes(), password.as_bytes()));
    let Some(user) = user else {
        tracing::info!(client_id = %request.client_id, "sign-in: incorrect email or password");
        if let Some(locked) = shared.limiter.fail(email, now) {
            return locked_page(locked);
        }
        return pages::sign_in_page(
            shared,
            client,
            &request,
            &ids,
            email,
            Some("Incorrect email or password."),
            StatusCode::OK,
        );
    };
    shared.limiter.succeed(email);
    shared.store.take_pending(&ids.id);
    let (cookie, session_id) = shared.store.create_session(&user.id, now);
    let code = shared.store.issue_code(
        request.clone(),
        &user.id,
        &session_id,
        now,
        now + shared.config.code_ttl.as_secs(),
        now,
    );
    shared.mark_changed();
    tracing::info!(client_id = %request.client_id, user_id = %user.id, "sign-in: signed in, code issued");
    let set_cookie = format!(
        "{SESSION_COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_TTL_SECS}"
    );
    redirect_success(
        shared,
        &request,
        &code,
        StatusCode::SEE_OTHER,
        Some(set_cookie),
    )
}

/// `POST /consent`: the consent page's two buttons.
pub(crate) async fn consent_submit(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match read_form(&headers, body).await {
        Ok(p) => consent_form(&shared, &headers, &p, now()),
        Err(e) => malformed_form(&e),
    }
}

/// `action=continue` issues the code for the session the page offered, if
/// this browser still holds it; `action=switch` shows the sign-in form.
pub(crate) fn consent_form(shared: &Shared, headers: &HeaderMap, p: &Params, now: u64) -> Response {
    let (ids, pending) = match pending_from_form(shared, p, now) {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(offered) = pending.consent else {
        return FormRefusal::Expired.into_response();
    };
    let request = pending.request;
    let Some(client) = shared.client(&request.client_id) else {
        return unknown_client_page();
    };
    match p.get("action") {
        Some("continue") if !p.is_repeated("action") => {
            let current = session_cookie(headers).and_then(|c| shared.store.session(c, now));
            if current.as_ref() != Some(&offered) || shared.user(&offered.user_id).is_none() {
                return pages::error_page(
                    StatusCode::BAD_REQUEST,
                    "You are no longer signed in here",
                    "This browser's session ended or changed. Go back to the application and start signing in again.",
                );
            }
            shared.store.take_pending(&ids.id);
            let code = shared.store.issue_code(
                request.clone(),
                &offered.user_id,
                &offered.id,
                offered.auth_time,
                now + shared.config.code_ttl.as_secs(),
                now,
            );
            tracing::info!(client_id = %request.client_id, user_id = %offered.user_id, "consent: continued, code issued");
            redirect_success(shared, &request, &code, StatusCode::SEE_OTHER, None)
        }
        Some("switch") if !p.is_repeated("action") => {
            let email = request.login_hint.clone().unwrap_or_default();
            pages::sign_in_page(shared, client, &request, &ids, &email, None, StatusCode::OK)
        }
        _ => pages::error_page(
            StatusCode::BAD_REQUEST,
            "This consent form is malformed",
            "action must be continue or switch.",
        ),
    }
}

/// RFC 8252 section 7.3: a registered loopback IP redirect matches any port;
/// anything else must match exactly.
pub(crate) fn redirect_matches(client: &Client, requested: &str) -> bool {
    let Ok(req) = Url::parse(requested) else {
        return false;
    };
    if req.fragment().is_some() || !req.username().is_empty() || req.password().is_some() {
        return false;
    }
    client.redirect_uris.iter().any(|registered| {
        if registered == requested {
            return true;
        }
        let Ok(reg) = Url::parse(registered) else {
            return false;
        };
        let loopback = match reg.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        };
        loopback
            && reg.scheme() == "http"
            && req.scheme() == "http"
            && reg.host() == req.host()
            && reg.path() == req.path()
            && reg.query() == req.query()
    })
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)], status: StatusCode) -> Response {
    let mut url = match Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(_) => {
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                "This redirect is not allowed",
                "The redirect URI is malformed.",
            )
        }
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
    }
    let mut response = status.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn redirect_success(
    shared: &Shared,
    request: &AuthRequest,
    code: &str,
    status: StatusCode,
    set_cookie: Option<String>,
) -> Response {
    let mut response = redirect_with(
        &request.redirect_uri,
        &[
            ("code", code),
            ("state", &request.state),
            ("iss", &shared.issuer),
        ],
        status,
    );
    if let Some(cookie) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn redirect_error(
    shared: &Shared,
    redirect_uri: &str,
    code: &str,
    description: &str,
    state: Option<&str>,
) -> Response {
    let mut pairs = vec![("error", code), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", &shared.issuer));
    redirect_with(redirect_uri, &pairs, StatusCode::FOUND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_match_any_port_and_nothing_else() {
        let c = Client::public(
            "c",
            &["http://127.0.0.1/callback", "https://app.example/cb"],
        );
        for ok in [
            "http://127.0.0.1/callback",
            "http://127.0.0.1:5173/callback",
            "http://127.0.0.1:1/callback",
            "https://app.example/cb",
        ] {
            assert!(redirect_matches(&c, ok), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:5173/callback/",
            "http://127.0.0.1:5173/other",
            "http://localhost:5173/callback",
            "http://127.0.0.2:5173/callback",
            "https://127.0.0.1:5173/callback",
            "http://127.0.0.1:5173/callback?x=1",
            "http://127.0.0.1:5173/callback#frag",
            "http://user@127.0.0.1:5173/callback",
            "https://app.example:444/cb",
            "https://app.example/cb2",
            "not a url",
        ] {
            assert!(!redirect_matches(&c, bad), "{bad}");
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; dev_clerk_session=xyz; b=2"),
        );
        assert_eq!(session_cookie(&h), Some("xyz"));
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }
}

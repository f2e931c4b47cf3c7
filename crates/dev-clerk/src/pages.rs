//! HTML the person sees: the sign-in form, error pages, the home page, and
//! avatars. Templates are files in `assets/`; every interpolated value is
//! escaped; each page carries a strict Content-Security-Policy.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::{demo, Client, User};
use crate::secret;
use crate::server::Shared;
use crate::store::{AuthRequest, PendingIds};

const SIGN_IN: &str = include_str!("../assets/sign-in.html");
const CONSENT: &str = include_str!("../assets/consent.html");
const MESSAGE: &str = include_str!("../assets/message.html");

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Fills `{{name}}` slots in one pass, so a value can never open another slot.
/// Values must already be HTML (escaped where they came from outside).
fn render(template: &str, slots: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = &after[..end];
                match slots.iter().find(|(n, _)| *n == name) {
                    Some((_, value)) => out.push_str(value),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn html_response(status: StatusCode, html: String, csp: &str) -> Response {
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

fn csp(nonce: &str, form_action: &str) -> String {
    format!(
        "default-src 'none'; img-src 'self'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// Browsers apply form-action to the redirect that follows the POST too.
fn form_action(request: &AuthRequest) -> String {
    let redirect_origin = Url::parse(&request.redirect_uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    format!("'self' {redirect_origin}").trim().to_string()
}

/// The sign-in form (contract: `#sign-in-form`, `email`, `password`, hidden
/// `request` and `csrf`, a `Continue` submit button, `#error` on a failed
/// attempt). `status` is 200, or 429 while the account is locked.
pub(crate) fn sign_in_page(
    shared: &Shared,
    client: &Client,
    request: &AuthRequest,
    ids: &PendingIds,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let nonce = secret::random_token(16);
    let error_html = error
        .map(|e| {
            format!(
                r#"<p id="error" class="error" role="alert">{}</p>"#,
                escape(e)
            )
        })
        .unwrap_or_default();
    let demo_users: Vec<&User> = shared
        .config
        .users
        .iter()
        .filter(|u| {
            (u.id == demo::ADA_ID || u.id == demo::GRACE_ID) && u.password == demo::PASSWORD
        })
        .collect();
    let demo_html = if demo_users.is_empty() {
        String::new()
    } else {
        let items: String = demo_users
            .iter()
            .map(|u| {
                format!(
                    r#"<li><button type="button" data-email="{email}" data-password="{password}"><img src="/avatars/{id}.svg" alt=""><span class="who"><span class="name">{name}</span><span class="mail">{email}</span></span></button></li>"#,
                    email = escape(&u.email),
                    password = escape(&u.password),
                    id = escape(&u.id),
                    name = escape(&u.full_name()),
                )
            })
            .collect();
        format!(
            r#"<div class="divider">Demo accounts</div><ul class="demo">{items}</ul><p class="hint">Password for both: <code>{}</code></p>"#,
            escape(demo::PASSWORD)
        )
    };
    let html = render(
        SIGN_IN,
        &[
            ("nonce", &nonce),
            ("client_name", &escape(client.display_name())),
            ("error", &error_html),
            ("request", &escape(&ids.id)),
            ("csrf", &escape(&ids.csrf)),
            ("email", &escape(email)),
            ("demo", &demo_html),
        ],
    );
    html_response(status, html, &csp(&nonce, &form_action(request)))
}

/// The consent page shown to a browser that is already signed in, before a
/// code goes to a loopback redirect ([RFC 8252 section 8.6](https://www.rfc-editor.org/rfc/rfc8252#section-8.6):
/// any local program can claim a loopback port). Contract: `form#consent-form`
/// posting to `/consent` with hidden `request` and `csrf`, and two submit
/// buttons named `action`: `continue` ("Continue as <name>") and `switch`
/// ("Use another account").
pub(crate) fn consent_page(
    client: &Client,
    request: &AuthRequest,
    ids: &PendingIds,
    user: &User,
) -> Response {
    let nonce = secret::random_token(16);
    let html = render(
        CONSENT,
        &[
            ("nonce", &nonce),
            ("client_name", &escape(client.display_name())),
            ("user_id", &escape(&user.id)),
            ("user_name", &escape(&user.full_name())),
            ("user_email", &escape(&user.email)),
            ("request", &escape(&ids.id)),
            ("csrf", &escape(&ids.csrf)),
        ],
    );
    html_response(StatusCode::OK, html, &csp(&nonce, &form_action(request)))
}

/// An error page for problems the client cannot be told about.
pub(crate) fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let nonce = secret::random_token(16);
    let body = format!(
        "<p>{}</p><p>If you followed a link from an application, go back to it and try signing in again.</p>",
        escape(detail)
    );
    let html = render(
        MESSAGE,
        &[
            ("nonce", &nonce),
            ("title", &escape(title)),
            ("body", &body),
        ],
    );
    html_response(status, html, &csp(&nonce, "'none'"))
}

/// `GET /`: what this server is, for a person who opens it in a browser.
pub(crate) async fn home(State(shared): State<Arc<Shared>>) -> Response {
    let nonce = secret::random_token(16);
    let issuer = escape(&shared.issuer);
    let body = format!(
        "<p>A local Clerk-compatible OAuth 2.0 / OpenID Connect issuer at <code>{issuer}</code>.</p>\
         <p>Discovery: <a href=\"/.well-known/openid-configuration\">/.well-known/openid-configuration</a></p>\
         <p>Applications sign people in here; there is nothing to do on this page.</p>"
    );
    let html = render(
        MESSAGE,
        &[
            ("nonce", &nonce),
            ("title", "dev-clerk is running"),
            ("body", &body),
        ],
    );
    html_response(StatusCode::OK, html, &csp(&nonce, "'none'"))
}

/// Any other path.
pub(crate) async fn not_found() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address.",
    )
}

/// `GET /avatars/<user id>.svg`: initials on a colour picked from the id.
pub(crate) async fn avatar_get(
    State(shared): State<Arc<Shared>>,
    Path(file): Path<String>,
) -> Response {
    let Some(user) = file.strip_suffix(".svg").and_then(|id| shared.user(id)) else {
        return not_found().await;
    };
    let mut response = avatar_svg(user).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

const PALETTE: &[&str] = &[
    "#5b4ff5", "#0e9f6e", "#d97706", "#db2777", "#0284c7", "#7c3aed", "#dc2626", "#059669",
];

fn avatar_svg(user: &User) -> String {
    let initials: String = [&user.first_name, &user.last_name]
        .iter()
        .filter_map(|n| n.chars().next())
        .flat_map(char::to_uppercase)
        .collect();
    let initials = if initials.is_empty() {
        user.email
            .chars()
            .next()
            .map(|c| c.to_uppercase().collect())
            .unwrap_or_default()
    } else {
        initials
    };
    let colour = PALETTE[Sha256::digest(user.id.as_bytes())[1] as usize % PALETTE.len()];
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128" role="img" aria-label="{label}"><rect width="128" height="128" rx="64" fill="{colour}"/><text x="64" y="64" dy=".35em" text-anchor="middle" font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="52" font-weight="600" fill="#ffffff">{initials}</text></svg>"##,
        label = escape(&user.full_name()),
        initials = escape(&initials),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_html_and_attributes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn rendering_is_one_pass() {
        assert_eq!(
            render("a {{x}} b {{y}} {{z}}", &[("x", "{{y}}"), ("y", "2")]),
            "a {{y}} b 2 {{z}}"
        );
        assert_eq!(render("unclosed {{x", &[("x", "1")]), "unclosed {{x");
    }

    #[test]
    fn avatars_show_initials() {
        let svg = avatar_svg(&User::ada());
        assert!(svg.contains(">AL</text>"));
        assert!(svg.starts_with("<svg"));
        let colour = |svg: &str| svg.split("fill=\"").nth(1).unwrap()[..7].to_string();
        assert_ne!(
            colour(&svg),
            colour(&avatar_svg(&User::grace())),
            "the demo users look different"
        );
    }
}

//! The person at the sign-in page, played over HTTP: GET the authorize URL,
//! fill `form#sign-in-form` (or, with a session cookie, press "Continue" on
//! `form#consent-form`), submit, and read where the issuer redirects.

use std::time::Duration;

use url::Url;

use crate::{Error, Result};

/// A browser with a cookie jar that never follows redirects.
#[derive(Clone, Debug)]
pub struct TestBrowser {
    http: reqwest::Client,
}

impl Default for TestBrowser {
    fn default() -> Self {
        Self::new()
    }
}

impl TestBrowser {
    /// A fresh browser (empty cookie jar).
    pub fn new() -> Self {
        TestBrowser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("reqwest client"),
        }
    }

    /// Opens the authorize URL. If the issuer redirects at once, returns
    /// `Ok(Err(location))`; otherwise the page's HTML as `Ok(Ok(html))`: the
    /// sign-in form, or (a session cookie, a loopback redirect, no
    /// `prompt=login`) dev-clerk's consent page, "Continue as ...".
    pub async fn open(&self, authorize_url: &Url) -> Result<std::result::Result<String, Url>> {
        let resp = self.http.get(authorize_url.clone()).send().await?;
        if resp.status().is_redirection() {
            return Ok(Err(location(authorize_url, &resp)?));
        }
        let status = resp.status();
        let html = resp.text().await?;
        if !status.is_success() {
            return Err(Error::Page(format!(
                "authorize answered {status}: {}",
                snippet(&html)
            )));
        }
        Ok(Ok(html))
    }

    /// Signs in on the page at `authorize_url` and returns the redirect's
    /// `Location` (the callback URL with `code`, `state`, `iss`), not followed.
    /// Wrong credentials: `Error::Page` with the page's error text.
    pub async fn sign_in(&self, authorize_url: &Url, email: &str, password: &str) -> Result<Url> {
        let html = match self.open(authorize_url).await? {
            Ok(html) => html,
            Err(already) => return Ok(already),
        };
        if is_consent_page(&html) {
            return self.consent(authorize_url, &html, true).await;
        }
        let form = parse_form(&html, "sign-in-form")?;
        let mut fields = form.hidden.clone();
        fields.push(("email".to_owned(), email.to_owned()));
        fields.push(("password".to_owned(), password.to_owned()));
        self.submit(authorize_url, &form, &fields).await
    }

    /// Answers dev-clerk's consent page (`html`, shown for `page_url`):
    /// "Continue as ..." (`continue_as`), returning the redirect's
    /// `Location`, or "Use another account", which answers with the sign-in
    /// form (`Error::Page` carrying it, as no redirect comes).
    pub async fn consent(&self, page_url: &Url, html: &str, continue_as: bool) -> Result<Url> {
        let form = parse_form(html, "consent-form")?;
        let mut fields = form.hidden.clone();
        let choice = if continue_as { "continue" } else { "switch" };
        fields.push(("action".to_owned(), choice.to_owned()));
        self.submit(page_url, &form, &fields).await
    }

    /// POSTs `fields` to the form's action; the redirect's `Location`, or
    /// the page's error text.
    async fn submit(
        &self,
        page_url: &Url,
        form: &Form,
        fields: &[(String, String)],
    ) -> Result<Url> {
        let action = page_url
            .join(&form.action)
            .map_err(|e| Error::Page(format!("bad form action {:?}: {e}", form.action)))?;
        let body = serde_urlencoded::to_string(fields).map_err(|e| Error::Page(e.to_string()))?;
        let resp = self
            .http
            .post(action.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await?;
        if resp.status().is_redirection() {
            return location(&action, &resp);
        }
        let status = resp.status();
        let html = resp.text().await?;
        let error = extract_by_id(&html, "error").unwrap_or_else(|| snippet(&html));
        Err(Error::Page(format!("sign-in answered {status}: {error}")))
    }
}

/// One-shot: a fresh browser signs in and returns the redirect `Location`.
pub async fn play_browser(authorize_url: &Url, email: &str, password: &str) -> Result<Url> {
    TestBrowser::new()
        .sign_in(authorize_url, email, password)
        .await
}

/// What the loopback listener answered the browser.
#[derive(Clone, Debug)]
pub struct Delivered {
    /// HTTP status.
    pub status: u16,
    /// The page's HTML.
    pub body: String,
}

/// The browser following the redirect: GETs the callback URL (the loopback
/// listener), and returns what it answered.
pub async fn deliver(callback_url: &Url) -> Result<Delivered> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()?;
    let resp = http.get(callback_url.clone()).send().await?;
    Ok(Delivered {
        status: resp.status().as_u16(),
        body: resp.text().await?,
    })
}

fn location(base: &Url, resp: &reqwest::Response) -> Result<Url> {
    let loc = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::Page(format!("redirect {} without Location", resp.status())))?;
    base.join(loc)
        .map_err(|e| Error::Page(format!("bad Location {loc:?}: {e}")))
}

fn snippet(html: &str) -> String {
    html.chars().take(300).collect()
}

struct Form {
    action: String,
    hidden: Vec<(String, String)>,
}

/// Finds `<form id="sign-in-form" ... action="...">` and its hidden inputs.
/// Whether `html` is dev-clerk's "Continue as ..." page.
pub fn is_consent_page(html: &str) -> bool {
    find_tag_with_id(html, "form", "consent-form").is_some()
}

fn parse_form(html: &str, id: &str) -> Result<Form> {
    let start = find_tag_with_id(html, "form", id)
        .ok_or_else(|| Error::Page(format!("no form#{id}: {}", snippet(html))))?;
    let tag_end = html[start..]
        .find('>')
        .map(|i| start + i)
        .ok_or_else(|| Error::Page("unclosed form tag".into()))?;
    let attrs = parse_attrs(&html[start + 5..tag_end]);
    let action = attr(&attrs, "action").unwrap_or_default();
    let end = html[tag_end..]
        .find("</form")
        .map(|i| tag_end + i)
        .unwrap_or(html.len());
    let body = &html[tag_end..end];
    let mut hidden = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("<input") {
        let after = &rest[i + 6..];
        let close = after.find('>').unwrap_or(after.len());
        let a = parse_attrs(&after[..close]);
        if attr(&a, "type").is_some_and(|t| t.eq_ignore_ascii_case("hidden")) {
            if let Some(name) = attr(&a, "name") {
                hidden.push((name, attr(&a, "value").unwrap_or_default()));
            }
        }
        rest = &after[close..];
    }
    Ok(Form { action, hidden })
}

fn find_tag_with_id(html: &str, tag: &str, id: &str) -> Option<usize> {
    let open = format!("<{tag}");
    let mut from = 0;
    while let Some(i) = html[from..].find(&open) {
        let start = from + i;
        let end = html[start..].find('>').map(|j| start + j)?;
        let attrs = parse_attrs(&html[start + open.len()..end]);
        if attr(&attrs, "id").as_deref() == Some(id) {
            return Some(start);
        }
        from = end;
    }
    None
}

/// The text inside the element with this id (tags stripped).
fn extract_by_id(html: &str, id: &str) -> Option<String> {
    for tag in ["p", "div", "span"] {
        if let Some(start) = find_tag_with_id(html, tag, id) {
            let open_end = start + html[start..].find('>')? + 1;
            let close = open_end + html[open_end..].find(&format!("</{tag}"))?;
            return Some(decode_entities(html[open_end..close].trim()));
        }
    }
    None
}

fn attr(attrs: &[(String, String)], name: &str) -> Option<String> {
    attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// Parses `name="value" name='value' name=value flag` pairs.
fn parse_attrs(s: &str) -> Vec<(String, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let ns = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        if ns == i {
            i += 1;
            continue;
        }
        let name = s[ns..i].to_owned();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let value = if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                i += 1;
                let vs = i;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                let v = &s[vs..i];
                i += 1;
                v
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                &s[vs..i]
            };
            out.push((name, decode_entities(value)));
        } else {
            out.push((name, String::new()));
        }
    }
    out
}

fn decode_entities(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract_form() {
        let html = r#"<html><form class="x" id="sign-in-form" method="post" action="/oauth/authorize?a=1&amp;b=2">
            <input name="email" type="email" autocomplete="username">
            <input name="password" type="password">
            <input type="hidden" name="request" value="req_&quot;1&quot;">
            <input type='hidden' name='csrf' value='c2'/>
            <button type="submit">Continue</button></form>
            <p id="error" class="error" role="alert">Incorrect email or password.</p></html>"#;
        let f = parse_form(html, "sign-in-form").unwrap();
        assert_eq!(f.action, "/oauth/authorize?a=1&b=2");
        assert_eq!(
            f.hidden,
            vec![
                ("request".into(), "req_\"1\"".into()),
                ("csrf".into(), "c2".into())
            ]
        );
        assert_eq!(
            extract_by_id(html, "error").as_deref(),
            Some("Incorrect email or password.")
        );
        assert!(parse_form("<form id=\"other\"></form>", "sign-in-form").is_err());
    }
}

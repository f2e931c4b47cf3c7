//! The one HTTP client (rustls, redirects off, timeouts) and its adapter for
//! `oauth2`, which turns 5xx and 429 answers into transport errors so that
//! refresh treats them as "issuer away", not as a verdict.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth2::{HttpRequest, HttpResponse};

/// Builds the client. `loopback`: the issuer is on this machine, so no proxy.
pub(crate) fn build_client(loopback: bool) -> Result<reqwest::Client, reqwest::Error> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .user_agent(concat!("courier-clerk-auth/", env!("CARGO_PKG_VERSION")))
        .https_only(false);
    if loopback {
        b = b.no_proxy();
    }
    b.build()
}

/// A failed HTTP exchange: no answer, or a "come back later" answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// Connect, timeout, TLS, or a broken body.
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    /// 5xx or 429.
    #[error("the issuer answered HTTP {0}")]
    Unavailable(u16),
    /// The request could not be built.
    #[error("bad request: {0}")]
    Build(String),
}

/// `oauth2`'s view of our client.
#[derive(Clone)]
pub(crate) struct OAuthHttp(pub(crate) reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for OAuthHttp {
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(TransportError::Http)?;
            let response = self.0.execute(request).await?;
            let status = response.status();
            if status.is_server_error() || status.as_u16() == 429 {
                return Err(TransportError::Unavailable(status.as_u16()));
            }
            let mut builder = oauth2::http::Response::builder().status(status.as_u16());
            for (name, value) in response.headers() {
                builder = builder.header(name.as_str(), value.as_bytes());
            }
            let body = response.bytes().await?.to_vec();
            builder
                .body(body)
                .map_err(|e| TransportError::Build(e.to_string()))
        })
    }
}

//! The one HTTP client (rustls, redirects off, timeouts) and its adapter for
//! `oauth2`, which turns 5xx and 429 answers into transport errors so that
//! refresh treats them as "issuer away", not as a verdict. Every body from
//! the issuer is read with a cap ([`MAX_RESPONSE_BYTES`]): a token, discovery
//! or JWKS answer is a few KiB, and nothing bigger is worth holding.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth2::{HttpRequest, HttpResponse};

/// The most Courier reads of one issuer response (token, discovery, JWKS).
pub(crate) const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Reads `response`'s body, refusing it past `cap` bytes (by its
/// `Content-Length` at once, else as the chunks arrive).
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, TransportError> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(TransportError::TooLarge(cap));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Err(TransportError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Makes AWS-LC, which already verifies the ID tokens, the process's TLS
/// crypto provider too, unless the program chose one before: one crypto
/// stack in the app rather than AWS-LC and *ring* side by side, and no TLS
/// user in the process panics on finding two providers compiled in (as in
/// a workspace build with tests that want *ring*).
pub fn install_crypto_provider() {
    // An error only says a provider is installed already; that one stays.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Builds the client. `loopback`: the issuer is on this machine, so no proxy.
pub(crate) fn build_client(loopback: bool) -> Result<reqwest::Client, reqwest::Error> {
    // reqwest is built without a provider of its own: it takes the default.
    install_crypto_provider();
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
    /// The body was larger than the cap (in bytes).
    #[error("the issuer's answer is larger than {0} bytes")]
    TooLarge(usize),
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
            let body = read_capped(response, MAX_RESPONSE_BYTES).await?;
            builder
                .body(body)
                .map_err(|e| TransportError::Build(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A raw HTTP server: `/small` (1 KiB, with a length), `/big` (100 KiB,
    /// with a length), anything else 100 KiB chunked with no length.
    async fn server() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let sized = |len: usize| {
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n{}",
                            "x".repeat(len)
                        )
                    };
                    let answer = if request.starts_with("GET /small ") {
                        sized(1024)
                    } else if request.starts_with("GET /big ") {
                        sized(100 * 1024)
                    } else {
                        let chunk = format!("400\r\n{}\r\n", "x".repeat(1024));
                        format!(
                            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{}0\r\n\r\n",
                            chunk.repeat(100)
                        )
                    };
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        base
    }

    #[tokio::test]
    async fn bodies_are_read_up_to_the_cap_only() {
        let base = server().await;
        let client = build_client(true).unwrap();
        let get = |path: &str| client.get(format!("{base}{path}")).send();
        let small = read_capped(get("/small").await.unwrap(), MAX_RESPONSE_BYTES)
            .await
            .unwrap();
        assert_eq!(small.len(), 1024);
        for path in ["/big", "/stream"] {
            let err = read_capped(get(path).await.unwrap(), MAX_RESPONSE_BYTES)
                .await
                .unwrap_err();
            assert!(matches!(err, TransportError::TooLarge(_)), "{path}: {err}");
        }
    }
}

//! A small client for [Convex's HTTP API](https://docs.convex.dev/http-api/):
//! `POST {deployment}/api/query`, `/api/mutation` and `/api/action` with
//! serde-typed arguments and results, sending the caller's ID token as a
//! bearer token.
//!
//! What it is: one [`ConvexClient`] (cheap to clone, one connection pool),
//! a [`TokenSource`] trait through which the caller hands it tokens (and a
//! forced refresh when Convex answers HTTP 401), typed [`ConvexError`]s, and
//! [`url_from_env`] to read `CONVEX_URL`.
//!
//! What it is not: a sync/WebSocket client (no subscriptions, no optimistic
//! updates), nor a sign-in library. It knows nothing of Clerk: the binaries
//! implement [`TokenSource`] with `clerk-auth`'s session manager, so neither
//! crate depends on the other.
//!
//! ```no_run
//! # async fn demo(tokens: std::sync::Arc<dyn convex_http::TokenSource>) -> Result<(), convex_http::ConvexError> {
//! use serde_json::json;
//! let url = convex_http::url_from_env(|k| std::env::var(k).ok())?;
//! let convex = convex_http::ConvexClient::new(url, tokens)?;
//! let id: String = convex.mutation("messages:send", &json!({ "body": "hello" })).await?;
//! # Ok(()) }
//! ```

mod client;
mod config;
mod error;
mod token;
mod wire;

pub use client::{ConvexClient, ConvexClientBuilder, CLIENT_NAME};
pub use config::{is_loopback, url_from_env, CONVEX_URL};
pub use error::{ConvexError, TransportError, TransportErrorKind};
pub use token::{NoToken, StaticToken, TokenError, TokenErrorKind, TokenSource};

/// Re-exported so implementors of [`TokenSource`] need no direct dependency
/// on `async-trait`: write `#[convex_http::async_trait]` on the `impl`.
pub use async_trait::async_trait;

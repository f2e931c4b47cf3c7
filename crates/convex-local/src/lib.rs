//! convex-local: a small Convex-compatible backend for Courier, for
//! development and tests.
//!
//! It speaks Convex's HTTP API (`/api/query`, `/api/mutation`,
//! `/api/action`, `/api/run/...`) with Convex's response shapes, trusts
//! bearer tokens exactly as Convex applies `auth.config.ts` (issuer and a
//! single audience, OIDC discovery + JWKS, RS256/EdDSA only, `exp`/`nbf`),
//! and runs the same functions as `convex/` (`messages:getForCurrentUser`,
//! `messages:list`, `messages:send`, `users:me`) over SQLite (WAL).
//!
//! It is not Convex: no JavaScript runtime, no sync protocol or
//! subscriptions, no admin keys or dashboard, and only these functions.
//! Production uses a real Convex deployment with the `convex/` folder.
//!
//! ```no_run
//! # async fn demo() -> Result<(), convex_local::Error> {
//! let mut config = convex_local::Config::for_tests("/tmp/convex-local-data");
//! config.providers = convex_local::Config::providers_from_env(|k| std::env::var(k).ok())?;
//! let server = convex_local::ConvexLocal::start(config).await?;
//! println!("CONVEX_URL={}", server.url());
//! server.stop().await;
//! # Ok(()) }
//! ```

mod auth;
mod commits;
mod config;
mod error;
mod functions;
mod http;
mod identity;
mod seed;
mod server;
mod store;
mod sync;
mod validate;

#[cfg(test)]
mod proptests;

pub use config::{AuthProvider, Config, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT};
pub use error::Error;
pub use http::{app, AppState};
pub use server::ConvexLocal;

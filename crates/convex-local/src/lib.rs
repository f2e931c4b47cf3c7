//! convex-local: a small Convex-compatible backend for Courier, for
//! development and tests.
//!
//! It speaks Convex's HTTP API (`/api/query`, `/api/mutation`,
//! `/api/action`, `/api/run/...`) with Convex's response shapes, and
//! Convex's sync protocol on a WebSocket (`/api/sync`, and
//! `/api/{client-version}/sync` as convex-js opens it) with the message
//! types of `convex_sync_types`, so the official clients (`convex` for
//! Rust, convex-js) work against it unchanged. It trusts bearer tokens
//! exactly as Convex applies `auth.config.ts` (issuer and a single
//! audience, OIDC discovery + JWKS, RS256/EdDSA only, `exp`/`nbf`), and
//! runs the same functions as `convex/` (`messages:getForCurrentUser`,
//! `messages:list`, `messages:send`, `users:me`) over SQLite (WAL).
//!
//! Live queries: every committed write (from either API) gets a commit
//! timestamp and is announced with its author; each socket re-runs only
//! the subscribed queries that can see that author's messages and pushes
//! the results that changed, in a `Transition` from exactly the version the
//! client holds. A live `messages:list` page keeps its end (Convex's query
//! journal), so pages loaded after it never repeat or skip a message.
//!
//! It is not Convex: no JavaScript runtime, no admin keys or dashboard, and
//! only these functions. Of the sync protocol it leaves out: transition
//! chunks (never needed: results are small), function log lines (always
//! empty), the `Connect` message's linearizability check against
//! `maxObservedTimestamp` (timestamps are not persisted), client clock skew,
//! and component paths. A refused `Authenticate` ends the socket with
//! `AuthError`, as Convex does; so does a token that expired while the
//! socket was open, at the next update. Production uses a real Convex
//! deployment with the `convex/` folder.
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

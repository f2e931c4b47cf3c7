//! dev-clerk: a local, Clerk-compatible OAuth 2.0 / OpenID Connect issuer.
//!
//! It serves, on one origin, what Courier uses of Clerk's Frontend API:
//! discovery, a JWKS of RS256 keys, the authorization endpoint with a real
//! sign-in page (the seeded demo users are Ada Lovelace and Grace Hopper),
//! the token endpoint (authorization code with PKCE S256, refresh tokens with
//! rotation and reuse detection), userinfo, revocation and introspection.
//! Keys and grants persist in a data folder, so a restart keeps people
//! signed in. It is the embedded default of `cargo run` and the issuer of
//! every test: tests start it in-process with [`DevClerk::start`] on port 0
//! and use the handle to inject token faults, end grants and count grants.
//!
//! It is not Clerk: no sign-up, no organizations, no dashboard, no
//! multi-factor, no sessions API; one process, plain HTTP on 127.0.0.1.
//!
//! Map:
//! * [`Config`], [`Client`], [`User`], [`demo`]: settings (`config.rs`).
//! * [`DevClerk`], [`app`], [`AppState`], [`GrantCounts`], [`TokenFault`]:
//!   the server and its handle (`server.rs`).
//! * Endpoints: `discovery.rs`, `authorize.rs` (authorize, the sign-in form,
//!   and the consent page a signed-in browser sees before a loopback
//!   redirect gets a code), `token.rs` (token, userinfo, revoke,
//!   token_info); JWTs in `tokens.rs`; keys in `keys.rs`; grants, sessions
//!   and pages in progress (with their CSRF tokens) in `store.rs`; pages in
//!   `pages.rs`.
//! * Guards: `host.rs` answers only for the issuer's own `Host` (DNS
//!   rebinding); `limit.rs` locks an account after repeated wrong passwords.

mod authorize;
mod config;
mod discovery;
mod error;
mod form;
mod fsutil;
mod host;
mod keys;
mod limit;
mod oauth_error;
mod pages;
mod secret;
mod server;
mod store;
mod token;
mod tokens;

#[cfg(test)]
mod proptests;

pub use config::{
    demo, parse_duration, Client, Config, User, DEFAULT_CLIENT_ID, DEFAULT_PORT,
    DEFAULT_REDIRECT_URI,
};
pub use error::Error;
pub use server::{app, AppState, DevClerk, GrantCounts, TokenFault};

//! Courier's messages in Convex, live.
//!
//! What it is: the one place the desktop app and `courier-cli` know the
//! messages API by (function names, argument shapes, the body limit,
//! pagination, error wording), spoken over Convex's sync protocol with the
//! official client, the `convex` crate. A [`MessagesClient`] holds one
//! WebSocket, authenticated by a `clerk-auth` [`SessionManager`]: it asks the
//! session for a token on (re)connect and after an `AuthError`, and hands the
//! socket each new token the session gets, before the old one expires.
//! [`LiveMessages`] keeps a chain of live pages ("load more") that neither
//! repeats nor skips a message while new ones arrive.
//!
//! What it is not: a sign-in library (that is `clerk-auth`), a UI, or a
//! general Convex client. It never logs a token.
//!
//! * [`deployment`]: the Convex URL, checked before a token goes anywhere.
//! * [`api`]: the functions, their arguments and their results.
//! * [`client`]: [`MessagesClient`]: connect, send, read a page, subscribe.
//! * [`auth`]: how the socket gets its tokens from the session.
//! * [`live`]: [`LiveMessages`], the live pages.
//! * [`error`]: [`MessagesError`], with words for a person.
//!
//! [`SessionManager`]: clerk_auth::SessionManager

pub mod api;
mod auth;
pub mod client;
pub mod deployment;
pub mod error;
pub mod live;

pub use api::{validate_body, BodyError, Message, Page, PageRequest, MAX_BODY_CHARS, PAGE_SIZE};
pub use client::{Connection, MessagesClient, PageSubscription, CLIENT_ID};
pub use deployment::{is_loopback, url_from_env, UrlError, CONVEX_URL};
pub use error::MessagesError;
pub use live::{LiveMessages, Snapshot};

/// A `tracing` filter directive for the binaries: the official client logs
/// whole protocol messages, ID tokens included, at debug level, and each
/// reconnect as an error with a backtrace, so its own logs are off whatever
/// `RUST_LOG` or `-vv` asks for; [`MessagesClient`] logs the connection's
/// ups and downs instead.
pub const CLIENT_LOG_DIRECTIVE: &str = "convex=off";

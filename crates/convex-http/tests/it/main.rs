//! Black-box tests of `convex-http` over real HTTP on 127.0.0.1.

/// The real thing: convex-local trusting an in-process dev-clerk, with ID
/// tokens from a real authorization-code + PKCE sign-in.
mod against_convex_local;
/// The client's behaviour on each kind of answer, against the fake.
mod against_fake;
/// Ada's ID tokens from dev-clerk, as a `TokenSource` (also used by the bench).
mod dev_clerk_session;
/// Against a small in-test axum server speaking Convex's HTTP API (a
/// stand-in: every test name ends in `_against_fake_convex`).
mod fake_convex;
/// Shared helpers: a counting token source, a log capture.
mod util;

//! Black-box tests of dev-clerk over real HTTP on 127.0.0.1. The client side
//! of every flow is the `openidconnect` crate, an independent implementation.

// Helpers: servers in temp dirs, a minimal browser, the OIDC client.
mod util;

// Discovery documents and the JWKS, read by openidconnect.
mod discovery;
// The whole code + PKCE flow, ID token verified against the JWKS.
mod code_flow;
// Refresh with rotation, and reuse detection.
mod refresh;
// Code replay, wrong and missing PKCE verifiers.
mod code_checks;
// Each authorization request error, as a page or as a redirect.
mod authorize_errors;
// The sign-in page: contract, wrong password, sessions, prompt.
mod sign_in;
// Revocation (RFC 7009) and introspection (RFC 7662).
mod revocation;
// Userinfo with good, missing, expired and revoked tokens.
mod userinfo;
// Restart on the same port and data folder keeps grants and sessions.
mod restart;
// Faults, ended grants and counts through the in-process handle.
mod handle;
// Consent for signed-in browsers, CSRF tokens, the Host check, the password limit.
mod hardening;
// Malformed, oversized and unauthenticated token requests change nothing.
mod bad_input;
// The `dev-clerk` binary: flags and the `ready` line.
mod binary;

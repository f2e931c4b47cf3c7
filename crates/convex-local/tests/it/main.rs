//! Black-box tests of convex-local over real HTTP on 127.0.0.1, with a
//! test OIDC issuer serving fixed test keys.

/// The `convex-local` binary: ready line, providers from the environment.
mod binary;
/// Shared JSON cases (convex/tests/cases/*.json), also run by vitest.
mod cases;
/// Each function with and without identity, isolation, pagination.
mod functions;
/// Issuer outages: stale keys keep verifying, unknown kids evict nothing.
mod outage;
/// Malformed requests, auth header shapes, CORS.
mod requests;
/// Restart, concurrent writers, demo seed, messages_by_author.
mod storage;
/// The sync protocol: official Rust client and raw sockets.
mod sync;
/// Forged and malformed tokens, EdDSA, key rotation.
mod tokens;
/// Test issuer, signing, backend helpers.
mod util;

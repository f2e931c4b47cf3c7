//! Black-box tests of `courier-messages`: the official Convex client against
//! convex-local and dev-clerk in-process on 127.0.0.1, with sessions signed
//! in through a real code + PKCE flow and kept in the real keychain (one
//! entry per test user, removed at the end).

/// Live pages: pushes, "load more" while messages arrive, other users.
mod live;
/// Tokens on an open socket: short lifetimes, sign-out.
mod tokens;
/// Shared helpers: backends, signed-in sessions, waiting for snapshots.
mod util;

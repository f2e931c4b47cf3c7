//! clerk-auth against a real dev-clerk, in-process on 127.0.0.1 port 0.
//! Refresh tests run with zero leeway and count dev-clerk's grants.

/// The real Secret Service (ignored unless run by the test command).
mod keychain;
/// Scheduled and on-demand refresh, single flight, ended and offline sessions.
mod refresh;
/// restore() and sign_out() with the store.
mod restore;
/// Several managers on one store: adoption, sign-out elsewhere, races.
mod shared;
/// Sign-in flows: loopback, `deliver`, `complete`, and every way to fail.
mod sign_in;
/// Shared helpers.
mod util;

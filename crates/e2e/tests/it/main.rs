//! End-to-end tests of Courier's real window through WebDriver, against
//! dev-clerk and convex-local started in this process on free ports, with
//! the real keychain (the test command runs them inside a private D-Bus
//! session with gnome-keyring). One at a time: `--test-threads=1`.

/// Live messages: pushed from courier-cli, live pages, a backend restart.
mod live;
/// Messages: demo messages, sending, XSS rendered as text.
mod messages;
/// The sign-in window has no IPC.
mod security;
/// The session over time: restart, refresh, ended grants, issuer down, sign-out.
mod session;
/// The app and `courier-cli` on one session: no reuse, sign-out elsewhere,
/// a start with the issuer down.
mod shared_session;
/// Signing in through the "Sign in" window, and what a failed one leaves.
mod sign_in;
/// The signed-out screen, the IPC path, and the unconfigured app.
mod signed_out;
/// Shared setup of these tests.
mod util;

//! The end-to-end harness for Courier's real window: it builds the app once,
//! provides a display (Xvfb when there is none), starts `tauri-driver` on
//! free ports with the app's configuration in its environment (the app is
//! launched by WebKitWebDriver and inherits it), and opens a WebDriver
//! session; [`run_cli`] runs `courier-cli` beside it on the same session.
//! Everything it starts is torn down when the [`App`] is dropped,
//! also when a test panics.
//!
//! It is not a test framework: tests in `tests/it` use it with plain
//! `#[tokio::test]`, one at a time (one keychain, one single-instance app).

mod app;
mod build;
mod cli;
mod display;
mod flows;

pub use app::{wait_single_instance_released, App, AppDirs, Launch};
pub use build::{app_binary, cli_binary, workspace_root};
pub use cli::{run_cli, CliRun};
pub use display::ensure_display;
pub use fantoccini::{Client, Locator};

/// How long a test waits for the window to reach a state before it fails.
pub const UI_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

//! Logs go to a daily file in the platform's log folder (on Linux
//! `~/.local/share/dev.courier.desktop/logs/courier.log.<date>`) and to
//! stderr. No log line carries a token, code or password: the core crates
//! never put one in a field, and nothing here formats request bodies.

use std::path::Path;
use std::sync::OnceLock;

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

static GUARD: OnceLock<tracing_appender::non_blocking::WorkerGuard> = OnceLock::new();

/// Starts logging once; `RUST_LOG` overrides the default `info` level.
pub(crate) fn init(log_dir: &Path) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let file = std::fs::create_dir_all(log_dir)
        .ok()
        .map(|()| tracing_appender::rolling::daily(log_dir, "courier.log"));
    let file_layer = file.map(|appender| {
        let (writer, guard) = tracing_appender::non_blocking(appender);
        let _ = GUARD.set(guard);
        fmt::layer().with_ansi(false).with_writer(writer)
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(std::io::stderr))
        .with(file_layer)
        .try_init();
}

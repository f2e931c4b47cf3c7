//! First paint: the UI says when the first message is painted, once; the
//! time since the process started goes to the log, and to stdout as
//! `first-paint-ms <N>` for the window benchmark (`scripts/bench`, which
//! sets [`REPORT_ENV`] and compares it with `crates/bare-window`'s).

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set to `1`, the figure is also printed to stdout.
pub(crate) const REPORT_ENV: &str = "COURIER_REPORT_FIRST_PAINT";

static REPORTED: AtomicBool = AtomicBool::new(false);

/// Logs (and maybe prints) the time since start; only the first call counts.
pub(crate) fn report() {
    if REPORTED.swap(true, Ordering::Relaxed) {
        return;
    }
    let ms = start_clock::millis_since_start();
    tracing::info!("first message painted {ms} ms after start");
    if std::env::var_os(REPORT_ENV).is_some_and(|v| v == "1") {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "first-paint-ms {ms}");
        let _ = out.flush();
    }
}

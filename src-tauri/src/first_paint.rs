//! First paint: the UI says when the first message is painted, once, with
//! its own clock (`performance.now()`, ms since the page started); the time
//! since the process started goes to the log, and to stdout as
//! `first-paint-ms <N> page-ms <P>` ([`start_clock::FirstPaint`]) for the
//! window benchmark (`scripts/bench`, which sets [`REPORT_ENV`] and compares
//! it with `crates/bare-window`'s).

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use start_clock::FirstPaint;

/// Set to `1`, the figure is also printed to stdout.
pub(crate) const REPORT_ENV: &str = "COURIER_REPORT_FIRST_PAINT";

static REPORTED: AtomicBool = AtomicBool::new(false);

/// Logs (and maybe prints) the time since start; only the first call counts.
/// `page_ms` is the page's clock when it reported.
pub(crate) fn report(page_ms: Option<f64>) {
    if REPORTED.swap(true, Ordering::Relaxed) {
        return;
    }
    let report = FirstPaint::now(page_ms);
    match report.before_page_ms() {
        Some(before) => tracing::info!(
            "first message painted {} ms after start (the page started after {before} ms)",
            report.since_start_ms
        ),
        None => tracing::info!(
            "first message painted {} ms after start",
            report.since_start_ms
        ),
    }
    if std::env::var_os(REPORT_ENV).is_some_and(|v| v == "1") {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{report}");
        let _ = out.flush();
    }
}

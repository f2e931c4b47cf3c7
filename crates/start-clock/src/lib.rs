//! How long ago this process started: the one clock both Courier and the
//! benchmark's bare window (`crates/bare-window`) report first paint by, so
//! their figures compare.
//!
//! On Linux the start is the kernel's: `starttime` in `/proc/self/stat`
//! (clock ticks since boot, so it includes `exec`, the dynamic loader and
//! everything before `main`) against `CLOCK_BOOTTIME` now. A tick is 10 ms,
//! so a figure is 0 to 10 ms over. Elsewhere, or if `/proc` cannot be read,
//! it is the time since [`mark`] (call it on the first line of `main`).
//!
//! [`FirstPaint`] is the line both apps print with that figure, and the
//! benchmark reads.

mod first_paint;

pub use first_paint::{FirstPaint, NotAReport};

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static MARK: OnceLock<Instant> = OnceLock::new();

/// Records now as the start, for when the kernel's start time is unknown.
/// Later calls keep the first.
pub fn mark() {
    MARK.get_or_init(Instant::now);
}

/// The time since this process started.
pub fn since_start() -> Duration {
    kernel_since_start().unwrap_or_else(|| MARK.get_or_init(Instant::now).elapsed())
}

/// [`since_start`] in whole milliseconds.
pub fn millis_since_start() -> u64 {
    u64::try_from(since_start().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(target_os = "linux")]
fn kernel_since_start() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let ticks = start_ticks(&stat)?;
    // SAFETY: sysconf has no preconditions.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok()?;
    if per_second == 0 {
        return None;
    }
    let started = Duration::from_nanos(ticks.checked_mul(1_000_000_000)? / per_second);
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write to.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut now) } != 0 {
        return None;
    }
    let now = Duration::new(
        u64::try_from(now.tv_sec).ok()?,
        u32::try_from(now.tv_nsec).ok()?,
    );
    now.checked_sub(started)
}

#[cfg(not(target_os = "linux"))]
fn kernel_since_start() -> Option<Duration> {
    None
}

/// Field 22 of `/proc/<pid>/stat`, `starttime`. The command name (field 2)
/// is in parentheses and may hold spaces or parentheses itself, so fields
/// are counted from the last `)`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn start_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Field 3 (state) is the first after the name; starttime is 19 later.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_ticks_counts_fields_after_the_name() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    5 3 0 0 20 0 4 0 123456 1000 50";
        assert_eq!(start_ticks(stat), Some(123_456));
        assert_eq!(start_ticks("4242 (x) S 1"), None);
    }

    #[test]
    fn a_running_process_started_in_the_past() {
        mark();
        let since = since_start();
        assert!(since < Duration::from_secs(24 * 3600), "{since:?}");
    }
}

//! Logs go to a daily file in the platform's log folder (on Linux
//! `~/.local/share/dev.courier.desktop/logs/courier.log.<date>`) and to
//! stderr. No log line carries a token, code or password: the core crates
//! never put one in a field, and nothing here formats request bodies.
//! The folder is 0700 and each file 0600 (Unix): see `fsutil`.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

use crate::fsutil;

static GUARD: OnceLock<tracing_appender::non_blocking::WorkerGuard> = OnceLock::new();

/// Starts logging once; `RUST_LOG` overrides the default `info` level
/// (except for the Convex client's own logs, which carry tokens at debug).
pub(crate) fn init(log_dir: &Path) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive(
            courier_messages::CLIENT_LOG_DIRECTIVE
                .parse()
                .expect("a valid directive"),
        );
    let file = fsutil::create_private_dir(log_dir)
        .ok()
        .map(|()| DailyFile::new(log_dir));
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

/// `courier.log.<YYYY-MM-DD>` (UTC, as tracing-appender's daily rotation
/// named them), a new file each day, each created 0600. tracing-appender's
/// own appender creates its files with the process umask (often 0644).
pub(crate) struct DailyFile {
    dir: PathBuf,
    current: Option<(String, File)>,
}

impl DailyFile {
    pub(crate) fn new(dir: &Path) -> Self {
        DailyFile {
            dir: dir.to_path_buf(),
            current: None,
        }
    }

    fn file(&mut self) -> io::Result<&mut File> {
        let today = utc_date(SystemTime::now());
        if self.current.as_ref().is_none_or(|(day, _)| *day != today) {
            let path = self.dir.join(format!("courier.log.{today}"));
            let file = fsutil::open_private_append(&path)?;
            self.current = Some((today, file));
        }
        Ok(&mut self.current.as_mut().expect("just set").1)
    }
}

impl io::Write for DailyFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.current.as_mut() {
            Some((_, file)) => file.flush(),
            None => Ok(()),
        }
    }
}

/// `YYYY-MM-DD` in UTC.
fn utc_date(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64) - 1,
    };
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::time::Duration;

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(20_818), (2026, 12, 31));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(
            utc_date(UNIX_EPOCH + Duration::from_secs(11_017 * 86_400 + 86_399)),
            "2000-03-01"
        );
    }

    #[cfg(unix)]
    #[test]
    fn log_files_are_0600_in_a_0700_folder() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("logs");
        fsutil::create_private_dir(&dir).unwrap();
        let mut log = DailyFile::new(&dir);
        log.write_all(b"a line\n").unwrap();
        log.flush().unwrap();
        let path = dir.join(format!("courier.log.{}", utc_date(SystemTime::now())));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a line\n");
        assert_eq!(fsutil::mode(&path), 0o600);
        assert_eq!(fsutil::mode(&dir), 0o700);
    }
}

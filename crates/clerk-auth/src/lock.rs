//! [`SessionLock`]: the cross-process lock that serializes refreshes of one
//! session, so that two Courier processes never present the same rotating
//! refresh token (an issuer with reuse detection would revoke the grant).
//!
//! An exclusive advisory lock (`flock` on Unix, `LockFileEx` on Windows,
//! through [`std::fs::File::try_lock`]) on a file in the user's runtime
//! folder (or cache folder). The OS releases it when the process exits, even
//! when killed, so a crash never blocks the others. It is held only around
//! "re-read the keychain, refresh if still needed, write the keychain".

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a process waits for the lock before giving up (a live process
/// holds it for one refresh request, which times out well before this).
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lock file could not be created or opened.
    #[error("cannot open the session lock file {path}: {source}")]
    Open {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another process held the lock for longer than [`LOCK_TIMEOUT`].
    #[error("another Courier process has held the session lock for {0:?}")]
    TimedOut(Duration),
}

/// Where the lock file of one session lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionLock {
    path: PathBuf,
}

/// The lock, held until dropped.
#[derive(Debug)]
pub struct SessionLockGuard {
    file: File,
    waited: Duration,
}

impl SessionLockGuard {
    /// How long taking the lock took.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

impl Drop for SessionLockGuard {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes the
        // release immediate even if the handle were duplicated.
        let _ = self.file.unlock();
    }
}

impl SessionLock {
    /// The lock for keychain account `account`, in `dir`.
    pub fn in_dir(dir: &Path, account: &str) -> Self {
        SessionLock {
            path: dir.join(format!("session-{}.lock", file_stem(account))),
        }
    }

    /// The lock for `account` in the default folder: `$XDG_RUNTIME_DIR` (or
    /// the platform's cache folder, or the temp folder) `/<service>/`.
    pub fn for_account(service: &str, account: &str) -> Self {
        let base = dirs::runtime_dir()
            .or_else(dirs::cache_dir)
            .unwrap_or_else(std::env::temp_dir);
        Self::in_dir(&base.join(service), account)
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the lock, waiting up to `timeout`. Blocking: call it off the
    /// async workers.
    pub fn acquire(&self, timeout: Duration) -> Result<SessionLockGuard, LockError> {
        let start = Instant::now();
        let file = self.open()?;
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => {
                    return Ok(SessionLockGuard {
                        file,
                        waited: start.elapsed(),
                    })
                }
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(LockError::Open {
                        path: self.path.clone(),
                        source,
                    })
                }
            }
            if start.elapsed() >= timeout {
                return Err(LockError::TimedOut(start.elapsed()));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    fn open(&self) -> Result<File, LockError> {
        let err = |source| LockError::Open {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            create_private_dir(dir).map_err(err)?;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        options.open(&self.path).map_err(err)
    }
}

/// A folder only this user can enter (0700 on Unix).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// A file name from a keychain account (`<issuer>|<client id>`): readable,
/// and distinct for distinct accounts (a hash of the whole account is
/// appended, since several characters map to `_`).
fn file_stem(account: &str) -> String {
    let readable: String = account
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(64)
        .collect();
    // FNV-1a: stable across builds and platforms (std's hasher is not).
    let hash = account.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{readable}-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_distinct_and_safe() {
        let a = file_stem("http://127.0.0.1:4810|courier-dev");
        let b = file_stem("http://127.0.0.1:4811|courier-dev");
        assert_ne!(a, b);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        assert_ne!(file_stem("a|b"), file_stem("a/b"));
    }

    #[test]
    fn a_second_handle_waits_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let lock = SessionLock::in_dir(dir.path(), "issuer|client");
        let first = lock.acquire(Duration::from_secs(1)).unwrap();
        // flock locks belong to the open file, so this conflicts even in one process.
        assert!(matches!(
            lock.acquire(Duration::from_millis(50)),
            Err(LockError::TimedOut(_))
        ));
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(first);
        });
        let second = lock.acquire(Duration::from_secs(5)).unwrap();
        assert!(second.waited() >= Duration::from_millis(50));
        releaser.join().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_lock_file_and_folder_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let lock = SessionLock::in_dir(&dir.path().join("courier"), "issuer|client");
        drop(lock.acquire(Duration::from_secs(1)).unwrap());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(lock.path()), 0o600);
        assert_eq!(mode(lock.path().parent().unwrap()), 0o700);
    }
}

//! Files only this user may read: 0600 files in 0700 folders (Unix). The
//! draft and the logs are not secrets, but they are the person's words and
//! whereabouts, so other accounts on the machine have no business there.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;

/// Creates `dir` (and its parents) and makes `dir` itself 0700.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
}

/// Opens `path` for appending, creating it 0600 (an existing file is made
/// 0600 too: it may predate this rule).
pub(crate) fn open_private_append(path: &Path) -> io::Result<File> {
    let file = private_options().create(true).append(true).open(path)?;
    restrict(&file)?;
    Ok(file)
}

/// Writes `contents` to `path` through a 0600 temporary file and a rename,
/// so a crash leaves the old contents or the new, never half.
pub(crate) fn write_private_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = private_options()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&tmp)?;
    restrict(&file)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

fn restrict(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(all(test, unix))]
pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn folders_are_0700_and_files_0600() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("b");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);

        let log = dir.join("x.log");
        open_private_append(&log)
            .unwrap()
            .write_all(b"1\n")
            .unwrap();
        assert_eq!(mode(&log), 0o600);
        // An older, world-readable file is tightened when opened.
        let old = dir.join("old.log");
        std::fs::write(&old, "x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        open_private_append(&old).unwrap();
        assert_eq!(mode(&old), 0o600);

        let draft = dir.join("d.txt");
        write_private_atomic(&draft, b"hello").unwrap();
        assert_eq!(mode(&draft), 0o600);
        assert_eq!(std::fs::read_to_string(&draft).unwrap(), "hello");
        write_private_atomic(&draft, b"again").unwrap();
        assert_eq!(std::fs::read_to_string(&draft).unwrap(), "again");
        assert!(!draft.with_extension("tmp").exists());

        // An existing folder that was too open is tightened.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }

    use std::os::unix::fs::PermissionsExt as _;
}

//! Builds the app binary once per test process, the same way the test
//! command does, so a plain `cargo test -p e2e` works on its own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/e2e sits two levels below the root")
        .to_path_buf()
}

/// Path of the debug app binary, built with embedded assets.
///
/// `COURIER_APP_BINARY` overrides it (e.g. an installed `/usr/bin/courier`).
/// Otherwise the binary is built once per process with the same features the
/// Tauri CLI uses, so the test command's `tauri build --debug` is reused.
pub fn app_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Ok(path) = std::env::var("COURIER_APP_BINARY") {
                return PathBuf::from(path);
            }
            debug_binary(
                "courier",
                &["--bin", "courier", "--features", "tauri/custom-protocol"],
            )
        })
        .clone()
}

/// Path of the debug `courier-cli` binary, built once per process (the
/// workspace test stage has usually built it already).
pub fn cli_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            debug_binary(
                "courier-cli",
                &["-p", "courier-cli", "--bin", "courier-cli"],
            )
        })
        .clone()
}

/// `cargo build <args>` in the workspace; the path of binary `name`.
fn debug_binary(name: &str, args: &[&str]) -> PathBuf {
    let root = workspace_root();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .arg("build")
        .args(args)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {name} failed");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    target.join("debug").join(name)
}

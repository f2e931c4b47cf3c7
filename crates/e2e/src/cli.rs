//! `courier-cli` beside the app, as a person runs it in a terminal: the same
//! user folders (so the same keychain entry and session lock), the same
//! configuration, no stdin.

use std::process::Stdio;
use std::time::Duration;

use crate::AppDirs;

/// What one `courier-cli` run printed, and how it ended.
#[derive(Debug)]
pub struct CliRun {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `courier-cli args...` with `env` in `dirs`' user folders; fails the
/// test if it takes longer than a minute.
pub async fn run_cli(dirs: &AppDirs, env: &[(String, String)], args: &[&str]) -> CliRun {
    let mut command = tokio::process::Command::new(crate::build::cli_binary());
    command
        .args(args)
        .env("XDG_CONFIG_HOME", dirs.path().join("config"))
        .env("XDG_DATA_HOME", dirs.path().join("data"))
        .env("XDG_CACHE_HOME", dirs.path().join("cache"))
        .current_dir(dirs.path())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("courier-cli finished within a minute")
        .expect("courier-cli runs");
    CliRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

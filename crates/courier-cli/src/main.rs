//! `courier-cli`: Courier from the command line, on the same session as the
//! desktop app (same keychain entry, same configuration).
//!
//! It signs in with Clerk through the system browser (or a printed URL and
//! the loopback callback), prints a fresh ID token for scripts, and reads and
//! sends messages through Convex's HTTP API. It is a thin shell: the OAuth
//! session is `clerk-auth`'s, the Convex calls are `convex-http`'s, and this
//! crate talks to a person (the glue between the two, `session-tokens`, is
//! shared with the app).
//!
//! Map:
//! * `cli`: the command line (clap).
//! * `config`: the environment and `.env` files, merged.
//! * `commands`: one function per subcommand.
//! * `table`: the messages table.
//! * `error`: [`error::CliError`] and the exit codes.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;

mod cli;
mod commands;
mod config;
mod error;
mod table;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("courier-cli: {e:#}");
            ExitCode::from(error::EXIT_ERROR)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    // Exits with 2 on a usage error, 0 for --help and --version.
    let cli = cli::Cli::parse();
    init_logs(cli.verbose);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let result = runtime.block_on(async {
        let env = config::Env::load(cli.env_file.as_deref())?;
        commands::run(cli.command, &env).await
    });
    Ok(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("courier-cli: {e}");
            ExitCode::from(e.exit_code())
        }
    })
}

/// Logs go to stderr, quiet unless asked: errors only by default, `-v`
/// info, `-vv` debug (which includes Convex function log lines).
fn init_logs(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::ERROR,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in a pipe or a file.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

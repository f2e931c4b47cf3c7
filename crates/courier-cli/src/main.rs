//! `courier-cli`: Courier from the command line, on the same session as the
//! desktop app (same keychain entry, same configuration).
//!
//! It signs in with Clerk through the system browser (or a printed URL and
//! the loopback callback), prints a fresh ID token for scripts, and reads and
//! sends messages (and watches them arrive) over Convex's sync protocol. It
//! is a thin shell: the OAuth session is `clerk-auth`'s, the messages API and
//! its socket are `courier-messages`' (shared with the app), and this crate
//! talks to a person.
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
        0 => "error",
        1 => "info",
        _ => "debug",
    };
    // The official Convex client logs tokens at debug: its logs stop at info.
    let filter = tracing_subscriber::EnvFilter::new(level).add_directive(
        courier_messages::CLIENT_LOG_DIRECTIVE
            .parse()
            .expect("a valid directive"),
    );
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in a pipe or a file.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

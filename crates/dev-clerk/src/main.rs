//! `dev-clerk`: run the local Clerk-compatible issuer until interrupted.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use dev_clerk::{parse_duration, Config, DevClerk, DEFAULT_PORT};

/// A local Clerk-compatible OAuth 2.0 / OpenID Connect issuer.
///
/// Prints `ready <issuer-url>` on stdout once listening; logs go to stderr
/// (`RUST_LOG` filters them).
#[derive(Parser, Debug)]
#[command(name = "dev-clerk", version)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Folder for keys and grants [default: <data dir>/courier/dev-clerk].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Issuer URL (`iss`) [default: http://127.0.0.1:<port>].
    #[arg(long)]
    issuer_url: Option<String>,
    /// JSON or TOML file with clients, users and lifetimes.
    #[arg(long)]
    config: Option<PathBuf>,
    /// ID token lifetime, e.g. 30, 5s, 10m, 1h, 1d [default: 1d].
    #[arg(long, value_parser = duration)]
    id_token_ttl: Option<Duration>,
    /// Access token lifetime [default: 1d].
    #[arg(long, value_parser = duration)]
    access_token_ttl: Option<Duration>,
    /// Refresh token lifetime [default: 90d].
    #[arg(long, value_parser = duration)]
    refresh_token_ttl: Option<Duration>,
    /// Authorization code lifetime [default: 10m].
    #[arg(long, value_parser = duration)]
    code_ttl: Option<Duration>,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dev-clerk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => dirs::data_dir()
            .context("no data folder on this system; pass --data-dir")?
            .join("courier")
            .join("dev-clerk"),
    };
    let mut config = Config::new(data_dir);
    if let Some(file) = &args.config {
        config.apply_file(file)?;
    }
    // Flags win over the file.
    config.port = args.port;
    if let Some(url) = args.issuer_url {
        config.issuer_url = Some(url);
    }
    for (flag, slot) in [
        (args.id_token_ttl, &mut config.id_token_ttl),
        (args.access_token_ttl, &mut config.access_token_ttl),
        (args.refresh_token_ttl, &mut config.refresh_token_ttl),
        (args.code_ttl, &mut config.code_ttl),
    ] {
        if let Some(d) = flag {
            *slot = d;
        }
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let server = DevClerk::start(config).await?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "ready {}", server.issuer_url())?;
        stdout.flush()?;
        drop(stdout);
        shutdown_signal().await;
        tracing::info!("stopping");
        server.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

//! `convex-local`: run the local Convex-compatible backend.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use convex_local::{Config, ConvexLocal, DEFAULT_PORT};

/// A local Convex-compatible backend (HTTP API, sync protocol, Convex's token rules, SQLite).
///
/// Trusted issuers come from CLERK_FRONTEND_API_URL (or
/// CLERK_JWT_ISSUER_DOMAIN or CLERK_PUBLISHABLE_KEY) and
/// CLERK_OAUTH_CLIENT_ID, read from the environment and ./.env.
#[derive(Parser, Debug)]
#[command(name = "convex-local", version)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Data folder (default: <data dir>/courier/convex-local).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Clock leeway for token exp/nbf: `0`, `5s`, `2m`.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    leeway: Duration,
    /// Do not seed demo messages into an empty database.
    #[arg(long)]
    no_seed: bool,
    /// Also trust the providers in this JSON file
    /// (`{"providers": [{"domain": ..., "applicationID": ...}]}`).
    #[arg(long)]
    auth_config: Option<PathBuf>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = convex_local::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("bad duration unit in {s:?}: use s, m, h or d")),
    };
    Ok(Duration::from_secs(secs))
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("convex-local: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let _ = dotenvy::dotenv();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "convex_local=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => dirs::data_dir()
            .context("no data folder on this system; pass --data-dir")?
            .join("courier")
            .join("convex-local"),
    };
    let mut config = Config::new(data_dir);
    config.port = args.port;
    config.leeway = args.leeway;
    config.seed_demo = !args.no_seed;
    config.max_body_bytes = args.max_body_bytes;
    config.providers = Config::providers_from_env(|k| std::env::var(k).ok())?;
    if let Some(path) = &args.auth_config {
        config.providers.extend(Config::providers_from_file(path)?);
    }
    if config.providers.is_empty() {
        tracing::warn!("no auth provider configured: every token will be refused (set CLERK_FRONTEND_API_URL and CLERK_OAUTH_CLIENT_ID)");
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let server = ConvexLocal::start(config).await?;
        println!("ready {}", server.url());
        std::io::stdout().flush()?;
        tokio::signal::ctrl_c().await?;
        server.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}

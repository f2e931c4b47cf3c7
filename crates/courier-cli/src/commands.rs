//! One function per subcommand. Each returns a [`CliError`] that says what
//! happened and what to do; stdout carries only the command's result.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clerk_auth::{AuthState, KeyringStore, SessionManager, SignInOptions, User};
use convex_http::ConvexClient;
use serde_json::{json, Value};

use crate::cli::Command;
use crate::config::Env;
use crate::error::CliError;
use crate::table::{self, Message};
use session_tokens::SessionTokens;

/// Runs one subcommand.
pub(crate) async fn run(command: Command, env: &Env) -> Result<(), CliError> {
    match command {
        Command::Login {
            no_browser,
            timeout,
        } => login(env, no_browser, Duration::from_secs(timeout)).await,
        Command::Whoami => whoami(env).await,
        Command::Token => token(env).await,
        Command::Messages { limit, json } => messages(env, limit, json).await,
        Command::Send { text } => send(env, &text.join(" ")).await,
        Command::Logout => logout(env).await,
    }
}

/// The session manager on the app's keychain entry, without the background
/// refresh task (a command is short-lived), restored from the keychain.
async fn restored_session(env: &Env) -> Result<SessionManager, CliError> {
    let config = env.clerk()?;
    let store = KeyringStore::for_config(&config)
        .map_err(|e| CliError::Failed(format!("{} ({e})", e.user_message())))?;
    let session =
        SessionManager::new(config, Arc::new(store)).map_err(|e| CliError::from_auth(&e))?;
    session.set_auto_refresh(false);
    session.restore().await;
    Ok(session)
}

/// The signed-in user, or why there is none.
fn signed_in_user(session: &SessionManager) -> Result<(User, bool), CliError> {
    match session.state() {
        AuthState::SignedIn { user, offline } => Ok((user, offline)),
        AuthState::SignedOut {
            reason: Some(reason),
        } if reason.code == "keychain" => Err(CliError::Failed(reason.message)),
        AuthState::SignedOut {
            reason: Some(reason),
        } => Err(CliError::not_signed_in(Some(&reason.message))),
        _ => Err(CliError::not_signed_in(None)),
    }
}

fn describe(user: &User) -> String {
    match (&user.name, &user.email) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        (Some(name), None) => name.clone(),
        (None, Some(email)) => email.clone(),
        (None, None) => user.id.clone(),
    }
}

async fn login(env: &Env, no_browser: bool, timeout: Duration) -> Result<(), CliError> {
    let session = restored_session(env).await?;
    if let Ok((user, _)) = signed_in_user(&session) {
        eprintln!(
            "Already signed in as {}. Run `courier-cli logout` first to use another account.",
            describe(&user)
        );
        return Ok(());
    }
    if let AuthState::SignedOut {
        reason: Some(reason),
    } = session.state()
    {
        if reason.code == "keychain" {
            return Err(CliError::Failed(reason.message));
        }
    }
    let pending = session
        .begin_sign_in(SignInOptions::default())
        .await
        .map_err(|e| CliError::from_auth(&e))?;
    let url = pending.authorize_url().clone();

    let opened = !no_browser && webbrowser::open(url.as_str()).is_ok();
    if opened {
        eprintln!(
            "Opened your browser to sign in. If it did not open, visit this URL:\n\n  {url}\n"
        );
    } else {
        eprintln!("Open this URL in a browser to sign in:\n\n  {url}\n");
    }
    eprintln!(
        "Waiting for the sign-in to finish (up to {} s; Ctrl-C to cancel)...",
        timeout.as_secs()
    );

    let handle = pending.handle();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            handle.cancel();
        }
    });
    let result = pending.finish(timeout).await;
    ctrl_c.abort();
    let user = result.map_err(|e| CliError::from_auth(&e))?;
    eprintln!("Signed in as {}.", describe(&user));
    Ok(())
}

async fn whoami(env: &Env) -> Result<(), CliError> {
    let session = restored_session(env).await?;
    let (user, offline) = signed_in_user(&session)?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", describe(&user));
    let _ = writeln!(out, "id:     {}", user.id);
    let _ = writeln!(out, "issuer: {}", session.config().issuer_str());
    if offline {
        eprintln!("(offline: the sign-in service could not be reached; the session is kept)");
    }
    Ok(())
}

async fn token(env: &Env) -> Result<(), CliError> {
    let session = restored_session(env).await?;
    signed_in_user(&session)?;
    let token = session
        .id_token()
        .await
        .map_err(|e| CliError::from_auth(&e))?;
    // The one place a token is printed: on purpose, to stdout, for scripts.
    println!("{}", token.secret());
    Ok(())
}

/// A Convex client on this session's tokens. The Convex URL is checked
/// before the keychain or the network are touched.
async fn convex(env: &Env) -> Result<ConvexClient, CliError> {
    let url = env.convex_url()?;
    let session = restored_session(env).await?;
    signed_in_user(&session)?;
    ConvexClient::new(url.clone(), Arc::new(SessionTokens(session)))
        .map_err(|e| CliError::from_convex(e, &url))
}

async fn messages(env: &Env, limit: u32, as_json: bool) -> Result<(), CliError> {
    let convex = convex(env).await?;
    let args = json!({ "paginationOpts": { "numItems": limit, "cursor": null } });
    let page: Value = convex
        .query("messages:list", &args)
        .await
        .map_err(|e| CliError::from_convex(e, convex.url()))?;
    let docs = page.get("page").cloned().unwrap_or(Value::Null);
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&docs).unwrap_or_default()
        );
        return Ok(());
    }
    let messages: Vec<Message> = serde_json::from_value(docs).map_err(|e| {
        CliError::Failed(format!(
            "messages:list returned messages of an unexpected shape: {e}"
        ))
    })?;
    if messages.is_empty() {
        eprintln!("No messages yet. Send one with `courier-cli send <text>`.");
        return Ok(());
    }
    print!("{}", table::render(&messages));
    Ok(())
}

async fn send(env: &Env, text: &str) -> Result<(), CliError> {
    if text.trim().is_empty() {
        return Err(CliError::Usage(
            "The message is empty: give some text to send.".into(),
        ));
    }
    let convex = convex(env).await?;
    // The same id on the 401 retry: Convex writes the message once.
    let args = json!({ "body": text, "clientMessageId": client_message_id() });
    let id: Value = convex
        .mutation("messages:send", &args)
        .await
        .map_err(|e| CliError::from_convex(e, convex.url()))?;
    match id {
        Value::String(id) => println!("{id}"),
        other => println!("{other}"),
    }
    eprintln!("Sent.");
    Ok(())
}

/// Unique enough per send: process id and the current time in nanoseconds.
fn client_message_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("cli-{:x}-{nanos:x}", std::process::id())
}

async fn logout(env: &Env) -> Result<(), CliError> {
    // Restoring first discovers the issuer, so the refresh token can be revoked.
    let session = restored_session(env).await?;
    let who = signed_in_user(&session)
        .ok()
        .map(|(user, _)| describe(&user));
    session
        .sign_out()
        .await
        .map_err(|e| CliError::from_auth(&e))?;
    match who {
        Some(who) => eprintln!("Signed out {who}."),
        None => eprintln!("Not signed in; nothing to do."),
    }
    Ok(())
}

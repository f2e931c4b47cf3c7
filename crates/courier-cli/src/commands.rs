//! One function per subcommand. Each returns a [`CliError`] that says what
//! happened and what to do; stdout carries only the command's result.

use std::collections::HashSet;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clerk_auth::{AuthState, KeyringStore, SessionManager, SignInOptions, User};
use courier_messages::client::CONNECT_TIMEOUT;
use courier_messages::{Connection, LiveMessages, MessagesClient, PageRequest};

use crate::cli::Command;
use crate::config::Env;
use crate::error::CliError;
use crate::table;

/// Runs one subcommand.
pub(crate) async fn run(command: Command, env: &Env) -> Result<(), CliError> {
    match command {
        Command::Login {
            no_browser,
            timeout,
        } => login(env, no_browser, Duration::from_secs(timeout)).await,
        Command::Whoami => whoami(env).await,
        Command::Token => token(env).await,
        Command::Messages {
            limit, watch: true, ..
        } => watch(env, limit).await,
        Command::Messages { limit, json, .. } => messages(env, limit, json).await,
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

/// The messages client on this session's tokens. The Convex URL is checked
/// before the keychain or the network are touched.
async fn messages_client(env: &Env) -> Result<(MessagesClient, SessionManager), CliError> {
    let url = env.convex_url()?;
    let session = restored_session(env).await?;
    signed_in_user(&session)?;
    let client = MessagesClient::connect(&url, session.clone())
        .await
        .map_err(CliError::from_messages)?;
    Ok((client, session))
}

async fn messages(env: &Env, limit: u32, as_json: bool) -> Result<(), CliError> {
    let (client, _session) = messages_client(env).await?;
    let page = client
        .page(&PageRequest::first(limit))
        .await
        .map_err(CliError::from_messages)?;
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&page.page).unwrap_or_default()
        );
        return Ok(());
    }
    if page.page.is_empty() {
        eprintln!("No messages yet. Send one with `courier-cli send <text>`.");
        return Ok(());
    }
    print!("{}", table::render(&page.page));
    Ok(())
}

/// Prints the newest `limit` messages, oldest first, then each new one as
/// it arrives, until Ctrl-C. The connection's ups and downs go to stderr.
async fn watch(env: &Env, limit: u32) -> Result<(), CliError> {
    let (client, session) = messages_client(env).await?;
    // A long-running command: tokens are refreshed ahead, as in the app.
    session.set_auto_refresh(true);
    client
        .connected(CONNECT_TIMEOUT)
        .await
        .map_err(CliError::from_messages)?;
    let live = LiveMessages::start(&client, limit);
    let mut snapshots = live.snapshots();
    let mut connection = client.connection();
    let mut auth = session.subscribe();
    let mut seen = HashSet::new();
    let mut first = true;
    eprintln!("Watching your messages (Ctrl-C to stop)...");
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            changed = connection.changed() => {
                if changed.is_err() {
                    return Err(CliError::Failed("The connection to Convex ended.".into()));
                }
                match *connection.borrow_and_update() {
                    Connection::Connecting => eprintln!("Reconnecting..."),
                    Connection::Connected => eprintln!("Connected."),
                }
            }
            changed = auth.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let state = auth.borrow_and_update().clone();
                if let AuthState::SignedOut { reason } = state {
                    return Err(CliError::not_signed_in(reason.as_ref().map(|r| r.message.as_str())));
                }
            }
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return Err(CliError::Failed("The subscription to your messages ended.".into()));
                }
                let snapshot = snapshots.borrow_and_update().clone();
                if !snapshot.loaded {
                    continue;
                }
                if let Some(error) = &snapshot.error {
                    if snapshot.not_authenticated {
                        return Err(CliError::not_signed_in(Some(error)));
                    }
                    eprintln!("courier-cli: {error}");
                    continue;
                }
                let new: Vec<_> = snapshot
                    .messages
                    .iter()
                    .filter(|m| seen.insert(m.id.clone()))
                    .collect();
                if first && new.is_empty() {
                    eprintln!("No messages yet; new ones will appear here.");
                }
                first = false;
                let mut out = std::io::stdout().lock();
                for message in new.iter().rev() {
                    let _ = writeln!(out, "{}", table::line(message));
                }
                let _ = out.flush();
            }
        }
    }
}

async fn send(env: &Env, text: &str) -> Result<(), CliError> {
    // Refused before the keychain or the network are touched.
    courier_messages::validate_body(text).map_err(|e| match e {
        courier_messages::BodyError::Empty => {
            CliError::Usage("The message is empty: give some text to send.".into())
        }
        too_long => CliError::Usage(too_long.to_string()),
    })?;
    let (client, _session) = messages_client(env).await?;
    // The same id if the call is retried: Convex writes the message once.
    let id = client
        .send(text, &client_message_id())
        .await
        .map_err(CliError::from_messages)?;
    println!("{id}");
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

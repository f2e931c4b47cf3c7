//! The command line.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};

/// Courier from the command line: sign in with Clerk, read and send your
/// Convex messages. Uses the desktop app's session (the same keychain entry)
/// and configuration (CLERK_FRONTEND_API_URL or CLERK_PUBLISHABLE_KEY,
/// CLERK_OAUTH_CLIENT_ID, CONVEX_URL): from the environment first, then the
/// file given with --env-file, then the app's config folder's .env (on Linux
/// ~/.config/dev.courier.desktop/.env). A .env in the current directory is
/// never read unless named with --env-file: a file that happens to sit where
/// you run courier-cli must not decide where your tokens are sent.
///
/// Exit codes: 0 ok, 1 error, 2 usage, 3 not signed in, 4 offline,
/// 5 misconfigured.
#[derive(Debug, Parser)]
#[command(name = "courier-cli", version)]
pub(crate) struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    /// Also read settings from this .env file (after the environment, before
    /// the app's config folder's .env). Without it no ./.env is read.
    #[arg(long, value_name = "PATH", global = true)]
    pub(crate) env_file: Option<PathBuf>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// What to do.
#[derive(Debug, PartialEq, Eq, Subcommand)]
pub(crate) enum Command {
    /// Sign in with Clerk in the system browser.
    Login {
        /// Do not open a browser: print the sign-in URL on stderr and wait
        /// for the browser to come back to the loopback address.
        #[arg(long)]
        no_browser: bool,
        /// Give up after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 300,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        timeout: u64,
    },
    /// Show who is signed in.
    Whoami,
    /// Print a fresh ID token on stdout (for scripts; nothing else is printed there).
    Token,
    /// Show your newest messages: time, author, text.
    Messages {
        /// How many messages to show.
        #[arg(short = 'n', long, default_value_t = courier_messages::PAGE_SIZE,
              value_parser = clap::value_parser!(u32)
                  .range(1..=i64::from(courier_messages::api::MAX_PAGE_SIZE)))]
        limit: u32,
        /// Print the messages as JSON instead of a table.
        #[arg(long, conflicts_with = "watch")]
        json: bool,
        /// Keep running and print each new message as it arrives (like
        /// `tail -f`), oldest first, until Ctrl-C.
        #[arg(short = 'f', long)]
        watch: bool,
    },
    /// Send a message (the words are joined with spaces).
    Send {
        /// The message text.
        #[arg(required = true, num_args = 1.., value_name = "TEXT")]
        text: Vec<String>,
    },
    /// Sign out: revoke the session and remove it from the keychain.
    Logout,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::{CommandFactory, Parser};

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("courier-cli").chain(args.iter().copied()))
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_every_subcommand() {
        assert_eq!(
            parse(&["login"]).unwrap().command,
            Command::Login {
                no_browser: false,
                timeout: 300
            }
        );
        assert_eq!(
            parse(&["login", "--no-browser", "--timeout", "30"])
                .unwrap()
                .command,
            Command::Login {
                no_browser: true,
                timeout: 30
            }
        );
        assert_eq!(parse(&["whoami"]).unwrap().command, Command::Whoami);
        assert_eq!(parse(&["token"]).unwrap().command, Command::Token);
        assert_eq!(
            parse(&["messages"]).unwrap().command,
            Command::Messages {
                limit: 20,
                json: false,
                watch: false
            }
        );
        assert_eq!(
            parse(&["messages", "-n", "5", "--json"]).unwrap().command,
            Command::Messages {
                limit: 5,
                json: true,
                watch: false
            }
        );
        assert_eq!(
            parse(&["messages", "--limit", "7"]).unwrap().command,
            Command::Messages {
                limit: 7,
                json: false,
                watch: false
            }
        );
        assert_eq!(
            parse(&["messages", "--watch", "-n", "3"]).unwrap().command,
            Command::Messages {
                limit: 3,
                json: false,
                watch: true
            }
        );
        assert_eq!(
            parse(&["send", "hello", "there"]).unwrap().command,
            Command::Send {
                text: vec!["hello".into(), "there".into()]
            }
        );
        assert_eq!(
            parse(&["send", "--", "-not a flag"]).unwrap().command,
            Command::Send {
                text: vec!["-not a flag".into()]
            }
        );
        assert_eq!(parse(&["logout"]).unwrap().command, Command::Logout);
        assert_eq!(parse(&["-vv", "whoami"]).unwrap().verbose, 2);
        assert_eq!(parse(&["whoami"]).unwrap().env_file, None);
        assert_eq!(
            parse(&["--env-file", "dev.env", "whoami"])
                .unwrap()
                .env_file,
            Some(PathBuf::from("dev.env"))
        );
        assert_eq!(
            parse(&["token", "--env-file", "x/.env"]).unwrap().env_file,
            Some(PathBuf::from("x/.env"))
        );
    }

    #[test]
    fn usage_errors_exit_with_2() {
        for args in [
            &[][..],
            &["frobnicate"],
            &["send"],
            &["messages", "--limit", "0"],
            &["messages", "--limit", "many"],
            &["messages", "--limit", "201"],
            &["messages", "--json", "--watch"],
            &["login", "--timeout", "0"],
            &["token", "extra"],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
        }
        assert_eq!(
            parse(&["--help"]).unwrap_err().kind(),
            ErrorKind::DisplayHelp
        );
        assert_eq!(parse(&["--help"]).unwrap_err().exit_code(), 0);
    }
}

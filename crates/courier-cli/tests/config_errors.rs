//! The binary's exit codes and messages when it cannot even start a call:
//! misconfiguration and usage. No keychain, no network needed.

use std::process::{Command, Output};

/// Runs `courier-cli args` with a clean environment (only `extra`), in an
/// empty working directory, with an empty config folder.
fn run(args: &[&str], extra: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_courier-cli"));
    cmd.args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(home.path());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn missing_clerk_settings_exit_5_and_say_what_to_set() {
    for command in ["whoami", "token", "login", "logout", "messages"] {
        let out = run(&[command], &[("CONVEX_URL", "http://127.0.0.1:3210")]);
        assert_eq!(out.status.code(), Some(5), "{command}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{command}: nothing on stdout");
        let err = stderr(&out);
        assert!(err.contains("CLERK_FRONTEND_API_URL"), "{command}: {err}");
        assert!(err.contains("dev.courier.desktop"), "{command}: {err}");
    }
}

#[test]
fn missing_convex_url_exits_5_before_touching_the_keychain() {
    let clerk = [
        ("CLERK_FRONTEND_API_URL", "http://127.0.0.1:4810"),
        ("CLERK_OAUTH_CLIENT_ID", "courier-desktop"),
    ];
    for args in [&["messages"][..], &["send", "hi"]] {
        let out = run(args, &clerk);
        assert_eq!(out.status.code(), Some(5), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("CONVEX_URL is not set"),
            "{}",
            stderr(&out)
        );
    }
    let out = run(
        &["messages"],
        &[clerk[0], clerk[1], ("CONVEX_URL", "ftp://nope")],
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
}

#[test]
fn settings_come_from_the_app_config_folder_env_file() {
    // Only the app's .env names the issuer: the error moves on to CONVEX_URL.
    let home = tempfile::tempdir().unwrap();
    let app_dir = home.path().join("config").join("dev.courier.desktop");
    std::fs::create_dir_all(&app_dir).unwrap();
    std::fs::write(
        app_dir.join(".env"),
        "CLERK_FRONTEND_API_URL=http://127.0.0.1:4810\nCLERK_OAUTH_CLIENT_ID=courier-desktop\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_courier-cli"))
        .arg("messages")
        .env_clear()
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .current_dir(home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("CONVEX_URL is not set"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [&[][..], &["send"], &["messages", "--limit", "0"], &["nope"]] {
        let out = run(args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let out = run(&["send", "   "], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("empty"), "{}", stderr(&out));
}

#[test]
fn help_lists_the_commands_and_exit_codes() {
    let out = run(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "login",
        "whoami",
        "token",
        "messages",
        "send",
        "logout",
        "5 misconfigured",
    ] {
        assert!(help.contains(word), "{word}: {help}");
    }
}

/// A `.env` in the working directory that names another issuer and backend.
const STRAY_ENV: &str = "CLERK_FRONTEND_API_URL=http://127.0.0.1:4810\n\
                         CLERK_OAUTH_CLIENT_ID=courier-desktop\n\
                         CONVEX_URL=http://stray-backend.example.com\n";

fn run_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_courier-cli"))
        .args(args)
        .env_clear()
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn a_dot_env_in_the_working_directory_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), STRAY_ENV).unwrap();
    // Nothing of the stray file is used: neither the backend...
    let out = run_in(dir.path(), &["messages"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("CONVEX_URL is not set"), "{err}");
    assert!(!err.contains("stray-backend"), "{err}");
    // ...nor the issuer.
    let out = run_in(dir.path(), &["whoami"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no Clerk issuer configured"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn env_file_reads_the_named_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), STRAY_ENV).unwrap();
    let out = run_in(dir.path(), &["--env-file", ".env", "messages"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    // The Convex URL came from the file, refused as plain http off this machine.
    assert!(err.contains("stray-backend.example.com"), "{err}");
    assert!(err.contains("https"), "{err}");

    let out = run_in(dir.path(), &["messages", "--env-file", "missing.env"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("missing.env"), "{}", stderr(&out));
}

#[test]
fn help_says_where_settings_come_from() {
    let out = run(&["--help"], &[]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--env-file"), "{help}");
    assert!(help.contains("never read unless"), "{help}");
}

//! Is a real Secret Service (the Linux keychain) reachable?

/// How tests that need the real keychain are run: they are
/// `#[ignore = "needs Secret Service (run by the test command)"]`, and the
/// README's test command runs them with `--include-ignored` inside a
/// private D-Bus session with an unlocked gnome-keyring.
pub const KEYCHAIN_ENV_NOTE: &str =
    "Keychain tests need a Secret Service. Run them in a private, unlocked one: \
XDG_DATA_HOME=$(mktemp -d) XDG_CACHE_HOME=$(mktemp -d) dbus-run-session -- sh -c \
'printf %s pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null; \
cargo test -- --include-ignored' (Debian: gnome-keyring libsecret-tools dbus dbus-x11).";

/// Whether a Secret Service answers on the session bus: a session bus
/// address is set and `org.freedesktop.secrets` is owned or activatable.
/// Uses `busctl` or `dbus-send` when present; false when neither is.
pub fn secret_service_available() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return false;
    }
    let probes: [(&str, &[&str]); 2] = [
        (
            "dbus-send",
            &[
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.ListNames",
            ],
        ),
        ("busctl", &["--user", "list", "--no-pager"]),
    ];
    for (cmd, args) in probes {
        if let Ok(out) = std::process::Command::new(cmd).args(args).output() {
            if out.status.success() {
                let text = String::from_utf8_lossy(&out.stdout);
                if text.contains("org.freedesktop.secrets") {
                    return true;
                }
                // Owned names only: try the activatable ones too.
                if cmd == "dbus-send" {
                    if let Ok(act) = std::process::Command::new(cmd)
                        .args([
                            "--session",
                            "--print-reply",
                            "--dest=org.freedesktop.DBus",
                            "/org/freedesktop/DBus",
                            "org.freedesktop.DBus.ListActivatableNames",
                        ])
                        .output()
                    {
                        if String::from_utf8_lossy(&act.stdout).contains("org.freedesktop.secrets")
                        {
                            return true;
                        }
                    }
                }
                return false;
            }
        }
    }
    false
}

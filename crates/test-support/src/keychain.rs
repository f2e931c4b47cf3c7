//! Is a real, unlocked Secret Service (the Linux keychain) reachable?

/// How tests that need the real keychain are run: they are
/// `#[ignore = "needs Secret Service (run by the test command)"]`, and the
/// README's test command runs them with `--include-ignored` inside a
/// private D-Bus session with an unlocked gnome-keyring.
pub const KEYCHAIN_ENV_NOTE: &str =
    "Keychain tests need a Secret Service. Run them in a private, unlocked one: \
XDG_DATA_HOME=$(mktemp -d) XDG_CACHE_HOME=$(mktemp -d) dbus-run-session -- sh -c \
'printf %s pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null; \
cargo test -- --include-ignored' (Debian: gnome-keyring libsecret-tools dbus dbus-x11).";

/// Whether a Secret Service answers on the session bus with an unlocked
/// default collection, i.e. keychain calls would succeed. Asks with
/// `dbus-send` (false when it is missing, when there is no session bus, or
/// when the keyring is locked or absent). Retries briefly, because
/// gnome-keyring takes its bus name a moment after `--unlock` returns.
pub fn secret_service_available() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return false;
    }
    for attempt in 0..10 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let out = std::process::Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--reply-timeout=2000",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets/aliases/default",
                "org.freedesktop.DBus.Properties.Get",
                "string:org.freedesktop.Secret.Collection",
                "string:Locked",
            ])
            .output();
        match out {
            Err(_) => return false, // no dbus-send
            Ok(o) if o.status.success() => {
                return String::from_utf8_lossy(&o.stdout).contains("boolean false");
            }
            Ok(_) => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_session_bus_means_no_keychain() {
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
            assert!(!super::secret_service_available());
        }
    }
}

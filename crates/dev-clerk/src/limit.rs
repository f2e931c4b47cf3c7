//! Failed sign-in attempts per account: after [`MAX_FAILURES`] wrong
//! passwords within [`WINDOW_SECS`], the account refuses every attempt, the
//! right password too, for a lockout that doubles each time it recurs
//! (OWASP's authentication cheat sheet: throttle per account, not per IP,
//! since every caller here is 127.0.0.1).
//!
//! Keyed by the email as typed (trimmed, lowercased), known or not, so the
//! answer never tells which accounts exist.

use std::collections::HashMap;
use std::sync::Mutex;

/// Wrong passwords allowed within [`WINDOW_SECS`] before a lockout.
pub(crate) const MAX_FAILURES: usize = 5;
/// The window failures are counted in.
pub(crate) const WINDOW_SECS: u64 = 300;
/// The first lockout; each one after doubles, up to [`MAX_LOCKOUT_SECS`].
pub(crate) const FIRST_LOCKOUT_SECS: u64 = 60;
const MAX_LOCKOUT_SECS: u64 = 3600;
/// Accounts tracked before idle ones are forgotten (typed emails are unbounded).
const MAX_TRACKED: usize = 10_000;

#[derive(Default)]
struct Account {
    /// Times of recent failures, oldest first.
    failures: Vec<u64>,
    locked_until: u64,
    lockouts: u32,
}

/// The account is locked; try again in this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Too many attempts; try again in {0} seconds.")]
pub(crate) struct Locked(pub(crate) u64);

/// Counts failures per account.
#[derive(Default)]
pub(crate) struct Limiter {
    accounts: Mutex<HashMap<String, Account>>,
}

fn key(email: &str) -> String {
    email.trim().to_lowercase()
}

impl Limiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Account>> {
        self.accounts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether an attempt for `email` may be checked now.
    pub(crate) fn check(&self, email: &str, now: u64) -> Result<(), Locked> {
        match self.lock().get(&key(email)) {
            Some(a) if a.locked_until > now => Err(Locked(a.locked_until - now)),
            _ => Ok(()),
        }
    }

    /// Records a wrong password; returns the lockout it starts, if any.
    pub(crate) fn fail(&self, email: &str, now: u64) -> Option<Locked> {
        let mut accounts = self.lock();
        if accounts.len() >= MAX_TRACKED {
            accounts.retain(|_, a| {
                a.locked_until > now || a.failures.last().is_some_and(|t| t + WINDOW_SECS > now)
            });
        }
        let a = accounts.entry(key(email)).or_default();
        a.failures.retain(|t| t + WINDOW_SECS > now);
        a.failures.push(now);
        if a.failures.len() < MAX_FAILURES {
            return None;
        }
        let lockout = FIRST_LOCKOUT_SECS
            .saturating_mul(1 << a.lockouts.min(6))
            .min(MAX_LOCKOUT_SECS);
        a.lockouts = a.lockouts.saturating_add(1);
        a.failures.clear();
        a.locked_until = now + lockout;
        Some(Locked(lockout))
    }

    /// A successful sign-in forgets the account's failures.
    pub(crate) fn succeed(&self, email: &str) {
        self.lock().remove(&key(email));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_the_account_and_the_lock_ends() {
        let l = Limiter::default();
        for i in 0..MAX_FAILURES as u64 - 1 {
            assert_eq!(l.fail("Ada@example.com", 100 + i), None);
            assert!(l.check("ada@example.com", 100 + i).is_ok());
        }
        assert_eq!(
            l.fail(" ada@EXAMPLE.com ", 110),
            Some(Locked(FIRST_LOCKOUT_SECS))
        );
        assert_eq!(l.check("ada@example.com", 110), Err(Locked(60)));
        assert_eq!(l.check("ada@example.com", 150), Err(Locked(20)));
        assert!(l.check("grace@example.com", 150).is_ok(), "per account");
        assert!(l.check("ada@example.com", 170).is_ok(), "lock over");
        assert_eq!(
            Locked(20).to_string(),
            "Too many attempts; try again in 20 seconds."
        );
        // A second lockout lasts twice as long.
        for i in 0..MAX_FAILURES as u64 {
            l.fail("ada@example.com", 170 + i);
        }
        assert_eq!(l.check("ada@example.com", 174), Err(Locked(120)));
        l.succeed("ada@example.com");
        assert!(l.check("ada@example.com", 174).is_ok());
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let l = Limiter::default();
        for i in 0..20 {
            assert_eq!(l.fail("a@b.c", i * WINDOW_SECS / 4), None, "{i}");
        }
    }
}

//! Retrying a statement that timed out waiting for a lock, so that DDL never
//! queues for long in front of the application's queries.
//!
//! A migration's `ALTER TABLE` that waits behind a long transaction makes every
//! new query on that table wait behind the `ALTER` (PostgreSQL's and MySQL's
//! lock queues are first come, first served). Cairn therefore waits only a
//! short time per attempt (the *lock timeout*, 1 s by default), gives up, holds
//! no lock for a moment so the queued queries drain, and tries again: up to
//! [`MigratorOptions::lock_retries`] more times, with an exponential backoff
//! that starts at [`MigratorOptions::retry_backoff`], is capped at
//! [`MigratorOptions::retry_backoff_max`] and is jittered (each pause is between
//! half and all of its nominal length), so runners started together do not
//! retry in step. An application query therefore waits at most about one lock
//! timeout at any moment, however long the blocker stays.
//!
//! A lock timeout of zero is refused where it is read ([`check_lock_timeout`]):
//! it meant "wait forever" on PostgreSQL, "give up at once" on SQLite and 1 s
//! on MySQL.
//!
//! [`MigratorOptions::lock_retries`]: crate::MigratorOptions::lock_retries
//! [`MigratorOptions::retry_backoff`]: crate::MigratorOptions::retry_backoff
//! [`MigratorOptions::retry_backoff_max`]: crate::MigratorOptions::retry_backoff_max

use std::hash::BuildHasher as _;
use std::time::Duration;

use crate::dialect::for_engine;
use crate::driver::DriverError;
use crate::engine::Engine;

/// The default lock timeout of one attempt. MySQL/MariaDB count it in whole
/// seconds, so 1 s is the shortest value that means the same on every engine.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(1);
/// The default number of retries after the first attempt (20 attempts in all).
pub const DEFAULT_LOCK_RETRIES: u32 = 19;
/// The default first pause between attempts.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// The default longest pause between attempts.
pub const DEFAULT_RETRY_BACKOFF_MAX: Duration = Duration::from_millis(500);

/// The pause before retry number `attempt + 1` (`attempt` counts from 0):
/// `first * 2^attempt`, capped at `max`, then jittered to between half and
/// all of that.
pub fn backoff(first: Duration, max: Duration, attempt: u32) -> Duration {
    let nominal = first
        .saturating_mul(1 << attempt.min(20))
        .min(max.max(first));
    jitter(nominal, random())
}

/// `nominal` scaled by a factor between 1/2 and 1 picked by `random`.
fn jitter(nominal: Duration, random: u64) -> Duration {
    let half = nominal / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    let extra = if nanos == 0 { 0 } else { random % (nanos + 1) };
    half + Duration::from_nanos(extra)
}

/// A random number from the standard library's per-process random hash keys
/// (no dependency needed for a jitter).
fn random() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(std::time::Instant::now())
}

/// Checks a lock timeout read from `what` (a directive or a configuration key).
///
/// # Errors
///
/// Zero, with what to write instead.
pub fn check_lock_timeout(timeout: Duration, what: &str) -> Result<Duration, String> {
    if timeout.is_zero() {
        return Err(format!(
            "{what} is 0, which Cairn refuses: it would mean \"wait forever\" on PostgreSQL, \"give up at once\" on SQLite and 1 s on MySQL. Write a short timeout such as `1s` (retried {} times by default), or a long one such as `10m` to wait behind long transactions",
            DEFAULT_LOCK_RETRIES
        ));
    }
    Ok(timeout)
}

/// `e` (a lock timeout) with what Cairn tried and what to do next appended:
/// the statement gave up after `attempts` attempts of `timeout` each.
pub fn gave_up(
    engine: Engine,
    mut e: DriverError,
    attempts: u32,
    timeout: Duration,
) -> DriverError {
    let dialect = for_engine(engine);
    let granularity = dialect.lock_timeout_note(timeout);
    e.message = format!(
        "{}; gave up after {attempts} attempt(s) waiting {} ms each for the lock{granularity}, pausing between them so the application's queries could pass: another session holds a lock this statement needs ({}). End or wait for that session, or allow more time with `lock_timeout` / `lock_retries` in cairn.toml or `-- cairn:lock-timeout` in the migration",
        e.message,
        timeout.as_millis(),
        dialect.lock_blocker_hint()
    );
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::DriverErrorKind;

    #[test]
    fn backoff_doubles_is_capped_and_jittered_between_half_and_all() {
        let (first, max) = (Duration::from_millis(100), Duration::from_millis(500));
        for attempt in 0..30 {
            let nominal = Duration::from_millis(match attempt {
                0 => 100,
                1 => 200,
                2 => 400,
                _ => 500,
            });
            for _ in 0..20 {
                let d = backoff(first, max, attempt);
                assert!(
                    d >= nominal / 2 && d <= nominal,
                    "attempt {attempt}: {d:?} not in [{:?}, {nominal:?}]",
                    nominal / 2
                );
            }
        }
    }

    #[test]
    fn jitter_spans_its_range() {
        let nominal = Duration::from_millis(400);
        assert_eq!(jitter(nominal, 0), Duration::from_millis(200));
        assert_eq!(jitter(nominal, 200_000_000), Duration::from_millis(400));
        assert_eq!(jitter(Duration::ZERO, 12345), Duration::ZERO);
        // Not always the same value.
        let values: std::collections::BTreeSet<_> = (0..50)
            .map(|_| backoff(Duration::from_millis(100), Duration::from_millis(500), 5))
            .collect();
        assert!(values.len() > 1, "no jitter: {values:?}");
    }

    #[test]
    fn a_max_below_first_still_waits_first() {
        let d = backoff(Duration::from_millis(100), Duration::ZERO, 3);
        assert!(d >= Duration::from_millis(50) && d <= Duration::from_millis(100));
    }

    #[test]
    fn zero_is_refused_with_the_fix() {
        let err = check_lock_timeout(Duration::ZERO, "`lock_timeout` in cairn.toml").unwrap_err();
        assert!(err.contains("`lock_timeout` in cairn.toml is 0"), "{err}");
        assert!(err.contains("`1s`") && err.contains("PostgreSQL"), "{err}");
        assert_eq!(
            check_lock_timeout(Duration::from_millis(1), "x"),
            Ok(Duration::from_millis(1))
        );
    }

    #[test]
    fn giving_up_says_how_many_attempts_how_long_and_what_to_do() {
        let e = DriverError::new(
            DriverErrorKind::LockTimeout,
            "canceling statement due to lock timeout",
        );
        let e = gave_up(Engine::Postgres, e, 20, Duration::from_secs(1));
        assert_eq!(e.kind, DriverErrorKind::LockTimeout);
        for part in [
            "canceling statement due to lock timeout",
            "20 attempt(s)",
            "1000 ms",
            "pg_stat_activity",
            "lock_retries",
            "cairn:lock-timeout",
        ] {
            assert!(e.message.contains(part), "{part:?} missing: {}", e.message);
        }
        let e = gave_up(
            Engine::Mysql,
            DriverError::new(DriverErrorKind::LockTimeout, "Lock wait timeout exceeded"),
            3,
            Duration::from_millis(500),
        );
        assert!(e.message.contains("whole seconds"), "{}", e.message);
    }
}

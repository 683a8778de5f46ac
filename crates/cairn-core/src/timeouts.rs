//! How long a driver over a network waits for its server: to connect, and for
//! each reply. Without a bound, a server that accepts TCP but never answers, or
//! one that is frozen (`SIGSTOP`, a VM paused) — whose kernel still ACKs, so TCP
//! keepalives see nothing wrong — hangs Cairn forever.
//!
//! - **Connecting** (`connect_timeout` in the URL, seconds, as libpq; default
//!   [`DEFAULT_CONNECT_TIMEOUT`]; `0` waits forever) bounds everything up to a
//!   usable session: name lookup, TCP, the TLS handshake, authentication and
//!   the driver's first query.
//! - **Replies** (`read_timeout` in the URL, seconds; `0` for no limit) bound
//!   every round trip, but not alike, because a migration's statement may
//!   legitimately run for hours while Cairn's own statements are short:
//!   - Cairn's bookkeeping ([`Workload::Bookkeeping`]: the history, the lock,
//!     `BEGIN`/`COMMIT`) waits `read_timeout`, by default
//!     [`DEFAULT_READ_TIMEOUT`];
//!   - a user's statement ([`Workload::User`]) waits the migration's statement
//!     timeout (`-- cairn:statement-timeout`) plus [`STATEMENT_TIMEOUT_GRACE`]
//!     when one is set (the server should have cancelled it by then), or
//!     `read_timeout` when the URL sets it explicitly, whichever is longer;
//!     with neither, it waits as long as the statement runs. TCP keepalives
//!     still end the wait when the host or the network is gone.
//!
//! A reply that does not come within its bound ends the run with a
//! [`DriverErrorKind::Connection`] error that says the statement may or may not
//! have completed and names the setting to change; the driver then abandons
//! the connection, so nothing after it waits again.
//!
//! The policy is here, once; each driver reads the parameters from its URL
//! ([`Timeouts::take_param`]) and wraps its round trips ([`within`]).

use std::future::Future;
use std::time::Duration;

use crate::driver::{DriverError, DriverErrorKind, Workload};

/// How long connecting may take when the URL sets no `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one of Cairn's own round trips may wait for its reply when the URL
/// sets no `read_timeout`.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// How much longer than its statement timeout a user's statement is waited
/// for: the server cancels it at the timeout, and its error needs to arrive.
pub const STATEMENT_TIMEOUT_GRACE: Duration = Duration::from_secs(10);

/// TCP keepalives: the first probe after this much silence.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// TCP keepalives: the pause between two unanswered probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// TCP keepalives: how many unanswered probes end the connection.
pub const KEEPALIVE_RETRIES: u32 = 3;

/// A timeout as the URL gives it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Setting {
    /// Not in the URL: Cairn's default applies.
    #[default]
    Default,
    /// Set in the URL; [`Duration::ZERO`] means no limit.
    Explicit(Duration),
}

/// The connect and read timeouts of one URL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// `connect_timeout`.
    pub connect: Setting,
    /// `read_timeout`.
    pub read: Setting,
}

/// Why a wait for a reply has the bound it has: named in the error, so that the
/// user knows what to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Cairn's default `read_timeout` for its own statements.
    DefaultReadTimeout,
    /// The URL's `read_timeout`.
    ReadTimeout,
    /// The migration's statement timeout (this long), plus the grace.
    StatementTimeout(Duration),
}

/// How long one round trip may wait for its reply, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// The bound.
    pub after: Duration,
    /// Where it comes from.
    pub reason: Reason,
}

/// The round trip did not finish within its bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedOut;

/// Seconds for a message: `2 s`, `0.5 s`.
pub fn seconds(duration: Duration) -> String {
    let text = format!("{:.3}", duration.as_secs_f64());
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} s")
}

/// Reads a timeout in seconds (`30`, `2.5`; `0` for no limit).
fn parse_seconds(key: &str, value: &str) -> Result<Duration, String> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{key} must be a number of seconds (0 for no limit), not `{value}`"))
}

impl Timeouts {
    /// If `key` is `connect_timeout` or `read_timeout`, reads its (decoded)
    /// value and returns `Ok(true)`: the parameter is Cairn's, not the client
    /// library's. `Ok(false)` for any other key.
    pub fn take_param(&mut self, key: &str, value: &str) -> Result<bool, String> {
        let slot = match key {
            "connect_timeout" => &mut self.connect,
            "read_timeout" => &mut self.read,
            _ => return Ok(false),
        };
        *slot = Setting::Explicit(parse_seconds(key, value)?);
        Ok(true)
    }

    /// How long connecting may take; `None`: no limit.
    pub fn connect_limit(&self) -> Option<Duration> {
        match self.connect {
            Setting::Default => Some(DEFAULT_CONNECT_TIMEOUT),
            Setting::Explicit(d) if d.is_zero() => None,
            Setting::Explicit(d) => Some(d),
        }
    }

    /// How long a round trip of `workload` may wait for its reply while the
    /// session's statement timeout is `statement_timeout`; `None`: no limit.
    pub fn reply_limit(
        &self,
        workload: Workload,
        statement_timeout: Option<Duration>,
    ) -> Option<Limit> {
        let explicit = match self.read {
            Setting::Explicit(d) if d.is_zero() => return None,
            Setting::Explicit(d) => Some(Limit {
                after: d,
                reason: Reason::ReadTimeout,
            }),
            Setting::Default => None,
        };
        match workload {
            Workload::Bookkeeping => explicit.or(Some(Limit {
                after: DEFAULT_READ_TIMEOUT,
                reason: Reason::DefaultReadTimeout,
            })),
            Workload::User => {
                let statement = statement_timeout.filter(|d| !d.is_zero()).map(|st| Limit {
                    after: st.saturating_add(STATEMENT_TIMEOUT_GRACE),
                    reason: Reason::StatementTimeout(st),
                });
                match (statement, explicit) {
                    (Some(a), Some(b)) => Some(if a.after >= b.after { a } else { b }),
                    (a, b) => a.or(b),
                }
            }
        }
    }

    /// The error for a connection attempt that took longer than [`Self::connect_limit`].
    /// `server` names the engine ("PostgreSQL"), `target` the redacted URL.
    pub fn connect_error(&self, server: &str, target: &str) -> DriverError {
        let after = self.connect_limit().unwrap_or_default();
        let which = match self.connect {
            Setting::Default => format!(
                "connect_timeout, default {}",
                seconds(DEFAULT_CONNECT_TIMEOUT)
            ),
            Setting::Explicit(_) => "connect_timeout in the database URL".to_owned(),
        };
        DriverError::new(
            DriverErrorKind::Connection,
            format!(
                "cannot connect to {target}: no answer from a {server} server within {} ({which}; it covers the TCP connection, the TLS handshake and authentication). Check that the host and port are those of a running {server} server and that nothing in between holds the connection; if the server is only slow, raise connect_timeout in the database URL (e.g. ?connect_timeout=30; 0 waits forever)",
                seconds(after)
            ),
        )
    }
}

impl Limit {
    /// The same limit, longer by `extra` (a wait the server does on purpose,
    /// such as MySQL's `GET_LOCK(name, seconds)`).
    pub fn extended(self, extra: Duration) -> Limit {
        Limit {
            after: self.after.saturating_add(extra),
            ..self
        }
    }

    /// The error for a reply that did not come within this limit.
    pub fn error(&self, server: &str, target: &str) -> DriverError {
        let (why, change) = match self.reason {
            Reason::DefaultReadTimeout => (
                format!(
                    "read_timeout, default {} for Cairn's own statements",
                    seconds(DEFAULT_READ_TIMEOUT)
                ),
                "raise read_timeout in the database URL (e.g. ?read_timeout=300; 0 for no limit)"
                    .to_owned(),
            ),
            Reason::ReadTimeout => (
                "read_timeout in the database URL".to_owned(),
                "raise read_timeout in the database URL (0 for no limit)".to_owned(),
            ),
            Reason::StatementTimeout(st) => (
                format!(
                    "the migration's statement timeout of {} plus {} grace",
                    seconds(st),
                    seconds(STATEMENT_TIMEOUT_GRACE)
                ),
                "raise the migration's `-- cairn:statement-timeout` (or set read_timeout in the database URL)".to_owned(),
            ),
        };
        DriverError::new(
            DriverErrorKind::Connection,
            format!(
                "no reply from the {server} server at {target} within {} ({why}): the server is frozen, overloaded or unreachable, so Cairn abandoned the connection. The statement may or may not have completed: run `cairn status` on a new connection to see what was recorded. If the server is alive but slow, {change}",
                seconds(self.after)
            ),
        )
    }
}

/// The error for any call on a connection abandoned after a reply did not come.
pub fn abandoned(server: &str, target: &str) -> DriverError {
    DriverError::new(
        DriverErrorKind::Connection,
        format!(
            "the connection to the {server} server at {target} was abandoned after a reply did not come in time; nothing more was sent on it"
        ),
    )
}

/// Runs `future`, giving up after `limit` (`None`: waits as long as it takes).
pub async fn within<F: Future>(limit: Option<Duration>, future: F) -> Result<F::Output, TimedOut> {
    match limit {
        None => Ok(future.await),
        Some(limit) => tokio::time::timeout(limit, future)
            .await
            .map_err(|_| TimedOut),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeouts(pairs: &[(&str, &str)]) -> Timeouts {
        let mut t = Timeouts::default();
        for (key, value) in pairs {
            assert_eq!(t.take_param(key, value), Ok(true), "{key}");
        }
        t
    }

    #[test]
    fn conn_parameters_are_seconds_and_zero_means_no_limit() {
        let t = timeouts(&[("connect_timeout", "2"), ("read_timeout", "0.5")]);
        assert_eq!(t.connect_limit(), Some(Duration::from_secs(2)));
        assert_eq!(
            t.reply_limit(Workload::Bookkeeping, None).map(|l| l.after),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            Timeouts::default().connect_limit(),
            Some(DEFAULT_CONNECT_TIMEOUT)
        );
        assert_eq!(timeouts(&[("connect_timeout", "0")]).connect_limit(), None);
        let mut t = Timeouts::default();
        assert_eq!(t.take_param("sslmode", "disable"), Ok(false));
        for bad in ["-1", "soon", "", "inf"] {
            let err = t.take_param("read_timeout", bad).unwrap_err();
            assert!(
                err.contains("read_timeout must be a number of seconds"),
                "{err}"
            );
        }
    }

    #[test]
    fn conn_bookkeeping_waits_read_timeout_and_user_statements_their_statement_timeout() {
        let default = Timeouts::default();
        let minute = Some(Limit {
            after: DEFAULT_READ_TIMEOUT,
            reason: Reason::DefaultReadTimeout,
        });
        assert_eq!(default.reply_limit(Workload::Bookkeeping, None), minute);
        // A statement timeout does not lengthen Cairn's own waits.
        assert_eq!(
            default.reply_limit(Workload::Bookkeeping, Some(Duration::from_secs(3600))),
            minute
        );
        // A user's statement without any timeout waits as long as it runs.
        assert_eq!(default.reply_limit(Workload::User, None), None);
        assert_eq!(
            default.reply_limit(Workload::User, Some(Duration::ZERO)),
            None
        );
        let two = Duration::from_secs(2);
        assert_eq!(
            default.reply_limit(Workload::User, Some(two)),
            Some(Limit {
                after: two + STATEMENT_TIMEOUT_GRACE,
                reason: Reason::StatementTimeout(two)
            })
        );
        // An explicit read_timeout bounds user statements too; the longer bound wins.
        let read = timeouts(&[("read_timeout", "30")]);
        assert_eq!(
            read.reply_limit(Workload::User, None).map(|l| l.reason),
            Some(Reason::ReadTimeout)
        );
        assert_eq!(
            read.reply_limit(Workload::User, Some(two)).map(|l| l.after),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            read.reply_limit(Workload::User, Some(Duration::from_secs(600)))
                .map(|l| l.after),
            Some(Duration::from_secs(610))
        );
        // read_timeout=0 turns every bound off.
        let never = timeouts(&[("read_timeout", "0")]);
        assert_eq!(never.reply_limit(Workload::Bookkeeping, None), None);
        assert_eq!(never.reply_limit(Workload::User, Some(two)), None);
    }

    #[test]
    fn conn_errors_name_the_setting_to_change() {
        let connect = timeouts(&[("connect_timeout", "2")])
            .connect_error("PostgreSQL", "postgres://app:***@db:5432/app");
        assert_eq!(connect.kind, DriverErrorKind::Connection);
        for needle in [
            "cannot connect to postgres://app:***@db:5432/app",
            "within 2 s",
            "connect_timeout in the database URL",
            "TLS handshake",
        ] {
            assert!(connect.message.contains(needle), "{needle}: {connect}");
        }
        let default = Timeouts::default().connect_error("MySQL", "mysql://root@h:3306/x");
        assert!(
            default.message.contains("connect_timeout, default 10 s"),
            "{default}"
        );

        let limit = Timeouts::default()
            .reply_limit(Workload::User, Some(Duration::from_millis(1500)))
            .unwrap();
        let error = limit.error("MariaDB", "mysql://root@h:3306/x");
        assert_eq!(error.kind, DriverErrorKind::Connection);
        for needle in [
            "no reply from the MariaDB server at mysql://root@h:3306/x within 11.5 s",
            "statement timeout of 1.5 s plus 10 s grace",
            "may or may not have completed",
            "cairn:statement-timeout",
        ] {
            assert!(error.message.contains(needle), "{needle}: {error}");
        }
        let error = Timeouts::default()
            .reply_limit(Workload::Bookkeeping, None)
            .unwrap()
            .error("PostgreSQL", "t");
        assert!(
            error.message.contains("read_timeout, default 60 s"),
            "{error}"
        );
        assert!(error.message.contains("?read_timeout=300"), "{error}");
    }

    #[test]
    fn conn_seconds_are_short() {
        assert_eq!(seconds(Duration::from_secs(60)), "60 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(seconds(Duration::from_millis(11_500)), "11.5 s");
        assert_eq!(seconds(Duration::from_millis(250)), "0.25 s");
    }

    #[tokio::test]
    async fn conn_within_gives_up_after_the_limit() {
        assert_eq!(within(None, async { 1 }).await, Ok(1));
        assert_eq!(
            within(
                Some(Duration::from_millis(10)),
                std::future::pending::<()>()
            )
            .await,
            Err(TimedOut)
        );
    }
}

//! PostgreSQL through sqlx: the session lock, timeouts and errors as
//! Cairn's own PostgreSQL driver has them, on a `PgConnection`.
//!
//! - The run lock is the session advisory lock on the key of
//!   `'cairn:' || current_database()` (the same key as the `cairn` CLI's),
//!   polled with `pg_try_advisory_lock` so the wait is bounded and never
//!   holds a transaction open (which `CREATE INDEX CONCURRENTLY` would wait
//!   for); a timeout names the holder from `pg_locks` and `pg_stat_activity`.
//! - [`Driver::apply_settings`](cairn::Driver::apply_settings) sets
//!   `lock_timeout` and `statement_timeout` (`RESET` for none: back to the
//!   value the session started with) and the session preconditions, in one
//!   round trip.
//! - `55P03` (lock not available) and `40P01` (deadlock) are lock timeouts,
//!   retried by the migrator; `08*` and `57P01`–`57P03` mean the
//!   connection is gone.

use std::time::Duration;

use async_trait::async_trait;
use cairn::dialect::postgres::PostgresDialect;
use cairn::dialect::Bookkeeping as _;
use cairn::driver::Rows;
use cairn::lock::{self, Pauses, TryLock};
use cairn::{
    Capabilities, Dialect, DriverError, DriverErrorKind, Flavour, LockKind, ServerVersion,
    SessionSettings,
};
use sqlx::{AssertSqlSafe, Postgres, Row as _};

use crate::{Backend, Reply, SqlxDriver};

/// The SQL expression for the lock's key: the same as Cairn's PostgreSQL
/// driver, so runs through sqlx and through the CLI exclude each other.
const LOCK_KEY_SQL: &str =
    "('x' || left(md5('cairn:' || current_database()), 16))::bit(64)::bigint";

/// The pauses between two tries of the lock: 50 ms, doubling up to 250 ms.
const LOCK_POLL: Pauses = Pauses {
    first: Duration::from_millis(50),
    max: Duration::from_millis(250),
};

/// What the driver read from its PostgreSQL session.
#[derive(Debug)]
pub struct PgSession {
    pid: i32,
    database: String,
    lock_key: i64,
    dialect: PostgresDialect,
}

impl Default for PgSession {
    fn default() -> Self {
        PgSession {
            pid: 0,
            database: String::new(),
            lock_key: 0,
            dialect: PostgresDialect::DEFAULT,
        }
    }
}

impl PgSession {
    /// The server process id of the session (`pg_backend_pid()`).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The database the session is connected to.
    pub fn database(&self) -> &str {
        &self.database
    }
}

impl crate::sealed::Sealed for Postgres {}

/// Milliseconds, rounded up so a short non-zero duration never becomes 0
/// ("no limit" for PostgreSQL).
fn millis(duration: Duration) -> u128 {
    duration.as_nanos().div_ceil(1_000_000)
}

/// `SET name = '<ms>ms'`, or `RESET name` for `None`.
fn setting(name: &str, value: Option<Duration>) -> String {
    match value {
        Some(duration) => format!("SET {name} = '{}ms'", millis(duration)),
        None => format!("RESET {name}"),
    }
}

/// The error for a session whose settings are not those Cairn's SQL needs.
fn precondition_error(why: &str) -> DriverError {
    DriverError::new(
        DriverErrorKind::Connection,
        format!(
            "the session does not keep the settings Cairn relies on: {why}; something between \
             sqlx and the server (a connection pooler, a proxy, or the pool's after_connect) \
             overrides them: connect to the server directly or let them through \
             (docs/engines.md, \"Session preconditions and literals\")"
        ),
    )
}

struct AdvisoryLock<'d>(&'d mut SqlxDriver<Postgres>);

#[async_trait]
impl TryLock for AdvisoryLock<'_> {
    async fn try_lock(&mut self, _wait: Duration) -> Result<bool, DriverError> {
        let key = self.0.session().lock_key;
        let got = self
            .0
            .scalar(&format!("SELECT pg_try_advisory_lock({key})"))
            .await?;
        Ok(got.as_deref() == Some("t"))
    }

    async fn holder(&mut self) -> Result<String, DriverError> {
        Ok(holder(self.0).await)
    }
}

/// Who holds the lock, in words, from `pg_locks` and `pg_stat_activity`.
async fn holder(driver: &mut SqlxDriver<Postgres>) -> String {
    let key = driver.session().lock_key;
    let database = driver.session().database.clone();
    // A bigint advisory key shows as classid (high 32 bits), objid (low 32 bits), objsubid 1.
    let bits = key as u64;
    let (high, low) = (bits >> 32, bits & 0xffff_ffff);
    let sql = format!(
        "SELECT l.pid, a.application_name, a.usename, \
                COALESCE(host(a.client_addr) || ':' || a.client_port, CASE WHEN a.pid IS NOT NULL AND a.client_addr IS NULL AND a.client_port = -1 THEN 'a local socket' END), \
                to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
         FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted \
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND l.classid = '{high}'::oid AND l.objid = '{low}'::oid AND l.objsubid = 1"
    );
    let rows = match driver.rows(&sql).await {
        Ok(rows) => rows,
        Err(e) => return format!("the lock is held by another session (cannot tell which: {e})"),
    };
    let Some(row) = rows.first() else {
        return "the lock was held by another session, which released it just as the wait ended; try again".to_owned();
    };
    let get = |i: usize| {
        row.get(i)
            .cloned()
            .flatten()
            .unwrap_or_else(|| "unknown".to_owned())
    };
    format!(
        "the lock (advisory lock {key} on database `{database}`) is held by pid {} (application_name `{}`, user `{}`, client {}, connected since {}); if that run is dead, end it with SELECT pg_terminate_backend({})",
        get(0),
        get(1),
        get(2),
        get(3),
        get(4),
        get(0),
    )
}

#[async_trait]
impl Backend for Postgres {
    type Session = PgSession;
    const SERVER: &'static str = "PostgreSQL";
    const DRIVER_NAME: &'static str = "cairn-sqlx (PostgreSQL)";
    const NETWORK: bool = true;
    const BEGIN: &'static str = "BEGIN";

    fn execute<'c>(conn: &'c mut Self::Connection, sql: &'c str) -> Reply<'c, u64> {
        Box::pin(async move {
            let done = sqlx::raw_sql(AssertSqlSafe(sql)).execute(conn).await?;
            Ok(done.rows_affected())
        })
    }

    fn fetch<'c>(conn: &'c mut Self::Connection, sql: &'c str) -> Reply<'c, Rows> {
        Box::pin(async move {
            let rows = sqlx::raw_sql(AssertSqlSafe(sql)).fetch_all(conn).await?;
            // Unprepared statements come back in the text format.
            rows.iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| row.try_get_unchecked::<Option<String>, _>(i))
                        .collect()
                })
                .collect()
        })
    }

    fn classify(error: &dyn sqlx::error::DatabaseError) -> (DriverErrorKind, String) {
        let code = error.code().map(|c| c.into_owned()).unwrap_or_default();
        let kind = match code.as_str() {
            "55P03" | "40P01" => DriverErrorKind::LockTimeout,
            "57P01" | "57P02" | "57P03" => DriverErrorKind::Connection,
            c if c.starts_with("08") => DriverErrorKind::Connection,
            _ => DriverErrorKind::Statement,
        };
        (kind, code)
    }

    fn dialect(session: &PgSession) -> &dyn Dialect {
        &session.dialect
    }

    fn capabilities() -> Capabilities {
        Capabilities::new(true, LockKind::Session).with_run_lock()
    }

    fn describe(session: &PgSession) -> String {
        format!(
            "database `{}` (sqlx connection, pid {})",
            session.database, session.pid
        )
    }

    async fn prepare(driver: &mut SqlxDriver<Self>) -> Result<(), DriverError> {
        let preconditions = PostgresDialect::DEFAULT.session_preconditions();
        if let (Some(establish), Some(check)) = (preconditions.establish(), preconditions.check()) {
            driver.run(&establish).await?;
            let rows = driver.rows(&check).await?;
            preconditions
                .verify(&rows)
                .map_err(|why| precondition_error(&why))?;
        }
        let rows = driver
            .rows(&format!(
                "SELECT pg_backend_pid(), current_database(), {LOCK_KEY_SQL}, current_setting('server_version')"
            ))
            .await?;
        let row = rows.into_iter().next().unwrap_or_default();
        let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let lock_key = field(2).parse().map_err(|_| {
            DriverError::new(
                DriverErrorKind::Other,
                format!("PostgreSQL returned an unreadable lock key `{}`", field(2)),
            )
        })?;
        *driver.session_mut() = PgSession {
            pid: field(0).parse().unwrap_or_default(),
            database: field(1),
            lock_key,
            dialect: PostgresDialect::new(Flavour::Postgres, Some(ServerVersion::parse(&field(3)))),
        };
        Ok(())
    }

    async fn lock(driver: &mut SqlxDriver<Self>, timeout: Duration) -> Result<(), DriverError> {
        lock::poll(&mut AdvisoryLock(driver), timeout, LOCK_POLL).await
    }

    async fn unlock(driver: &mut SqlxDriver<Self>) -> Result<(), DriverError> {
        let key = driver.session().lock_key;
        match driver
            .scalar(&format!("SELECT pg_advisory_unlock({key})"))
            .await?
            .as_deref()
        {
            Some("t") => Ok(()),
            _ => Err(DriverError::new(
                DriverErrorKind::Other,
                format!(
                    "the migration lock (advisory lock {key}) was not held by this session (pid {})",
                    driver.session().pid
                ),
            )),
        }
    }

    async fn apply_settings(
        driver: &mut SqlxDriver<Self>,
        settings: &SessionSettings,
    ) -> Result<(), DriverError> {
        let mut sql = format!(
            "{}; {}",
            setting("lock_timeout", settings.lock_timeout),
            setting("statement_timeout", settings.statement_timeout)
        );
        if let Some(establish) = driver.session().dialect.session_preconditions().establish() {
            sql = format!("{sql}; {establish}");
        }
        driver.run(&sql).await?;
        driver.set_statement_timeout(settings.statement_timeout);
        Ok(())
    }

    /// The object exists: `duplicate_table` (42P07, also an index),
    /// `duplicate_column`, `duplicate_object`, `duplicate_schema`,
    /// `duplicate_function`; while an index is invalid (an interrupted
    /// `CREATE INDEX CONCURRENTLY`), 42P07 confirms nothing.
    async fn confirms_completed(driver: &mut SqlxDriver<Self>, error: &DriverError) -> bool {
        let code = error.code.as_deref().unwrap_or_default();
        if !["42P07", "42701", "42710", "42P06", "42723"].contains(&code) {
            return false;
        }
        if code != "42P07" {
            return true;
        }
        driver
            .rows("SELECT 1 FROM pg_catalog.pg_index WHERE NOT indisvalid LIMIT 1")
            .await
            .is_ok_and(|rows| rows.is_empty())
    }

    /// Never: the session holds Cairn's settings, and perhaps its lock.
    fn may_return(_: &SqlxDriver<Self>) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_up_and_reset() {
        assert_eq!(
            setting("lock_timeout", Some(Duration::from_micros(1))),
            "SET lock_timeout = '1ms'"
        );
        assert_eq!(
            setting("statement_timeout", None),
            "RESET statement_timeout"
        );
    }
}

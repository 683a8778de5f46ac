//! Cairn's driver for PostgreSQL, on tokio-postgres with TLS through rustls.
//!
//! A [`PgDriver`] is one `tokio_postgres::Client` whose connection task runs
//! on the caller's tokio runtime; every [`Driver`] method runs on that one
//! session, so the migration lock, the history read and the migrations share
//! it, as the contract asks.
//!
//! # Design choices
//!
//! **Session-level advisory lock, polled.** [`Driver::lock`] calls
//! `pg_try_advisory_lock(key)` in autocommit mode every 50–250 ms until it
//! succeeds or the timeout passes (the core's [`cairn_core::lock::poll`]). It is a *session* lock, never
//! `pg_advisory_xact_lock`, and no transaction is open while waiting or while
//! holding it. That matters for `-- cairn:no-transaction` migrations such as
//! `CREATE INDEX CONCURRENTLY`, which waits for every transaction that might
//! see the table to finish: a lock held by an open transaction — on this
//! session or on another runner waiting in one — would make it wait forever
//! (the trap of flyway#1654). Polling `pg_try_advisory_lock` rather than
//! blocking in `pg_advisory_lock` keeps the wait bounded without touching the
//! session's `lock_timeout`, and lets a timeout say who holds the lock, read
//! from `pg_locks` joined to `pg_stat_activity` (pid, application_name, user,
//! client address, connected since). A session lock is released by the
//! server when the connection ends, so a crashed runner cannot leave it held.
//!
//! **The lock key** is `('x' || left(md5('cairn:' || current_database()), 16))::bit(64)::bigint`,
//! computed by the server once per connection. It is stable across Cairn
//! versions and machines, and an operator can compute it in psql. The
//! [`Driver::lock`] method does not receive the history table's name, so the
//! key covers the whole database: two projects keeping separate history
//! tables in one database take turns rather than run at once, which is safe.
//!
//! **`simple_query` for everything.** Cairn renders all of its own SQL with
//! escaped literals (see `cairn_core::history`), so no statement needs bound
//! parameters; the simple query protocol runs any statement a migration can
//! hold (including those the extended protocol refuses, such as several
//! statements or `CREATE INDEX CONCURRENTLY` outside a transaction), returns
//! every value as text — exactly what [`Driver::query`] returns — and costs
//! one round trip per statement.
//!
//! **Session preconditions.** Right after connecting, the driver runs the
//! statements of the dialect's `session_preconditions` —
//! `SET standard_conforming_strings = on` and `SET client_encoding = 'UTF8'` —
//! and reads both back; a session where they did not take effect is refused
//! with an error naming the setting. A database or role set to
//! `standard_conforming_strings = off`, as legacy servers are, therefore
//! still runs migrations with standard strings, which is what Cairn's
//! statement splitter reads them as. They are set again before each migration
//! (with the timeouts, in the same round trip), so a migration that turns them
//! off affects only itself. Cairn's own literals do not depend on them
//! (backslashes go into `E'...'` strings), so bookkeeping written after such a
//! migration, on the same session, stays exact. The settings are sent as `SET`
//! statements, not in the startup packet's `options`: PgBouncer before 1.20
//! refuses a connection whose startup packet has `options`, while it tracks
//! both settings when they are `SET`.
//!
//! **Timeouts.** [`Driver::apply_settings`] sets `lock_timeout` and
//! `statement_timeout` for the session in one round trip; a value that is
//! `None` is `RESET` to the server's (or role's) setting, so a directive of one
//! migration never leaks into the next. A statement whose `lock_timeout`
//! expires fails with SQLSTATE `55P03`, reported as
//! [`DriverErrorKind::LockTimeout`], which the migrator retries with backoff.
//!
//! **URLs and TLS.** `postgres://` and `postgresql://` URLs as libpq reads
//! them, with `sslmode=disable|prefer|require|verify-ca|verify-full` (default
//! `prefer`) and `sslrootcert=/path/ca.pem`. tokio-postgres knows only
//! disable/prefer/require, so Cairn takes those two parameters out of the URL
//! and builds the rustls configuration itself; `prefer` and `require` encrypt
//! without checking the certificate, as libpq does (see the `tls` module).
//! `application_name` is `cairn` unless the URL sets one. A host that is a
//! directory is a Unix socket, over which TLS is never tried.
//!
//! **Dead and frozen servers.** Connecting (TCP, TLS, authentication and the
//! session query) gives up after `connect_timeout` (default 10 s); TCP
//! keepalives are on; and every round trip waits for its reply at most as long
//! as [`cairn_core::timeouts`] decides from `read_timeout`, the workload and
//! the session's statement timeout. When a reply does not come, the driver
//! abandons the connection: every later call fails at once instead of
//! waiting again.
//!
//! **Passwords** never reach a message: URLs are shown redacted, tokio-postgres
//! omits the password from its `Config`'s `Debug` and its errors, and a
//! [`PgDriver`]'s `Debug` shows only the redacted URL.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod errors;
mod options;
mod tls;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;
use cairn_core::dialect::postgres::PostgresDialect;
use cairn_core::driver::Rows;
use cairn_core::lock::{self, Pauses, TryLock};
use cairn_core::timeouts::{self, Limit, Timeouts};
use cairn_core::url::DatabaseUrl;
use cairn_core::{
    Bookkeeping as _, Capabilities, Dialect, Driver, DriverError, DriverErrorKind, Flavour,
    LockKind, ServerVersion, SessionSettings, Workload,
};
use tokio_postgres::{AsyncMessage, Client, SimpleQueryMessage};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::errors::map_error;
use crate::options::ConnectOptions;

/// The server's name in messages.
const SERVER: &str = "PostgreSQL";

/// The SQL expression for the migration lock's key (see the module docs).
const LOCK_KEY_SQL: &str =
    "('x' || left(md5('cairn:' || current_database()), 16))::bit(64)::bigint";

/// The pauses between two tries of the migration lock: 50 ms, doubling up to 250 ms.
const LOCK_POLL: Pauses = Pauses {
    first: Duration::from_millis(50),
    max: Duration::from_millis(250),
};

/// A connection to one PostgreSQL database.
pub struct PgDriver {
    client: Client,
    url: String,
    database: String,
    pid: i32,
    lock_key: i64,
    /// Whether a transaction opened by [`Driver::begin`] is open, so that
    /// [`Driver::execute_many`] may pipeline its statements.
    in_transaction: bool,
    /// `connect_timeout` and `read_timeout` from the URL.
    timeouts: Timeouts,
    /// Whose statements are being sent (see [`Driver::set_workload`]).
    workload: Workload,
    /// The statement timeout last applied to the session.
    statement_timeout: Option<Duration>,
    /// Set when a reply did not come in time: nothing more is sent.
    abandoned: AtomicBool,
    /// PostgreSQL at the `server_version` the session reported.
    dialect: PostgresDialect,
}

impl fmt::Debug for PgDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgDriver")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("pid", &self.pid)
            .field("lock_key", &self.lock_key)
            .finish_non_exhaustive()
    }
}

impl PgDriver {
    /// Connects to the database a `postgres://` or `postgresql://` URL names.
    ///
    /// Must be called within a tokio runtime: the connection's task is spawned on it.
    /// Gives up after the URL's `connect_timeout` (default 10 s), which
    /// covers the TCP connection, TLS, authentication and the session query.
    pub async fn connect(url: &DatabaseUrl) -> Result<PgDriver, DriverError> {
        let options = ConnectOptions::from_url(url)?;
        let limit = options.timeouts.connect_limit();
        let timeouts = options.timeouts;
        match timeouts::within(limit, Self::connect_session(url, options)).await {
            Ok(connected) => connected,
            Err(timeouts::TimedOut) => Err(timeouts.connect_error(SERVER, &url.redacted())),
        }
    }

    async fn connect_session(
        url: &DatabaseUrl,
        options: ConnectOptions,
    ) -> Result<PgDriver, DriverError> {
        let tls_config = tls::client_config(options.ssl_mode, options.roots.as_ref())
            .map_err(|e| e.context(format_args!("cannot connect to {}", url.redacted())))?;
        let tls = tls::MakeTls(MakeRustlsConnect::new(tls_config));
        let (client, mut connection) = options
            .config
            .connect(tls)
            .await
            .map_err(|e| errors::connect_error(url, &options, e))?;
        let redacted = url.redacted();
        let task_url = redacted.clone();
        tokio::spawn(async move {
            // Drive the connection, passing the server's notices on to tracing:
            // warnings as warnings, the rest (such as "relation already
            // exists, skipping" on every run) at debug level.
            loop {
                match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    Some(Ok(AsyncMessage::Notice(notice))) => {
                        let code = notice.code().code();
                        if notice.severity() == "WARNING" {
                            tracing::warn!(code, "PostgreSQL: {}", notice.message());
                        } else {
                            tracing::debug!(
                                code,
                                severity = notice.severity(),
                                "PostgreSQL: {}",
                                notice.message()
                            );
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::debug!(url = %task_url, error = %errors::chain(&e), "PostgreSQL connection ended");
                        break;
                    }
                    None => break,
                }
            }
        });
        let mut driver = PgDriver {
            client,
            url: redacted,
            database: String::new(),
            pid: 0,
            lock_key: 0,
            in_transaction: false,
            timeouts: options.timeouts,
            workload: Workload::Bookkeeping,
            statement_timeout: None,
            abandoned: AtomicBool::new(false),
            dialect: PostgresDialect::DEFAULT,
        };
        driver.establish_preconditions().await?;
        let rows = driver
            .query(&format!(
                "SELECT pg_backend_pid(), current_database(), {LOCK_KEY_SQL}, current_setting('server_version')"
            ))
            .await
            .map_err(|e| {
                e.context(format_args!(
                    "connected to {} but cannot read the session",
                    driver.url
                ))
            })?;
        let row = rows.first().ok_or_else(|| {
            DriverError::new(
                DriverErrorKind::Other,
                "PostgreSQL returned no row for the session query",
            )
        })?;
        let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        driver.pid = field(0).parse().unwrap_or_default();
        driver.database = field(1);
        driver.lock_key = field(2).parse().map_err(|_| {
            DriverError::new(
                DriverErrorKind::Other,
                format!("PostgreSQL returned an unreadable lock key `{}`", field(2)),
            )
        })?;
        driver.dialect =
            PostgresDialect::new(Flavour::Postgres, Some(ServerVersion::parse(&field(3))));
        tracing::debug!(url = %driver.url, pid = driver.pid, server = %field(3), "connected to PostgreSQL");
        Ok(driver)
    }

    /// Establishes Cairn's session preconditions and checks that they took
    /// effect (see the module docs).
    async fn establish_preconditions(&self) -> Result<(), DriverError> {
        let preconditions = self.dialect.session_preconditions();
        let (Some(establish), Some(check)) = (preconditions.establish(), preconditions.check())
        else {
            return Ok(());
        };
        let rows = self
            .query_rows(&format!("{establish}; {check}"))
            .await
            .map_err(|e| {
                e.context(format_args!(
                    "connected to {} but cannot set up the session (`{establish}`)",
                    self.url
                ))
            })?;
        preconditions
            .verify(&rows)
            .map_err(|why| precondition_error(&self.url, &why))
    }

    /// The server process id of this session (`pg_backend_pid()`).
    pub fn backend_pid(&self) -> i32 {
        self.pid
    }

    /// The database this session is connected to.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The key of the advisory lock [`Driver::lock`] takes (see the module docs).
    pub fn lock_key(&self) -> i64 {
        self.lock_key
    }

    /// How long the next round trip may wait for its reply.
    fn reply_limit(&self) -> Option<Limit> {
        self.timeouts
            .reply_limit(self.workload, self.statement_timeout)
    }

    /// Fails at once if an earlier reply did not come in time.
    fn check_open(&self) -> Result<(), DriverError> {
        if self.abandoned.load(Ordering::Relaxed) {
            return Err(timeouts::abandoned(SERVER, &self.url));
        }
        Ok(())
    }

    /// Abandons the connection after a reply that did not come within `limit`.
    fn no_reply(&self, limit: Option<Limit>) -> DriverError {
        self.abandoned.store(true, Ordering::Relaxed);
        match limit {
            Some(limit) => limit.error(SERVER, &self.url),
            None => timeouts::abandoned(SERVER, &self.url),
        }
    }

    async fn simple(&self, sql: &str) -> Result<Vec<SimpleQueryMessage>, DriverError> {
        self.check_open()?;
        let limit = self.reply_limit();
        match timeouts::within(limit.map(|l| l.after), self.client.simple_query(sql)).await {
            Ok(reply) => reply.map_err(map_error),
            Err(timeouts::TimedOut) => Err(self.no_reply(limit)),
        }
    }

    /// Runs `statements` inside the open transaction, pipelined: each is
    /// its own simple query, all sent before the first reply is read, so the
    /// batch costs one round trip (see [`Driver::execute_many`] on [`PgDriver`]).
    async fn execute_pipelined(&self, statements: &[&str]) -> Result<(), (usize, DriverError)> {
        type Reply<'c> = Pin<
            Box<
                dyn Future<Output = Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>>
                    + Send
                    + 'c,
            >,
        >;
        // A future sends its query when first polled; they are polled in order.
        let mut pending: Vec<Reply<'_>> = statements
            .iter()
            .map(|statement| Box::pin(self.client.simple_query(statement)) as Reply<'_>)
            .collect();
        self.check_open().map_err(|e| (0, e))?;
        let limit = self.reply_limit();
        let mut replies: Vec<Option<Result<(), tokio_postgres::Error>>> =
            statements.iter().map(|_| None).collect();
        let all = std::future::poll_fn(|cx| {
            let mut done = true;
            for (future, reply) in pending.iter_mut().zip(replies.iter_mut()) {
                if reply.is_none() {
                    match future.as_mut().poll(cx) {
                        Poll::Ready(result) => *reply = Some(result.map(|_| ())),
                        Poll::Pending => done = false,
                    }
                }
            }
            if done {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        if timeouts::within(limit.map(|l| l.after), all).await.is_err() {
            let waiting = replies.iter().position(Option::is_none).unwrap_or(0);
            return Err((waiting, self.no_reply(limit)));
        }
        // The first failure is the statement's own; after it, the server
        // rejects the rest (the transaction is aborted) or the session is gone.
        for (index, reply) in replies.into_iter().enumerate() {
            if let Some(Err(error)) = reply {
                return Err((index, map_error(error)));
            }
        }
        Ok(())
    }

    async fn try_lock(&self) -> Result<bool, DriverError> {
        let rows = self
            .query_rows(&format!("SELECT pg_try_advisory_lock({})", self.lock_key))
            .await?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .is_some_and(|v| v.as_deref() == Some("t")))
    }

    async fn query_rows(&self, sql: &str) -> Result<Rows, DriverError> {
        let messages = self.simple(sql).await?;
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_owned))
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    /// Who holds the migration lock, in words, from `pg_locks` and `pg_stat_activity`.
    async fn holder(&self) -> String {
        // A bigint advisory key shows in pg_locks as classid (high 32 bits),
        // objid (low 32 bits) and objsubid 1.
        let key = self.lock_key as u64;
        let (high, low) = (key >> 32, key & 0xffff_ffff);
        let sql = format!(
            "SELECT l.pid, a.application_name, a.usename, \
                    COALESCE(host(a.client_addr) || ':' || a.client_port, CASE WHEN a.pid IS NOT NULL AND a.client_addr IS NULL AND a.client_port = -1 THEN 'a local socket' END), \
                    to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                    a.state, \
                    to_char(a.state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND l.classid = '{high}'::oid AND l.objid = '{low}'::oid AND l.objsubid = 1"
        );
        let rows = match self.query_rows(&sql).await {
            Ok(rows) => rows,
            Err(e) => {
                return format!("the lock is held by another session (cannot tell which: {e})")
            }
        };
        let Some(row) = rows.first() else {
            return "the lock was held by another session, which released it just as the wait ended; try again".to_owned();
        };
        let get = |i: usize| row.get(i).cloned().flatten();
        let unknown = || "unknown".to_owned();
        let mut text = format!(
            "the lock (advisory lock {} on database `{}`) is held by pid {} (application_name `{}`, user `{}`, client {}",
            self.lock_key,
            self.database,
            get(0).unwrap_or_else(unknown),
            get(1).unwrap_or_else(unknown),
            get(2).unwrap_or_else(unknown),
            get(3).unwrap_or_else(unknown),
        );
        if let Some(since) = get(4) {
            text.push_str(&format!(", connected since {since}"));
        }
        if let Some(state) = get(5) {
            text.push_str(&format!(", {state}"));
            if let Some(since) = get(6) {
                text.push_str(&format!(" since {since}"));
            }
        }
        text.push(')');
        text
    }
}

/// The advisory lock, as [`lock::poll`] tries it.
struct AdvisoryLock<'d>(&'d PgDriver);

#[async_trait]
impl TryLock for AdvisoryLock<'_> {
    async fn try_lock(&mut self, _wait: Duration) -> Result<bool, DriverError> {
        self.0.try_lock().await
    }

    async fn holder(&mut self) -> Result<String, DriverError> {
        Ok(self.0.holder().await)
    }
}

/// The error for a session whose settings are not those Cairn's SQL needs.
fn precondition_error(url: &str, why: &str) -> DriverError {
    DriverError::new(
        DriverErrorKind::Connection,
        format!(
            "connected to {url} but the session does not keep the settings Cairn relies on: {why}; \
             something between Cairn and the server (a connection pooler, a proxy or an \
             extension) overrides them: connect to the server directly or configure it to pass \
             them on (docs/engines.md, \"Session preconditions and literals\")"
        ),
    )
}

/// Milliseconds for a PostgreSQL setting, rounding up so a short non-zero
/// duration never becomes 0, which PostgreSQL reads as "no limit" (as it
/// reads an explicit zero, e.g. `-- cairn:lock-timeout 0s`).
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

#[async_trait]
impl Driver for PgDriver {
    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new(true, LockKind::Session).with_run_lock()
    }

    /// `duplicate_table` (42P07, also an index), `duplicate_column` (42701),
    /// `duplicate_object` (42710: a constraint, type or trigger),
    /// `duplicate_schema` (42P06) and `duplicate_function` (42723) mean the
    /// object exists. An index that exists but is invalid (an interrupted
    /// `CREATE INDEX CONCURRENTLY`) is not complete: while any index of the
    /// database is invalid, nothing is confirmed.
    async fn confirms_completed(&mut self, error: &DriverError) -> bool {
        let code = error.code.as_deref().unwrap_or_default();
        if !["42P07", "42701", "42710", "42P06", "42723"].contains(&code) {
            return false;
        }
        if code != "42P07" {
            return true;
        }
        match self
            .query_rows("SELECT 1 FROM pg_catalog.pg_index WHERE NOT indisvalid LIMIT 1")
            .await
        {
            Ok(rows) => rows.is_empty(),
            Err(_) => false,
        }
    }

    async fn lock(&mut self, timeout: Duration) -> Result<(), DriverError> {
        // A timeout too large to add to now (Duration::MAX, say) waits forever.
        lock::poll(&mut AdvisoryLock(self), timeout, LOCK_POLL).await
    }

    async fn unlock(&mut self) -> Result<(), DriverError> {
        let rows = self
            .query_rows(&format!("SELECT pg_advisory_unlock({})", self.lock_key))
            .await?;
        if rows
            .first()
            .and_then(|r| r.first())
            .is_some_and(|v| v.as_deref() == Some("t"))
        {
            Ok(())
        } else {
            Err(DriverError::new(
                DriverErrorKind::Other,
                format!(
                    "the migration lock (advisory lock {}) was not held by this session (pid {})",
                    self.lock_key, self.pid
                ),
            ))
        }
    }

    /// Sets the timeouts and, in the same round trip, the session
    /// preconditions again (a migration before may have changed them).
    async fn apply_settings(&mut self, settings: &SessionSettings) -> Result<(), DriverError> {
        let mut sql = format!(
            "{}; {}",
            setting("lock_timeout", settings.lock_timeout),
            setting("statement_timeout", settings.statement_timeout)
        );
        if let Some(establish) = self.dialect.session_preconditions().establish() {
            sql = format!("{sql}; {establish}");
        }
        self.simple(&sql).await?;
        self.statement_timeout = settings.statement_timeout;
        Ok(())
    }

    fn set_workload(&mut self, workload: Workload) {
        self.workload = workload;
    }

    async fn begin(&mut self) -> Result<(), DriverError> {
        self.simple("BEGIN").await?;
        self.in_transaction = true;
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), DriverError> {
        // Whatever the outcome, the transaction is over (or the session is gone).
        self.in_transaction = false;
        self.simple("COMMIT").await.map(|_| ())
    }

    async fn rollback(&mut self) -> Result<(), DriverError> {
        self.in_transaction = false;
        self.simple("ROLLBACK").await.map(|_| ())
    }

    /// Inside a transaction opened by [`Driver::begin`], pipelines the
    /// statements: each is its own simple query (so each gets its own reply),
    /// but all are written before the first reply is read, which costs one
    /// round trip instead of one per statement. The index and error returned
    /// are exactly those of running them one by one: once a statement fails
    /// the transaction is aborted and the server refuses the ones after it
    /// (`25P02`) without running them, and a session lost mid-way fails the
    /// statement it was running and those after it. (A single
    /// `SAVEPOINT; a; b; RELEASE` query would be one round trip too, but when
    /// the session dies mid-batch its error no longer says which statement
    /// was running.) Outside a transaction each statement autocommits, one by
    /// one, as the default does, so that a failure leaves the ones before it
    /// committed and the ones after it unsent.
    async fn execute_many(&mut self, statements: &[&str]) -> Result<(), (usize, DriverError)> {
        if !self.in_transaction || statements.len() < 2 {
            for (index, statement) in statements.iter().enumerate() {
                self.execute(statement).await.map_err(|e| (index, e))?;
            }
            return Ok(());
        }
        self.execute_pipelined(statements).await
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, DriverError> {
        let messages = self.simple(sql).await?;
        Ok(messages
            .iter()
            .map(|m| match m {
                SimpleQueryMessage::CommandComplete(n) => *n,
                _ => 0,
            })
            .sum())
    }

    async fn query(&mut self, sql: &str) -> Result<Rows, DriverError> {
        self.query_rows(sql).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_a_session_that_drops_the_preconditions_is_refused_with_what_to_do() {
        let why = PostgresDialect::DEFAULT
            .session_preconditions()
            .verify(&[vec![Some("off".to_owned()), Some("UTF8".to_owned())]])
            .unwrap_err();
        let err = precondition_error("postgres://u:***@db/app", &why);
        assert_eq!(err.kind, DriverErrorKind::Connection);
        assert!(
            err.message.starts_with("connected to postgres://u:***@db/app but the session does not keep the settings Cairn relies on: standard_conforming_strings is `off`, Cairn needs it on"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("connect to the server directly"),
            "{}",
            err.message
        );
    }

    #[test]
    fn settings_round_up_and_reset() {
        assert_eq!(
            setting("lock_timeout", Some(Duration::from_millis(200))),
            "SET lock_timeout = '200ms'"
        );
        assert_eq!(
            setting("lock_timeout", Some(Duration::from_micros(1))),
            "SET lock_timeout = '1ms'"
        );
        assert_eq!(
            setting("lock_timeout", Some(Duration::from_micros(1500))),
            "SET lock_timeout = '2ms'"
        );
        assert_eq!(
            setting("lock_timeout", Some(Duration::ZERO)),
            "SET lock_timeout = '0ms'"
        );
        assert_eq!(
            setting("statement_timeout", None),
            "RESET statement_timeout"
        );
    }
}

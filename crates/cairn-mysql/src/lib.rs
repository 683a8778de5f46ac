//! Cairn's driver for MySQL 8 and MariaDB 10.11+, on mysql_async.
//!
//! A [`MySqlDriver`] is one `mysql_async::Conn` — not a pool — because the
//! migration lock, the history read and the migrations must share a session
//! (see [`cairn_core::driver`]). It carries statements; what to run is the
//! core's business.
//!
//! # Why migrations run outside transactions here
//!
//! MySQL and MariaDB commit implicitly before and after every DDL statement
//! (`CREATE`, `ALTER`, `DROP`, `RENAME`, …), so a transaction around a
//! migration would protect nothing: its first `CREATE TABLE` commits whatever
//! came before. The driver therefore reports `transactional_ddl = false`, and
//! the migrator takes its other path: it commits a `running` history row,
//! records progress after each statement, and on error leaves a `failed` row
//! naming the statement, so that a half-applied migration is explained
//! precisely. [`Driver::begin`] and friends are still real (`START
//! TRANSACTION`, `COMMIT`, `ROLLBACK`): Cairn uses them for its own
//! bookkeeping, which is plain DML.
//!
//! # The migration lock: `GET_LOCK`
//!
//! Concurrent runners are kept apart by a named user lock,
//! `GET_LOCK('cairn:<database>', …)` ([`LockKind::Session`]). It belongs to the
//! session, not to a transaction, so the implicit commits of DDL do not release
//! it; it is released by [`Driver::unlock`] or when the connection ends, so a
//! runner that crashes cannot leave it behind, and it needs no table of its
//! own. Names are limited to 64 characters: a longer one becomes
//! `cairn:` + the MD5 of the full name, computed by the server so every Cairn
//! version agrees. `GET_LOCK` waits in whole seconds, so the driver waits in
//! whole seconds while at least one remains and polls with `GET_LOCK(name, 0)`
//! every 50 ms for the rest, which honours sub-second timeouts (the loop is
//! the core's [`cairn_core::lock::poll`]). When the wait ends, the
//! error says who holds the lock: `IS_USED_LOCK` gives the connection id, and
//! `information_schema.PROCESSLIST` its user, host, command and time (when the
//! user may see other sessions).
//!
//! # Session settings
//!
//! - `sql_mode`: the driver removes `NO_BACKSLASH_ESCAPES` from the session's
//!   `sql_mode` after connecting, reads it back and refuses a session where it
//!   stayed (the precondition is stated in
//!   the dialect's `session_preconditions`), and removes it again
//!   before each migration (a migration may have set it); every other flag
//!   stays as the server has it, so migrations run under the server's usual
//!   rules and the statement splitter reads backslashes as the server does.
//!   Cairn's own literals do not depend on it: a value with a backslash, a
//!   NUL or a non-ASCII character is sent as `_utf8mb4 X'<hex>'`
//!   ([`cairn_core::Bookkeeping::string_literal`]), so bookkeeping written after a
//!   migration that enabled `NO_BACKSLASH_ESCAPES` stays exact.
//! - Lock timeouts: [`Driver::apply_settings`] sets both `lock_wait_timeout`
//!   (metadata locks, which DDL waits for behind open transactions) and
//!   `innodb_lock_wait_timeout` (row locks, for DML), in whole seconds rounded
//!   up, at least 1 — neither server accepts less. A statement that waits
//!   longer fails with error 1205, which the migrator retries with backoff; a
//!   deadlock (1213) is retried the same way.
//! - Statement timeouts differ between the two servers: MySQL's
//!   `max_execution_time` (milliseconds) stops only read-only `SELECT`s, so on
//!   MySQL a statement timeout does not bound DDL or DML; MariaDB's
//!   `max_statement_time` (seconds, fractional) stops any statement. Without a
//!   timeout, each setting is reset to the server's global value (`DEFAULT`),
//!   so one migration's directive never leaks into the next.
//!
//! The flavour and version are read once, from `SELECT VERSION()` at
//! connect (MariaDB's contains `MariaDB`), into the driver's
//! [`Driver::dialect`]; the core asks the dialect, never the server again.
//!
//! # Statements and values
//!
//! Everything runs through the text protocol (`COM_QUERY`), never prepared
//! statements: most DDL cannot be prepared, and migrations are run once. Rows
//! come back as text, as the server sends them; `NULL` is `None` and bytes
//! that are not UTF-8 are decoded lossily.
//!
//! # URLs and TLS
//!
//! `mysql://user:password@host:port/database` or `mariadb://…` (the same
//! protocol). TLS is chosen with MySQL's `ssl-mode` (PostgreSQL's `sslmode`
//! spellings work too) and an optional `ssl-ca=/path/ca.pem`; TLS runs on
//! rustls:
//!
//! | mode | TLS | certificate checked |
//! |---|---|---|
//! | `disabled` | never | — |
//! | `preferred` (default) | when the server offers it | no |
//! | `required` | always, or the connection fails | no (encryption only) |
//! | `verify_ca` | always | chain to a trusted CA |
//! | `verify_identity` | always | chain, and the host name |
//!
//! `preferred` is the default, as in MySQL's own client: mysql_async has no
//! such mode, so the driver asks for TLS and, only when the server's handshake
//! says it has none, connects again without. `preferred` and `required` do not
//! verify the certificate, so they protect against eavesdropping but not an
//! active man in the middle; use `verify_identity` across networks you do not
//! trust. Trusted CAs are those of `ssl-ca` when given (and then only those),
//! else the Mozilla roots built into webpki-roots. Giving `ssl-ca` with
//! `preferred` or `required` verifies the chain, as MySQL's client does.
//! `verify_ca` works around mysql_async 0.37, whose own switch for it still
//! checks the host name under rustls 0.23: when the handshake fails only on the
//! name, the driver connects again checking the chain against a name the
//! certificate carries (see `options::presented_name`).
//!
//! Other URL parameters go to mysql_async as they are (mysql_async's own TLS
//! parameters are refused in favour of `ssl-mode`). The driver does not switch
//! to the server's Unix socket unless `prefer_socket=true` is given, sends the
//! connection attribute `program_name=cairn` (visible in
//! `performance_schema.session_connect_attrs`).
//!
//! # Dead and frozen servers
//!
//! Connecting (TCP, TLS, authentication, the session setup) gives up after
//! `connect_timeout` (seconds, default 10); TCP keepalives are on (first probe
//! after 30 s of silence unless the URL sets mysql_async's `tcp_keepalive`,
//! in milliseconds; the interval and count are the system's); and every round
//! trip waits for its reply at most as long as [`cairn_core::timeouts`]
//! decides from `read_timeout`, the workload and the statement timeout. Only
//! MariaDB's `max_statement_time` stops any statement, so only on MariaDB does
//! a statement timeout bound the wait for a migration's statement; on MySQL,
//! `read_timeout` does. `GET_LOCK`'s own wait is added to the bound of the
//! statement that waits. When a reply does not come the driver abandons the
//! connection, and every later call fails at once.
//!
//! Errors never contain the password: messages name the URL as
//! [`DatabaseUrl::redacted`] shows it, and [`MySqlDriver`]'s `Debug` shows no
//! options.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod options;
mod packet;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use cairn_core::dialect::mysql::MysqlDialect;
use cairn_core::driver::{PacketFailure, PacketStep, Rows};
use cairn_core::lock::{self, Pauses, TryLock};
use cairn_core::timeouts::{self, Limit, Timeouts};
use cairn_core::url::DatabaseUrl;
use cairn_core::{
    Bookkeeping as _, Capabilities, Dialect, Driver, DriverError, DriverErrorKind, Flavour,
    LockKind, SessionSettings, Workload,
};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row, SslOpts, Value};

pub use options::SslMode;
use options::UrlParts;

/// How often a lock wait shorter than a second polls `GET_LOCK(name, 0)`.
const LOCK_POLL: Pauses = Pauses::constant(Duration::from_millis(50));

/// The longest lock wait both servers accept (a year, in seconds).
const MAX_LOCK_WAIT_SECONDS: u64 = 31_536_000;

/// A connection to one MySQL or MariaDB database.
pub struct MySqlDriver {
    conn: Conn,
    /// The URL with its password hidden.
    shown: String,
    /// MySQL or MariaDB at the version `SELECT VERSION()` reported.
    dialect: MysqlDialect,
    connection_id: u64,
    encrypted: bool,
    /// `DATABASE()` after connecting.
    database: Option<String>,
    /// The name of the migration lock while this connection holds it.
    lock_name: Option<String>,
    /// `connect_timeout` and `read_timeout` from the URL.
    timeouts: Timeouts,
    /// Whose statements are being sent (see [`Driver::set_workload`]).
    workload: Workload,
    /// The statement timeout that bounds any statement (MariaDB's only).
    statement_timeout: Option<Duration>,
    /// How long the statement being sent waits on purpose (`GET_LOCK`).
    server_wait: Duration,
    /// Set when a reply did not come in time: nothing more is sent.
    abandoned: bool,
}

impl fmt::Debug for MySqlDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MySqlDriver")
            .field("url", &self.shown)
            .field("server", &self.server_version())
            .field("connection_id", &self.connection_id)
            .field("encrypted", &self.encrypted)
            .field("lock", &self.lock_name)
            .finish_non_exhaustive()
    }
}

impl MySqlDriver {
    /// Connects to the database a `mysql://` or `mariadb://` URL names, with
    /// the TLS its `ssl-mode` asks for, and prepares the session. Gives up
    /// after the URL's `connect_timeout` (default 10 s), which covers the TCP
    /// connection, TLS, authentication and the session setup.
    pub async fn connect(url: &DatabaseUrl) -> Result<MySqlDriver, DriverError> {
        let timeouts = UrlParts::parse(url.expose())
            .map(|parts| parts.timeouts)
            .unwrap_or_default();
        match timeouts::within(timeouts.connect_limit(), Self::connect_session(url)).await {
            Ok(connected) => connected,
            Err(timeouts::TimedOut) => Err(timeouts.connect_error("MySQL", &url.redacted())),
        }
    }

    async fn connect_session(url: &DatabaseUrl) -> Result<MySqlDriver, DriverError> {
        let shown = url.redacted();
        let hint = cairn_core::url::password_hint(url.expose());
        let invalid = |why: String| {
            // A password split at a delimiter ends up in the parser's words: give only the hint.
            let why = match hint {
                Some(hint) => {
                    format!("it does not read as mysql://user:password@host:port/database; {hint}")
                }
                None => why,
            };
            DriverError::new(
                DriverErrorKind::Other,
                format!("invalid MySQL URL `{shown}`: {why}"),
            )
        };
        let parts = UrlParts::parse(url.expose()).map_err(invalid)?;
        let base = Opts::from_url(&parts.url).map_err(|e| invalid(error::url_message(&e)))?;
        let ssl = parts.ssl_opts().map_err(|why| {
            DriverError::new(
                DriverErrorKind::Connection,
                format!("cannot connect to `{shown}`: {why}"),
            )
        })?;
        let password = parts.password.as_deref();
        let failed = |e, tls| {
            let mut error = error::connect_error(e, &shown, parts.ssl_mode, tls, password);
            if let Some(hint) = hint {
                error.message = format!("{}; {hint}", error.message);
            }
            error
        };

        let encrypted = ssl.is_some();
        let (conn, encrypted) = match open(&base, &parts, ssl.clone()).await {
            Ok(conn) => (conn, encrypted),
            Err(mysql_async::Error::Driver(
                mysql_async::DriverError::NoClientSslFlagFromServer,
            )) if parts.ssl_mode == SslMode::Preferred => {
                tracing::debug!(url = %shown, "the server offers no TLS; connecting without it (ssl-mode=preferred)");
                (
                    open(&base, &parts, None)
                        .await
                        .map_err(|e| failed(e, false))?,
                    false,
                )
            }
            Err(e) if parts.ssl_mode == SslMode::VerifyCa => {
                // The chain verified but the host did not match: see `options::presented_name`.
                let retry = ssl.zip(options::presented_name(&e.to_string()));
                let Some((ssl, name)) = retry else {
                    return Err(failed(e, true));
                };
                tracing::debug!(url = %shown, certificate_name = %name, "verify_ca: the chain is trusted; connecting again without the host name check");
                let ssl = ssl.with_danger_tls_hostname_override(Some(name));
                (
                    open(&base, &parts, Some(ssl))
                        .await
                        .map_err(|e| failed(e, true))?,
                    true,
                )
            }
            Err(e) => return Err(failed(e, encrypted)),
        };
        let connection_id = u64::from(conn.id());
        let mut driver = MySqlDriver {
            conn,
            shown: shown.clone(),
            dialect: MysqlDialect::DEFAULT,
            connection_id,
            encrypted,
            database: None,
            lock_name: None,
            timeouts: parts.timeouts,
            workload: Workload::Bookkeeping,
            statement_timeout: None,
            server_wait: Duration::ZERO,
            abandoned: false,
        };
        driver.prepare_session().await.map_err(|e| {
            let mut e = e.context(format_args!(
                "connected to `{shown}` but could not prepare the session"
            ));
            e.kind = DriverErrorKind::Connection;
            e.message = error::scrub(e.message, password);
            e
        })?;
        tracing::debug!(url = %shown, server = %driver.server_version(), connection_id, encrypted, "connected");
        Ok(driver)
    }

    /// Reads the server's flavour and version, and establishes and checks
    /// the session preconditions (`sql_mode` without `NO_BACKSLASH_ESCAPES`).
    ///
    /// One round trip: the preconditions are the family's (the same for
    /// MySQL and MariaDB), so they are set before the version is known, in
    /// the packet whose `SELECT` reads the version and the settings back.
    async fn prepare_session(&mut self) -> Result<(), DriverError> {
        /// What the `SELECT` reads before the settings.
        const IDENTITY: usize = 3;
        let preconditions = MysqlDialect::DEFAULT.session_preconditions();
        let (establish, check) = (preconditions.establish(), preconditions.check());
        let select = match &check {
            Some(check) => format!(
                "SELECT VERSION(), CONNECTION_ID(), DATABASE(), {}",
                check.trim_start_matches("SELECT ")
            ),
            None => "SELECT VERSION(), CONNECTION_ID(), DATABASE()".to_owned(),
        };
        let rows = match &establish {
            Some(establish) => {
                let sql = format!("{establish};\n{select}");
                let rows: Vec<Row> = self
                    .round_trip(|conn| async move {
                        let mut result = conn.query_iter(sql).await?;
                        // The `SET` has no rows; the `SELECT` is the second result.
                        let _: Vec<Row> = result.collect().await?;
                        let rows: Vec<Row> = result.collect().await?;
                        result.drop_result().await?;
                        Ok(rows)
                    })
                    .await?;
                rows.into_iter()
                    .map(|row| row.unwrap().into_iter().map(text).collect())
                    .collect()
            }
            None => self.query(&select).await?,
        };
        let row: Vec<Option<String>> = rows.into_iter().next().unwrap_or_default();
        let version = row.first().cloned().flatten().unwrap_or_default();
        if let Some(id) = row.get(1).cloned().flatten().and_then(|id| id.parse().ok()) {
            self.connection_id = id;
        }
        self.database = row.get(2).cloned().flatten();
        self.dialect = MysqlDialect::from_version(&version);
        if check.is_some() {
            let read = vec![row.get(IDENTITY..).unwrap_or_default().to_vec()];
            preconditions
                .verify(&read)
                .map_err(|why| precondition_error(&why))?;
        }
        Ok(())
    }

    /// The server's version, as `SELECT VERSION()` gives it.
    pub fn server_version(&self) -> &str {
        self.dialect
            .server_version()
            .map_or("", |version| version.text.as_str())
    }

    /// The database the URL names (`DATABASE()` after connecting), if any.
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// Whether the server is MariaDB (else MySQL).
    pub fn is_mariadb(&self) -> bool {
        self.dialect.flavour() == Flavour::MariaDb
    }

    /// The server's id for this connection (`CONNECTION_ID()`).
    pub fn connection_id(&self) -> u64 {
        self.connection_id
    }

    /// Whether the connection runs over TLS.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// Releases the migration lock if held and closes the connection politely.
    pub async fn close(mut self) -> Result<(), DriverError> {
        if self.lock_name.is_some() {
            self.unlock().await?;
        }
        self.conn.disconnect().await.map_err(error::statement_error)
    }

    /// How long the next round trip may wait for its reply.
    fn reply_limit(&self) -> Option<Limit> {
        self.timeouts
            .reply_limit(self.workload, self.statement_timeout)
            .map(|limit| limit.extended(self.server_wait))
    }

    /// Runs one round trip within its limit; abandons the connection when the
    /// reply does not come, and fails at once on an abandoned one.
    async fn round_trip<'c, T, F>(
        &'c mut self,
        call: impl FnOnce(&'c mut Conn) -> F,
    ) -> Result<T, DriverError>
    where
        F: std::future::Future<Output = mysql_async::Result<T>>,
    {
        let server = self.dialect.flavour().name();
        if self.abandoned {
            return Err(timeouts::abandoned(server, &self.shown));
        }
        let limit = self.reply_limit();
        let reply = timeouts::within(limit.map(|l| l.after), call(&mut self.conn)).await;
        match reply {
            Ok(reply) => reply.map_err(error::statement_error),
            Err(timeouts::TimedOut) => {
                self.abandoned = true;
                Err(match limit {
                    Some(limit) => limit.error(server, &self.shown),
                    None => timeouts::abandoned(server, &self.shown),
                })
            }
        }
    }

    /// The `SET SESSION` statement that applies `settings` and re-asserts
    /// the session preconditions (a migration before may have changed them).
    fn settings_statement(&self, settings: &SessionSettings) -> String {
        let lock = settings.lock_timeout.map_or_else(
            || "DEFAULT".to_owned(),
            |t| lock_wait_seconds(t).to_string(),
        );
        let (variable, statement) = if self.is_mariadb() {
            (
                "max_statement_time",
                settings.statement_timeout.map_or_else(
                    || "DEFAULT".to_owned(),
                    // Seconds with millisecond precision; never round a real timeout down to 0 (no limit).
                    |t| {
                        format!(
                            "{:.3}",
                            t.as_secs_f64().max(if t.is_zero() { 0.0 } else { 0.001 })
                        )
                    },
                ),
            )
        } else {
            (
                "max_execution_time",
                settings.statement_timeout.map_or_else(
                    || "DEFAULT".to_owned(),
                    |t| {
                        let ms = t.as_millis() + u128::from(t.subsec_nanos() % 1_000_000 > 0);
                        ms.min(u128::from(u32::MAX)).to_string()
                    },
                ),
            )
        };
        let preconditions: String = self
            .dialect
            .session_preconditions()
            .settings()
            .iter()
            .map(|s| format!(", SESSION {}", s.assignment))
            .collect();
        format!(
            "SET SESSION lock_wait_timeout = {lock}, SESSION innodb_lock_wait_timeout = {lock}, SESSION {variable} = {statement}{preconditions}"
        )
    }

    /// Notes what the server now bounds, once `settings` are applied.
    fn settings_applied(&mut self, settings: &SessionSettings) {
        // MySQL's max_execution_time stops SELECTs only: it bounds no DDL or DML.
        self.statement_timeout = if self.is_mariadb() {
            settings.statement_timeout
        } else {
            None
        };
    }

    /// Sends `statements` as one multi-statement `COM_QUERY` and reads one
    /// result per statement, each within the reply limit; on failure returns
    /// the index of the statement whose result was not read (the server
    /// stops a packet at its first error). Every statement but the last must
    /// be [`packet::countable`]: the results after the last counted one are
    /// all the last statement's.
    async fn send_packet(&mut self, statements: &[&str]) -> Result<(), (usize, DriverError)> {
        let server = self.dialect.flavour().name();
        if self.abandoned {
            return Err((0, timeouts::abandoned(server, &self.shown)));
        }
        let limit = self.reply_limit();
        let after = limit.map(|l| l.after);
        let last = statements.len().saturating_sub(1);
        let sql = statements.join(";\n");
        let conn = &mut self.conn;
        // The index of the statement whose result is being read: each
        // `Ok(None)` of `next` moves to the next result, which may be the
        // error that stopped the packet (mysql_async keeps it pending and
        // returns it from the next call, or from `drop_result`).
        let mut done = 0;
        let outcome = match timeouts::within(after, conn.query_iter(sql.as_str())).await {
            Ok(Ok(mut result)) => loop {
                if result.is_empty() {
                    break match timeouts::within(after, result.drop_result()).await {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(Ok(e)),
                        Err(timeouts::TimedOut) => Err(Err(timeouts::TimedOut)),
                    };
                }
                match timeouts::within(after, result.next()).await {
                    Ok(Ok(None)) => done += 1,
                    // Rows of the last statement (a `SELECT`, a `CALL`): read past them.
                    Ok(Ok(Some(_))) => {}
                    Ok(Err(e)) => break Err(Ok(e)),
                    Err(timeouts::TimedOut) => break Err(Err(timeouts::TimedOut)),
                }
            },
            Ok(Err(e)) => Err(Ok(e)),
            Err(timeouts::TimedOut) => Err(Err(timeouts::TimedOut)),
        };
        let index = done.min(last);
        match outcome {
            Ok(()) => Ok(()),
            Err(Ok(e)) => Err((index, error::statement_error(e))),
            Err(Err(timeouts::TimedOut)) => {
                self.abandoned = true;
                Err((
                    index,
                    match limit {
                        Some(limit) => limit.error(server, &self.shown),
                        None => timeouts::abandoned(server, &self.shown),
                    },
                ))
            }
        }
    }

    /// The first value of the first row of `sql`.
    async fn scalar(&mut self, sql: &str) -> Result<Option<String>, DriverError> {
        Ok(self
            .query(sql)
            .await?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next())
            .flatten())
    }
}

/// The named lock `GET_LOCK` takes, as [`lock::poll`] tries it: each try
/// waits on the server for the whole seconds left, then polls for the rest.
struct UserLock<'d> {
    driver: &'d mut MySqlDriver,
    name: &'d str,
    literal: &'d str,
}

#[async_trait]
impl TryLock for UserLock<'_> {
    async fn try_lock(&mut self, wait: Duration) -> Result<bool, DriverError> {
        let wait = wait.as_secs().min(MAX_LOCK_WAIT_SECONDS);
        self.driver.server_wait = Duration::from_secs(wait);
        let got = self
            .driver
            .scalar(&format!("SELECT GET_LOCK({}, {wait})", self.literal))
            .await;
        self.driver.server_wait = Duration::ZERO;
        Ok(got?.as_deref() == Some("1"))
    }

    async fn holder(&mut self) -> Result<String, DriverError> {
        cairn_core::dialect::mysql::lock::lock_holder(self.driver, self.name).await
    }
}

/// The error for a session whose settings are not those Cairn's SQL needs
/// (`connect` adds which server).
fn precondition_error(why: &str) -> DriverError {
    DriverError::new(
        DriverErrorKind::Connection,
        format!(
            "the session does not keep the settings Cairn relies on: {why}; something between \
             Cairn and the server (a proxy, or a plugin) overrides them: connect to the server \
             directly (docs/engines.md, \"Session preconditions and literals\")"
        ),
    )
}

/// Opens one connection with `ssl` as its TLS options.
async fn open(
    base: &Opts,
    parts: &UrlParts,
    ssl: Option<SslOpts>,
) -> Result<Conn, mysql_async::Error> {
    let mut builder = OptsBuilder::from_opts(base.clone())
        .ssl_opts(ssl)
        .connect_attribute("program_name", "cairn");
    if !parts.prefer_socket_given {
        // Stay on the TCP connection the URL names (and the TLS it asks for).
        builder = builder.prefer_socket(false);
    }
    if !parts.keepalive_given {
        builder = builder.tcp_keepalive(Some(timeouts::KEEPALIVE_IDLE));
    }
    // `MySqlDriver::connect` bounds the whole connection.
    Conn::new(builder).await
}

/// Whole seconds, rounded up, between 1 and a year: what `*_lock_wait_timeout` accept.
fn lock_wait_seconds(timeout: Duration) -> u64 {
    let seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    seconds.clamp(1, MAX_LOCK_WAIT_SECONDS)
}

/// A value as text, as the server sent it.
fn text(value: Value) -> Option<String> {
    Some(match value {
        Value::NULL => return None,
        Value::Bytes(bytes) => String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Date(year, month, day, hour, minute, second, micros) => {
            let mut out =
                format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}");
            if micros > 0 {
                out.push_str(&format!(".{micros:06}"));
            }
            out
        }
        Value::Time(negative, days, hours, minutes, seconds, micros) => {
            let hours = u64::from(days) * 24 + u64::from(hours);
            let mut out = format!(
                "{}{hours:02}:{minutes:02}:{seconds:02}",
                if negative { "-" } else { "" }
            );
            if micros > 0 {
                out.push_str(&format!(".{micros:06}"));
            }
            out
        }
    })
}

#[async_trait]
impl Driver for MySqlDriver {
    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new(false, LockKind::Session)
            .with_run_lock()
            .with_statement_packets()
    }

    async fn confirms_completed(&mut self, error: &DriverError) -> bool {
        error::means_already_done(error)
    }

    async fn lock(&mut self, timeout: Duration) -> Result<(), DriverError> {
        if self.lock_name.is_some() {
            // GET_LOCK nests on one session; Cairn's lock does not.
            return Ok(());
        }
        let name = cairn_core::dialect::mysql::lock::lock_name(self).await?;
        let literal = self.dialect.string_literal(&name);
        let mut user_lock = UserLock {
            driver: self,
            name: &name,
            literal: &literal,
        };
        lock::poll(&mut user_lock, timeout, LOCK_POLL).await?;
        self.lock_name = Some(name);
        Ok(())
    }

    async fn unlock(&mut self) -> Result<(), DriverError> {
        let Some(name) = self.lock_name.take() else {
            return Ok(());
        };
        let literal = self.dialect.string_literal(&name);
        match self.scalar(&format!("SELECT RELEASE_LOCK({literal})")).await?.as_deref() {
            Some("1") => Ok(()),
            _ => Err(DriverError::new(
                DriverErrorKind::Other,
                format!("the migration lock `{name}` was no longer held by this connection when released"),
            )),
        }
    }

    async fn apply_settings(&mut self, settings: &SessionSettings) -> Result<(), DriverError> {
        let statement = self.settings_statement(settings);
        self.execute(&statement).await?;
        self.settings_applied(settings);
        Ok(())
    }

    async fn execute_packet(
        &mut self,
        settings: Option<&SessionSettings>,
        statements: &[&str],
    ) -> Result<(), PacketFailure> {
        let rules = self.dialect.split_rules();
        // Runs of countable statements, each in one packet; a statement
        // whose results cannot be counted goes alone (see `packet`). The
        // settings go first in the first packet.
        let mut chunks: Vec<std::ops::Range<usize>> = Vec::new();
        let mut start = 0;
        while start < statements.len() {
            let mut end = start + 1;
            if packet::countable(statements[start], &rules) {
                while end < statements.len() && packet::countable(statements[end], &rules) {
                    end += 1;
                }
            }
            chunks.push(start..end);
            start = end;
        }
        if let Some(settings) = settings {
            let set = self.settings_statement(settings);
            let previous = self.statement_timeout;
            // The reply limits of this packet follow the new statement timeout.
            self.settings_applied(settings);
            let first = chunks
                .first()
                .filter(|c| packet::countable(statements[c.start], &rules))
                .cloned();
            let mut texts = vec![set.as_str()];
            if let Some(first) = &first {
                texts.extend_from_slice(&statements[first.clone()]);
                chunks.remove(0);
            }
            if let Err((index, error)) = self.send_packet(&texts).await {
                let (at, failed) = match index {
                    0 => {
                        self.statement_timeout = previous;
                        (PacketStep::Settings, None)
                    }
                    i => (PacketStep::Statement(i - 1), Some(i - 1)),
                };
                let last = first.map(|c| c.end - 1);
                return Err(PacketFailure {
                    at,
                    error,
                    last_sent: last.filter(|&last| failed.is_none_or(|f| last > f)),
                });
            }
        }
        for chunk in chunks {
            if let Err((index, error)) = self.send_packet(&statements[chunk.clone()]).await {
                let failed = chunk.start + index;
                return Err(PacketFailure {
                    at: PacketStep::Statement(failed),
                    error,
                    last_sent: Some(chunk.end - 1).filter(|&last| last > failed),
                });
            }
        }
        Ok(())
    }

    fn set_workload(&mut self, workload: Workload) {
        self.workload = workload;
    }

    async fn begin(&mut self) -> Result<(), DriverError> {
        self.execute("START TRANSACTION").await.map(drop)
    }

    async fn commit(&mut self) -> Result<(), DriverError> {
        self.execute("COMMIT").await.map(drop)
    }

    async fn rollback(&mut self) -> Result<(), DriverError> {
        self.execute("ROLLBACK").await.map(drop)
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, DriverError> {
        self.round_trip(|conn| conn.query_drop(sql)).await?;
        Ok(self.conn.affected_rows())
    }

    async fn query(&mut self, sql: &str) -> Result<Rows, DriverError> {
        let rows: Vec<Row> = self.round_trip(|conn| conn.query(sql)).await?;
        Ok(rows
            .into_iter()
            .map(|row| row.unwrap().into_iter().map(text).collect())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_waits_round_up_to_whole_seconds() {
        assert_eq!(lock_wait_seconds(Duration::from_millis(1)), 1);
        assert_eq!(lock_wait_seconds(Duration::ZERO), 1);
        assert_eq!(lock_wait_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(lock_wait_seconds(Duration::from_secs(5)), 5);
        assert_eq!(
            lock_wait_seconds(Duration::from_secs(u64::MAX)),
            MAX_LOCK_WAIT_SECONDS
        );
    }

    #[test]
    fn literal_a_session_that_keeps_no_backslash_escapes_is_refused_with_what_to_do() {
        let why = MysqlDialect::DEFAULT
            .session_preconditions()
            .verify(&[vec![Some("ANSI_QUOTES,NO_BACKSLASH_ESCAPES".to_owned())]])
            .unwrap_err();
        let err = precondition_error(&why);
        assert_eq!(err.kind, DriverErrorKind::Connection);
        assert!(
            err.message.starts_with("the session does not keep the settings Cairn relies on: sql_mode is `ANSI_QUOTES,NO_BACKSLASH_ESCAPES`, Cairn needs it without NO_BACKSLASH_ESCAPES"),
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
    fn values_become_text() {
        assert_eq!(text(Value::NULL), None);
        assert_eq!(text(Value::Bytes(b"abc".to_vec())).as_deref(), Some("abc"));
        assert_eq!(text(Value::Bytes(vec![0xff])).as_deref(), Some("\u{fffd}"));
        assert_eq!(text(Value::Int(-3)).as_deref(), Some("-3"));
        assert_eq!(
            text(Value::Date(2026, 11, 25, 10, 7, 26, 0)).as_deref(),
            Some("2026-11-25 10:07:26")
        );
        assert_eq!(
            text(Value::Time(true, 1, 2, 3, 4, 5)).as_deref(),
            Some("-26:03:04.000005")
        );
    }
}

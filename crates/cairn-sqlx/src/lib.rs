//! Cairn over sqlx: run Cairn's migrations on the sqlx 0.9 pool (or
//! connection) an application already has, for PostgreSQL, MySQL/MariaDB and
//! SQLite, and run an existing `sqlx::migrate!()` set with Cairn.
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = sqlx::SqlitePool::connect("sqlite://app.db?mode=rwc").await?;
//! let migrations = cairn::source::read_dir("migrations".as_ref())?;
//! let migrator = cairn::Migrator::new(migrations, cairn::MigratorOptions::default());
//! let mut driver = cairn_sqlx::SqlxDriver::from_pool(&pool).await?;
//! migrator.up(&mut driver, None).await?;
//! drop(driver); // the pool is the application's again
//! # Ok(()) }
//! ```
//!
//! [`SqlxDriver<DB>`] is a Cairn [`Driver`] for `DB` = [`sqlx::Postgres`]
//! (feature `postgres`), [`sqlx::MySql`] (`mysql`) or [`sqlx::Sqlite`]
//! (`sqlite`, the default). [`migrations`] turns a `sqlx::migrate::Migrator`
//! into Cairn migrations (see its docs, and docs/sqlx.md for switching a
//! project with an existing `_sqlx_migrations` history).
//!
//! # Design
//!
//! - **One connection.** Cairn's lock, history read and migrations share one
//!   session, so [`SqlxDriver::from_pool`] takes one connection out of the
//!   pool for as long as the driver lives; the rest of the pool stays free
//!   for the application.
//! - **Back to the pool, or closed.** On PostgreSQL and MySQL the session
//!   holds what Cairn set (`lock_timeout`, `statement_timeout`, `sql_mode`
//!   without `NO_BACKSLASH_ESCAPES`) and perhaps its session lock, which must
//!   never outlive the run inside an application's pool: when the driver is
//!   dropped, that connection is closed, not returned, and the pool opens a
//!   fresh one when it needs it. A SQLite connection holds no lock of Cairn's
//!   (its run lock is a file) and its busy timeout is restored when the run
//!   ends, so it goes back to the pool — which matters for
//!   `sqlite::memory:`, whose database lives only as long as a connection of
//!   its pool — unless a transaction was left open (a cancelled run) or a
//!   reply never came, when it is closed as well.
//! - **Cairn's locks, not sqlx's.** sqlx's own `Migrate::lock` waits forever
//!   (PostgreSQL `pg_advisory_lock`, MySQL `GET_LOCK(name, -1)`) or does
//!   nothing (SQLite). This driver takes the same locks as Cairn's own
//!   drivers, with the same keys, so a run through sqlx and one through the
//!   `cairn` CLI exclude each other: PostgreSQL polls
//!   `pg_try_advisory_lock` on the key of `'cairn:' || current_database()`,
//!   MySQL `GET_LOCK('cairn:<database>', …)`, SQLite locks the file
//!   `<database>-cairn-backfill.lock` beside the database; each waits at
//!   most the migrator's lock wait and then names who holds it.
//! - **Carry, never decide.** Every statement goes through
//!   [`sqlx::raw_sql`]: no prepared statements (most DDL cannot be
//!   prepared), one statement per call, values read back as text (PostgreSQL
//!   and MySQL send text for unprepared statements; SQLite values are
//!   rendered as Cairn's SQLite driver renders them). Transactions are
//!   `BEGIN` (SQLite `BEGIN IMMEDIATE`, which takes the write lock at once)
//!   and `COMMIT`/`ROLLBACK` sent as statements.
//! - **Session preconditions** of the dialect are established and checked
//!   right after the connection is taken, and again before each migration,
//!   as Cairn's own drivers do.
//! - **Replies are bounded** on the server engines as
//!   [`cairn::timeouts`] decides (Cairn's own round trips 60 s by default,
//!   see [`SqlxDriver::with_read_timeout`]); when a reply does not come, the
//!   driver abandons the connection and every later call fails at once.
//!
//! The session's other settings are the pool's: sqlx's MySQL connections add
//! `PIPES_AS_CONCAT` and `NO_ENGINE_SUBSTITUTION` to `sql_mode` and set
//! `time_zone` by default, and migrations run under them, as the
//! application's own queries do.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
compile_error!(
    "cairn-sqlx drives no engine without a feature: enable `postgres`, `mysql` or `sqlite` (the default)"
);

mod error;
mod migrate;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use cairn::driver::Rows;
use cairn::timeouts::{self, Limit, Setting, Timeouts};
use cairn::{Capabilities, Dialect, Driver, DriverError, SessionSettings, Workload};
use sqlx::pool::PoolConnection;
use sqlx::Pool;

pub use migrate::{ensure_adopted, migrations, migrations_from};
#[cfg(feature = "mysql")]
pub use mysql::MySqlSession;
#[cfg(feature = "postgres")]
pub use postgres::PgSession;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteSession;

/// A future of the engine-specific round trips, boxed.
#[doc(hidden)]
pub type Reply<'c, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

mod sealed {
    /// Only the engines of this crate are [`super::Backend`]s.
    pub trait Sealed {}
}

/// An sqlx database Cairn can migrate: [`sqlx::Postgres`], [`sqlx::MySql`]
/// and [`sqlx::Sqlite`], each behind the feature of its name. Sealed: its
/// items are how [`SqlxDriver`] speaks to each engine, not an API.
#[async_trait]
pub trait Backend: sqlx::Database + sealed::Sealed {
    /// What the driver learnt about its session when it took it.
    #[doc(hidden)]
    type Session: Default + Send + Sync + fmt::Debug;

    /// The engine's name in messages: "PostgreSQL".
    #[doc(hidden)]
    const SERVER: &'static str;

    /// The driver's name in Cairn's messages.
    #[doc(hidden)]
    const DRIVER_NAME: &'static str;

    /// Whether replies are bounded (a server over a network).
    #[doc(hidden)]
    const NETWORK: bool;

    /// `BEGIN`, or what takes the engine's write lock at once.
    #[doc(hidden)]
    const BEGIN: &'static str;

    /// Runs one statement without preparing it; the rows it affected.
    #[doc(hidden)]
    fn execute<'c>(conn: &'c mut Self::Connection, sql: &'c str) -> Reply<'c, u64>;

    /// Runs one query without preparing it; every value as text.
    #[doc(hidden)]
    fn fetch<'c>(conn: &'c mut Self::Connection, sql: &'c str) -> Reply<'c, Rows>;

    /// The kind and code Cairn gives a database error of this engine.
    #[doc(hidden)]
    fn classify(error: &dyn sqlx::error::DatabaseError) -> (cairn::DriverErrorKind, String);

    /// The dialect of the product the session is connected to.
    #[doc(hidden)]
    fn dialect(session: &Self::Session) -> &dyn Dialect;

    /// The engine's capabilities (always with the run lock).
    #[doc(hidden)]
    fn capabilities() -> Capabilities;

    /// Which session, in messages: "database `app` (sqlx connection, pid 42)".
    #[doc(hidden)]
    fn describe(session: &Self::Session) -> String;

    /// Reads the session (version, ids) and establishes its preconditions.
    #[doc(hidden)]
    async fn prepare(driver: &mut SqlxDriver<Self>) -> Result<(), DriverError>;

    /// [`Driver::lock`].
    #[doc(hidden)]
    async fn lock(driver: &mut SqlxDriver<Self>, timeout: Duration) -> Result<(), DriverError>;

    /// [`Driver::unlock`].
    #[doc(hidden)]
    async fn unlock(driver: &mut SqlxDriver<Self>) -> Result<(), DriverError>;

    /// [`Driver::apply_settings`].
    #[doc(hidden)]
    async fn apply_settings(
        driver: &mut SqlxDriver<Self>,
        settings: &SessionSettings,
    ) -> Result<(), DriverError>;

    /// [`Driver::confirms_completed`].
    #[doc(hidden)]
    async fn confirms_completed(driver: &mut SqlxDriver<Self>, error: &DriverError) -> bool;

    /// Whether a pooled connection may go back to its pool when the driver is
    /// dropped (else it is closed).
    #[doc(hidden)]
    fn may_return(driver: &SqlxDriver<Self>) -> bool;
}

/// The connection a driver runs on: one of a pool's, or one it owns.
enum Handle<DB: sqlx::Database> {
    Pooled(PoolConnection<DB>),
    Owned(DB::Connection),
}

impl<DB: sqlx::Database> Handle<DB> {
    fn get(&mut self) -> &mut DB::Connection {
        match self {
            Handle::Pooled(conn) => conn,
            Handle::Owned(conn) => conn,
        }
    }
}

/// A Cairn [`Driver`] on one sqlx connection to PostgreSQL, MySQL/MariaDB or
/// SQLite (see the [crate docs](crate) for how it behaves).
pub struct SqlxDriver<DB: Backend> {
    conn: Handle<DB>,
    session: DB::Session,
    in_transaction: bool,
    timeouts: Timeouts,
    workload: Workload,
    /// The statement timeout that bounds any statement on the server.
    statement_timeout: Option<Duration>,
    /// How long the statement being sent waits on purpose (MySQL `GET_LOCK`).
    server_wait: Duration,
    /// Set when a reply did not come in time: nothing more is sent.
    abandoned: bool,
}

impl<DB: Backend> fmt::Debug for SqlxDriver<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlxDriver")
            .field("engine", &DB::SERVER)
            .field(
                "connection",
                &match self.conn {
                    Handle::Pooled(_) => "pooled",
                    Handle::Owned(_) => "owned",
                },
            )
            .field("session", &self.session)
            .field("in_transaction", &self.in_transaction)
            .finish_non_exhaustive()
    }
}

impl<DB: Backend> SqlxDriver<DB> {
    /// Takes one connection out of `pool` for Cairn, and prepares its
    /// session. The connection goes back to the pool, or is closed, when the
    /// driver is dropped (see the [crate docs](crate)).
    pub async fn from_pool(pool: &Pool<DB>) -> Result<Self, DriverError> {
        let conn = pool.acquire().await.map_err(|e| {
            let mut error = error::map::<DB>(e).context(format_args!(
                "cannot take a {} connection from the sqlx pool for Cairn",
                DB::SERVER
            ));
            error.kind = cairn::DriverErrorKind::Connection;
            error
        })?;
        Self::open(Handle::Pooled(conn)).await
    }

    /// A driver on a connection already taken from a pool.
    pub async fn from_pool_connection(conn: PoolConnection<DB>) -> Result<Self, DriverError> {
        Self::open(Handle::Pooled(conn)).await
    }

    /// A driver that owns `conn` (`sqlx::PgConnection::connect(url)` and
    /// the like); it is closed with the driver.
    pub async fn from_connection(conn: DB::Connection) -> Result<Self, DriverError> {
        Self::open(Handle::Owned(conn)).await
    }

    async fn open(conn: Handle<DB>) -> Result<Self, DriverError> {
        let mut driver = SqlxDriver {
            conn,
            session: DB::Session::default(),
            in_transaction: false,
            timeouts: Timeouts::default(),
            workload: Workload::Bookkeeping,
            statement_timeout: None,
            server_wait: Duration::ZERO,
            abandoned: false,
        };
        DB::prepare(&mut driver).await.map_err(|mut e| {
            e.kind = cairn::DriverErrorKind::Connection;
            e.context(format_args!(
                "took a {} connection from sqlx but cannot prepare it for Cairn",
                DB::SERVER
            ))
        })?;
        tracing::debug!(session = ?driver.session, "cairn-sqlx: connection prepared");
        Ok(driver)
    }

    /// The same driver with Cairn's own round trips (the history, the lock,
    /// transactions) waiting at most `timeout` for their reply instead of
    /// 60 s; `None` waits forever. A user's statement waits its migration's
    /// statement timeout (plus 10 s) when it has one, else as long as it
    /// runs, or `timeout` if that is longer. SQLite is never bounded.
    pub fn with_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeouts.read = Setting::Explicit(timeout.unwrap_or(Duration::ZERO));
        self
    }

    /// The session as this driver sees it: `PgSession` (pid, database),
    /// `MySqlSession` (connection id, database) or `SqliteSession` (file).
    pub fn session(&self) -> &DB::Session {
        &self.session
    }

    /// For the engines: the session learnt in [`Backend::prepare`].
    pub(crate) fn session_mut(&mut self) -> &mut DB::Session {
        &mut self.session
    }

    /// For the engines: the statement timeout that bounds any statement.
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) fn set_statement_timeout(&mut self, timeout: Option<Duration>) {
        self.statement_timeout = timeout;
    }

    /// For the engines: how long the next statement waits on purpose.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    pub(crate) fn set_server_wait(&mut self, wait: Duration) {
        self.server_wait = wait;
    }

    fn reply_limit(&self) -> Option<Limit> {
        if !DB::NETWORK {
            return None;
        }
        self.timeouts
            .reply_limit(self.workload, self.statement_timeout)
            .map(|limit| limit.extended(self.server_wait))
    }

    /// Before a round trip: fails at once on an abandoned connection, else
    /// the limit of the wait for its reply.
    fn start_trip(&self) -> Result<Option<Limit>, DriverError> {
        if self.abandoned {
            return Err(timeouts::abandoned(DB::SERVER, &self.target()));
        }
        Ok(self.reply_limit())
    }

    /// After a round trip: its reply, or the connection abandoned when the
    /// reply did not come within `limit`.
    fn end_trip<T>(
        &mut self,
        reply: Result<Result<T, sqlx::Error>, timeouts::TimedOut>,
        limit: Option<Limit>,
    ) -> Result<T, DriverError> {
        match reply {
            Ok(reply) => reply.map_err(error::map::<DB>),
            Err(timeouts::TimedOut) => {
                self.abandoned = true;
                Err(match limit {
                    Some(limit) => limit.error(DB::SERVER, &self.target()),
                    None => timeouts::abandoned(DB::SERVER, &self.target()),
                })
            }
        }
    }

    fn target(&self) -> String {
        DB::describe(&self.session)
    }

    /// For the engines: runs one statement; the rows it affected.
    pub(crate) async fn run(&mut self, sql: &str) -> Result<u64, DriverError> {
        let limit = self.start_trip()?;
        let reply =
            timeouts::within(limit.map(|l| l.after), DB::execute(self.conn.get(), sql)).await;
        self.end_trip(reply, limit)
    }

    /// For the engines: runs one query; its rows as text.
    pub(crate) async fn rows(&mut self, sql: &str) -> Result<Rows, DriverError> {
        let limit = self.start_trip()?;
        let reply = timeouts::within(limit.map(|l| l.after), DB::fetch(self.conn.get(), sql)).await;
        self.end_trip(reply, limit)
    }

    /// For the engines: the first value of the first row of `sql`.
    pub(crate) async fn scalar(&mut self, sql: &str) -> Result<Option<String>, DriverError> {
        Ok(self
            .rows(sql)
            .await?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next())
            .flatten())
    }
}

impl<DB: Backend> Drop for SqlxDriver<DB> {
    fn drop(&mut self) {
        let keep = DB::may_return(self) && !self.abandoned && !self.in_transaction;
        if let Handle::Pooled(conn) = &mut self.conn {
            if !keep {
                conn.close_on_drop();
            }
        }
    }
}

#[async_trait]
impl<DB: Backend> Driver for SqlxDriver<DB> {
    fn dialect(&self) -> &dyn Dialect {
        DB::dialect(&self.session)
    }

    fn capabilities(&self) -> Capabilities {
        DB::capabilities()
    }

    fn driver_name(&self) -> &'static str {
        DB::DRIVER_NAME
    }

    async fn lock(&mut self, timeout: Duration) -> Result<(), DriverError> {
        DB::lock(self, timeout).await
    }

    async fn unlock(&mut self) -> Result<(), DriverError> {
        DB::unlock(self).await
    }

    async fn confirms_completed(&mut self, error: &DriverError) -> bool {
        DB::confirms_completed(self, error).await
    }

    fn set_workload(&mut self, workload: Workload) {
        self.workload = workload;
    }

    async fn apply_settings(&mut self, settings: &SessionSettings) -> Result<(), DriverError> {
        DB::apply_settings(self, settings).await
    }

    async fn begin(&mut self) -> Result<(), DriverError> {
        self.run(DB::BEGIN).await?;
        self.in_transaction = true;
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), DriverError> {
        let done = self.run("COMMIT").await.map(drop);
        // Whatever the outcome, the transaction is over (or the session is gone).
        self.in_transaction = false;
        done
    }

    async fn rollback(&mut self) -> Result<(), DriverError> {
        let done = self.run("ROLLBACK").await.map(drop);
        self.in_transaction = false;
        match done {
            // SQLite refuses a ROLLBACK outside a transaction (or after it
            // rolled one back itself); as the contract says, it is harmless.
            Err(e) if !DB::NETWORK && e.message.contains("no transaction is active") => Ok(()),
            done => done,
        }
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, DriverError> {
        self.run(sql).await
    }

    async fn query(&mut self, sql: &str) -> Result<Rows, DriverError> {
        self.rows(sql).await
    }
}

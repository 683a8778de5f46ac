//! The `Driver` trait: what Cairn needs from a database, and nothing more.
//!
//! The algorithm (lock, read history, plan, apply, record) lives once, in
//! [`crate::migrator`]. A driver supplies only primitives: take and release the
//! migration lock, run one statement, run a query whose values come back as
//! text, and open, commit or roll back a transaction — all on **one
//! connection**, so that the lock, the history read and the migrations share it.
//!
//! Why so small? Every piece of SQL Cairn sends for its own bookkeeping is
//! rendered by the core ([`crate::history::HistorySql`]), so a driver decides
//! *how* to run SQL on its engine, never *what* to run, and a new driver cannot
//! drift from the others. Values come back as text because every engine can
//! produce text and the core parses it in one place.
//!
//! The trait is object safe: the CLI picks a `Box<dyn Driver>` from a URL at run time.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::dialect::Dialect;

/// What an engine can do, which decides how the migrator runs a migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// DDL can be rolled back (PostgreSQL, SQLite). Without it (MySQL/MariaDB
    /// commit DDL implicitly), the migrator writes a `running` row first and
    /// records statement progress, so a failure leaves a precise `failed` row.
    pub transactional_ddl: bool,
    /// How concurrent runners are kept apart.
    pub lock: LockKind,
}

impl Capabilities {
    /// Capabilities from their parts.
    pub fn new(transactional_ddl: bool, lock: LockKind) -> Self {
        Capabilities {
            transactional_ddl,
            lock,
        }
    }
}

/// How a driver keeps concurrent runners apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockKind {
    /// A lock held by the connection for the whole run (PostgreSQL advisory
    /// lock, MySQL `GET_LOCK`): [`Driver::lock`] blocks other runners.
    Session,
    /// The engine's write lock serialises transactions (SQLite `BEGIN
    /// IMMEDIATE`); [`Driver::lock`] takes a lock of the driver's own that
    /// ends with the process (SQLite: a file lock), so whole runs are
    /// serialised as with a session lock. The migrator still re-checks the
    /// history inside each migration's transaction and skips what another
    /// runner (an older Cairn without the run lock) applied meanwhile.
    WriteTransaction,
}

/// Timeouts that guard the application from a migration stuck behind a lock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionSettings {
    /// How long one statement may wait for a lock (PostgreSQL `lock_timeout`,
    /// MySQL `lock_wait_timeout`, SQLite busy timeout).
    pub lock_timeout: Option<Duration>,
    /// How long one statement may run (PostgreSQL `statement_timeout`, MySQL
    /// `max_execution_time` for reads); `None` leaves the server's setting.
    pub statement_timeout: Option<Duration>,
}

/// Whose statements a driver is about to send, so that it can bound how long
/// it waits for their replies (see [`crate::timeouts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Workload {
    /// Cairn's own round trips: the history, the lock, transactions. They are
    /// short, so a reply that does not come means the server is gone.
    #[default]
    Bookkeeping,
    /// A user's statements: a migration's, a backfill's batches. They may
    /// legitimately run for hours.
    User,
}

/// What kind of failure a driver saw, so the migrator can react.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DriverErrorKind {
    /// The connection could not be made or was lost.
    Connection,
    /// A statement waited too long for a lock held by another session
    /// (worth retrying with backoff).
    LockTimeout,
    /// The migration lock is held by another runner (see the message for who).
    LockHeld,
    /// The database rejected a statement.
    Statement,
    /// Anything else.
    Other,
}

/// A driver's error: a kind, the database's message and, if any, its code.
///
/// Drivers must never put a password into the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverError {
    /// What kind of failure.
    pub kind: DriverErrorKind,
    /// The database's own message.
    pub message: String,
    /// SQLSTATE or the engine's error code, when there is one.
    pub code: Option<String>,
}

impl DriverError {
    /// An error of `kind` with `message`.
    pub fn new(kind: DriverErrorKind, message: impl Into<String>) -> Self {
        DriverError {
            kind,
            message: message.into(),
            code: None,
        }
    }

    /// The same error with an engine code attached.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} ({code})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DriverError {}

/// Rows of a query, every value as text (`None` for NULL).
pub type Rows = Vec<Vec<Option<String>>>;

/// A connection to one database, as the migrator needs it.
///
/// Contract (checked by `cairn-testkit`'s conformance suite):
/// - every method runs on the same connection;
/// - [`Driver::execute`] runs exactly one statement and returns the rows it
///   affected; outside [`Driver::begin`]…[`Driver::commit`] it autocommits;
/// - [`Driver::begin`] on an engine with [`LockKind::WriteTransaction`] takes
///   the write lock at once (SQLite `BEGIN IMMEDIATE`), waiting at most the
///   lock timeout;
/// - [`Driver::lock`] waits at most `timeout` and then fails with
///   [`DriverErrorKind::LockHeld`], saying who holds the lock;
/// - errors never contain a password.
#[async_trait]
pub trait Driver: Send + fmt::Debug {
    /// The dialect of the product this driver is connected to, with the
    /// flavour and server version it detected once, at connect. The family
    /// (which `up.<engine>.sql` override applies) is `dialect().engine()`.
    fn dialect(&self) -> &dyn Dialect;

    /// What the engine can do.
    fn capabilities(&self) -> Capabilities;

    /// The schema (PostgreSQL) or database (MySQL) the history table lives in
    /// when the user names none; `None` for SQLite.
    fn default_schema(&self) -> Option<String> {
        None
    }

    /// Takes the migration lock for this connection, waiting at most `timeout`:
    /// it keeps other runners out for the whole run (`up`, `down`, `redo`,
    /// `repair`, `baseline`) and must end with the process, even by `kill -9`.
    /// A driver with [`LockKind::WriteTransaction`] has no session lock and
    /// takes one of its own (SQLite locks a file beside the database); it may
    /// return `Ok(())` at once for a database no other process can open.
    async fn lock(&mut self, timeout: Duration) -> Result<(), DriverError>;

    /// Releases the migration lock.
    async fn unlock(&mut self) -> Result<(), DriverError>;

    /// Takes the lock that keeps other runners out while backfills run
    /// across many transactions, waiting at most `timeout`; fails with
    /// [`DriverErrorKind::LockHeld`] saying who holds it.
    ///
    /// With [`LockKind::Session`] the migration lock already covers the whole
    /// run, so the default does nothing. A [`LockKind::WriteTransaction`]
    /// engine has no lock between transactions and must provide one that
    /// ends with the process (SQLite locks a file beside the database), so
    /// that a backfill interrupted by `kill -9` can be resumed at once. The
    /// migrator itself takes [`Driver::lock`] for every run, which on SQLite
    /// is this same lock, and so no longer calls this method.
    async fn lock_backfill(&mut self, timeout: Duration) -> Result<(), DriverError> {
        let _ = timeout;
        Ok(())
    }

    /// Releases the lock of [`Driver::lock_backfill`].
    async fn unlock_backfill(&mut self) -> Result<(), DriverError> {
        Ok(())
    }

    /// Whether `error`, from running again a statement that an interrupted
    /// run may or may not have completed, says the statement's effect is
    /// already there: what it creates exists (a table, column, index,
    /// constraint, view, trigger, routine), or what it drops is gone. Only
    /// errors that can mean nothing else count; a duplicate row does not
    /// (the application may have written it). The migrator asks this only for
    /// the one statement in doubt (see [`crate::recovery`]). The default
    /// confirms nothing.
    async fn confirms_completed(&mut self, error: &DriverError) -> bool {
        let _ = error;
        false
    }

    /// Says whose statements follow, until the next call: the migrator calls
    /// it with [`Workload::User`] before a migration's or a backfill's
    /// statements and with [`Workload::Bookkeeping`] after them; a driver
    /// starts in [`Workload::Bookkeeping`]. A driver over a network uses it to
    /// bound each wait for a reply (see [`crate::timeouts`]); the default
    /// ignores it.
    fn set_workload(&mut self, workload: Workload) {
        let _ = workload;
    }

    /// Applies lock and statement timeouts to the session.
    async fn apply_settings(&mut self, settings: &SessionSettings) -> Result<(), DriverError>;

    /// Opens a transaction.
    async fn begin(&mut self) -> Result<(), DriverError>;

    /// Commits the open transaction.
    async fn commit(&mut self) -> Result<(), DriverError>;

    /// Rolls the open transaction back.
    async fn rollback(&mut self) -> Result<(), DriverError>;

    /// Runs one statement; returns the number of rows it affected.
    async fn execute(&mut self, sql: &str) -> Result<u64, DriverError>;

    /// Runs statements in order, stopping at the first that fails and
    /// returning its index with the error. The default runs them one by one
    /// with [`Driver::execute`]; a driver may send them together (one round
    /// trip, one hop to its thread) as long as the outcome is the same.
    async fn execute_many(&mut self, statements: &[&str]) -> Result<(), (usize, DriverError)> {
        for (index, statement) in statements.iter().enumerate() {
            self.execute(statement).await.map_err(|e| (index, e))?;
        }
        Ok(())
    }

    /// Runs one query; returns its rows with every value as text.
    async fn query(&mut self, sql: &str) -> Result<Rows, DriverError>;
}

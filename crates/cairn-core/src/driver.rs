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
//! Why are the locks optional? A driver for an engine Cairn does not know yet
//! may have no way to keep two runners apart, and a wrapper around a driver
//! may forget to forward the lock. Either must not pass silently for a lock
//! that does nothing: a driver states in its [`Capabilities`] that it takes
//! the run lock, the default [`Driver::lock`] fails with
//! [`DriverErrorKind::Unsupported`] naming the driver and what to implement,
//! and the migrator refuses a driver without the run lock before it changes
//! anything. [`crate::lock`] holds the polling loop and the file lock that
//! the bundled drivers use, for an adapter to reuse.
//!
//! The core trusts nothing a driver returns that it would index with: the
//! index [`Driver::execute_many`] returns is checked by [`checked_execute_many`].
//!
//! The trait is object safe: the CLI picks a `Box<dyn Driver>` from a URL at run time.

use std::fmt;
use std::sync::Arc;
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
    /// Whether the driver implements the run lock, [`Driver::lock`] and
    /// [`Driver::unlock`]. The migrator refuses to run on a driver without it,
    /// before it changes anything.
    pub run_lock: bool,
    /// Whether the driver implements [`Driver::execute_packet`] so that a
    /// migration run outside a transaction sends its statements and Cairn's
    /// progress writes together, in as few round trips as the driver can
    /// (MySQL/MariaDB: multi-statement packets). Without it (the default)
    /// the migrator sends them one by one.
    pub statement_packets: bool,
}

impl Capabilities {
    /// Capabilities from their parts, without the run lock: a driver that
    /// implements [`Driver::lock`] says so with [`Capabilities::with_run_lock`].
    pub fn new(transactional_ddl: bool, lock: LockKind) -> Self {
        Capabilities {
            transactional_ddl,
            lock,
            run_lock: false,
            statement_packets: false,
        }
    }

    /// The same capabilities, stating that the driver implements
    /// [`Driver::execute_packet`] and wants the migrator to use it.
    pub fn with_statement_packets(mut self) -> Self {
        self.statement_packets = true;
        self
    }

    /// The same capabilities, stating that the driver implements the run
    /// lock ([`Driver::lock`] and [`Driver::unlock`]).
    pub fn with_run_lock(mut self) -> Self {
        self.run_lock = true;
        self
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
    /// The driver does not implement what was asked (an optional method it
    /// kept the default of); the message names the driver and what to implement.
    Unsupported,
    /// The database rejected a statement.
    Statement,
    /// Anything else.
    Other,
}

/// A driver's error: a kind, the database's message, its code if any, and
/// the client's own error as its [`source`](std::error::Error::source).
///
/// Drivers must never put a password into the message, nor attach a source
/// whose text holds one. Two errors are equal when their kind, message and
/// code are: the source is not compared.
#[derive(Clone, Debug)]
pub struct DriverError {
    /// What kind of failure.
    pub kind: DriverErrorKind,
    /// The database's own message.
    pub message: String,
    /// SQLSTATE or the engine's error code, when there is one.
    pub code: Option<String>,
    /// The client's error this one was made from.
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl DriverError {
    /// An error of `kind` with `message`.
    pub fn new(kind: DriverErrorKind, message: impl Into<String>) -> Self {
        DriverError {
            kind,
            message: message.into(),
            code: None,
            source: None,
        }
    }

    /// The same error with an engine code attached.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The same error with the client's error it was made from as its source.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The same error with what was being done put in front of its message:
    /// `"<what>: <message>"`. Kind, code and source stay.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// The error the default of an optional [`Driver`] method returns:
    /// `driver` (its type name) does not implement `method`; `todo` says what to do.
    pub fn unsupported(driver: &str, method: &str, todo: &str) -> Self {
        DriverError::new(
            DriverErrorKind::Unsupported,
            format!("driver `{driver}` does not implement Driver::{method}: {todo}"),
        )
    }
}

impl PartialEq for DriverError {
    fn eq(&self, other: &Self) -> bool {
        (self.kind, &self.message, &self.code) == (other.kind, &other.message, &other.code)
    }
}

impl Eq for DriverError {}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} ({code})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

/// Rows of a query, every value as text (`None` for NULL).
pub type Rows = Vec<Vec<Option<String>>>;

/// A connection to one database, as the migrator needs it.
///
/// Contract (checked by `cairn-testkit`'s conformance suite; every
/// precondition is spelled out in docs/driver-guide.md):
/// - every method runs on the same connection;
/// - [`Driver::execute`] runs exactly one statement and returns the rows it
///   affected; outside [`Driver::begin`]…[`Driver::commit`] it autocommits;
/// - [`Driver::execute_many`] runs statements in order and stops at the first
///   that fails, returning its index within the batch (the core checks it);
/// - [`Driver::begin`] on an engine with [`LockKind::WriteTransaction`] takes
///   the write lock at once (SQLite `BEGIN IMMEDIATE`), waiting at most the
///   lock timeout;
/// - a driver with [`Capabilities::run_lock`] implements [`Driver::lock`],
///   which waits at most `timeout` and then fails with
///   [`DriverErrorKind::LockHeld`], saying who holds the lock;
/// - errors never contain a password.
#[async_trait]
pub trait Driver: Send + fmt::Debug {
    /// The dialect of the product this driver is connected to, with the
    /// flavour and server version it detected once, at connect. The family
    /// (which `up.<engine>.sql` override applies) is `dialect().engine()`.
    fn dialect(&self) -> &dyn Dialect;

    /// What the engine can do, and which optional methods the driver implements.
    fn capabilities(&self) -> Capabilities;

    /// The driver's name in messages; the default is its type's name.
    fn driver_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// Takes the run lock for this connection, waiting at most `timeout`:
    /// it keeps other runners out for the whole run (`up`, `down`, `redo`,
    /// `repair`, `baseline`, and the backfills they run) and must end with
    /// the process, even by `kill -9`. With [`LockKind::Session`] it is a lock
    /// of the session (see [`crate::lock::poll`]); with
    /// [`LockKind::WriteTransaction`] the engine has no lock between
    /// transactions and the driver takes one of its own (SQLite: a
    /// [`crate::lock::FileLock`] beside the database); it may return `Ok(())`
    /// at once for a database no other process can open. Taking it again
    /// while held succeeds.
    ///
    /// Optional: a driver that implements it says so with
    /// [`Capabilities::with_run_lock`]. The default fails with
    /// [`DriverErrorKind::Unsupported`], naming the driver.
    async fn lock(&mut self, timeout: Duration) -> Result<(), DriverError> {
        let _ = timeout;
        Err(DriverError::unsupported(
            self.driver_name(),
            "lock",
            "Cairn keeps concurrent runs apart with the run lock and runs nothing without it; implement Driver::lock and Driver::unlock, and return Capabilities::with_run_lock() from Driver::capabilities (docs/driver-guide.md, \"Locks\")",
        ))
    }

    /// Releases the run lock of [`Driver::lock`]. The default fails with
    /// [`DriverErrorKind::Unsupported`], naming the driver.
    async fn unlock(&mut self) -> Result<(), DriverError> {
        Err(DriverError::unsupported(
            self.driver_name(),
            "unlock",
            "a driver that takes the run lock releases it here; implement it with Driver::lock (docs/driver-guide.md, \"Locks\")",
        ))
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
    /// returning its index (0-based, within `statements`) with the error. The
    /// default runs them one by one with [`Driver::execute`]; a driver may
    /// send them together (one round trip, one hop to its thread) as long as
    /// the outcome is the same. The core calls it through
    /// [`checked_execute_many`], which turns an index outside the batch into
    /// an error naming the driver instead of trusting it.
    async fn execute_many(&mut self, statements: &[&str]) -> Result<(), (usize, DriverError)> {
        for (index, statement) in statements.iter().enumerate() {
            self.execute(statement).await.map_err(|e| (index, e))?;
        }
        Ok(())
    }

    /// Runs one query; returns its rows with every value as text.
    async fn query(&mut self, sql: &str) -> Result<Rows, DriverError>;

    /// Applies `settings` (when given, as [`Driver::apply_settings`] does),
    /// then runs `statements` in order outside a transaction, each committed
    /// as [`Driver::execute`] would, stopping at the first that fails: the
    /// migrator's path for engines without transactional DDL when the
    /// driver states [`Capabilities::statement_packets`]. The statements mix
    /// a migration's own with Cairn's history writes, each write right after
    /// the statement it records, so whatever prefix the server ran, the
    /// history on the server says exactly how far it got.
    ///
    /// A driver sends them in as few round trips as it can while keeping
    /// that outcome (MySQL: one multi-statement `COM_QUERY`, split before a
    /// statement whose results it could not count). On failure it returns
    /// the first step it could not confirm as completed: with a
    /// [`DriverErrorKind::Connection`] error that step, and any after it,
    /// may or may not have run on the server ([`PacketFailure::last_sent`]
    /// says how far the round trip went). The default applies the
    /// settings and runs the statements one by one with [`Driver::execute`].
    async fn execute_packet(
        &mut self,
        settings: Option<&SessionSettings>,
        statements: &[&str],
    ) -> Result<(), PacketFailure> {
        if let Some(settings) = settings {
            self.apply_settings(settings)
                .await
                .map_err(|error| PacketFailure {
                    at: PacketStep::Settings,
                    error,
                    last_sent: None,
                })?;
        }
        for (index, statement) in statements.iter().enumerate() {
            self.execute(statement)
                .await
                .map_err(|error| PacketFailure {
                    at: PacketStep::Statement(index),
                    error,
                    last_sent: None,
                })?;
        }
        Ok(())
    }
}

/// Where a [`Driver::execute_packet`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketStep {
    /// Applying the session settings; no statement ran.
    Settings,
    /// Statement `.0` (0-based, within the packet's statements): the ones
    /// before it completed.
    Statement(usize),
}

/// A failed [`Driver::execute_packet`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketFailure {
    /// The first step not confirmed as completed.
    pub at: PacketStep,
    /// What the driver saw there.
    pub error: DriverError,
    /// The last statement (0-based) sent in the same round trip as the
    /// failed step, when that is a later one: after a lost connection the
    /// server may have run any statement up to it. `None` when nothing after
    /// the failed step was sent (the outcome of every later step is known:
    /// it did not run).
    pub last_sent: Option<usize>,
}

/// The error for a driver whose [`Capabilities`] state no run lock: the
/// migrator returns it before it changes anything.
pub fn no_run_lock(driver: &str) -> DriverError {
    DriverError::new(
        DriverErrorKind::Unsupported,
        format!(
            "driver `{driver}` states no run lock in its Capabilities, and Cairn runs nothing without one (it keeps concurrent runs apart); nothing was changed. Implement Driver::lock and Driver::unlock in the driver and return Capabilities::with_run_lock() from Driver::capabilities (docs/driver-guide.md, \"Locks\")"
        ),
    )
}

/// A failed [`Driver::execute_many`], as [`checked_execute_many`] checked it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchFailure {
    /// The statement that failed, 0-based within the batch; `None` when the
    /// driver returned an index outside the batch (a bug of the driver, which
    /// `error` explains), so which statement failed is unknown.
    pub index: Option<usize>,
    /// The driver's error; for a bad index, one that names the driver and
    /// has the driver's own error as its source.
    pub error: DriverError,
}

/// Runs `statements` with [`Driver::execute_many`] and checks the index it
/// returns on failure, so that a buggy driver cannot make the core index
/// past the batch.
pub async fn checked_execute_many(
    driver: &mut dyn Driver,
    statements: &[&str],
) -> Result<(), BatchFailure> {
    let Err((index, error)) = driver.execute_many(statements).await else {
        return Ok(());
    };
    if index < statements.len() {
        return Err(BatchFailure {
            index: Some(index),
            error,
        });
    }
    Err(BatchFailure {
        index: None,
        error: bad_index(driver.driver_name(), index, statements.len(), error),
    })
}

/// The error for an index outside a batch of `count` statements.
fn bad_index(driver: &str, index: usize, count: usize, error: DriverError) -> DriverError {
    let valid = match count {
        0 => "no index at all: the batch was empty".to_owned(),
        1 => "index 0".to_owned(),
        n => format!("an index from 0 to {}", n - 1),
    };
    DriverError {
        kind: error.kind,
        message: format!(
            "driver `{driver}` failed a batch of {count} statement(s) but named statement index {index}, outside the batch, so which statement failed is unknown (a bug in the driver: its Driver::execute_many must return {valid}); the driver's error: {}",
            error.message
        ),
        code: error.code.clone(),
        source: Some(Arc::new(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A driver whose `execute_many` fails with a fixed index; nothing else is implemented.
    #[derive(Debug)]
    struct Liar(usize);

    #[async_trait]
    impl Driver for Liar {
        fn dialect(&self) -> &dyn crate::dialect::Dialect {
            crate::dialect::for_engine(crate::Engine::Sqlite)
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::new(true, LockKind::WriteTransaction)
        }
        async fn apply_settings(&mut self, _: &SessionSettings) -> Result<(), DriverError> {
            Ok(())
        }
        async fn begin(&mut self) -> Result<(), DriverError> {
            Ok(())
        }
        async fn commit(&mut self) -> Result<(), DriverError> {
            Ok(())
        }
        async fn rollback(&mut self) -> Result<(), DriverError> {
            Ok(())
        }
        async fn execute(&mut self, _: &str) -> Result<u64, DriverError> {
            Ok(0)
        }
        async fn execute_many(&mut self, _: &[&str]) -> Result<(), (usize, DriverError)> {
            Err((
                self.0,
                DriverError::new(DriverErrorKind::LockTimeout, "busy").with_code("5"),
            ))
        }
        async fn query(&mut self, _: &str) -> Result<Rows, DriverError> {
            Ok(Vec::new())
        }
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(future)
    }

    #[test]
    fn an_index_inside_the_batch_is_passed_on() {
        let failure = block_on(checked_execute_many(&mut Liar(1), &["a", "b", "c"]))
            .expect_err("the batch failed");
        assert_eq!(failure.index, Some(1));
        assert_eq!(failure.error.message, "busy");
    }

    #[test]
    fn an_index_outside_the_batch_is_an_error_naming_the_driver() {
        for (index, statements, valid) in [
            (3, &["a", "b", "c"][..], "an index from 0 to 2"),
            (usize::MAX, &["a"][..], "index 0"),
            (0, &[][..], "no index at all: the batch was empty"),
        ] {
            let failure = block_on(checked_execute_many(&mut Liar(index), statements))
                .expect_err("the batch failed");
            assert_eq!(failure.index, None, "{index}");
            let error = failure.error;
            assert!(
                error.message.starts_with(&format!(
                    "driver `cairn_core::driver::tests::Liar` failed a batch of {} statement(s) but named statement index {index}, outside the batch",
                    statements.len()
                )),
                "{error}"
            );
            assert!(error.message.contains(valid), "{error}");
            assert!(
                error.message.ends_with("the driver's error: busy"),
                "{error}"
            );
            // What the driver said stays: its kind and code, and itself as the source.
            assert_eq!(error.kind, DriverErrorKind::LockTimeout);
            assert_eq!(error.code.as_deref(), Some("5"));
            let source = std::error::Error::source(&error).expect("the driver's error");
            assert_eq!(source.to_string(), "busy (5)");
        }
    }

    #[test]
    fn the_default_locks_are_unsupported_and_name_the_driver() {
        let mut driver = Liar(0);
        assert!(!driver.capabilities().run_lock);
        let lock = block_on(driver.lock(Duration::from_secs(1))).expect_err("no lock");
        assert_eq!(lock.kind, DriverErrorKind::Unsupported);
        assert!(
            lock.message.starts_with(
                "driver `cairn_core::driver::tests::Liar` does not implement Driver::lock: "
            ),
            "{lock}"
        );
        assert!(
            lock.message
                .contains("return Capabilities::with_run_lock() from Driver::capabilities"),
            "{lock}"
        );
        let unlock = block_on(driver.unlock()).expect_err("no unlock");
        assert_eq!(unlock.kind, DriverErrorKind::Unsupported);
        assert!(
            unlock.message.starts_with(
                "driver `cairn_core::driver::tests::Liar` does not implement Driver::unlock: "
            ),
            "{unlock}"
        );
    }

    #[test]
    fn errors_keep_their_source_and_compare_without_it() {
        let io = std::io::Error::other("socket closed");
        let error = DriverError::new(DriverErrorKind::Connection, "lost")
            .with_source(io)
            .context("reading the history");
        assert_eq!(error.message, "reading the history: lost");
        let source = std::error::Error::source(&error).expect("a source");
        assert_eq!(source.to_string(), "socket closed");
        let copy = error.clone();
        assert!(std::error::Error::source(&copy).is_some(), "clones keep it");
        assert_eq!(
            error,
            DriverError::new(DriverErrorKind::Connection, "reading the history: lost")
        );
        assert_ne!(
            error,
            DriverError::new(DriverErrorKind::Connection, "reading the history: lost")
                .with_code("08006")
        );
    }
}

//! Cairn's driver for SQLite, on rusqlite with SQLite bundled.
//!
//! rusqlite is blocking, so each [`SqliteDriver`] owns one connection on a
//! thread of its own and the async methods send it work over a channel: the
//! async runtime never blocks on SQLite, and every call runs on the same
//! connection, as the [`Driver`] contract asks.
//!
//! SQLite has transactional DDL, so each migration runs in one transaction
//! with its history row. There is no session lock to take: `BEGIN IMMEDIATE`
//! takes the database's write lock at the start of each migration (waiting up
//! to the busy timeout), and the migrator re-reads the history inside that
//! transaction, which serialises concurrent runners
//! ([`LockKind::WriteTransaction`]).
//!
//! The write lock lasts one transaction, but a run plans once and then runs
//! many of them (and backfills run in many more), so the driver's run lock
//! ([`Driver::lock`]) locks a file beside the database,
//! `<database>-cairn-backfill.lock` ([`cairn_core::lock::FileLock`]), for the
//! whole run: an `up` and a `down` started together run one after the other,
//! as on the server engines. The operating system releases the lock when the
//! process ends, even by `kill -9`, so a resumed run never waits for a dead
//! one. The file keeps its old name so that a Cairn that locks it only for
//! backfills still excludes a newer one, and holds the holder's process id
//! and start time. An in-memory database belongs to its connection alone and
//! needs no lock.
//!
//! # URLs and files that do not exist yet
//!
//! `sqlite://path` (relative), `sqlite:///abs/path`, `sqlite:path`,
//! `sqlite::memory:`, with one optional parameter, `mode` (SQLite's own):
//! `rwc` (the default) creates the file when something is written, `rw` needs
//! the file to exist, `ro` opens it read-only, so that any write is refused by
//! SQLite itself. Any other parameter is refused rather than ignored.
//!
//! A command that changes nothing (`status`, `validate`, a dry run, a run
//! refused before its first write) must not leave an empty database file
//! behind. So with `rwc`, a file that does not exist is not created at
//! connect: until the first write (`BEGIN`, a statement) the driver answers
//! from an empty in-memory database — no tables, no history — and only then
//! creates and opens the file. A read finds the file if another process has
//! created it meanwhile.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use async_trait::async_trait;
use cairn_core::dialect::sqlite::SqliteDialect;
use cairn_core::driver::Rows;
use cairn_core::lock::FileLock;
use cairn_core::url::DatabaseUrl;
use cairn_core::{
    Capabilities, Dialect, Driver, DriverError, DriverErrorKind, Flavour, LockKind, ServerVersion,
    SessionSettings,
};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A connection to one SQLite database.
#[derive(Debug)]
pub struct SqliteDriver {
    jobs: mpsc::Sender<Job>,
    location: String,
    file: Option<PathBuf>,
    /// The run lock while this driver holds it.
    run_lock: Option<FileLock>,
    /// The file does not exist yet: an empty in-memory stand-in answers until
    /// the first write creates it (see the module docs).
    pending: bool,
    /// The busy timeout, set again on the file's connection when it is opened.
    busy_timeout: Duration,
    /// Opened with `mode=ro`.
    read_only: bool,
    /// SQLite at the version of the library linked in (bundled).
    dialect: SqliteDialect,
}

/// Where a `sqlite:` URL points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SqliteLocation {
    /// A file, created if missing.
    File(PathBuf),
    /// A private in-memory database.
    Memory,
}

/// How a file is opened: SQLite's URI parameter `mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OpenMode {
    /// `mode=ro`: an existing file, read-only.
    ReadOnly,
    /// `mode=rw`: an existing file, read and write.
    ReadWrite,
    /// `mode=rwc` (the default): read and write, the file created by the
    /// first write if it does not exist.
    #[default]
    ReadWriteCreate,
}

impl OpenMode {
    fn as_str(self) -> &'static str {
        match self {
            OpenMode::ReadOnly => "ro",
            OpenMode::ReadWrite => "rw",
            OpenMode::ReadWriteCreate => "rwc",
        }
    }
}

/// A `sqlite:` URL read: where, and how to open it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    /// The file or memory.
    pub location: SqliteLocation,
    /// `mode`.
    pub mode: OpenMode,
}

/// The parameters a `sqlite:` URL may hold.
const KNOWN_PARAMETERS: &str = "mode=ro, mode=rw or mode=rwc";

impl SqliteOptions {
    /// Reads a `sqlite:` URL (see [`SqliteLocation::from_url`]) and its query:
    /// `mode=ro|rw|rwc`; any other parameter is an error that lists the known ones.
    pub fn from_url(url: &str) -> Result<Self, DriverError> {
        let location = SqliteLocation::from_url(url)?;
        let shown = cairn_core::url::redact(url);
        let invalid = |why: String| {
            DriverError::new(
                DriverErrorKind::Other,
                format!("invalid SQLite URL `{shown}`: {why}"),
            )
        };
        let mut mode = OpenMode::default();
        let query = url.split_once('?').map_or("", |(_, query)| query);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=').unwrap_or((pair, "")) {
                ("mode", "ro") => mode = OpenMode::ReadOnly,
                ("mode", "rw") => mode = OpenMode::ReadWrite,
                ("mode", "rwc") => mode = OpenMode::ReadWriteCreate,
                ("mode", other) => {
                    return Err(invalid(format!(
                        "unknown mode `{other}`: use {KNOWN_PARAMETERS}"
                    )))
                }
                (key, _) => {
                    return Err(invalid(format!(
                        "unknown parameter `{key}`: Cairn's SQLite driver reads only {KNOWN_PARAMETERS}"
                    )))
                }
            }
        }
        if location == SqliteLocation::Memory && mode != OpenMode::ReadWriteCreate {
            return Err(invalid(format!(
                "mode={} makes no sense for a new in-memory database: drop it",
                mode.as_str()
            )));
        }
        Ok(SqliteOptions { location, mode })
    }
}

impl SqliteLocation {
    /// Reads `sqlite://path`, `sqlite:path`, `sqlite:///abs/path`,
    /// `sqlite::memory:` and `sqlite://:memory:`; the `?query` is
    /// [`SqliteOptions::from_url`]'s business.
    pub fn from_url(url: &str) -> Result<Self, DriverError> {
        let rest = url.split_once(':').map(|(_, rest)| rest).ok_or_else(|| {
            DriverError::new(
                DriverErrorKind::Other,
                format!("`{url}` is not a sqlite: URL"),
            )
        })?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split_once('?').map_or(rest, |(path, _)| path);
        match path {
            "" => Err(DriverError::new(
                DriverErrorKind::Other,
                format!("`{url}` names no file: write sqlite://path/to/file.db or sqlite::memory:"),
            )),
            ":memory:" => Ok(SqliteLocation::Memory),
            path => Ok(SqliteLocation::File(PathBuf::from(path))),
        }
    }
}

const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl SqliteDriver {
    /// Opens the database a `sqlite:` URL names, as its `mode` says (by
    /// default creating the file with the first write).
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, DriverError> {
        let options = SqliteOptions::from_url(url.expose())?;
        Self::open_with(options.location, options.mode).await
    }

    /// Opens a database, creating the file with the first write if needed.
    pub async fn open(location: SqliteLocation) -> Result<Self, DriverError> {
        Self::open_with(location, OpenMode::ReadWriteCreate).await
    }

    /// Opens a database in `mode`.
    pub async fn open_with(location: SqliteLocation, mode: OpenMode) -> Result<Self, DriverError> {
        let name = match &location {
            SqliteLocation::File(path) => path.display().to_string(),
            SqliteLocation::Memory => ":memory:".to_owned(),
        };
        let file = match &location {
            SqliteLocation::File(path) => Some(path.clone()),
            SqliteLocation::Memory => None,
        };
        let missing = file.as_deref().is_some_and(|path| !path.exists());
        if missing && mode != OpenMode::ReadWriteCreate {
            return Err(DriverError::new(
                DriverErrorKind::Connection,
                format!(
                    "SQLite database `{name}` does not exist: mode={} opens an existing file only; check the path, or drop mode= to create it",
                    mode.as_str()
                ),
            ));
        }
        // Nothing is created until the first write (see the module docs).
        let pending = missing;
        let flags = match mode {
            OpenMode::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
            OpenMode::ReadWrite => OpenFlags::SQLITE_OPEN_READ_WRITE,
            OpenMode::ReadWriteCreate => {
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
            }
        } | OpenFlags::SQLITE_OPEN_URI;
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("cairn-sqlite".to_owned())
            .spawn(move || {
                let opened = match &location {
                    SqliteLocation::File(_) if pending => Connection::open_in_memory(),
                    SqliteLocation::File(path) => Connection::open_with_flags(path, flags),
                    SqliteLocation::Memory => Connection::open_in_memory(),
                };
                let mut conn =
                    match opened.and_then(|c| c.busy_timeout(DEFAULT_BUSY_TIMEOUT).map(|()| c)) {
                        Ok(conn) => {
                            let _ = ready_tx.send(Ok(()));
                            conn
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                for job in inbox {
                    job(&mut conn);
                }
            })
            .map_err(|e| {
                DriverError::new(
                    DriverErrorKind::Other,
                    format!("cannot start the SQLite thread: {e}"),
                )
            })?;
        match ready_rx.await {
            Ok(Ok(())) => Ok(SqliteDriver {
                jobs,
                location: name,
                file,
                run_lock: None,
                pending,
                busy_timeout: DEFAULT_BUSY_TIMEOUT,
                read_only: mode == OpenMode::ReadOnly,
                dialect: SqliteDialect::new(
                    Flavour::Sqlite,
                    Some(ServerVersion::parse(rusqlite::version())),
                ),
            }),
            Ok(Err(e)) => Err(DriverError::new(
                DriverErrorKind::Connection,
                format!("cannot open SQLite database `{name}`: {e}"),
            )),
            Err(_) => Err(DriverError::new(
                DriverErrorKind::Connection,
                format!("cannot open SQLite database `{name}`"),
            )),
        }
    }

    /// The file (or `:memory:`) this driver is connected to.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Whether the database file exists, or is still to be created by the first write.
    pub fn is_created(&self) -> bool {
        !self.pending
    }

    /// Swaps the in-memory stand-in for the file, creating it, before a
    /// write (`write`) or once the file exists (another process created it).
    async fn ready(&mut self, write: bool) -> Result<(), DriverError> {
        let Some(path) = self.file.clone().filter(|_| self.pending) else {
            return Ok(());
        };
        if !write && !path.exists() {
            return Ok(());
        }
        let busy = self.busy_timeout;
        let name = self.location.clone();
        self.call(move |conn| {
            let file = open_file(&path)?;
            file.busy_timeout(busy)?;
            *conn = file;
            Ok(())
        })
        .await
        .map_err(|e| e.context(format_args!("cannot create SQLite database `{name}`")))?;
        self.pending = false;
        Ok(())
    }

    /// Runs `f` on the connection's thread and waits for its result.
    async fn call<T, F>(&self, f: F) -> Result<T, DriverError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(f(conn));
        });
        let lost = || {
            DriverError::new(
                DriverErrorKind::Connection,
                "the SQLite connection thread has stopped",
            )
        };
        self.jobs.send(job).map_err(|_| lost())?;
        let read_only = self.read_only;
        answer
            .await
            .map_err(|_| lost())?
            .map_err(|e| map_error(e, read_only))
    }
}

/// Opens (creating) the file with the first write, in `rwc` mode.
fn open_file(path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI,
    )
}

/// `<database>-cairn-backfill.lock`, beside the database file: the run lock's
/// file ([`FileLock::path_beside`]).
pub fn backfill_lock_path(database: &std::path::Path) -> PathBuf {
    FileLock::path_beside(database)
}

fn map_error(error: rusqlite::Error, read_only: bool) -> DriverError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let kind = match failure.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => DriverErrorKind::LockTimeout,
                ErrorCode::CannotOpen | ErrorCode::NotADatabase => DriverErrorKind::Connection,
                _ => DriverErrorKind::Statement,
            };
            let mut text = message.clone().unwrap_or_else(|| failure.to_string());
            if read_only && failure.code == ErrorCode::ReadOnly {
                text.push_str(
                    " (the database URL says mode=ro: drop it, or use mode=rw, to let Cairn write)",
                );
            }
            let code = format!("SQLITE {}", failure.extended_code);
            DriverError::new(kind, text)
                .with_code(code)
                .with_source(error)
        }
        _ => DriverError::new(DriverErrorKind::Statement, error.to_string()).with_source(error),
    }
}

fn text(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(r) => Some(r.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(b.iter().map(|byte| format!("{byte:02x}")).collect()),
    }
}

#[async_trait]
impl Driver for SqliteDriver {
    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new(true, LockKind::WriteTransaction).with_run_lock()
    }

    /// The run lock is the lock file beside the database: one lock, held
    /// for every run (`up`, `down`, `redo`, `repair`, `baseline`), so that
    /// runs never interleave, and a Cairn that locks only its backfills still
    /// excludes it.
    async fn lock(&mut self, timeout: Duration) -> Result<(), DriverError> {
        let Some(database) = &self.file else {
            return Ok(()); // an in-memory database belongs to this connection alone
        };
        if self.run_lock.is_none() {
            let path = FileLock::path_beside(database);
            self.run_lock = Some(FileLock::acquire(&path, timeout).await?);
        }
        Ok(())
    }

    async fn unlock(&mut self) -> Result<(), DriverError> {
        match self.run_lock.take() {
            Some(lock) => lock.release(),
            None => Ok(()),
        }
    }

    async fn confirms_completed(&mut self, error: &DriverError) -> bool {
        // SQLite reports these as SQLITE_ERROR (1), or as an input error of
        // the statement without a code: only the message tells.
        error.kind == DriverErrorKind::Statement
            && ["already exists", "duplicate column name:", "no such index:"]
                .iter()
                .any(|needle| error.message.contains(needle))
    }

    async fn apply_settings(&mut self, settings: &SessionSettings) -> Result<(), DriverError> {
        // SQLite has no statement timeout; only the busy timeout applies.
        let busy = settings.lock_timeout.unwrap_or(DEFAULT_BUSY_TIMEOUT);
        self.busy_timeout = busy;
        self.call(move |conn| conn.busy_timeout(busy)).await
    }

    async fn begin(&mut self) -> Result<(), DriverError> {
        self.ready(true).await?;
        self.call(|conn| conn.execute_batch("BEGIN IMMEDIATE"))
            .await
    }

    async fn commit(&mut self) -> Result<(), DriverError> {
        self.call(|conn| conn.execute_batch("COMMIT")).await
    }

    async fn rollback(&mut self) -> Result<(), DriverError> {
        self.call(|conn| {
            if conn.is_autocommit() {
                Ok(())
            } else {
                conn.execute_batch("ROLLBACK")
            }
        })
        .await
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, DriverError> {
        self.ready(true).await?;
        let sql = sql.to_owned();
        self.call(move |conn| {
            let before = conn.total_changes();
            conn.execute_batch(&sql)?;
            Ok(conn.total_changes() - before)
        })
        .await
    }

    async fn execute_many(&mut self, statements: &[&str]) -> Result<(), (usize, DriverError)> {
        self.ready(true).await.map_err(|e| (0, e))?;
        // One hop to the connection's thread for the whole batch.
        let statements: Vec<String> = statements.iter().map(|s| (*s).to_owned()).collect();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let read_only = self.read_only;
        let job: Job = Box::new(move |conn| {
            let outcome = statements.iter().enumerate().try_for_each(|(index, sql)| {
                conn.execute_batch(sql)
                    .map_err(|e| (index, map_error(e, read_only)))
            });
            let _ = reply.send(outcome);
        });
        let lost = || {
            DriverError::new(
                DriverErrorKind::Connection,
                "the SQLite connection thread has stopped",
            )
        };
        self.jobs.send(job).map_err(|_| (0, lost()))?;
        answer.await.map_err(|_| (0, lost()))?
    }

    async fn query(&mut self, sql: &str) -> Result<Rows, DriverError> {
        self.ready(false).await?;
        let sql = sql.to_owned();
        self.call(move |conn| {
            let mut statement = conn.prepare(&sql)?;
            let columns = statement.column_count();
            let mut rows = statement.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(
                    (0..columns)
                        .map(|i| row.get_ref(i).map(text))
                        .collect::<rusqlite::Result<Vec<_>>>()?,
                );
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_files_or_memory() {
        for (url, expected) in [
            ("sqlite://cairn.db", SqliteLocation::File("cairn.db".into())),
            ("sqlite:cairn.db", SqliteLocation::File("cairn.db".into())),
            (
                "sqlite:///tmp/x.db",
                SqliteLocation::File("/tmp/x.db".into()),
            ),
            (
                "sqlite://dir/x.db?mode=rwc",
                SqliteLocation::File("dir/x.db".into()),
            ),
            ("sqlite::memory:", SqliteLocation::Memory),
            ("sqlite://:memory:", SqliteLocation::Memory),
        ] {
            assert_eq!(SqliteLocation::from_url(url), Ok(expected), "{url}");
        }
        assert!(SqliteLocation::from_url("sqlite://").is_err());
    }

    #[test]
    fn conn_sqlite_url_modes_and_unknown_parameters() {
        for (url, mode) in [
            ("sqlite://x.db", OpenMode::ReadWriteCreate),
            ("sqlite://x.db?mode=ro", OpenMode::ReadOnly),
            ("sqlite:///abs/x.db?mode=rw", OpenMode::ReadWrite),
            ("sqlite:x.db?mode=rwc", OpenMode::ReadWriteCreate),
        ] {
            assert_eq!(
                SqliteOptions::from_url(url).map(|o| o.mode),
                Ok(mode),
                "{url}"
            );
        }
        for (url, needle) in [
            (
                "sqlite://x.db?cache=shared",
                "unknown parameter `cache`: Cairn's SQLite driver reads only mode=ro, mode=rw or mode=rwc",
            ),
            ("sqlite://x.db?mode=memory", "unknown mode `memory`"),
            ("sqlite::memory:?mode=ro", "makes no sense"),
        ] {
            let err = SqliteOptions::from_url(url).expect_err(url);
            assert!(err.message.contains(needle), "{url}: {err}");
            assert!(err.message.contains("invalid SQLite URL"), "{url}: {err}");
        }
    }
}

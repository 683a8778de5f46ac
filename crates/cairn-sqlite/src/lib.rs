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
//! many of them (and backfills run in many more), so the driver's migration
//! lock ([`Driver::lock`], also [`Driver::lock_backfill`]) locks a file beside
//! the database, `<database>-cairn-backfill.lock`, for the whole run: an `up`
//! and a `down` started together run one after the other, as on the server
//! engines. The operating system releases the lock when the process ends,
//! even by `kill -9`, so a resumed run never waits for a dead one. The file
//! keeps its old name so that a Cairn that locks it only for backfills still
//! excludes a newer one, and holds the holder's process id and start time.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use async_trait::async_trait;
use cairn_core::driver::Rows;
use cairn_core::url::DatabaseUrl;
use cairn_core::{
    Capabilities, Driver, DriverError, DriverErrorKind, Engine, LockKind, SessionSettings,
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
    backfill_lock: Option<std::fs::File>,
}

/// Where a `sqlite:` URL points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SqliteLocation {
    /// A file, created if missing.
    File(PathBuf),
    /// A private in-memory database.
    Memory,
}

impl SqliteLocation {
    /// Reads `sqlite://path`, `sqlite:path`, `sqlite:///abs/path`,
    /// `sqlite::memory:` and `sqlite://:memory:`; a `?query` is ignored.
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
    /// Opens (creating if needed) the database a `sqlite:` URL names.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, DriverError> {
        Self::open(SqliteLocation::from_url(url.expose())?).await
    }

    /// Opens (creating if needed) a database.
    pub async fn open(location: SqliteLocation) -> Result<Self, DriverError> {
        let name = match &location {
            SqliteLocation::File(path) => path.display().to_string(),
            SqliteLocation::Memory => ":memory:".to_owned(),
        };
        let file = match &location {
            SqliteLocation::File(path) => Some(path.clone()),
            SqliteLocation::Memory => None,
        };
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("cairn-sqlite".to_owned())
            .spawn(move || {
                let opened = match &location {
                    SqliteLocation::File(path) => Connection::open_with_flags(
                        path,
                        OpenFlags::SQLITE_OPEN_READ_WRITE
                            | OpenFlags::SQLITE_OPEN_CREATE
                            | OpenFlags::SQLITE_OPEN_URI,
                    ),
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
                backfill_lock: None,
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
        answer.await.map_err(|_| lost())?.map_err(map_error)
    }
}

/// `<database>-cairn-backfill.lock`, beside the database file.
pub fn backfill_lock_path(database: &std::path::Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-cairn-backfill.lock");
    PathBuf::from(name)
}

fn map_error(error: rusqlite::Error) -> DriverError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let kind = match failure.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => DriverErrorKind::LockTimeout,
                ErrorCode::CannotOpen | ErrorCode::NotADatabase => DriverErrorKind::Connection,
                _ => DriverErrorKind::Statement,
            };
            let text = message.clone().unwrap_or_else(|| failure.to_string());
            DriverError::new(kind, text).with_code(format!("SQLITE {}", failure.extended_code))
        }
        _ => DriverError::new(DriverErrorKind::Statement, error.to_string()),
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
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new(true, LockKind::WriteTransaction)
    }

    /// The run lock is the backfill lock file: one lock, held for every run
    /// (`up`, `down`, `redo`, `repair`, `baseline`), so that runs never
    /// interleave, and a Cairn that locks only its backfills still excludes it.
    async fn lock(&mut self, timeout: Duration) -> Result<(), DriverError> {
        self.lock_backfill(timeout).await
    }

    async fn unlock(&mut self) -> Result<(), DriverError> {
        self.unlock_backfill().await
    }

    async fn confirms_completed(&mut self, error: &DriverError) -> bool {
        // SQLite reports these as SQLITE_ERROR (1), or as an input error of
        // the statement without a code: only the message tells.
        error.kind == DriverErrorKind::Statement
            && ["already exists", "duplicate column name:", "no such index:"]
                .iter()
                .any(|needle| error.message.contains(needle))
    }

    async fn lock_backfill(&mut self, timeout: Duration) -> Result<(), DriverError> {
        let Some(database) = &self.file else {
            return Ok(()); // an in-memory database belongs to this connection alone
        };
        if self.backfill_lock.is_some() {
            return Ok(());
        }
        let path = backfill_lock_path(database);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                DriverError::new(
                    DriverErrorKind::Other,
                    format!(
                        "cannot open the backfill lock file `{}`: {e}",
                        path.display()
                    ),
                )
            })?;
        let started = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let holder = holder.trim();
                    return Err(DriverError::new(
                        DriverErrorKind::LockHeld,
                        format!(
                            "another cairn run holds the migration and backfill lock `{}`{}",
                            path.display(),
                            if holder.is_empty() {
                                String::new()
                            } else {
                                format!(" ({holder})")
                            }
                        ),
                    ));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(DriverError::new(
                        DriverErrorKind::Other,
                        format!("cannot lock `{}`: {e}", path.display()),
                    ))
                }
            }
        }
        // Who holds it, for the message another runner shows; best effort.
        let note = format!(
            "process {} since {}",
            std::process::id(),
            cairn_core::clock::UtcTime::now().rfc3339()
        );
        let _ = file.set_len(0);
        let _ = std::io::Write::write_all(&mut &file, note.as_bytes());
        self.backfill_lock = Some(file);
        Ok(())
    }

    async fn unlock_backfill(&mut self) -> Result<(), DriverError> {
        if let Some(file) = self.backfill_lock.take() {
            let _ = file.set_len(0);
            file.unlock().map_err(|e| {
                DriverError::new(
                    DriverErrorKind::Other,
                    format!("cannot unlock the backfill lock: {e}"),
                )
            })?;
        }
        Ok(())
    }

    async fn apply_settings(&mut self, settings: &SessionSettings) -> Result<(), DriverError> {
        // SQLite has no statement timeout; only the busy timeout applies.
        let busy = settings.lock_timeout.unwrap_or(DEFAULT_BUSY_TIMEOUT);
        self.call(move |conn| conn.busy_timeout(busy)).await
    }

    async fn begin(&mut self) -> Result<(), DriverError> {
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
        let sql = sql.to_owned();
        self.call(move |conn| {
            let before = conn.total_changes();
            conn.execute_batch(&sql)?;
            Ok(conn.total_changes() - before)
        })
        .await
    }

    async fn execute_many(&mut self, statements: &[&str]) -> Result<(), (usize, DriverError)> {
        // One hop to the connection's thread for the whole batch.
        let statements: Vec<String> = statements.iter().map(|s| (*s).to_owned()).collect();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let outcome = statements.iter().enumerate().try_for_each(|(index, sql)| {
                conn.execute_batch(sql).map_err(|e| (index, map_error(e)))
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
}

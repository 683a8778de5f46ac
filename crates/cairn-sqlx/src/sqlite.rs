//! SQLite through sqlx: the write lock, the run lock file and the busy
//! timeout as Cairn's own SQLite driver has them, on a `SqliteConnection`.
//!
//! - Each migration's transaction starts with `BEGIN IMMEDIATE`, which takes
//!   the database's write lock at once, waiting at most the busy timeout
//!   ([`LockKind::WriteTransaction`]).
//! - The run lock is the file `<database>-cairn-backfill.lock` beside the
//!   database (`PRAGMA database_list` names the file), the same file the
//!   `cairn` CLI locks; an in-memory database needs none.
//! - The busy timeout is the lock timeout of a migration; without one, and
//!   when the run ends (the run lock is released), it goes back to what the
//!   connection had when the driver took it (the pool's `busy_timeout`).
//! - Rows affected are counted with `total_changes()`, before and after, so
//!   DDL counts 0 (SQLite's `changes()` would repeat the last DML's count).
//! - Values come back as Cairn's SQLite driver renders them: integers and
//!   reals in Rust's notation, text as it is, blobs in hex.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use cairn::dialect::sqlite::SqliteDialect;
use cairn::driver::Rows;
use cairn::lock::FileLock;
use cairn::{
    Capabilities, Dialect, DriverError, DriverErrorKind, Flavour, LockKind, ServerVersion,
    SessionSettings,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row as _, Sqlite, TypeInfo as _, ValueRef as _};

use crate::{Backend, Reply, SqlxDriver};

/// What the driver read from its SQLite connection.
#[derive(Debug)]
pub struct SqliteSession {
    /// The database file; `None` in memory.
    file: Option<PathBuf>,
    /// The busy timeout the connection had when the driver took it.
    busy_timeout: Duration,
    /// The run lock while this driver holds it.
    run_lock: Option<FileLock>,
    dialect: SqliteDialect,
}

impl Default for SqliteSession {
    fn default() -> Self {
        SqliteSession {
            file: None,
            busy_timeout: Duration::from_secs(5),
            run_lock: None,
            dialect: SqliteDialect::new(Flavour::Sqlite, None),
        }
    }
}

impl SqliteSession {
    /// The database file, `None` for an in-memory database.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }
}

impl crate::sealed::Sealed for Sqlite {}

/// One value as text, as Cairn's SQLite driver renders it.
fn text(row: &SqliteRow, i: usize) -> Result<Option<String>, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(None);
    }
    let kind = raw.type_info().name().to_owned();
    Ok(Some(match kind.as_str() {
        "INTEGER" => row.try_get_unchecked::<i64, _>(i)?.to_string(),
        "REAL" => row.try_get_unchecked::<f64, _>(i)?.to_string(),
        "BLOB" => row
            .try_get_unchecked::<Vec<u8>, _>(i)?
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
        _ => {
            let bytes = row.try_get_unchecked::<Vec<u8>, _>(i)?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }))
}

async fn total_changes(conn: &mut sqlx::SqliteConnection) -> Result<i64, sqlx::Error> {
    let row = sqlx::raw_sql("SELECT total_changes()")
        .fetch_one(&mut *conn)
        .await?;
    row.try_get_unchecked::<i64, _>(0)
}

async fn set_busy_timeout(
    driver: &mut SqlxDriver<Sqlite>,
    timeout: Duration,
) -> Result<(), DriverError> {
    let ms = timeout.as_millis().min(i32::MAX as u128);
    driver.run(&format!("PRAGMA busy_timeout = {ms}")).await?;
    Ok(())
}

#[async_trait]
impl Backend for Sqlite {
    type Session = SqliteSession;
    const SERVER: &'static str = "SQLite";
    const DRIVER_NAME: &'static str = "cairn-sqlx (SQLite)";
    const NETWORK: bool = false;
    const BEGIN: &'static str = "BEGIN IMMEDIATE";

    fn execute<'c>(conn: &'c mut Self::Connection, sql: &'c str) -> Reply<'c, u64> {
        Box::pin(async move {
            let before = total_changes(conn).await?;
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *conn)
                .await?;
            let after = total_changes(conn).await?;
            Ok(u64::try_from(after - before).unwrap_or_default())
        })
    }

    fn fetch<'c>(conn: &'c mut Self::Connection, sql: &'c str) -> Reply<'c, Rows> {
        Box::pin(async move {
            let rows = sqlx::raw_sql(AssertSqlSafe(sql)).fetch_all(conn).await?;
            rows.iter()
                .map(|row| (0..row.len()).map(|i| text(row, i)).collect())
                .collect()
        })
    }

    fn classify(error: &dyn sqlx::error::DatabaseError) -> (DriverErrorKind, String) {
        let extended: i32 = error
            .code()
            .and_then(|c| c.parse().ok())
            .unwrap_or_default();
        let kind = match extended & 0xff {
            5 | 6 => DriverErrorKind::LockTimeout, // SQLITE_BUSY, SQLITE_LOCKED
            14 | 26 => DriverErrorKind::Connection, // SQLITE_CANTOPEN, SQLITE_NOTADB
            _ => DriverErrorKind::Statement,
        };
        (kind, format!("SQLITE {extended}"))
    }

    fn dialect(session: &SqliteSession) -> &dyn Dialect {
        &session.dialect
    }

    fn capabilities() -> Capabilities {
        Capabilities::new(true, LockKind::WriteTransaction).with_run_lock()
    }

    fn describe(session: &SqliteSession) -> String {
        match &session.file {
            Some(file) => format!("SQLite database `{}`", file.display()),
            None => "an in-memory SQLite database".to_owned(),
        }
    }

    async fn prepare(driver: &mut SqlxDriver<Self>) -> Result<(), DriverError> {
        let version = driver
            .scalar("SELECT sqlite_version()")
            .await?
            .unwrap_or_default();
        let busy = driver
            .scalar("PRAGMA busy_timeout")
            .await?
            .and_then(|ms| ms.parse::<u64>().ok())
            .map_or(Duration::from_secs(5), Duration::from_millis);
        // The main database's file; empty for memory (also sqlx's shared
        // in-memory databases) and for a temporary database.
        let file = driver
            .rows("PRAGMA database_list")
            .await?
            .into_iter()
            .find(|row| row.get(1).cloned().flatten().as_deref() == Some("main"))
            .and_then(|row| row.get(2).cloned().flatten())
            .filter(|file| !file.is_empty())
            .map(PathBuf::from);
        *driver.session_mut() = SqliteSession {
            file,
            busy_timeout: busy,
            run_lock: None,
            dialect: SqliteDialect::new(Flavour::Sqlite, Some(ServerVersion::parse(&version))),
        };
        Ok(())
    }

    async fn lock(driver: &mut SqlxDriver<Self>, timeout: Duration) -> Result<(), DriverError> {
        let session = driver.session_mut();
        let Some(database) = &session.file else {
            return Ok(()); // an in-memory database belongs to this process alone
        };
        if session.run_lock.is_none() {
            let path = FileLock::path_beside(database);
            session.run_lock = Some(FileLock::acquire(&path, timeout).await?);
        }
        Ok(())
    }

    /// Releases the lock file, and gives the connection back its own busy timeout.
    async fn unlock(driver: &mut SqlxDriver<Self>) -> Result<(), DriverError> {
        let busy = driver.session().busy_timeout;
        let restored = set_busy_timeout(driver, busy).await;
        let released = match driver.session_mut().run_lock.take() {
            Some(lock) => lock.release(),
            None => Ok(()),
        };
        released.and(restored)
    }

    async fn apply_settings(
        driver: &mut SqlxDriver<Self>,
        settings: &SessionSettings,
    ) -> Result<(), DriverError> {
        // SQLite has no statement timeout; the busy timeout is the lock timeout.
        let busy = settings
            .lock_timeout
            .unwrap_or(driver.session().busy_timeout);
        set_busy_timeout(driver, busy).await
    }

    /// SQLite reports these as SQLITE_ERROR: only the message tells.
    async fn confirms_completed(_: &mut SqlxDriver<Self>, error: &DriverError) -> bool {
        error.kind == DriverErrorKind::Statement
            && ["already exists", "duplicate column name:", "no such index:"]
                .iter()
                .any(|needle| error.message.contains(needle))
    }

    /// Yes: the connection holds no lock of Cairn's, and its busy timeout
    /// is restored when the run ends.
    fn may_return(_: &SqlxDriver<Self>) -> bool {
        true
    }
}

//! MySQL and MariaDB through sqlx: the named lock, timeouts and errors as
//! Cairn's own MySQL driver has them, on a `MySqlConnection`.
//!
//! - DDL commits implicitly, so migrations run without a transaction and the
//!   migrator records their progress (`transactional_ddl = false`).
//! - The run lock is `GET_LOCK('cairn:<database>', seconds)` (the name the
//!   `cairn` CLI uses; `cairn:` + MD5 when longer than 64 characters),
//!   waiting on the server for whole seconds and polling for the rest; a
//!   timeout names the holder from `IS_USED_LOCK` and the process list.
//! - [`Driver::apply_settings`](cairn::Driver::apply_settings) sets
//!   `lock_wait_timeout` and `innodb_lock_wait_timeout` (whole seconds, at
//!   least 1), MariaDB's `max_statement_time` or MySQL's
//!   `max_execution_time`, and `sql_mode` without `NO_BACKSLASH_ESCAPES`.
//! - Error 1205 (lock wait), 1213 (deadlock) and 1020 (MariaDB snapshot
//!   conflict) are lock timeouts; codes read `1146, SQLSTATE 42S02`, as
//!   Cairn's MySQL driver writes them.

use std::time::Duration;

use async_trait::async_trait;
use cairn::dialect::mysql::MysqlDialect;
use cairn::dialect::Bookkeeping as _;
use cairn::driver::Rows;
use cairn::lock::{self, Pauses, TryLock};
use cairn::{
    Capabilities, Dialect, DriverError, DriverErrorKind, Flavour, LockKind, SessionSettings,
};
use sqlx::mysql::MySqlDatabaseError;
use sqlx::{AssertSqlSafe, MySql, Row as _};

use crate::{Backend, Reply, SqlxDriver};

/// How often a lock wait shorter than a second polls `GET_LOCK(name, 0)`.
const LOCK_POLL: Pauses = Pauses::constant(Duration::from_millis(50));

/// The longest lock wait both servers accept (a year, in seconds).
const MAX_LOCK_WAIT_SECONDS: u64 = 31_536_000;

const LOCK_WAIT_TIMEOUT: u16 = 1205;
const DEADLOCK: u16 = 1213;
const SNAPSHOT_CONFLICT: u16 = 1020;

/// Server errors that mean the connection cannot be used.
const CONNECTION_ERRORS: &[u16] = &[1040, 1044, 1045, 1049, 1053, 1129, 1130, 1927, 3159, 4031];

/// Errors that, from running a DDL statement again, can only mean that its
/// effect is already there (as Cairn's MySQL driver reads them).
const ALREADY_DONE: &[u16] = &[
    1007, 1008, 1050, 1051, 1060, 1061, 1091, 1304, 1305, 1359, 1360, 1826,
];

/// What the driver read from its MySQL/MariaDB session.
#[derive(Debug)]
pub struct MySqlSession {
    connection_id: u64,
    database: Option<String>,
    dialect: MysqlDialect,
    /// The name of the run lock while this session holds it.
    lock_name: Option<String>,
}

impl Default for MySqlSession {
    fn default() -> Self {
        MySqlSession {
            connection_id: 0,
            database: None,
            dialect: MysqlDialect::DEFAULT,
            lock_name: None,
        }
    }
}

impl MySqlSession {
    /// The server's id for the connection (`CONNECTION_ID()`).
    pub fn connection_id(&self) -> u64 {
        self.connection_id
    }

    /// The current database (`DATABASE()`), if any.
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    fn is_mariadb(&self) -> bool {
        self.dialect.flavour() == Flavour::MariaDb
    }
}

impl crate::sealed::Sealed for MySql {}

/// Whole seconds, rounded up, between 1 and a year.
fn lock_wait_seconds(timeout: Duration) -> u64 {
    let seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    seconds.clamp(1, MAX_LOCK_WAIT_SECONDS)
}

fn precondition_error(why: &str) -> DriverError {
    DriverError::new(
        DriverErrorKind::Connection,
        format!(
            "the session does not keep the settings Cairn relies on: {why}; something between \
             sqlx and the server (a proxy, a plugin, or the pool's after_connect) overrides them: \
             connect to the server directly (docs/engines.md, \"Session preconditions and literals\")"
        ),
    )
}

/// The error number in a code written as `1146, SQLSTATE 42S02`.
fn number(error: &DriverError) -> Option<u16> {
    error
        .code
        .as_deref()
        .and_then(|code| code.split(',').next())
        .and_then(|n| n.trim().parse().ok())
}

struct UserLock<'d> {
    driver: &'d mut SqlxDriver<MySql>,
    name: &'d str,
    literal: &'d str,
}

#[async_trait]
impl TryLock for UserLock<'_> {
    async fn try_lock(&mut self, wait: Duration) -> Result<bool, DriverError> {
        let wait = wait.as_secs().min(MAX_LOCK_WAIT_SECONDS);
        self.driver.set_server_wait(Duration::from_secs(wait));
        let got = self
            .driver
            .scalar(&format!("SELECT GET_LOCK({}, {wait})", self.literal))
            .await;
        self.driver.set_server_wait(Duration::ZERO);
        Ok(got?.as_deref() == Some("1"))
    }

    async fn holder(&mut self) -> Result<String, DriverError> {
        cairn::dialect::mysql::lock::lock_holder(self.driver, self.name).await
    }
}

#[async_trait]
impl Backend for MySql {
    type Session = MySqlSession;
    const SERVER: &'static str = "MySQL";
    const DRIVER_NAME: &'static str = "cairn-sqlx (MySQL)";
    const NETWORK: bool = true;
    const BEGIN: &'static str = "START TRANSACTION";

    fn execute<'c>(conn: &'c mut Self::Connection, sql: &'c str) -> Reply<'c, u64> {
        Box::pin(async move {
            let done = sqlx::raw_sql(AssertSqlSafe(sql)).execute(conn).await?;
            Ok(done.rows_affected())
        })
    }

    fn fetch<'c>(conn: &'c mut Self::Connection, sql: &'c str) -> Reply<'c, Rows> {
        Box::pin(async move {
            let rows = sqlx::raw_sql(AssertSqlSafe(sql)).fetch_all(conn).await?;
            // The text protocol: every value is the server's text; bytes
            // that are not UTF-8 are decoded lossily, as Cairn's driver does.
            rows.iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| {
                            row.try_get_unchecked::<Option<Vec<u8>>, _>(i).map(|value| {
                                value.map(|bytes| {
                                    String::from_utf8(bytes).unwrap_or_else(|e| {
                                        String::from_utf8_lossy(e.as_bytes()).into_owned()
                                    })
                                })
                            })
                        })
                        .collect()
                })
                .collect()
        })
    }

    fn classify(error: &dyn sqlx::error::DatabaseError) -> (DriverErrorKind, String) {
        let Some(mysql) = error.try_downcast_ref::<MySqlDatabaseError>() else {
            let code = error.code().map(|c| c.into_owned()).unwrap_or_default();
            return (DriverErrorKind::Statement, code);
        };
        let number = mysql.number();
        let kind = if matches!(number, LOCK_WAIT_TIMEOUT | DEADLOCK | SNAPSHOT_CONFLICT) {
            DriverErrorKind::LockTimeout
        } else if CONNECTION_ERRORS.contains(&number) {
            DriverErrorKind::Connection
        } else {
            DriverErrorKind::Statement
        };
        let state = mysql.code().unwrap_or("HY000");
        (kind, format!("{number}, SQLSTATE {state}"))
    }

    fn dialect(session: &MySqlSession) -> &dyn Dialect {
        &session.dialect
    }

    fn capabilities() -> Capabilities {
        Capabilities::new(false, LockKind::Session).with_run_lock()
    }

    fn describe(session: &MySqlSession) -> String {
        format!(
            "database `{}` (sqlx connection {})",
            session.database.as_deref().unwrap_or_default(),
            session.connection_id
        )
    }

    async fn prepare(driver: &mut SqlxDriver<Self>) -> Result<(), DriverError> {
        let rows = driver
            .rows("SELECT VERSION(), CONNECTION_ID(), DATABASE()")
            .await?;
        let row = rows.into_iter().next().unwrap_or_default();
        let field = |i: usize| row.get(i).cloned().flatten();
        *driver.session_mut() = MySqlSession {
            connection_id: field(1).and_then(|id| id.parse().ok()).unwrap_or_default(),
            database: field(2),
            dialect: MysqlDialect::from_version(&field(0).unwrap_or_default()),
            lock_name: None,
        };
        let preconditions = driver.session().dialect.session_preconditions();
        if let (Some(establish), Some(check)) = (preconditions.establish(), preconditions.check()) {
            driver.run(&establish).await?;
            let rows = driver.rows(&check).await?;
            preconditions
                .verify(&rows)
                .map_err(|why| precondition_error(&why))?;
        }
        Ok(())
    }

    async fn lock(driver: &mut SqlxDriver<Self>, timeout: Duration) -> Result<(), DriverError> {
        if driver.session().lock_name.is_some() {
            // GET_LOCK nests on one session; Cairn's lock does not.
            return Ok(());
        }
        let name = cairn::dialect::mysql::lock::lock_name(driver).await?;
        let literal = driver.session().dialect.string_literal(&name);
        let mut user_lock = UserLock {
            driver: &mut *driver,
            name: &name,
            literal: &literal,
        };
        lock::poll(&mut user_lock, timeout, LOCK_POLL).await?;
        driver.session_mut().lock_name = Some(name);
        Ok(())
    }

    async fn unlock(driver: &mut SqlxDriver<Self>) -> Result<(), DriverError> {
        let Some(name) = driver.session_mut().lock_name.take() else {
            return Ok(());
        };
        let literal = driver.session().dialect.string_literal(&name);
        match driver
            .scalar(&format!("SELECT RELEASE_LOCK({literal})"))
            .await?
            .as_deref()
        {
            Some("1") => Ok(()),
            _ => Err(DriverError::new(
                DriverErrorKind::Other,
                format!("the migration lock `{name}` was no longer held by this connection when released"),
            )),
        }
    }

    async fn apply_settings(
        driver: &mut SqlxDriver<Self>,
        settings: &SessionSettings,
    ) -> Result<(), DriverError> {
        let lock = settings.lock_timeout.map_or_else(
            || "DEFAULT".to_owned(),
            |t| lock_wait_seconds(t).to_string(),
        );
        let mariadb = driver.session().is_mariadb();
        let (variable, statement) = if mariadb {
            (
                "max_statement_time",
                settings.statement_timeout.map_or_else(
                    || "DEFAULT".to_owned(),
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
        let preconditions: String = driver
            .session()
            .dialect
            .session_preconditions()
            .settings()
            .iter()
            .map(|s| format!(", SESSION {}", s.assignment))
            .collect();
        driver
            .run(&format!(
                "SET SESSION lock_wait_timeout = {lock}, SESSION innodb_lock_wait_timeout = {lock}, SESSION {variable} = {statement}{preconditions}"
            ))
            .await?;
        // MySQL's max_execution_time stops SELECTs only: it bounds no DDL or DML.
        driver.set_statement_timeout(if mariadb {
            settings.statement_timeout
        } else {
            None
        });
        Ok(())
    }

    async fn confirms_completed(_: &mut SqlxDriver<Self>, error: &DriverError) -> bool {
        number(error).is_some_and(|n| ALREADY_DONE.contains(&n))
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
    fn lock_waits_round_up_to_whole_seconds() {
        assert_eq!(lock_wait_seconds(Duration::ZERO), 1);
        assert_eq!(lock_wait_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(
            lock_wait_seconds(Duration::from_secs(u64::MAX)),
            MAX_LOCK_WAIT_SECONDS
        );
    }

    #[test]
    fn codes_give_the_error_number() {
        let error =
            DriverError::new(DriverErrorKind::Statement, "x").with_code("1050, SQLSTATE 42S01");
        assert_eq!(number(&error), Some(1050));
        assert_eq!(
            number(&DriverError::new(DriverErrorKind::Statement, "x")),
            None
        );
    }
}

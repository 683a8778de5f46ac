//! Conformance cases for the driver's primitives on their own: `execute`,
//! `execute_many`, the run lock of either kind, and a driver without the run
//! lock, which the migrator must refuse before it changes anything.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use cairn_core::driver::Rows;
use cairn_core::{
    Capabilities, Driver, DriverError, DriverErrorKind, Error, LockKind, Migrator, MigratorOptions,
    SessionSettings, Workload,
};

use super::{migrator, query, table_exists, three_tables, Target};

/// The rows of `SELECT id, v FROM <table> ORDER BY id`, as text.
async fn pairs(driver: &mut dyn Driver, table: &str) -> Vec<(String, String)> {
    query(driver, &format!("SELECT id, v FROM {table} ORDER BY id"))
        .await
        .into_iter()
        .map(|row| {
            let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            (field(0), field(1))
        })
        .collect()
}

fn pair(id: &str, v: &str) -> (String, String) {
    (id.to_owned(), v.to_owned())
}

/// `execute` runs one statement and returns the rows it affected (none for
/// DDL); a failing statement is a `Statement` error and changes nothing.
pub async fn execute_returns_affected_rows(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let driver = driver.as_mut();
    for (sql, affected) in [
        (
            "CREATE TABLE x_rows (id INTEGER PRIMARY KEY, v VARCHAR(10))",
            0,
        ),
        (
            "INSERT INTO x_rows (id, v) VALUES (1, 'a'), (2, 'b'), (3, 'c')",
            3,
        ),
        ("UPDATE x_rows SET v = 'z' WHERE id > 1", 2),
        ("UPDATE x_rows SET v = 'q' WHERE id = 99", 0),
        ("DELETE FROM x_rows WHERE id = 3", 1),
    ] {
        let got = driver
            .execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(got, affected, "rows affected by {sql}");
    }
    let err = driver
        .execute("INSERT INTO x_rows (id, v) VALUES (1, 'dup')")
        .await
        .expect_err("a duplicate primary key was inserted");
    assert_eq!(err.kind, DriverErrorKind::Statement, "{err}");
    assert_eq!(
        pairs(driver, "x_rows").await,
        vec![pair("1", "a"), pair("2", "z")]
    );
}

/// `execute_many` runs statements in order and stops at the first that
/// fails, returning its index: outside a transaction the ones before it
/// stay (each autocommits) and the ones after it never run; inside one,
/// the same index comes back and a rollback undoes the batch.
pub async fn execute_many_runs_in_order_and_stops_at_the_first_failure(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let driver = driver.as_mut();
    driver
        .execute_many(&[])
        .await
        .unwrap_or_else(|(i, e)| panic!("an empty batch failed at {i}: {e}"));
    driver
        .execute_many(&[
            "CREATE TABLE x_many (id INTEGER PRIMARY KEY, v VARCHAR(10))",
            "INSERT INTO x_many (id, v) VALUES (1, 'a')",
            "UPDATE x_many SET v = 'b' WHERE id = 1",
        ])
        .await
        .unwrap_or_else(|(i, e)| panic!("statement {i} failed: {e}"));
    assert_eq!(
        pairs(driver, "x_many").await,
        vec![pair("1", "b")],
        "the update ran before the insert"
    );

    // Outside a transaction: 0 and 1 stay, 2 fails, 3 never runs.
    let (index, err) = driver
        .execute_many(&[
            "INSERT INTO x_many (id, v) VALUES (2, 'c')",
            "UPDATE x_many SET v = 'd' WHERE id = 2",
            "INSERT INTO x_many (id, v) VALUES (1, 'dup')",
            "INSERT INTO x_many (id, v) VALUES (3, 'never')",
        ])
        .await
        .expect_err("a duplicate primary key was inserted");
    assert_eq!(index, 2, "{err}");
    assert_eq!(err.kind, DriverErrorKind::Statement, "{err}");
    assert_eq!(
        pairs(driver, "x_many").await,
        vec![pair("1", "b"), pair("2", "d")]
    );
    let (index, err) = driver
        .execute_many(&[
            "INSERT INTO x_many (id, v) VALUES (1, 'dup')",
            "INSERT INTO x_many (id, v) VALUES (4, 'never')",
        ])
        .await
        .expect_err("a duplicate primary key was inserted");
    assert_eq!(index, 0, "{err}");

    // In a transaction (where a driver may send the batch at once): the
    // same index, and the rollback leaves nothing of the batch.
    driver.begin().await.expect("begin");
    let (index, err) = driver
        .execute_many(&[
            "INSERT INTO x_many (id, v) VALUES (10, 'e')",
            "INSERT INTO x_many (id, v) VALUES (11, 'f')",
            "INSERT INTO x_many (id, v) VALUES (10, 'dup')",
            "INSERT INTO x_many (id, v) VALUES (12, 'never')",
        ])
        .await
        .expect_err("a duplicate primary key was inserted");
    assert_eq!(index, 2, "{err}");
    assert_eq!(err.kind, DriverErrorKind::Statement, "{err}");
    driver.rollback().await.expect("rollback");
    assert_eq!(
        pairs(driver, "x_many").await,
        vec![pair("1", "b"), pair("2", "d")]
    );
    driver.begin().await.expect("begin");
    driver
        .execute_many(&[
            "INSERT INTO x_many (id, v) VALUES (20, 'g')",
            "UPDATE x_many SET v = 'h' WHERE id = 20",
            "DELETE FROM x_many WHERE id = 2",
        ])
        .await
        .unwrap_or_else(|(i, e)| panic!("statement {i} failed: {e}"));
    driver.commit().await.expect("commit");
    assert_eq!(
        pairs(driver, "x_many").await,
        vec![pair("1", "b"), pair("20", "h")]
    );
}

/// While one connection holds the run lock, a second runner (the migrator on
/// another connection) waits its lock timeout, fails with a lock timeout
/// naming the holder and changes nothing; once released, it runs. On an
/// engine without a session lock this is the driver's own lock (SQLite: a
/// file lock), which must name the process that holds it.
pub async fn run_lock_excludes_a_second_runner(target: &dyn Target) {
    let db = target.fresh().await;
    let mut holder = db.connect().await;
    let mut second = db.connect().await;
    assert!(
        holder.capabilities().run_lock,
        "the driver states no run lock (Capabilities::with_run_lock)"
    );
    holder
        .lock(Duration::from_secs(5))
        .await
        .expect("the first lock");
    let dir = three_tables().build();
    let waiting = Migrator::new(
        dir.read(),
        MigratorOptions {
            lock_wait: Duration::from_millis(300),
            ..MigratorOptions::default()
        },
    );
    let started = Instant::now();
    let failure = waiting
        .up(second.as_mut(), None)
        .await
        .expect_err("a second runner ran while the run lock was held");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "gave up after {:?}, before its lock wait of 300 ms",
        started.elapsed()
    );
    match &failure.error {
        Error::LockTimeout { holder, .. } => assert!(!holder.is_empty(), "{}", failure.error),
        other => panic!("expected a lock timeout, got {other}"),
    }
    assert!(failure.report.migrations.is_empty());
    assert!(
        !table_exists(second.as_mut(), "cairn_history").await,
        "the refused runner created the history"
    );
    if holder.capabilities().lock == LockKind::WriteTransaction {
        let err = second
            .lock(Duration::from_millis(300))
            .await
            .expect_err("a second connection took the run lock the first one holds");
        assert_eq!(err.kind, DriverErrorKind::LockHeld, "{err}");
        assert!(
            err.message.contains("process"),
            "the holder is named: {err}"
        );
    }
    holder.unlock().await.expect("unlock");
    let report = migrator(&dir)
        .up(second.as_mut(), None)
        .await
        .unwrap_or_else(|f| panic!("the second runner failed once the lock was free: {f}"));
    assert_eq!(report.migrations.len(), 3);
    second
        .lock(Duration::from_secs(5))
        .await
        .expect("the lock is free after the run");
    second.unlock().await.expect("unlock");
    if holder.capabilities().lock == LockKind::WriteTransaction {
        holder.unlock().await.expect("unlock is idempotent");
    }
}

/// Which lock a [`Lockless`] wrapper leaves out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Omits {
    /// States no run lock in its capabilities (and implements none).
    Statement,
    /// States the run lock but forgets to implement it.
    Implementation,
}

/// The driver under test without its run lock: every required method goes
/// to it, the lock methods keep the trait's defaults.
#[derive(Debug)]
struct Lockless {
    inner: Box<dyn Driver>,
    omits: Omits,
}

#[async_trait]
impl Driver for Lockless {
    fn dialect(&self) -> &dyn cairn_core::dialect::Dialect {
        self.inner.dialect()
    }
    fn capabilities(&self) -> Capabilities {
        let inner = self.inner.capabilities();
        let stated = Capabilities::new(inner.transactional_ddl, inner.lock);
        match self.omits {
            Omits::Statement => stated,
            Omits::Implementation => stated.with_run_lock(),
        }
    }
    fn set_workload(&mut self, workload: Workload) {
        self.inner.set_workload(workload);
    }
    async fn apply_settings(&mut self, settings: &SessionSettings) -> Result<(), DriverError> {
        self.inner.apply_settings(settings).await
    }
    async fn begin(&mut self) -> Result<(), DriverError> {
        self.inner.begin().await
    }
    async fn commit(&mut self) -> Result<(), DriverError> {
        self.inner.commit().await
    }
    async fn rollback(&mut self) -> Result<(), DriverError> {
        self.inner.rollback().await
    }
    async fn execute(&mut self, sql: &str) -> Result<u64, DriverError> {
        self.inner.execute(sql).await
    }
    async fn query(&mut self, sql: &str) -> Result<Rows, DriverError> {
        self.inner.query(sql).await
    }
}

/// A driver that states no run lock, or states it and keeps the default
/// `lock`, is refused by the migrator with an error naming the driver and
/// what to implement, before it creates or changes anything.
pub async fn unsupported_lock_is_refused_before_anything_changes(target: &dyn Target) {
    let db = target.fresh().await;
    let dir = three_tables().build();
    let migrator = migrator(&dir);
    for (omits, says) in [
        (
            Omits::Statement,
            "driver `cairn_testkit::conformance::primitives::Lockless` states no run lock in its Capabilities",
        ),
        (
            Omits::Implementation,
            "driver `cairn_testkit::conformance::primitives::Lockless` does not implement Driver::lock",
        ),
    ] {
        let mut driver = Lockless {
            inner: db.connect().await,
            omits,
        };
        let failure = migrator
            .up(&mut driver, None)
            .await
            .expect_err("a driver without the run lock ran migrations");
        match &failure.error {
            Error::Driver { context, cause, .. } => {
                assert_eq!(context, "taking the migration lock", "{omits:?}");
                assert_eq!(cause.kind, DriverErrorKind::Unsupported, "{omits:?}: {cause}");
                assert!(cause.message.starts_with(says), "{omits:?}: {cause}");
                assert!(
                    cause.message.contains("Capabilities::with_run_lock()"),
                    "{omits:?} says what to implement: {cause}"
                );
            }
            other => panic!("{omits:?}: expected a driver error, got {other}"),
        }
        assert!(failure.report.migrations.is_empty());
        let baseline = migrator.baseline(&mut driver, cairn_core::Version::from(1)).await;
        assert!(
            matches!(&baseline, Err(Error::Driver { cause, .. }) if cause.kind == DriverErrorKind::Unsupported),
            "{omits:?}: baseline without the run lock: {baseline:?}"
        );
        let repair = migrator.repair(&mut driver).await;
        assert!(
            matches!(&repair, Err(Error::Driver { cause, .. }) if cause.kind == DriverErrorKind::Unsupported),
            "{omits:?}: repair without the run lock: {repair:?}"
        );
        let mut direct = db.connect().await;
        for table in ["cairn_history", "a"] {
            assert!(
                !table_exists(direct.as_mut(), table).await,
                "{omits:?}: `{table}` was created by a refused run"
            );
        }
    }
}

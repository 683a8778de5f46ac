//! The driver conformance suite: named cases every Cairn driver must pass.
//!
//! A driver crate proves itself by implementing [`Target`] (how to get a
//! fresh database and connect to it) and expanding [`conformance_tests!`](crate::conformance_tests)
//! in one of its test files, which makes one `#[tokio::test]` per case:
//!
//! ```text
//! struct MyTarget;
//! #[async_trait::async_trait]
//! impl cairn_testkit::conformance::Target for MyTarget { /* ... */ }
//! cairn_testkit::conformance_tests!(MyTarget);
//! ```
//!
//! Every case runs on its own fresh database, so cases run in parallel. A case
//! fails by panicking with a message that says what the driver got wrong.
//! The cases only use the public API of cairn-core, so they check the driver
//! through the same [`Migrator`] users run.

use std::time::Duration;

use async_trait::async_trait;
use cairn_core::backfill::{Progress, StopSignal};
use cairn_core::driver::Rows;
use cairn_core::history::{HistorySql, HistoryState};
use cairn_core::{
    Direction, DownTarget, Driver, DriverErrorKind, Engine, Error, LockKind, Migrator,
    MigratorOptions, Problem,
};

use crate::fixture::{Fixture, FixtureDir};

mod primitives;

pub use primitives::{
    execute_many_runs_in_order_and_stops_at_the_first_failure, execute_returns_affected_rows,
    run_lock_excludes_a_second_runner, unsupported_lock_is_refused_before_anything_changes,
};

/// Where a conformance case gets its databases.
#[async_trait]
pub trait Target: Send + Sync {
    /// A new, empty database for one case.
    async fn fresh(&self) -> Box<dyn Database>;
}

/// One fresh database.
#[async_trait]
pub trait Database: Send + Sync {
    /// A new connection to it. Panics (failing the case) if it cannot connect.
    async fn connect(&self) -> Box<dyn Driver>;
}

/// The one list of conformance cases. [`CASES`] and [`conformance_tests!`](crate::conformance_tests)
/// are both generated from it, so a case cannot be listed and never run: a
/// name here without a case function is a compile error in every crate that
/// expands the tests, and a unit test of this crate fails on a case function
/// missing here. It calls `$then!` with `$args`, a `;`, and the names.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($then:ident!($($args:tt)*)) => {
        $crate::$then!($($args)*;
            history_round_trip,
            lock_exclusivity,
            run_lock_excludes_a_second_runner,
            unsupported_lock_is_refused_before_anything_changes,
            execute_returns_affected_rows,
            execute_many_runs_in_order_and_stops_at_the_first_failure,
            failing_migration,
            checksum_mismatch,
            no_transaction_directive,
            down_and_redo,
            engine_override,
            baseline_and_repair,
            directives,
            concurrent_runners,
            resume_after_fix,
            backfill_resume_composite_key,
            backfill_failing_row,
            backfill_replica_lag,
            stop_between_migrations,
        );
    };
}

/// Defines [`CASES`] from the names it is given.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_case_names {
    (; $($case:ident),* $(,)?) => {
        /// The names of every case, in the order [`conformance_tests!`](crate::conformance_tests) expands them.
        pub const CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

__conformance_cases!(__conformance_case_names!());

/// Expands to one `#[tokio::test]` per conformance case for `$target`
/// (an expression of a type implementing [`Target`]), from the same list as
/// [`CASES`]. The calling crate needs `tokio` with the `macros` and
/// `rt-multi-thread` features as a dev-dependency.
#[macro_export]
macro_rules! conformance_tests {
    ($target:expr) => {
        $crate::__conformance_cases!(__conformance_test_fns!($target));
    };
}

/// The test functions of [`conformance_tests!`](crate::conformance_tests).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_test_fns {
    ($target:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::$case(&$target).await;
            }
        )*
    };
}

fn migrator(dir: &FixtureDir) -> Migrator {
    let options = MigratorOptions {
        lock_wait: Duration::from_secs(30),
        retry_backoff: Duration::from_millis(50),
        ..MigratorOptions::default()
    };
    Migrator::new(dir.read(), options)
}

async fn query(driver: &mut dyn Driver, sql: &str) -> Rows {
    driver
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{} query failed: {e}\n{sql}", driver.dialect().engine()))
}

/// Whether `table` exists in the database the driver is connected to.
pub async fn table_exists(driver: &mut dyn Driver, table: &str) -> bool {
    let sql = driver.dialect().table_exists(None, table);
    !query(driver, &sql).await.is_empty()
}

/// The number of rows in the append-only log with `action` for `version`.
pub async fn log_count(driver: &mut dyn Driver, version: i64, action: &str) -> usize {
    let sql = HistorySql::new(driver.dialect(), &Default::default());
    let log = sql.table().replace("cairn_history", "cairn_history_log");
    let rows = query(
        driver,
        &format!("SELECT COUNT(*) FROM {log} WHERE version = {version} AND action = '{action}' AND outcome = 'ok'"),
    )
    .await;
    rows.first()
        .and_then(|row| row.first().cloned().flatten())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot count log rows: {rows:?}"))
}

fn three_tables() -> Fixture {
    Fixture::new()
        .migration(1, "create_a", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n", Some("DROP TABLE a;\n"))
        .migration(
            2,
            "create_b",
            "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER);\nCREATE INDEX b_a_id ON b (a_id);\n",
            Some("DROP TABLE b;\n"),
        )
        .migration(3, "create_c", "CREATE TABLE c (id INTEGER PRIMARY KEY);\n", Some("DROP TABLE c;\n"))
}

/// Applied migrations are recorded with their checksum, state and a log row,
/// and read back as applied.
pub async fn history_round_trip(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let dir = three_tables().build();
    let migrator = migrator(&dir);
    let report = migrator
        .up(driver.as_mut(), None)
        .await
        .unwrap_or_else(|f| panic!("up failed: {f}"));
    assert_eq!(report.migrations.len(), 3, "{report:?}");
    let history = migrator
        .history(driver.as_mut())
        .await
        .expect("history reads");
    let engine = driver.dialect().engine();
    for (row, migration) in history.iter().zip(migrator.migrations()) {
        assert_eq!(row.version, migration.version);
        assert_eq!(row.name, migration.name);
        assert_eq!(Some(&row.checksum), migration.checksum(engine).as_ref());
        assert_eq!(row.state, HistoryState::Applied);
        assert!(
            row.applied_at.ends_with('Z'),
            "applied_at {:?}",
            row.applied_at
        );
        assert_eq!(log_count(driver.as_mut(), row.version.key(), "up").await, 1);
    }
    assert_eq!(history.len(), 3);
    for table in ["a", "b", "c"] {
        assert!(
            table_exists(driver.as_mut(), table).await,
            "table {table} missing"
        );
    }
    let status = migrator.status(driver.as_mut()).await.expect("status");
    assert!(
        status
            .migrations
            .iter()
            .all(|m| m.state == cairn_core::State::Applied),
        "{status:?}"
    );
    let again = migrator.up(driver.as_mut(), None).await.expect("second up");
    assert!(
        again.migrations.is_empty(),
        "second up applied {:?}",
        again.migrations
    );
}

/// While one connection holds the migration lock, another cannot take it.
pub async fn lock_exclusivity(target: &dyn Target) {
    let db = target.fresh().await;
    let mut first = db.connect().await;
    let mut second = db.connect().await;
    match first.capabilities().lock {
        LockKind::Session => {
            first
                .lock(Duration::from_secs(5))
                .await
                .expect("first lock");
            let started = std::time::Instant::now();
            let err = second
                .lock(Duration::from_millis(300))
                .await
                .expect_err("second connection took a lock the first one holds");
            assert_eq!(err.kind, DriverErrorKind::LockHeld, "{err}");
            assert!(
                started.elapsed() >= Duration::from_millis(300),
                "gave up after {:?}, before its timeout of 300 ms",
                started.elapsed()
            );
            first.unlock().await.expect("unlock");
            second
                .lock(Duration::from_secs(5))
                .await
                .expect("lock after release");
            second.unlock().await.expect("unlock");
        }
        LockKind::WriteTransaction => {
            let settings = cairn_core::SessionSettings {
                lock_timeout: Some(Duration::from_millis(300)),
                statement_timeout: None,
            };
            second.apply_settings(&settings).await.expect("settings");
            first.begin().await.expect("first write transaction");
            let err = second.begin().await.expect_err(
                "second connection began a write transaction while the first holds one",
            );
            assert_eq!(err.kind, DriverErrorKind::LockTimeout, "{err}");
            first.commit().await.expect("commit");
            second
                .begin()
                .await
                .expect("begin after the first committed");
            second.rollback().await.expect("rollback");
        }
        _ => panic!("unknown lock kind"),
    }
}

/// A statement failing in the third statement of a migration: in a
/// transaction, nothing of it stays; outside one, a `failed` row says where.
pub async fn failing_migration(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let dir = Fixture::new()
        .migration(1, "ok", "CREATE TABLE ok_table (id INTEGER PRIMARY KEY);\n", Some("DROP TABLE ok_table;\n"))
        .migration(
            2,
            "broken",
            "CREATE TABLE first_t (id INTEGER PRIMARY KEY);\nCREATE TABLE second_t (id INTEGER PRIMARY KEY);\n\nINSERT INTO no_such_table VALUES (1);\n",
            Some("DROP TABLE second_t;\nDROP TABLE first_t;\n"),
        )
        .build();
    let migrator = migrator(&dir);
    let failure = migrator
        .up(driver.as_mut(), None)
        .await
        .expect_err("a broken migration applied");
    assert_eq!(
        failure.report.migrations.len(),
        1,
        "migration 1 should have applied first"
    );
    match &failure.error {
        Error::Statement {
            version,
            index,
            count,
            location,
            ..
        } => {
            assert_eq!((version.key(), *index, *count), (2, 3, 3));
            assert!(
                location.to_string().ends_with("up.sql:4"),
                "location {location}"
            );
        }
        other => panic!("expected a statement error, got {other}"),
    }
    let history = migrator.history(driver.as_mut()).await.expect("history");
    if driver.capabilities().transactional_ddl {
        assert_eq!(
            history.len(),
            1,
            "history after a rolled back migration: {history:?}"
        );
        assert!(
            !table_exists(driver.as_mut(), "first_t").await,
            "statement 1 was not rolled back"
        );
        assert!(
            !table_exists(driver.as_mut(), "second_t").await,
            "statement 2 was not rolled back"
        );
    } else {
        let row = history
            .iter()
            .find(|r| r.version == 2)
            .expect("a failed row for migration 2");
        assert_eq!(row.state, HistoryState::Failed);
        assert_eq!(row.statements_done, Some(2));
        assert!(
            row.error
                .as_ref()
                .is_some_and(|e| e.to_string().contains("up.sql:4")),
            "{row:?}"
        );
        let refused = migrator
            .up(driver.as_mut(), None)
            .await
            .expect_err("up ran over a failed migration");
        assert!(
            matches!(refused.error, Error::Validation(_)),
            "{}",
            refused.error
        );
    }
}

/// Changing an applied migration is refused until repaired.
pub async fn checksum_mismatch(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let dir = three_tables().build();
    migrator(&dir)
        .up(driver.as_mut(), Some(cairn_core::Version::from(2)))
        .await
        .expect("up to 2");
    dir.write(
        "1_create_a/up.sql",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, extra INTEGER);\n",
    );
    let migrator = migrator(&dir);
    let failure = migrator
        .up(driver.as_mut(), None)
        .await
        .expect_err("up accepted a modified migration");
    match &failure.error {
        Error::Validation(problems) => {
            assert!(
                problems
                    .0
                    .iter()
                    .any(|p| matches!(p, Problem::Modified { version, .. } if *version == 1)),
                "{problems}"
            );
        }
        other => panic!("expected a validation error, got {other}"),
    }
    assert!(
        !table_exists(driver.as_mut(), "c").await,
        "up ran despite the mismatch"
    );
    let actions = migrator.repair(driver.as_mut()).await.expect("repair");
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(log_count(driver.as_mut(), 1, "repair").await, 1);
    migrator
        .up(driver.as_mut(), None)
        .await
        .expect("up after repair");
    assert!(table_exists(driver.as_mut(), "c").await);
}

/// `-- cairn:no-transaction` runs outside a transaction and records progress.
pub async fn no_transaction_directive(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let dir = Fixture::new()
        .migration(
            1,
            "outside",
            "-- cairn:no-transaction\nCREATE TABLE t1 (id INTEGER PRIMARY KEY);\nCREATE INDEX t1_id ON t1 (id);\n",
            Some("DROP TABLE t1;\n"),
        )
        .migration(
            2,
            "outside_broken",
            "-- cairn:no-transaction\nCREATE TABLE t2 (id INTEGER PRIMARY KEY);\nINSERT INTO missing_table VALUES (1);\n",
            Some("DROP TABLE t2;\n"),
        )
        .build();
    let migrator = migrator(&dir);
    let failure = migrator
        .up(driver.as_mut(), None)
        .await
        .expect_err("broken migration applied");
    assert_eq!(failure.report.migrations.len(), 1);
    assert!(!failure.report.migrations[0].transactional);
    assert!(table_exists(driver.as_mut(), "t1").await);
    assert!(
        table_exists(driver.as_mut(), "t2").await,
        "statement 1 ran outside a transaction and stays"
    );
    let history = migrator.history(driver.as_mut()).await.expect("history");
    let row = history.iter().find(|r| r.version == 2).expect("failed row");
    assert_eq!(
        (row.state, row.statements_done),
        (HistoryState::Failed, Some(1)),
        "{row:?}"
    );
    // The user undoes statement 1 by hand, then repairs.
    driver.execute("DROP TABLE t2").await.expect("manual fix");
    let actions = migrator.repair(driver.as_mut()).await.expect("repair");
    assert_eq!(actions.len(), 1, "{actions:?}");
    let history = migrator.history(driver.as_mut()).await.expect("history");
    assert_eq!(history.len(), 1, "{history:?}");
}

/// `down` undoes the newest migration, `redo` re-applies it, `--all` empties.
pub async fn down_and_redo(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let dir = three_tables().build();
    let migrator = migrator(&dir);
    migrator.up(driver.as_mut(), None).await.expect("up");
    let report = migrator
        .down(driver.as_mut(), DownTarget::Steps(1))
        .await
        .expect("down");
    assert_eq!(report.migrations.len(), 1);
    assert_eq!(report.migrations[0].direction, Direction::Down);
    assert!(!table_exists(driver.as_mut(), "c").await);
    assert!(table_exists(driver.as_mut(), "b").await);
    assert_eq!(
        migrator
            .history(driver.as_mut())
            .await
            .expect("history")
            .len(),
        2
    );
    assert_eq!(log_count(driver.as_mut(), 3, "down").await, 1);
    let report = migrator.redo(driver.as_mut()).await.expect("redo");
    assert_eq!(report.migrations.len(), 2);
    assert!(table_exists(driver.as_mut(), "b").await);
    assert_eq!(
        migrator
            .history(driver.as_mut())
            .await
            .expect("history")
            .len(),
        2
    );
    migrator.up(driver.as_mut(), None).await.expect("up again");
    migrator
        .down(
            driver.as_mut(),
            DownTarget::To(cairn_core::Version::from(1)),
        )
        .await
        .expect("down to 1");
    assert!(table_exists(driver.as_mut(), "a").await);
    assert!(!table_exists(driver.as_mut(), "b").await);
    migrator
        .down(driver.as_mut(), DownTarget::All)
        .await
        .expect("down all");
    assert!(!table_exists(driver.as_mut(), "a").await);
    assert!(migrator
        .history(driver.as_mut())
        .await
        .expect("history")
        .is_empty());
    let unknown = migrator
        .down(
            driver.as_mut(),
            DownTarget::To(cairn_core::Version::from(99)),
        )
        .await
        .expect_err("down to an unknown version");
    assert!(
        matches!(unknown.error, Error::UnknownTarget { version } if version == 99),
        "{}",
        unknown.error
    );
}

/// `up.<engine>.sql` replaces `up.sql` on its engine, and is what is checksummed.
pub async fn engine_override(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let engine = driver.dialect().engine();
    let dir = Fixture::new()
        .migration(
            1,
            "special",
            "THIS IS NOT SQL ON ANY ENGINE;\n",
            Some("DROP TABLE special;\n"),
        )
        .file(
            format!("1_special/up.{engine}.sql"),
            "CREATE TABLE special (id INTEGER PRIMARY KEY);\n",
        )
        .build();
    let migrator = migrator(&dir);
    migrator
        .up(driver.as_mut(), None)
        .await
        .expect("the override should have run");
    assert!(table_exists(driver.as_mut(), "special").await);
    let history = migrator.history(driver.as_mut()).await.expect("history");
    let expected =
        cairn_core::checksum::checksum("CREATE TABLE special (id INTEGER PRIMARY KEY);\n");
    assert_eq!(history[0].checksum, expected);
}

/// A baseline marks older migrations applied; repair drops missing ones.
pub async fn baseline_and_repair(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let dir = three_tables().build();
    let migrator = migrator(&dir);
    migrator
        .baseline(driver.as_mut(), cairn_core::Version::from(2))
        .await
        .expect("baseline");
    let report = migrator
        .up(driver.as_mut(), None)
        .await
        .expect("up after baseline");
    let versions: Vec<i64> = report.migrations.iter().map(|m| m.version.key()).collect();
    assert_eq!(versions, [3]);
    assert!(
        !table_exists(driver.as_mut(), "a").await,
        "a baselined migration ran"
    );
    let again = migrator
        .baseline(driver.as_mut(), cairn_core::Version::from(2))
        .await
        .expect_err("baseline over an existing history");
    assert!(again.to_string().contains("already has"), "{again}");
    // Remove migration 3 from disk: it is now missing; repair drops its row.
    std::fs::remove_dir_all(dir.path().join("3_create_c")).expect("remove 3");
    let shrunk = self::migrator(&dir);
    let status = shrunk.status(driver.as_mut()).await.expect("status");
    assert!(
        status
            .problems
            .iter()
            .any(|p| matches!(p, Problem::Missing { version, .. } if *version == 3)),
        "{status:?}"
    );
    let actions = shrunk.repair(driver.as_mut()).await.expect("repair");
    assert_eq!(actions.len(), 1);
    assert!(shrunk
        .status(driver.as_mut())
        .await
        .expect("status")
        .problems
        .is_empty());
}

/// `-- cairn:engines` limits a migration to some engines; timeouts parse and apply.
pub async fn directives(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let engine = driver.dialect().engine();
    let other: Vec<&str> = Engine::ALL
        .iter()
        .filter(|e| **e != engine)
        .map(|e| e.as_str())
        .collect();
    let dir = Fixture::new()
        .migration(
            1,
            "elsewhere",
            &format!("-- cairn:engines {}\nCREATE TABLE elsewhere (id INTEGER PRIMARY KEY);\n", other.join(",")),
            Some("DROP TABLE elsewhere;\n"),
        )
        .migration(
            2,
            "here",
            &format!("-- cairn:engines {engine}\n-- cairn:lock-timeout 2s\n-- cairn:statement-timeout 1m\nCREATE TABLE here (id INTEGER PRIMARY KEY);\n"),
            Some("DROP TABLE here;\n"),
        )
        .build();
    let migrator = migrator(&dir);
    let report = migrator.up(driver.as_mut(), None).await.expect("up");
    let versions: Vec<i64> = report.migrations.iter().map(|m| m.version.key()).collect();
    assert_eq!(versions, [2]);
    assert!(!table_exists(driver.as_mut(), "elsewhere").await);
    let status = migrator.status(driver.as_mut()).await.expect("status");
    assert!(
        status.migrations.iter().all(|m| m.version == 2),
        "{status:?}"
    );
}

/// Eight runners at once apply every migration exactly once.
pub async fn concurrent_runners(target: &dyn Target) {
    let db = target.fresh().await;
    let dir = three_tables().build();
    let migrations = dir.read();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut driver = db.connect().await;
        let migrator = Migrator::new(
            migrations.clone(),
            MigratorOptions {
                lock_wait: Duration::from_secs(60),
                statement_lock_timeout: Duration::from_secs(30),
                ..MigratorOptions::default()
            },
        );
        tasks.push(tokio::spawn(async move {
            let result = migrator.up(driver.as_mut(), None).await;
            (
                result.map(|r| r.migrations.iter().filter(|m| !m.skipped).count()),
                driver,
            )
        }));
    }
    let mut applied = 0;
    let mut last = None;
    for task in tasks {
        let (result, driver) = task.await.expect("runner task panicked");
        applied += result.unwrap_or_else(|f| panic!("a concurrent runner failed: {f}"));
        last = Some(driver);
    }
    assert_eq!(applied, 3, "migrations applied across all runners");
    let mut driver = last.expect("eight runners");
    for version in 1..=3 {
        assert_eq!(
            log_count(driver.as_mut(), version, "up").await,
            1,
            "log entries for {version}"
        );
    }
}

/// A migration that failed outside a transaction resumes from the failed
/// statement once fixed, and refuses when statements that ran have changed.
pub async fn resume_after_fix(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let dir = Fixture::new()
        .migration(
            1,
            "two_steps",
            "-- cairn:no-transaction\nCREATE TABLE r1 (id INTEGER PRIMARY KEY);\nINSERT INTO r1_typo VALUES (1);\n",
            Some("DROP TABLE r1;\n"),
        )
        .migration(2, "after", "CREATE TABLE r2 (id INTEGER PRIMARY KEY);\n", Some("DROP TABLE r2;\n"))
        .build();
    let failure = migrator(&dir)
        .up(driver.as_mut(), None)
        .await
        .expect_err("the typo applied");
    assert!(
        failure.error.to_string().contains("--resume"),
        "{}",
        failure.error
    );
    let nothing = migrator(&dir)
        .up_resume(driver.as_mut(), None)
        .await
        .expect_err("resumed an unchanged failing statement");
    assert!(
        matches!(nothing.error, Error::Statement { index: 2, .. }),
        "{}",
        nothing.error
    );

    // Changing a statement that already ran is refused.
    dir.write("1_two_steps/up.sql", "-- cairn:no-transaction\nCREATE TABLE r1 (id INTEGER PRIMARY KEY, x INTEGER);\nINSERT INTO r1 VALUES (1);\n");
    let changed = migrator(&dir)
        .up_resume(driver.as_mut(), None)
        .await
        .expect_err("resumed over a changed statement");
    assert!(
        matches!(
            changed.error,
            Error::ResumeChanged {
                version,
                done: 1,
                ..
            } if version == 1
        ),
        "{}",
        changed.error
    );

    // Fixing only the failed statement resumes from it; statement 1 does not run again.
    dir.write("1_two_steps/up.sql", "-- cairn:no-transaction\nCREATE TABLE r1 (id INTEGER PRIMARY KEY);\nINSERT INTO r1 VALUES (1);\n");
    let migrator = migrator(&dir);
    let report = migrator
        .up_resume(driver.as_mut(), None)
        .await
        .unwrap_or_else(|f| panic!("resume failed: {f}"));
    let versions: Vec<i64> = report.migrations.iter().map(|m| m.version.key()).collect();
    assert_eq!(versions, [1, 2]);
    let history = migrator.history(driver.as_mut()).await.expect("history");
    assert!(
        history.iter().all(|r| r.state == HistoryState::Applied),
        "{history:?}"
    );
    assert_eq!(
        Some(&history[0].checksum),
        migrator.migrations()[0]
            .checksum(driver.dialect().engine())
            .as_ref()
    );
    assert!(migrator
        .status(driver.as_mut())
        .await
        .expect("status")
        .problems
        .is_empty());
    let rows = query(driver.as_mut(), "SELECT COUNT(*) FROM r1").await;
    assert_eq!(rows, vec![vec![Some("1".to_owned())]]);
}

/// `(a, b)` keys, 40 rows, `v` to fill.
fn backfill_fixture(batch: u32) -> Fixture {
    let values: Vec<String> = (1..=40)
        .map(|i| format!("({}, 'k{:02}', {i}, NULL)", i % 4, i))
        .collect();
    let toml = format!(
        "[[backfill]]\ntable = \"pairs\"\nset = \"v = n * 10\"\nwhere = \"v IS NULL\"\nbatch_size = {batch}\n"
    );
    Fixture::new()
        .migration(
            1,
            "pairs",
            &format!(
                "CREATE TABLE pairs (a INTEGER NOT NULL, b VARCHAR(10) NOT NULL, n INTEGER NOT NULL, v INTEGER, PRIMARY KEY (a, b), CONSTRAINT pairs_v_check CHECK (v IS NULL OR v <> 250));\nINSERT INTO pairs (a, b, n, v) VALUES {};\n",
                values.join(", ")
            ),
            Some("DROP TABLE pairs;\n"),
        )
        .file("2_fill/migration.toml", &toml)
        .file("3_fill_again/migration.toml", &toml)
}

async fn filled(driver: &mut dyn Driver) -> (usize, usize) {
    let rows = query(driver, "SELECT n, v FROM pairs").await;
    let good = rows
        .iter()
        .filter(|r| {
            let n: i64 = r[0].as_deref().and_then(|s| s.parse().ok()).unwrap_or(-1);
            r[1].as_deref().and_then(|s| s.parse::<i64>().ok()) == Some(n * 10)
        })
        .count();
    (good, rows.len())
}

/// A backfill on a composite key stops at a batch boundary when asked,
/// leaves its checkpoint and a `backfilling` row, resumes to the end, and a
/// second identical backfill changes nothing.
pub async fn backfill_resume_composite_key(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let dir = backfill_fixture(7).file(
        "2_fill/migration.toml",
        "[[backfill]]\ntable = \"pairs\"\nset = \"v = n * 10\"\nwhere = \"v IS NULL AND n <> 25\"\nbatch_size = 7\n",
    ).build();
    // Row n = 25 would break the CHECK; this case leaves it out.
    dir.write("3_fill_again/migration.toml", "[[backfill]]\ntable = \"pairs\"\nset = \"v = n * 10\"\nwhere = \"v IS NULL AND n <> 25\"\nbatch_size = 7\n");
    let stop = StopSignal::new();
    let mut first = migrator(&dir);
    first.set_stop_signal(stop.clone());
    let batches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = batches.clone();
    first.on_progress(std::sync::Arc::new(move |p: &Progress<'_>| {
        if !p.finished && seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == 2 {
            stop.stop();
        }
    }));
    let failure = first
        .up(driver.as_mut(), None)
        .await
        .expect_err("the backfill did not stop when asked");
    assert!(
        matches!(
            failure.error,
            Error::Interrupted {
                version,
                done: 14,
                total: 39,
                ..
            } if version == 2
        ),
        "{}",
        failure.error
    );
    let history = first.history(driver.as_mut()).await.expect("history");
    let states: Vec<(i64, HistoryState)> =
        history.iter().map(|r| (r.version.key(), r.state)).collect();
    assert_eq!(
        states,
        [(1, HistoryState::Applied), (2, HistoryState::Backfilling)]
    );
    assert_eq!(
        filled(driver.as_mut()).await,
        (14, 40),
        "rows filled by two batches of 7"
    );
    let checkpoints = first
        .backfill_status(driver.as_mut())
        .await
        .expect("checkpoints");
    assert_eq!(checkpoints.len(), 1);
    assert_eq!((checkpoints[0].rows_done, checkpoints[0].batches), (14, 2));
    assert_eq!(checkpoints[0].state.as_str(), "stopped");
    assert_eq!(checkpoints[0].key_columns, ["a", "b"]);

    let again = migrator(&dir);
    let report = again
        .up(driver.as_mut(), None)
        .await
        .unwrap_or_else(|f| panic!("resuming failed: {f}"));
    let done: Vec<(i64, Option<i64>)> = report
        .migrations
        .iter()
        .map(|m| (m.version.key(), m.backfilled))
        .collect();
    assert_eq!(
        done,
        [(2, Some(25)), (3, Some(0))],
        "resumed rows, then nothing for the repeat"
    );
    assert_eq!(filled(driver.as_mut()).await, (39, 40));
    let history = again.history(driver.as_mut()).await.expect("history");
    assert!(
        history.iter().all(|r| r.state == HistoryState::Applied),
        "{history:?}"
    );
    assert_eq!(log_count(driver.as_mut(), 2, "up").await, 1);
    let checkpoints = again
        .backfill_status(driver.as_mut())
        .await
        .expect("checkpoints");
    assert!(
        checkpoints.iter().all(|c| c.state.as_str() == "done"),
        "{checkpoints:?}"
    );

    // Rolling back removes the checkpoints; the data stays as the backfill left it.
    again
        .down(
            driver.as_mut(),
            DownTarget::To(cairn_core::Version::from(1)),
        )
        .await
        .unwrap_or_else(|f| panic!("down: {f}"));
    assert!(again
        .backfill_status(driver.as_mut())
        .await
        .expect("checkpoints")
        .is_empty());
    assert_eq!(filled(driver.as_mut()).await, (39, 40));
}

/// A backfill whose batch fails on one row names that row's key, keeps the
/// checkpoint at the last committed batch, and resumes once the row is fixed.
pub async fn backfill_failing_row(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let dir = backfill_fixture(10).build();
    let migrator = migrator(&dir);
    let failure = migrator
        .up(driver.as_mut(), Some(cairn_core::Version::from(2)))
        .await
        .expect_err("the CHECK constraint did not fail the batch");
    // Key order is (a, b): a = 0 holds n = 4, 8, ..., 40, so n = 25 (a = 1) is in the second batch.
    match &failure.error {
        Error::Backfill(f) => {
            assert_eq!(f.key.as_deref(), Some("1, k25"), "{}", failure.error);
            assert_eq!(f.table, "pairs");
        }
        other => panic!("expected a backfill error, got {other}"),
    }
    assert!(
        failure
            .error
            .to_string()
            .contains("2_fill/migration.toml:1"),
        "{}",
        failure.error
    );
    let checkpoints = migrator
        .backfill_status(driver.as_mut())
        .await
        .expect("checkpoints");
    assert_eq!(
        (checkpoints[0].state.as_str(), checkpoints[0].rows_done),
        ("failed", 10)
    );
    assert_eq!(
        filled(driver.as_mut()).await,
        (10, 40),
        "only the first batch is committed"
    );

    driver
        .execute("UPDATE pairs SET n = 26 WHERE a = 1 AND b = 'k25'")
        .await
        .expect("fix the row");
    migrator
        .up(driver.as_mut(), None)
        .await
        .unwrap_or_else(|f| panic!("resuming after the fix failed: {f}"));
    assert_eq!(filled(driver.as_mut()).await, (40, 40));
}

/// With a replica configured and `max_replication_lag`, a backfill waits
/// before its next batch until the replica has applied the earlier ones
/// (read from the replica's copy of the checkpoint), then goes on. The
/// "replica" here is a second database whose checkpoint the case writes.
pub async fn backfill_replica_lag(target: &dyn Target) {
    let primary = target.fresh().await;
    let replica = target.fresh().await;
    let mut driver = primary.connect().await;
    let mut observer = primary.connect().await;
    let mut replica_writer = replica.connect().await;
    let dir = backfill_fixture(10)
        .file(
            "2_fill/migration.toml",
            "[[backfill]]\ntable = \"pairs\"\nset = \"v = n * 10\"\nwhere = \"v IS NULL AND n <> 25\"\nbatch_size = 10\npause = \"300ms\"\nmax_replication_lag = \"200ms\"\n",
        )
        .build();
    let checkpoints = HistorySql::new(replica_writer.dialect(), &Default::default()).checkpoints();
    replica_writer
        .execute(&checkpoints.create())
        .await
        .expect("checkpoint table on the replica");
    let mut migrator = migrator(&dir);
    migrator.add_replica("replica", replica.connect().await);
    let run = tokio::spawn(async move {
        let result = migrator
            .up(driver.as_mut(), Some(cairn_core::Version::from(2)))
            .await
            .map(|_| ());
        result.map_err(|f| f.to_string())
    });
    // The first batch commits; the replica has applied none, so the second waits.
    let status = crate::conformance::migrator(&dir);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let first = loop {
        let done = status
            .backfill_status(observer.as_mut())
            .await
            .expect("checkpoints");
        if let Some(c) = done.first().filter(|c| c.batches >= 1) {
            break c.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no batch committed in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let waiting = status
        .backfill_status(observer.as_mut())
        .await
        .expect("checkpoints");
    assert_eq!(
        waiting[0].batches, 1,
        "ran ahead of a replica that applied nothing: {waiting:?}"
    );
    assert!(!run.is_finished(), "the run ended while the replica lagged");

    // The replica catches up (as far as Cairn can tell): the run goes on to the end.
    let mut caught_up = first;
    caught_up.batches = 1_000;
    replica_writer
        .execute(&checkpoints.insert(&caught_up))
        .await
        .expect("replica checkpoint");
    run.await
        .expect("runner task panicked")
        .unwrap_or_else(|e| panic!("the backfill failed once the replica caught up: {e}"));
    assert_eq!(filled(observer.as_mut()).await, (39, 40));
}

/// A stop asked for (Ctrl-C) ends a run at the next migration boundary:
/// what ran is complete, nothing after it starts.
pub async fn stop_between_migrations(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let dir = three_tables().build();
    let stop = StopSignal::new();
    let mut first = migrator(&dir);
    first.set_stop_signal(stop.clone());
    stop.stop();
    let failure = first
        .up(driver.as_mut(), None)
        .await
        .expect_err("ran although stopped");
    assert!(
        matches!(failure.error, Error::Stopped { version, .. } if version == 1),
        "{}",
        failure.error
    );
    assert!(failure.report.migrations.is_empty());
    assert!(!table_exists(driver.as_mut(), "a").await);
    let report = migrator(&dir)
        .up(driver.as_mut(), None)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(report.migrations.len(), 3);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every public `async fn <case>(target: &dyn Target)` in the suite's
    /// sources is in the one case list, so none is defined and never run.
    #[test]
    fn every_case_function_is_listed() {
        let sources = [
            include_str!("conformance.rs"),
            include_str!("conformance/primitives.rs"),
        ];
        let mut defined = Vec::new();
        for source in sources {
            for line in source.lines() {
                let Some(rest) = line.strip_prefix("pub async fn ") else {
                    continue;
                };
                if let Some((name, args)) = rest.split_once('(') {
                    if args.starts_with("target: &dyn Target") {
                        defined.push(name.to_owned());
                    }
                }
            }
        }
        assert!(defined.len() >= 10, "found only {defined:?}");
        for name in &defined {
            assert!(
                CASES.contains(&name.as_str()),
                "case `{name}` is defined but not in __conformance_cases!, so it never runs"
            );
        }
        assert_eq!(defined.len(), CASES.len(), "{defined:?} vs {CASES:?}");
    }
}

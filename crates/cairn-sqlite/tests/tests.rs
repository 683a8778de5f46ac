//! cairn-sqlite's integration tests: the conformance suite on real SQLite
//! files, and SQLite-specific behaviour.

use async_trait::async_trait;
use cairn_core::url::DatabaseUrl;
use cairn_core::Driver;
use cairn_sqlite::SqliteDriver;
use cairn_testkit::conformance::{Database, Target};
use cairn_testkit::TestDatabase;

struct Sqlite;

struct SqliteDatabase(TestDatabase);

#[async_trait]
impl Target for Sqlite {
    async fn fresh(&self) -> Box<dyn Database> {
        Box::new(SqliteDatabase(TestDatabase::sqlite()))
    }
}

#[async_trait]
impl Database for SqliteDatabase {
    async fn connect(&self) -> Box<dyn Driver> {
        let url = DatabaseUrl::parse(self.0.url()).expect("a sqlite URL");
        Box::new(SqliteDriver::connect(&url).await.expect("SQLite opens"))
    }
}

mod online_harness;

mod conformance {
    use super::*;

    cairn_testkit::conformance_tests!(Sqlite);
}

mod sqlite {
    use super::*;

    /// Running a completed statement again confirms it only when the error
    /// can mean nothing but "already there" (issue 9: the statement in doubt).
    #[tokio::test]
    async fn recover_confirms_only_errors_that_mean_already_done() {
        let db = TestDatabase::sqlite();
        let url = DatabaseUrl::parse(db.url()).expect("a sqlite URL");
        let mut driver = SqliteDriver::connect(&url).await.expect("SQLite opens");
        for sql in [
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER)",
            "CREATE INDEX t_a ON t (a)",
            "ALTER TABLE t ADD COLUMN b INTEGER",
            "INSERT INTO t (id) VALUES (1)",
        ] {
            driver.execute(sql).await.expect(sql);
            let again = driver.execute(sql).await.expect_err(sql);
            let confirmed = driver.confirms_completed(&again).await;
            assert_eq!(confirmed, !sql.starts_with("INSERT"), "{sql}: {again}");
        }
        driver.execute("DROP INDEX t_a").await.expect("drop");
        let gone = driver
            .execute("DROP INDEX t_a")
            .await
            .expect_err("dropped twice");
        assert!(driver.confirms_completed(&gone).await, "{gone}");
        let missing = driver
            .execute("INSERT INTO no_such_table VALUES (1)")
            .await
            .expect_err("a missing table");
        assert!(!driver.confirms_completed(&missing).await, "{missing}");
    }

    #[tokio::test]
    async fn opening_a_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", dir.path().display())).expect("url");
        let err = SqliteDriver::connect(&url)
            .await
            .expect_err("a directory opened as a database");
        assert!(err.message.contains("cannot open SQLite database"), "{err}");
        assert!(
            err.message.contains(&dir.path().display().to_string()),
            "{err}"
        );
    }

    #[tokio::test]
    async fn values_come_back_as_text() {
        let url = DatabaseUrl::parse("sqlite::memory:").expect("url");
        let mut driver = SqliteDriver::connect(&url).await.expect("open");
        let rows = driver
            .query("SELECT 1, 'two', NULL, 2.5, x'ff'")
            .await
            .expect("query");
        assert_eq!(
            rows,
            vec![vec![
                Some("1".into()),
                Some("two".into()),
                None,
                Some("2.5".into()),
                Some("ff".into())
            ]]
        );
        let err = driver.execute("SELEC 1").await.expect_err("bad SQL ran");
        assert!(err.message.contains("syntax error"), "{err}");
    }
}

mod introspection {
    use super::*;
    cairn_testkit::introspection_tests!(Sqlite);
}

/// What a failed migration says when Cairn cannot prove its rollback: a
/// real SQLite driver whose transaction probe or rollback is made to fail.
mod input {
    use std::time::Duration;

    use cairn_core::{
        Capabilities, DriverError, DriverErrorKind, Error, Migrator, MigratorOptions,
        SessionSettings,
    };
    use cairn_testkit::fixture::Fixture;

    use super::*;

    /// Which primitive fails.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Fault {
        /// The probe (`BEGIN` after a failed statement) fails oddly.
        Probe,
        /// `ROLLBACK` fails.
        Rollback,
        /// `execute_many` fails with an index outside the batch.
        BadIndex,
    }

    #[derive(Debug)]
    struct Faulty {
        inner: SqliteDriver,
        fault: Fault,
        failed: bool,
    }

    #[async_trait]
    impl Driver for Faulty {
        fn dialect(&self) -> &dyn cairn_core::Dialect {
            self.inner.dialect()
        }
        fn capabilities(&self) -> Capabilities {
            self.inner.capabilities()
        }
        async fn lock(&mut self, timeout: Duration) -> Result<(), DriverError> {
            self.inner.lock(timeout).await
        }
        async fn unlock(&mut self) -> Result<(), DriverError> {
            self.inner.unlock().await
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
            let result = self.inner.rollback().await;
            if self.fault == Fault::Rollback && self.failed {
                return Err(DriverError::new(DriverErrorKind::Other, "disk I/O error"));
            }
            result
        }
        async fn execute(&mut self, sql: &str) -> Result<u64, DriverError> {
            if self.fault == Fault::Probe && self.failed && sql == "BEGIN" {
                return Err(DriverError::new(DriverErrorKind::Other, "out of memory"));
            }
            let result = self.inner.execute(sql).await;
            self.failed |= result.is_err();
            result
        }
        async fn execute_many(&mut self, statements: &[&str]) -> Result<(), (usize, DriverError)> {
            let result = self.inner.execute_many(statements).await;
            self.failed |= result.is_err();
            match result {
                Err((index, e)) if self.fault == Fault::BadIndex => {
                    Err((index + statements.len() + 5, e))
                }
                other => other,
            }
        }
        async fn query(&mut self, sql: &str) -> Result<cairn_core::driver::Rows, DriverError> {
            self.inner.query(sql).await
        }
    }

    async fn failed_outcome(fault: Fault) -> String {
        let db = TestDatabase::sqlite();
        let dir = Fixture::new()
            .migration(
                1,
                "broken",
                "CREATE TABLE t (a INTEGER);\nINSERT INTO missing VALUES (1);\n",
                None,
            )
            .build();
        let url = DatabaseUrl::parse(db.url()).expect("a sqlite URL");
        let inner = SqliteDriver::connect(&url).await.expect("SQLite opens");
        let mut driver = Faulty {
            inner,
            fault,
            failed: false,
        };
        let migrator = Migrator::new(dir.read(), MigratorOptions::default());
        let failure = migrator
            .up(&mut driver, None)
            .await
            .expect_err("the migration fails");
        match failure.error {
            Error::Statement { outcome, .. } => outcome,
            other => panic!("expected a statement error, got {other:?}"),
        }
    }

    /// A driver whose `execute_many` names a statement outside the batch
    /// does not panic the core: the run fails with an error naming the
    /// driver, and the transaction is rolled back.
    #[tokio::test]
    async fn input_a_bad_index_from_execute_many_is_an_error_naming_the_driver() {
        let db = TestDatabase::sqlite();
        let dir = Fixture::new()
            .migration(
                1,
                "broken",
                "CREATE TABLE t (a INTEGER);\nINSERT INTO missing VALUES (1);\n",
                None,
            )
            .build();
        let url = DatabaseUrl::parse(db.url()).expect("a sqlite URL");
        let inner = SqliteDriver::connect(&url).await.expect("SQLite opens");
        let mut driver = Faulty {
            inner,
            fault: Fault::BadIndex,
            failed: false,
        };
        let migrator = Migrator::new(dir.read(), MigratorOptions::default());
        let failure = migrator
            .up(&mut driver, None)
            .await
            .expect_err("the migration fails");
        match &failure.error {
            Error::Driver { context, cause, .. } => {
                assert!(
                    context.starts_with("up of migration 1 (broken) failed in its transaction (the transaction was rolled back"),
                    "{}",
                    failure.error
                );
                assert!(
                    cause.message.starts_with("driver `tests::input::Faulty` failed a batch of 2 statement(s) but named statement index 8, outside the batch"),
                    "{}",
                    failure.error
                );
                assert!(cause.message.contains("no such table: missing"), "{cause}");
                assert_eq!(cause.kind, DriverErrorKind::Statement);
            }
            other => panic!("expected a driver error, got {other:?}"),
        }
        assert!(failure.report.migrations.is_empty());
        let history = migrator.history(&mut driver).await.expect("history");
        assert!(history.is_empty(), "{history:?}");
        let tables = driver
            .query("SELECT name FROM sqlite_master WHERE name = 't'")
            .await
            .expect("query");
        assert!(tables.is_empty(), "the transaction was not rolled back");
    }

    #[tokio::test]
    async fn input_an_unproven_rollback_is_not_claimed() {
        let outcome = failed_outcome(Fault::Probe).await;
        assert!(
            outcome.contains("could not confirm that its transaction was still open"),
            "{outcome}"
        );
        assert!(!outcome.contains("unchanged"), "{outcome}");
        let outcome = failed_outcome(Fault::Rollback).await;
        assert!(
            outcome.contains("could not roll its transaction back (disk I/O error)"),
            "{outcome}"
        );
        assert!(!outcome.contains("unchanged"), "{outcome}");
    }
}

/// Issue 9: literals keep backslashes and NUL characters on SQLite.
mod literal {
    use cairn_core::history::string_literal;
    use cairn_core::Engine;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;

    /// A bound with a NUL selects the rows it was read from, not those of
    /// the value without it.
    #[tokio::test]
    async fn literal_a_key_with_a_nul_is_kept_in_a_bound() {
        let db = TestDatabase::sqlite();
        let url = DatabaseUrl::parse(db.url()).expect("a sqlite URL");
        let mut driver = SqliteDriver::connect(&url).await.expect("open");
        driver
            .execute("CREATE TABLE k (b TEXT PRIMARY KEY)")
            .await
            .expect("create");
        for key in ["a", "a\0", "a\0b", "ab"] {
            driver
                .execute(&format!(
                    "INSERT INTO k VALUES ({})",
                    string_literal(Engine::Sqlite, key)
                ))
                .await
                .expect("insert");
        }
        let after = driver
            .query(&format!(
                "SELECT b FROM k WHERE b > {} ORDER BY b",
                string_literal(Engine::Sqlite, "a\0")
            ))
            .await
            .expect("after");
        assert_eq!(
            after,
            vec![vec![Some("a\0b".into())], vec![Some("ab".into())]]
        );
    }

    fn text() -> impl Strategy<Value = String> {
        let special = prop_oneof![Just('\''), Just('\\'), Just('\0'), Just('"'), Just('😀')];
        prop::collection::vec(prop_oneof![any::<char>(), special], 0..20)
            .prop_map(|chars| chars.into_iter().collect())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn literal_any_string_reads_back_exactly() {
        let url = DatabaseUrl::parse("sqlite::memory:").expect("url");
        let driver = tokio::sync::Mutex::new(SqliteDriver::connect(&url).await.expect("open"));
        let handle = tokio::runtime::Handle::current();
        let mut runner = TestRunner::new(Config {
            cases: 64,
            ..Config::default()
        });
        let result = tokio::task::block_in_place(|| {
            runner.run(&prop::collection::vec(text(), 1..12), |values| {
                let literals: Vec<String> = values
                    .iter()
                    .map(|v| string_literal(Engine::Sqlite, v))
                    .collect();
                let sql = format!("SELECT {}", literals.join(", "));
                let rows = handle
                    .block_on(async { driver.lock().await.query(&sql).await })
                    .map_err(|e| TestCaseError::fail(format!("{sql}: {e}")))?;
                let expected: Vec<Option<String>> = values.iter().cloned().map(Some).collect();
                prop_assert_eq!(rows, vec![expected], "{}", sql);
                Ok(())
            })
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}
mod lifecycle;
mod online;
mod verify_operations;

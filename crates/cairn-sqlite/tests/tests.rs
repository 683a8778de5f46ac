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

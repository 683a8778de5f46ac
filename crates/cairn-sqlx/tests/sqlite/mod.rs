//! SQLite through a sqlx pool: the conformance suite, and what the pool sees.

use async_trait::async_trait;
use cairn::Driver;
use cairn_sqlx::SqlxDriver;
use cairn_testkit::conformance::{Database, Target};
use cairn_testkit::TestDatabase;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

struct Sqlite;

struct SqliteDatabase {
    _db: TestDatabase,
    pool: SqlitePool,
}

/// A pool on the test database's file, created if missing.
pub async fn pool(db: &TestDatabase) -> SqlitePool {
    let file = db.url().trim_start_matches("sqlite://").to_owned();
    let options = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true);
    SqlitePoolOptions::new()
        .max_connections(20)
        .connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("cannot open a sqlx pool on the test database: {e}"))
}

#[async_trait]
impl Target for Sqlite {
    async fn fresh(&self) -> Box<dyn Database> {
        let db = TestDatabase::sqlite();
        let pool = pool(&db).await;
        Box::new(SqliteDatabase { _db: db, pool })
    }
}

#[async_trait]
impl Database for SqliteDatabase {
    async fn connect(&self) -> Box<dyn Driver> {
        Box::new(
            SqlxDriver::from_pool(&self.pool)
                .await
                .unwrap_or_else(|e| panic!("cannot take a driver from the sqlx pool: {e}")),
        )
    }
}

mod conformance {
    use super::*;

    cairn_testkit::conformance_tests!(Sqlite);
}

mod startup_example {
    use super::*;

    /// The example service migrates a SQLite file at start-up, then serves
    /// from the same pool; its second start-up applies nothing.
    #[tokio::test]
    async fn the_startup_example_migrates_then_serves_and_restarts_clean() {
        let db = TestDatabase::sqlite();
        let url = format!("{}?mode=rwc", db.url());
        let first = crate::startup::start(&url).await.expect("first start-up");
        assert_eq!(first.applied, vec![1, 2]);
        assert_eq!(first.users, 1);
        let second = crate::startup::start(&url).await.expect("second start-up");
        assert!(second.applied.is_empty(), "{second:?}");
        assert_eq!(second.users, 1);
    }

    /// `sqlite::memory:`: the database lives in the pool, so the driver's
    /// connection goes back to it and the service sees the migrated schema.
    #[tokio::test]
    async fn an_in_memory_pool_keeps_its_migrated_database() {
        let started = crate::startup::start("sqlite::memory:")
            .await
            .expect("start-up in memory");
        assert_eq!(started.applied, vec![1, 2]);
        assert_eq!(started.users, 1);
    }
}

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

mod adapter {
    use std::time::Duration;

    use cairn::{DriverErrorKind, Engine, Migrator, MigratorOptions, SessionSettings};
    use sqlx::Row as _;

    use super::*;
    use crate::common;

    #[tokio::test]
    async fn a_sqlx_set_runs_as_the_cairn_migrations_of_its_files() {
        let db = TestDatabase::sqlite();
        let pool = pool(&db).await;
        let mut driver = SqlxDriver::from_pool(&pool).await.expect("a driver");
        common::a_sqlx_set_runs_as_the_cairn_migrations_of_its_files(&mut driver, Engine::Sqlite)
            .await;
    }

    #[tokio::test]
    async fn a_database_sqlx_migrated_is_refused_until_adopted() {
        let dir = common::sqlx_dir();
        let set = common::sqlx_set(dir.path()).await;
        let migrated = TestDatabase::sqlite();
        let migrated_pool = pool(&migrated).await;
        set.run(&migrated_pool).await.expect("sqlx migrates");
        let empty = TestDatabase::sqlite();
        let empty_pool = pool(&empty).await;
        common::a_database_sqlx_migrated_is_refused_until_adopted(
            &mut SqlxDriver::from_pool(&migrated_pool)
                .await
                .expect("a driver"),
            &mut SqlxDriver::from_pool(&empty_pool).await.expect("a driver"),
            &set,
        )
        .await;
    }

    #[tokio::test]
    async fn the_run_lock_excludes_cairns_own_driver() {
        let db = TestDatabase::sqlite();
        let pool = pool(&db).await;
        let mut driver = SqlxDriver::from_pool(&pool).await.expect("a driver");
        common::the_run_lock_excludes_cairns_own_driver(&mut driver, db.url()).await;
    }

    /// A run that set a migration's lock timeout gives the connection back
    /// to the pool with the busy timeout the pool gave it.
    #[tokio::test]
    async fn the_connection_goes_back_to_the_pool_with_its_busy_timeout() {
        let db = TestDatabase::sqlite();
        let file = db.url().trim_start_matches("sqlite://").to_owned();
        let options = SqliteConnectOptions::new()
            .filename(file)
            .create_if_missing(true)
            .busy_timeout(Duration::from_millis(1234));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("a pool of one");
        let dir = cairn_testkit::fixture::Fixture::new()
            .migration(
                1,
                "slow_lock",
                "-- cairn:lock-timeout 42s\nCREATE TABLE t (id INTEGER PRIMARY KEY);\n",
                Some("DROP TABLE t;\n"),
            )
            .build();
        let migrator = Migrator::new(dir.read(), MigratorOptions::default());
        {
            let mut driver = SqlxDriver::from_pool(&pool).await.expect("a driver");
            driver
                .apply_settings(&SessionSettings {
                    lock_timeout: Some(Duration::from_secs(42)),
                    statement_timeout: None,
                })
                .await
                .expect("settings");
            let busy = driver.query("PRAGMA busy_timeout").await.expect("busy");
            assert_eq!(busy, vec![vec![Some("42000".to_owned())]]);
            // A temporary table belongs to its connection: it marks this one.
            driver
                .execute("CREATE TEMP TABLE marker (x INTEGER)")
                .await
                .expect("marker");
            migrator.up(&mut driver, None).await.expect("up");
        }
        let mut conn = pool
            .acquire()
            .await
            .expect("the pool's one connection is back");
        sqlx::raw_sql("SELECT * FROM temp.marker")
            .execute(&mut *conn)
            .await
            .expect("the same connection came back to the pool");
        let busy: i64 = sqlx::raw_sql("PRAGMA busy_timeout")
            .fetch_one(&mut *conn)
            .await
            .expect("busy")
            .get(0);
        assert_eq!(busy, 1234);
    }

    #[tokio::test]
    async fn a_closed_pool_is_a_connection_error_that_says_so() {
        let db = TestDatabase::sqlite();
        let pool = pool(&db).await;
        pool.close().await;
        let err = SqlxDriver::from_pool(&pool)
            .await
            .expect_err("a closed pool");
        assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
        assert!(
            err.message.starts_with("cannot take a SQLite connection from the sqlx pool for Cairn: the sqlx pool is closed"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_pool_without_a_free_connection_times_out_with_what_to_do() {
        let db = TestDatabase::sqlite();
        let file = db.url().trim_start_matches("sqlite://").to_owned();
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_millis(200))
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(file)
                    .create_if_missing(true),
            )
            .await
            .expect("a pool of one");
        let _busy = pool.acquire().await.expect("the one connection");
        let err = SqlxDriver::from_pool(&pool)
            .await
            .expect_err("no connection was free");
        assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
        assert!(err.message.contains("acquire timeout"), "{err}");
        assert!(err.message.contains("raise max_connections"), "{err}");
    }

    /// An owned connection works as a pooled one; a rollback outside a
    /// transaction is harmless, as the contract says.
    #[tokio::test]
    async fn an_owned_connection_migrates_and_rollback_outside_a_transaction_is_harmless() {
        use sqlx::Connection as _;
        let db = TestDatabase::sqlite();
        let pool = pool(&db).await; // creates the file
        drop(pool);
        let conn = sqlx::SqliteConnection::connect(db.url())
            .await
            .expect("a connection");
        let mut driver = SqlxDriver::<sqlx::Sqlite>::from_connection(conn)
            .await
            .expect("a driver");
        driver
            .rollback()
            .await
            .expect("a rollback outside a transaction");
        assert_eq!(
            driver.session().file().map(|f| f.to_path_buf()),
            Some(std::path::PathBuf::from(
                db.url().trim_start_matches("sqlite://")
            ))
        );
        let dir = common::sqlx_dir();
        let set = common::sqlx_set(dir.path()).await;
        let migrator = Migrator::new(
            cairn_sqlx::migrations(&set).expect("maps"),
            MigratorOptions::default(),
        );
        let report = migrator.up(&mut driver, None).await.expect("up");
        assert_eq!(report.migrations.len(), 3);
    }

    /// Values come back as Cairn's own SQLite driver gives them.
    #[tokio::test]
    async fn values_read_as_cairns_sqlite_driver_reads_them() {
        let db = TestDatabase::sqlite();
        let pool = pool(&db).await;
        let mut driver = SqlxDriver::from_pool(&pool).await.expect("a driver");
        let through_sqlx = common::values_read_as_cairns_own_driver_reads_them(
            &mut driver,
            db.url(),
            "SELECT 1, -2.5, 1.0, 'text', x'00ff', NULL",
        )
        .await;
        assert_eq!(
            through_sqlx,
            vec![vec![
                Some("1".to_owned()),
                Some("-2.5".to_owned()),
                Some("1".to_owned()),
                Some("text".to_owned()),
                Some("00ff".to_owned()),
                None
            ]]
        );
    }
}

//! PostgreSQL through a sqlx pool: the conformance and fault suites, the
//! start-up example, and what the pool sees after Cairn.

use async_trait::async_trait;
use cairn::Driver;
use cairn_sqlx::SqlxDriver;
use cairn_testkit::conformance::{Database, Target};
use cairn_testkit::faults::Server;
use cairn_testkit::TestDatabase;
use sqlx::postgres::{PgPool, PgPoolOptions};

struct Postgres;

/// A fresh database and a pool on it (the pool goes first when dropped).
pub struct PgDatabase {
    pub pool: PgPool,
    pub db: TestDatabase,
}

/// A fresh PostgreSQL database with an sqlx pool on it.
pub async fn database() -> PgDatabase {
    let db = cairn_testkit::postgres::database().await;
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .connect(db.url())
        .await
        .unwrap_or_else(|e| panic!("cannot open a sqlx pool on the test database: {e}"));
    PgDatabase { pool, db }
}

#[async_trait]
impl Target for Postgres {
    async fn fresh(&self) -> Box<dyn Database> {
        Box::new(database().await)
    }
}

#[async_trait]
impl Database for PgDatabase {
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

    cairn_testkit::conformance_tests!(Postgres);
}

impl Server for Postgres {
    fn session_id_query(&self) -> &'static str {
        "SELECT pg_backend_pid()"
    }

    fn running_query(&self, id: &str, needle: &str) -> String {
        format!(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = {id} AND state = 'active' AND position('{needle}' IN query) > 0"
        )
    }

    fn alive_query(&self, id: &str) -> String {
        format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {id}")
    }

    fn kill_statement(&self, id: &str) -> String {
        format!("SELECT pg_terminate_backend({id})")
    }

    fn sleep_statement(&self, seconds: u32) -> String {
        format!("SELECT pg_sleep({seconds})")
    }

    /// The server's FATAL message (57P01), or the closed socket if it came first.
    fn says_killed(&self, message: &str) -> bool {
        message.contains("terminating connection due to administrator command")
            || message.contains("connection to the PostgreSQL server lost")
    }

    fn says_gone(&self, message: &str) -> bool {
        self.says_killed(message) || message.contains("PostgreSQL protocol error")
    }
}

mod faults {
    cairn_testkit::fault_tests!(super::Postgres);
}

mod startup_example {
    /// The example service migrates a fresh PostgreSQL database at
    /// start-up and serves from the same pool; the second start-up applies nothing.
    #[tokio::test]
    async fn the_startup_example_migrates_then_serves_and_restarts_clean() {
        let db = cairn_testkit::postgres::database().await;
        let first = crate::startup::start(db.url())
            .await
            .expect("first start-up");
        assert_eq!(first.applied, vec![1, 2]);
        assert_eq!(first.users, 1);
        let second = crate::startup::start(db.url())
            .await
            .expect("second start-up");
        assert!(second.applied.is_empty(), "{second:?}");
        assert_eq!(second.users, 1);
    }
}

mod adapter {
    use std::time::Duration;

    use cairn::{DriverErrorKind, Engine, SessionSettings};

    use super::*;
    use crate::common;

    #[tokio::test]
    async fn a_sqlx_set_runs_as_the_cairn_migrations_of_its_files() {
        let db = database().await;
        let mut driver = SqlxDriver::from_pool(&db.pool).await.expect("a driver");
        common::a_sqlx_set_runs_as_the_cairn_migrations_of_its_files(&mut driver, Engine::Postgres)
            .await;
    }

    #[tokio::test]
    async fn a_database_sqlx_migrated_is_refused_until_adopted() {
        let dir = common::sqlx_dir();
        let set = common::sqlx_set(dir.path()).await;
        let migrated = database().await;
        set.run(&migrated.pool).await.expect("sqlx migrates");
        let empty = database().await;
        common::a_database_sqlx_migrated_is_refused_until_adopted(
            &mut SqlxDriver::from_pool(&migrated.pool)
                .await
                .expect("a driver"),
            &mut SqlxDriver::from_pool(&empty.pool).await.expect("a driver"),
            &set,
        )
        .await;
    }

    #[tokio::test]
    async fn the_run_lock_excludes_cairns_own_driver() {
        let db = database().await;
        let mut driver = SqlxDriver::from_pool(&db.pool).await.expect("a driver");
        common::the_run_lock_excludes_cairns_own_driver(&mut driver, db.db.url()).await;
    }

    #[tokio::test]
    async fn values_read_as_cairns_own_driver_reads_them() {
        let db = database().await;
        let mut driver = SqlxDriver::from_pool(&db.pool).await.expect("a driver");
        let rows = common::values_read_as_cairns_own_driver_reads_them(
            &mut driver,
            db.db.url(),
            "SELECT 1, 2.5::float8, true, 'x', NULL, '\\x00ff'::bytea, '2024-01-02'::date, 12345678901234::bigint",
        )
        .await;
        assert_eq!(rows[0][2].as_deref(), Some("t"));
        assert_eq!(rows[0][5].as_deref(), Some("\\x00ff"));
    }

    /// The connection Cairn used is closed, not returned: the pool never
    /// serves the application a session with Cairn's timeouts or its lock.
    #[tokio::test]
    async fn the_pooled_connection_is_closed_not_returned() {
        let db = cairn_testkit::postgres::database().await;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(db.url())
            .await
            .expect("a pool of one");
        let pid = {
            let mut driver = SqlxDriver::from_pool(&pool).await.expect("a driver");
            driver
                .apply_settings(&SessionSettings {
                    lock_timeout: Some(Duration::from_secs(7)),
                    statement_timeout: Some(Duration::from_secs(9)),
                })
                .await
                .expect("settings");
            driver.lock(Duration::from_secs(5)).await.expect("lock");
            driver.session().pid()
            // dropped holding the lock, as a cancelled start-up would
        };
        let (app_pid, lock_timeout): (i32, String) =
            sqlx::query_as("SELECT pg_backend_pid(), current_setting('lock_timeout')")
                .fetch_one(&pool)
                .await
                .expect("the pool serves a new connection");
        assert_ne!(app_pid, pid, "the pool served Cairn's connection again");
        assert_eq!(lock_timeout, "0");
        let mut own = cairn::connect(db.url()).await.expect("Cairn's own driver");
        own.lock(Duration::from_secs(10))
            .await
            .expect("the lock ended with its connection");
    }

    #[tokio::test]
    async fn a_reply_that_does_not_come_abandons_the_connection() {
        let db = database().await;
        let mut driver = SqlxDriver::from_pool(&db.pool)
            .await
            .expect("a driver")
            .with_read_timeout(Some(Duration::from_millis(300)));
        common::a_reply_that_does_not_come_abandons_the_connection(
            &mut driver,
            "SELECT pg_sleep(5)",
        )
        .await;
    }

    /// A pool whose sessions start with `standard_conforming_strings = off`
    /// (a legacy server or role): the driver turns it on for Cairn's session.
    #[tokio::test]
    async fn the_session_keeps_standard_strings() {
        use std::str::FromStr as _;
        let db = cairn_testkit::postgres::database().await;
        let options = sqlx::postgres::PgConnectOptions::from_str(db.url())
            .expect("options")
            .options([("standard_conforming_strings", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .expect("a pool");
        let legacy: String = sqlx::query_scalar("SHOW standard_conforming_strings")
            .fetch_one(&pool)
            .await
            .expect("show");
        assert_eq!(legacy, "off", "the pool's sessions start legacy");
        let mut driver = SqlxDriver::from_pool(&pool).await.expect("a driver");
        let rows = driver
            .query("SHOW standard_conforming_strings")
            .await
            .expect("show");
        assert_eq!(rows, vec![vec![Some("on".to_owned())]]);
        let err = driver
            .unlock()
            .await
            .expect_err("unlocked a lock it did not hold");
        assert_eq!(err.kind, DriverErrorKind::Other, "{err}");
        assert!(
            err.message.contains("was not held by this session"),
            "{err}"
        );
    }
}

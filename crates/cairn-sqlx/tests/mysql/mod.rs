//! MySQL and MariaDB through a sqlx pool: the conformance and fault suites, the
//! start-up example, and what the pool sees after Cairn.

use async_trait::async_trait;
use cairn::Driver;
use cairn_sqlx::SqlxDriver;
use cairn_testkit::conformance::{Database, Target};
use cairn_testkit::faults::Server;
use cairn_testkit::TestDatabase;
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};

struct MySql;

/// A fresh database and a pool on it (the pool goes first when dropped).
pub struct MyDatabase {
    pub pool: MySqlPool,
    pub db: TestDatabase,
}

/// A fresh MySQL database with an sqlx pool on it.
pub async fn database() -> MyDatabase {
    let db = cairn_testkit::mysql::database().await;
    let pool = MySqlPoolOptions::new()
        .max_connections(20)
        .connect(db.url())
        .await
        .unwrap_or_else(|e| panic!("cannot open a sqlx pool on the test database: {e}"));
    MyDatabase { pool, db }
}

#[async_trait]
impl Target for MySql {
    async fn fresh(&self) -> Box<dyn Database> {
        Box::new(database().await)
    }
}

#[async_trait]
impl Database for MyDatabase {
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

    cairn_testkit::conformance_tests!(MySql);
}

impl Server for MySql {
    fn session_id_query(&self) -> &'static str {
        "SELECT CONNECTION_ID()"
    }

    fn running_query(&self, id: &str, needle: &str) -> String {
        format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id} AND COMMAND = 'Query' AND LOCATE('{needle}', INFO) > 0"
        )
    }

    fn alive_query(&self, id: &str) -> String {
        format!("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id}")
    }

    fn kill_statement(&self, id: &str) -> String {
        format!("KILL {id}")
    }

    fn sleep_statement(&self, seconds: u32) -> String {
        format!("SELECT SLEEP({seconds})")
    }

    /// The closed socket, or error 1927 "Connection was killed" first.
    fn says_killed(&self, message: &str) -> bool {
        message.contains("connection to the MySQL server lost")
            || message.contains("Connection was killed")
    }

    fn says_gone(&self, message: &str) -> bool {
        self.says_killed(message) || message.contains("MySQL protocol error")
    }
}

mod faults {
    cairn_testkit::fault_tests!(super::MySql);
}

mod startup_example {
    /// The example service migrates a fresh MySQL database at
    /// start-up and serves from the same pool; the second start-up applies nothing.
    #[tokio::test]
    async fn the_startup_example_migrates_then_serves_and_restarts_clean() {
        let db = cairn_testkit::mysql::database().await;
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
        common::a_sqlx_set_runs_as_the_cairn_migrations_of_its_files(&mut driver, Engine::Mysql)
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
        common::values_read_as_cairns_own_driver_reads_them(
            &mut driver,
            db.db.url(),
            "SELECT 1, 2.5, 'x', NULL, CAST('2024-01-02' AS DATE), x'00ff', CAST(-3 AS SIGNED), 1e300",
        )
        .await;
    }

    /// The connection Cairn used is closed, not returned: the pool never
    /// serves the application a session with Cairn's timeouts or its lock.
    #[tokio::test]
    async fn the_pooled_connection_is_closed_not_returned() {
        let db = cairn_testkit::mysql::database().await;
        let pool = MySqlPoolOptions::new()
            .max_connections(1)
            .connect(db.url())
            .await
            .expect("a pool of one");
        let id = {
            let mut driver = SqlxDriver::from_pool(&pool).await.expect("a driver");
            driver
                .apply_settings(&SessionSettings {
                    lock_timeout: Some(Duration::from_secs(7)),
                    statement_timeout: None,
                })
                .await
                .expect("settings");
            driver.lock(Duration::from_secs(5)).await.expect("lock");
            driver.session().connection_id()
            // dropped holding the lock, as a cancelled start-up would
        };
        let (app_id, lock_wait): (u64, u64) =
            sqlx::query_as("SELECT CONNECTION_ID(), @@SESSION.lock_wait_timeout")
                .fetch_one(&pool)
                .await
                .expect("the pool serves a new connection");
        assert_ne!(app_id, id, "the pool served Cairn's connection again");
        assert_ne!(lock_wait, 7);
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
        common::a_reply_that_does_not_come_abandons_the_connection(&mut driver, "SELECT SLEEP(5)")
            .await;
    }

    /// A pool whose sessions start with `NO_BACKSLASH_ESCAPES`: the driver
    /// removes it for Cairn's session.
    #[tokio::test]
    async fn the_session_drops_no_backslash_escapes() {
        let db = database().await;
        let mut driver = SqlxDriver::from_pool(&db.pool).await.expect("a driver");
        driver
            .execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
            .await
            .expect("a migration sets it");
        driver
            .apply_settings(&SessionSettings::default())
            .await
            .expect("settings");
        let mode = driver
            .query("SELECT @@SESSION.sql_mode")
            .await
            .expect("mode");
        let mode = mode[0][0].clone().unwrap_or_default();
        assert!(!mode.contains("NO_BACKSLASH_ESCAPES"), "{mode}");
        assert!(
            driver.unlock().await.is_ok(),
            "unlock without the lock is a no-op on MySQL"
        );
        let err = driver
            .execute("SELECT * FROM no_such_table")
            .await
            .expect_err("a missing table");
        assert_eq!(err.kind, DriverErrorKind::Statement, "{err}");
        assert_eq!(err.code.as_deref(), Some("1146, SQLSTATE 42S02"), "{err}");
    }

    /// A pool whose server refuses the login: a connection error, and the
    /// password appears nowhere in it nor in its sources.
    #[tokio::test]
    async fn a_refused_login_is_a_connection_error_without_the_password() {
        let admin = cairn_testkit::server::admin_url(Engine::Mysql).await;
        let (scheme, rest) = admin.split_once("://").expect("a URL with a scheme");
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let password = "hunter2-not-the-password";
        let url = format!("{scheme}://cairn_no_such_user:{password}@{host}");
        let pool = MySqlPoolOptions::new()
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy(&url)
            .expect("a lazy pool");
        let err = SqlxDriver::from_pool(&pool)
            .await
            .expect_err("a login with a wrong password was accepted");
        assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
        assert!(
            err.message.starts_with("cannot take a MySQL connection from the sqlx pool for Cairn: Access denied for user 'cairn_no_such_user'"),
            "{err}"
        );
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(cause) = next {
            assert!(!cause.to_string().contains(password), "{cause}");
            assert!(!format!("{cause:?}").contains(password), "{cause:?}");
            next = cause.source();
        }
    }
}

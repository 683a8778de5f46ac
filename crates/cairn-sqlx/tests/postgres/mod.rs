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
        let first = crate::startup::start(db.url()).await.expect("first start-up");
        assert_eq!(first.applied, vec![1, 2]);
        assert_eq!(first.users, 1);
        let second = crate::startup::start(db.url()).await.expect("second start-up");
        assert!(second.applied.is_empty(), "{second:?}");
        assert_eq!(second.users, 1);
    }
}

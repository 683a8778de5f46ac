//! Fresh PostgreSQL databases for tests.
//!
//! [`database`] creates a uniquely named database on the server that
//! [`crate::server::admin_url`] provides (`CAIRN_TEST_POSTGRES_URL`, else a
//! container) and returns a [`TestDatabase`] whose drop removes it with
//! `DROP DATABASE ... WITH (FORCE)`, which also ends any connection a test
//! left open. Tests therefore run in parallel on one server and never see each
//! other's tables; nothing here assumes the server is otherwise idle.

use cairn_core::history::quote_ident;
use cairn_core::url::DatabaseUrl;
use cairn_core::{Driver, Engine};
use cairn_postgres::PgDriver;

use crate::TestDatabase;

/// Connects to `url`, panicking (failing the test) with a clear message if it cannot.
async fn admin(url: &str) -> PgDriver {
    let parsed = DatabaseUrl::parse(url)
        .unwrap_or_else(|e| panic!("the PostgreSQL test server URL is not a database URL: {e}"));
    PgDriver::connect(&parsed).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach the PostgreSQL test server at {}: {e}\n\
             Check that it is running, or point {} at one on which the tests may create and drop databases",
            parsed.redacted(),
            crate::server::url_variable(Engine::Postgres)
        )
    })
}

/// A new, empty PostgreSQL database for one test, dropped when the result is dropped.
///
/// Panics (failing the test) when no server can be reached or the database
/// cannot be created: a missing server is a test failure, never a skip.
pub async fn database() -> TestDatabase {
    let admin_url = crate::server::admin_url(Engine::Postgres).await;
    let name = crate::server::unique_name();
    let mut driver = admin(&admin_url).await;
    driver
        .execute(&format!(
            "CREATE DATABASE {}",
            quote_ident(Engine::Postgres, &name)
        ))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot create the test database `{name}` on {}: {e}",
                cairn_core::url::redact(&admin_url)
            )
        });
    drop(driver);
    let url = crate::server::with_database(&admin_url, &name);
    let cleanup = Box::new(move || {
        crate::server::block_on_own_runtime(async move {
            let parsed = match DatabaseUrl::parse(&admin_url) {
                Ok(parsed) => parsed,
                Err(e) => {
                    return eprintln!("cairn-testkit: cannot drop test database `{name}`: {e}")
                }
            };
            let drop_sql = format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(Engine::Postgres, &name)
            );
            match PgDriver::connect(&parsed).await {
                Ok(mut driver) => {
                    if let Err(e) = driver.execute(&drop_sql).await {
                        eprintln!("cairn-testkit: cannot drop test database `{name}`: {e}");
                    }
                }
                Err(e) => {
                    eprintln!("cairn-testkit: cannot connect to drop test database `{name}`: {e}")
                }
            }
        });
    });
    TestDatabase::on_server(Engine::Postgres, url, cleanup)
}

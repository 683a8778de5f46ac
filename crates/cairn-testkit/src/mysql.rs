//! Fresh MySQL/MariaDB databases for tests.
//!
//! [`database`] creates a uniquely named database on the server that
//! [`crate::server::admin_url`] finds (`CAIRN_TEST_MYSQL_URL`, else a
//! container) and drops it when the [`TestDatabase`] is dropped, so tests run
//! in parallel on one server without seeing each other's tables. A server that
//! cannot be reached fails the test with a message saying why; it never skips.

use cairn_core::url::{redact, DatabaseUrl};
use cairn_core::{Driver, Engine};
use cairn_mysql::MySqlDriver;

use crate::TestDatabase;

/// A new, empty database on the test server, dropped with the returned value.
/// Panics (failing the test) when the server cannot be reached or refuses.
pub async fn database() -> TestDatabase {
    let admin = crate::server::admin_url(Engine::Mysql).await;
    let mut driver = connect(&admin).await;
    let name = crate::server::unique_name();
    driver
        .execute(&format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot create test database `{name}` on {}: {e}\n\
                 the user in {} needs the CREATE and DROP privileges",
                redact(&admin),
                crate::server::url_variable(Engine::Mysql)
            )
        });
    let _ = driver.close().await;
    let url = crate::server::with_database(&admin, &name);
    let cleanup = Box::new(move || {
        crate::server::block_on_own_runtime(async move {
            let parsed = match DatabaseUrl::parse(&admin) {
                Ok(url) => url,
                Err(e) => {
                    return eprintln!("cairn-testkit: cannot drop test database `{name}`: {e}")
                }
            };
            match MySqlDriver::connect(&parsed).await {
                Ok(mut driver) => {
                    if let Err(e) = driver
                        .execute(&format!("DROP DATABASE IF EXISTS `{name}`"))
                        .await
                    {
                        eprintln!("cairn-testkit: cannot drop test database `{name}`: {e}");
                    }
                    let _ = driver.close().await;
                }
                Err(e) => eprintln!("cairn-testkit: cannot drop test database `{name}`: {e}"),
            }
        });
    });
    TestDatabase::on_server(Engine::Mysql, url, cleanup)
}

/// Connects to the admin URL or panics with what to do.
async fn connect(admin: &str) -> MySqlDriver {
    let variable = crate::server::url_variable(Engine::Mysql);
    let url = DatabaseUrl::parse(admin).unwrap_or_else(|e| {
        panic!(
            "the MySQL test server URL is not a mysql:// or mariadb:// URL: {e} (check {variable})"
        )
    });
    MySqlDriver::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach the MySQL/MariaDB test server: {e}\n\
             start it, or point {variable} at one on which the tests may create and drop databases, \
             e.g. mysql://root@127.0.0.1:3306/test"
        )
    })
}

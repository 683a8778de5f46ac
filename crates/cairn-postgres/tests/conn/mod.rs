//! Connections that cannot hang, and URLs that mean what they say: a peer
//! that accepts TCP and never answers, a server that freezes (`SIGSTOP`, a
//! partition) while a migration's statement is in flight, Unix-socket URLs,
//! and passwords that were not percent-encoded.

use std::time::Duration;

use cairn_core::url::DatabaseUrl;
use cairn_core::{Driver, DriverErrorKind, Error, Migrator, MigratorOptions};
use cairn_postgres::PgDriver;
use cairn_testkit::netfault::{
    assert_frozen_connection_abandoned, assert_silent_server_refused, host_port, sleeping,
    statement_error, up_until_frozen, via_port, FreezingProxy,
};
use cairn_testkit::TestDatabase;

use super::connect;

async fn value(driver: &mut PgDriver, sql: &str) -> Option<String> {
    driver
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next().flatten())
}

#[tokio::test]
async fn conn_a_server_that_never_answers_fails_within_connect_timeout() {
    assert_silent_server_refused("postgres", "app", "PostgreSQL", |url| async move {
        PgDriver::connect(&url).await
    })
    .await;
}

/// Starts `migrator.up` on a connection through a proxy (with `extra` URL
/// parameters), freezes the proxy once the session runs `needle`, and
/// returns the run's error and how long the run took.
async fn up_frozen(
    db: &TestDatabase,
    migrator: &Migrator,
    extra: &str,
    needle: &str,
) -> (Error, Duration) {
    let proxy = FreezingProxy::start(&host_port(db.url(), 5432)).await;
    let mut raw = via_port(db.url(), proxy.port());
    raw.push(if raw.contains('?') { '&' } else { '?' });
    raw.push_str(extra);
    let url = DatabaseUrl::parse(&raw).expect("a postgres URL");
    let mut driver = PgDriver::connect(&url)
        .await
        .expect("connect through the proxy");
    let pid = driver.backend_pid();
    let mut observer = connect(db).await;
    let running = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = {pid} AND state = 'active' AND position('{needle}' IN query) > 0"
    );
    up_until_frozen(migrator, &mut driver, &mut observer, &running, proxy).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conn_a_frozen_server_ends_a_statement_at_its_statement_timeout() {
    let db = cairn_testkit::postgres::database().await;
    let dir = sleeping("-- cairn:statement-timeout 2s\n", "SELECT pg_sleep(30)");
    let migrator = Migrator::new(dir.read(), MigratorOptions::default());
    let (error, took) = up_frozen(&db, &migrator, "application_name=frozen", "pg_sleep(30)").await;
    // 2 s of statement timeout plus 10 s of grace, far below the 30 s sleep.
    assert!(took < Duration::from_secs(25), "took {took:?}");
    let (version, message, kind) = statement_error(&error);
    assert_eq!((version, kind), (2, DriverErrorKind::Connection), "{error}");
    for needle in [
        "no reply from the PostgreSQL server at postgres://",
        "within 12 s",
        "statement timeout of 2 s plus 10 s grace",
        "may or may not have completed",
        "cairn:statement-timeout",
    ] {
        assert!(message.contains(needle), "{needle}: {error}");
    }
    // Nothing was committed: migration 2's transaction never reached COMMIT.
    let mut direct = connect(&db).await;
    assert_eq!(
        value(
            &mut direct,
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM cairn_history"
        )
        .await
        .as_deref(),
        Some("1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conn_a_frozen_server_ends_a_statement_at_an_explicit_read_timeout() {
    let db = cairn_testkit::postgres::database().await;
    let dir = sleeping("", "SELECT pg_sleep(8)");
    let migrator = Migrator::new(dir.read(), MigratorOptions::default());
    let (error, took) = up_frozen(&db, &migrator, "read_timeout=2", "pg_sleep(8)").await;
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let (version, message, kind) = statement_error(&error);
    assert_eq!((version, kind), (2, DriverErrorKind::Connection), "{error}");
    for needle in [
        "within 2 s (read_timeout in the database URL)",
        "may or may not have completed",
        "raise read_timeout",
    ] {
        assert!(message.contains(needle), "{needle}: {error}");
    }
}

#[tokio::test]
async fn conn_a_frozen_server_ends_cairns_own_queries_and_abandons_the_connection() {
    let db = cairn_testkit::postgres::database().await;
    let proxy = FreezingProxy::start(&host_port(db.url(), 5432)).await;
    let raw = format!("{}?read_timeout=1", via_port(db.url(), proxy.port()));
    let url = DatabaseUrl::parse(&raw).expect("a postgres URL");
    let mut driver = PgDriver::connect(&url)
        .await
        .expect("connect through the proxy");
    assert_frozen_connection_abandoned(&mut driver, &proxy).await;
}

/// The directory of this machine's server socket (`CAIRN_TEST_POSTGRES_SOCKET_DIR`,
/// else `/var/run/postgresql`), which must hold `.s.PGSQL.5432`.
fn socket_dir() -> String {
    let dir = std::env::var("CAIRN_TEST_POSTGRES_SOCKET_DIR")
        .unwrap_or_else(|_| "/var/run/postgresql".to_owned());
    assert!(
        std::path::Path::new(&dir).join(".s.PGSQL.5432").exists(),
        "no PostgreSQL socket in {dir}: set CAIRN_TEST_POSTGRES_SOCKET_DIR to the directory of the server's Unix socket"
    );
    dir
}

/// The socket is this machine's own server's, whatever server the matrix
/// entry tests, so the test makes its database there, through the socket.
#[tokio::test]
async fn conn_unix_socket_urls_connect_and_never_try_tls() {
    let dir = socket_dir();
    let name = cairn_testkit::server::unique_name();
    let admin_url = format!("postgres:///postgres?host={dir}&user=postgres");
    let mut admin = PgDriver::connect(&DatabaseUrl::parse(&admin_url).expect("a postgres URL"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{admin_url}: {e} (the machine's server must accept user postgres on its socket)"
            )
        });
    admin
        .execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap_or_else(|e| panic!("creating {name} through {dir}: {e}"));
    let outcome = tokio::spawn(unix_socket_urls_connect(dir.clone(), name.clone())).await;
    admin
        .execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap_or_else(|e| panic!("dropping {name}: {e}"));
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}

async fn unix_socket_urls_connect(dir: String, name: String) {
    let encoded = dir.replace('/', "%2F");
    for raw in [
        format!("postgres:///{name}?host={dir}&user=postgres"),
        format!("postgres:///{name}?host={dir}&user=postgres&sslmode=disable"),
        format!("postgres:///{name}?host={dir}&user=postgres&sslmode=require"),
        format!("postgres://postgres@{encoded}/{name}"),
        format!("postgres://postgres@{encoded}/{name}?sslmode=disable"),
        format!("postgresql://postgres@{encoded}/{name}?sslmode=prefer&connect_timeout=5"),
    ] {
        let url = DatabaseUrl::parse(&raw).expect("a postgres URL");
        let mut driver = PgDriver::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(driver.database(), name, "{raw}");
        // A Unix-socket session has no client address, and no TLS.
        assert_eq!(
            value(&mut driver, "SELECT (inet_client_addr() IS NULL)::text || ',' || COALESCE((SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()), 'none')").await.as_deref(),
            Some("true,false"),
            "{raw}"
        );
    }
}

#[tokio::test]
async fn conn_an_unencoded_password_gets_a_hint_and_stays_hidden() {
    for raw in [
        "postgres://app:hunt@er2/x@127.0.0.1:5432/db",
        "postgres://app:hunt#er2@127.0.0.1:5432/db",
        "postgres://app:hunt?er2@127.0.0.1:5432/db",
    ] {
        let url = DatabaseUrl::parse(raw).expect("a postgres URL");
        let err = PgDriver::connect(&url).await.expect_err(raw);
        assert!(
            err.message.contains(
                "if your password contains @ # / ? or %, percent-encode it (e.g. @ → %40"
            ),
            "{raw}: {err}"
        );
        assert!(!err.message.contains("er2"), "{raw}: {err}");
        assert!(!err.message.contains("hunt"), "{raw}: {err}");
    }
}

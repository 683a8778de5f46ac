//! Connections that cannot hang, and URLs that mean what they say: a peer
//! that accepts TCP and never answers, a server that freezes (`SIGSTOP`, a
//! partition) while a migration's statement is in flight, and passwords that
//! were not percent-encoded.

use std::time::Duration;

use cairn_core::url::DatabaseUrl;
use cairn_core::{DriverErrorKind, Error, Migrator, MigratorOptions};
use cairn_mysql::MySqlDriver;
use cairn_testkit::netfault::{
    assert_frozen_connection_abandoned, assert_silent_server_refused, host_port, sleeping,
    statement_error, up_until_frozen, via_port, FreezingProxy,
};
use cairn_testkit::TestDatabase;

use super::connect;

#[tokio::test]
async fn conn_a_server_that_never_answers_fails_within_connect_timeout() {
    assert_silent_server_refused("mysql", "root", "MySQL", |url| async move {
        MySqlDriver::connect(&url).await
    })
    .await;
}

/// Starts `migrator.up` on a connection through a proxy (with `extra` URL
/// parameters), freezes the proxy once the session runs `needle`, and returns
/// the run's error and how long the run took.
async fn up_frozen(
    db: &TestDatabase,
    migrator: &Migrator,
    extra: &str,
    needle: &str,
) -> (Error, Duration) {
    let proxy = FreezingProxy::start(&host_port(db.url(), 3306)).await;
    let mut raw = via_port(db.url(), proxy.port());
    if !extra.is_empty() {
        raw.push(if raw.contains('?') { '&' } else { '?' });
        raw.push_str(extra);
    }
    let url = DatabaseUrl::parse(&raw).expect("a mysql URL");
    let mut driver = MySqlDriver::connect(&url)
        .await
        .expect("connect through the proxy");
    let id = driver.connection_id();
    let mut observer = connect(db.url()).await;
    let running = format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id} AND INFO LIKE '%{needle}%'"
    );
    up_until_frozen(migrator, &mut driver, &mut observer, &running, proxy).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conn_a_frozen_server_ends_a_statement_at_its_statement_timeout() {
    let db = cairn_testkit::mysql::database().await;
    let probe = connect(db.url()).await;
    assert!(
        probe.is_mariadb(),
        "this test needs MariaDB, whose max_statement_time stops any statement (server {})",
        probe.server_version()
    );
    let dir = sleeping("-- cairn:statement-timeout 2s\n", "SELECT SLEEP(30)");
    let migrator = Migrator::new(dir.read(), MigratorOptions::default());
    let (error, took) = up_frozen(&db, &migrator, "", "SLEEP(30)").await;
    // 2 s of statement timeout plus 10 s of grace, far below the 30 s sleep.
    assert!(took < Duration::from_secs(25), "took {took:?}");
    let (version, message, kind) = statement_error(&error);
    assert_eq!((version, kind), (2, DriverErrorKind::Connection), "{error}");
    let shown = error.to_string();
    for needle in [
        "no reply from the MariaDB server at mysql://",
        "within 12 s",
        "statement timeout of 2 s plus 10 s grace",
        "may or may not have completed",
        "cairn:statement-timeout",
    ] {
        assert!(message.contains(needle), "{needle}: {error}");
    }
    assert!(shown.contains("up --resume"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conn_a_frozen_server_ends_a_statement_at_an_explicit_read_timeout() {
    let db = cairn_testkit::mysql::database().await;
    let dir = sleeping("", "SELECT SLEEP(8)");
    let migrator = Migrator::new(dir.read(), MigratorOptions::default());
    let (error, took) = up_frozen(&db, &migrator, "read_timeout=2", "SLEEP(8)").await;
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
    let db = cairn_testkit::mysql::database().await;
    let proxy = FreezingProxy::start(&host_port(db.url(), 3306)).await;
    let raw = via_port(db.url(), proxy.port());
    let raw = format!(
        "{raw}{}read_timeout=1",
        if raw.contains('?') { '&' } else { '?' }
    );
    let url = DatabaseUrl::parse(&raw).expect("a mysql URL");
    let mut driver = MySqlDriver::connect(&url)
        .await
        .expect("connect through the proxy");
    assert_frozen_connection_abandoned(&mut driver, &proxy).await;
}

#[tokio::test]
async fn conn_an_unencoded_password_gets_a_hint_and_stays_hidden() {
    for raw in [
        "mysql://root:hunt@er2/x@127.0.0.1:3306/test",
        "mysql://root:hunt#er2@127.0.0.1:3306/test",
        "mysql://root:hunt?er2@127.0.0.1:3306/test",
    ] {
        let url = DatabaseUrl::parse(raw).expect("a mysql URL");
        let err = MySqlDriver::connect(&url).await.expect_err(raw);
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

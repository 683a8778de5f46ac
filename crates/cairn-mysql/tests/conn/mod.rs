//! Connections that cannot hang, and URLs that mean what they say: a peer
//! that accepts TCP and never answers, a server that freezes (`SIGSTOP`, a
//! partition) while a migration's statement is in flight, and passwords that
//! were not percent-encoded.

use std::time::{Duration, Instant};

use cairn_core::url::DatabaseUrl;
use cairn_core::{Driver, DriverErrorKind, Error, Migrator, MigratorOptions};
use cairn_mysql::MySqlDriver;
use cairn_testkit::fixture::{Fixture, FixtureDir};
use cairn_testkit::netfault::{host_port, via_port, FreezingProxy, SilentServer};
use cairn_testkit::TestDatabase;

use super::{connect, value};

/// Generous: the bounds under test are a few seconds.
const BOUND: Duration = Duration::from_secs(40);

#[tokio::test]
async fn conn_a_server_that_never_answers_fails_within_connect_timeout() {
    let silent = SilentServer::start();
    let raw = format!(
        "mysql://root:hunter2@127.0.0.1:{}/x?connect_timeout=1",
        silent.port()
    );
    let url = DatabaseUrl::parse(&raw).expect("a mysql URL");
    let started = Instant::now();
    let err = tokio::time::timeout(BOUND, MySqlDriver::connect(&url))
        .await
        .expect("connect hung")
        .expect_err("connected to a server that never answers");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
    let target = format!(
        "cannot connect to mysql://root:***@127.0.0.1:{}/x",
        silent.port()
    );
    for needle in [
        target.as_str(),
        "no answer from a MySQL server within 1 s",
        "connect_timeout in the database URL",
    ] {
        assert!(err.message.contains(needle), "{needle}: {err}");
    }
    assert!(!err.message.contains("hunter2"), "{err}");
}

fn sleeping(directive: &str, seconds: u32) -> FixtureDir {
    Fixture::new()
        .migration(1, "create_t", "CREATE TABLE t (id INTEGER);\n", None)
        .migration(
            2,
            "slow",
            &format!("{directive}INSERT INTO t VALUES (1);\nSELECT SLEEP({seconds});\n"),
            None,
        )
        .build()
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
    let started = Instant::now();
    let watch = async {
        let running = format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id} AND INFO LIKE '%{needle}%'"
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        while value(&mut observer, &running).await.as_deref() != Some("1") {
            assert!(
                Instant::now() < deadline,
                "connection {id} never ran `{needle}`"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        proxy.freeze();
    };
    let (result, ()) = tokio::join!(
        tokio::time::timeout(BOUND, migrator.up(&mut driver, None)),
        watch
    );
    let Ok(result) = result else {
        panic!("up still waiting {BOUND:?} after the server froze");
    };
    let failure = result.expect_err("up succeeded through a frozen server");
    (failure.error, started.elapsed())
}

fn statement_error(error: &Error) -> (i64, String, DriverErrorKind) {
    match error {
        Error::Statement {
            version,
            message,
            kind,
            ..
        } => (*version, message.clone(), *kind),
        other => panic!("expected a statement error, got {other:?}"),
    }
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
    let dir = sleeping("-- cairn:statement-timeout 2s\n", 30);
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
    let dir = sleeping("", 8);
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
    proxy.freeze();
    let started = Instant::now();
    let err = driver
        .query("SELECT 1")
        .await
        .expect_err("a frozen server answered");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind, DriverErrorKind::Connection);
    assert!(
        err.message
            .contains("within 1 s (read_timeout in the database URL)"),
        "{err}"
    );
    let started = Instant::now();
    let err = driver
        .execute("SELECT 2")
        .await
        .expect_err("an abandoned connection answered");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(err.message.contains("was abandoned"), "{err}");
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

//! Faults: the server ends the migrating session (an administrator's
//! `pg_terminate_backend`, a restart, a dropped network) during a migration or
//! between two. Cairn must fail quickly with an error that says so, leave a
//! history that tells the truth, and let a rerun on a new connection finish.
//! And a wrong password must be a clear error that never shows the password.

use std::time::{Duration, Instant};

use cairn_core::url::DatabaseUrl;
use cairn_core::{Driver, DriverErrorKind, Engine, Error, HistoryState, Migrator, MigratorOptions};
use cairn_postgres::PgDriver;
use cairn_testkit::fixture::Fixture;

use super::connect;

/// How long a run may take once its session is killed: far below the 30 s sleep.
const BOUND: Duration = Duration::from_secs(15);

async fn rows(driver: &mut PgDriver, sql: &str) -> Vec<Vec<Option<String>>> {
    driver
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn count(driver: &mut PgDriver, sql: &str) -> i64 {
    rows(driver, sql)
        .await
        .first()
        .and_then(|row| row.first().cloned().flatten())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count from {sql}"))
}

/// The log, oldest first: `(version, action, outcome)`.
async fn log(driver: &mut PgDriver) -> Vec<(String, String, String)> {
    rows(
        driver,
        "SELECT version::text, action, outcome FROM cairn_history_log ORDER BY id",
    )
    .await
    .into_iter()
    .map(|row| {
        let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        (field(0), field(1), field(2))
    })
    .collect()
}

fn entry(version: &str, action: &str, outcome: &str) -> (String, String, String) {
    (version.to_owned(), action.to_owned(), outcome.to_owned())
}

/// Waits until session `pid` runs a statement containing `needle`, then
/// terminates it; returns once the server no longer lists the session.
async fn kill_when_running(observer: &mut PgDriver, pid: i32, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let running = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = {pid} AND state = 'active' AND position('{needle}' IN query) > 0"
    );
    while count(observer, &running).await == 0 {
        assert!(
            Instant::now() < deadline,
            "session {pid} never ran `{needle}`"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    terminate(observer, pid).await;
}

/// Terminates session `pid` and waits until it is gone.
async fn terminate(observer: &mut PgDriver, pid: i32) {
    let killed = rows(observer, &format!("SELECT pg_terminate_backend({pid})")).await;
    assert_eq!(killed, vec![vec![Some("t".to_owned())]], "terminate {pid}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let alive = format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}");
    while count(observer, &alive).await > 0 {
        assert!(Instant::now() < deadline, "session {pid} outlived its kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn migrator(dir: &cairn_testkit::fixture::FixtureDir) -> Migrator {
    Migrator::new(dir.read(), MigratorOptions::default())
}

/// Migration 1 applied, migration 2 killed in the middle of its transaction:
/// the transaction is rolled back with the session, so the history shows 1
/// applied and 2 pending, and a plain `up` applies 2 afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_killed_during_a_migration() {
    let db = cairn_testkit::postgres::database().await;
    let dir = Fixture::new()
        .migration(
            1,
            "create_t",
            "CREATE TABLE t (id INTEGER PRIMARY KEY);\n",
            Some("DROP TABLE t;\n"),
        )
        .migration(
            2,
            "fill_t",
            "INSERT INTO t VALUES (1);\nSELECT pg_sleep(30);\n",
            Some("DELETE FROM t;\n"),
        )
        .build();
    let migrator = migrator(&dir);
    let mut driver = connect(&db).await;
    let mut observer = connect(&db).await;
    let pid = driver.backend_pid();

    let started = Instant::now();
    let (result, ()) = tokio::join!(
        tokio::time::timeout(BOUND, migrator.up(&mut driver, None)),
        kill_when_running(&mut observer, pid, "pg_sleep(30)"),
    );
    let Ok(result) = result else {
        panic!("up still running {BOUND:?} after its session was killed");
    };
    let failure = result.expect_err("up succeeded although its session was killed");
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());

    // What completed is reported; the error names the migration, the
    // statement, the server's reason, and what became of the transaction.
    let done: Vec<_> = failure
        .report
        .migrations
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(done, vec![1], "{:?}", failure.report);
    let shown = failure.to_string();
    match &failure.error {
        Error::Statement {
            version,
            name,
            index,
            count,
            location,
            message,
            kind,
            outcome,
            ..
        } => {
            assert_eq!((*version, name.as_str()), (2, "fill_t"), "{shown}");
            assert_eq!((*index, *count), (2, 2), "{shown}");
            assert!(location.to_string().ends_with("up.sql:2"), "{shown}");
            assert_eq!(*kind, DriverErrorKind::Connection, "{shown}");
            // The server's FATAL message, or the closed socket if it came first.
            assert!(
                message.contains("terminating connection due to administrator command (57P01)")
                    || message.contains("the connection to the PostgreSQL server was closed"),
                "{shown}"
            );
            assert!(outcome.contains("rolled back"), "{shown}");
        }
        other => panic!("expected a statement error, got {other:?}"),
    }
    assert!(
        shown.starts_with("up of migration 2 (fill_t) failed on postgres at statement 2 of 2"),
        "{shown}"
    );
    drop(driver);

    // A new connection sees migration 1 applied, migration 2 not at all, and
    // the insert of migration 2 rolled back.
    let mut fresh = connect(&db).await;
    let history = migrator.history(&mut fresh).await.expect("history");
    let states: Vec<_> = history.iter().map(|r| (r.version, r.state)).collect();
    assert_eq!(states, vec![(1, HistoryState::Applied)], "{history:?}");
    assert_eq!(count(&mut fresh, "SELECT count(*) FROM t").await, 0);
    let status = migrator.status(&mut fresh).await.expect("status");
    assert!(status.problems.is_empty(), "{:?}", status.problems);
    // The failure could not be logged on the dead session: the log has migration 1 only.
    assert_eq!(log(&mut fresh).await, vec![entry("1", "up", "ok")]);

    // The rerun, with the sleep made short, applies migration 2 once.
    dir.write(
        "2_fill_t/up.sql",
        "INSERT INTO t VALUES (1);\nSELECT pg_sleep(0.01);\n",
    );
    let migrator = self::migrator(&dir);
    let report = tokio::time::timeout(BOUND, migrator.up(&mut fresh, None))
        .await
        .expect("the rerun hung")
        .unwrap_or_else(|f| panic!("the rerun failed: {f}"));
    let applied: Vec<_> = report.migrations.iter().map(|m| m.version).collect();
    assert_eq!(applied, vec![2]);
    assert_eq!(count(&mut fresh, "SELECT count(*) FROM t").await, 1);
    let history = migrator.history(&mut fresh).await.expect("history");
    assert!(
        history.len() == 2 && history.iter().all(|r| r.state == HistoryState::Applied),
        "{history:?}"
    );
    let status = migrator.status(&mut fresh).await.expect("status");
    assert!(status.problems.is_empty(), "{:?}", status.problems);
    assert_eq!(
        log(&mut fresh).await,
        vec![entry("1", "up", "ok"), entry("2", "up", "ok")]
    );
}

/// The session dies while idle between two runs (a restart, a network drop):
/// the next run on the same driver fails at once with a connection error,
/// changes nothing, and a new connection finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_gone_before_the_next_migration() {
    let db = cairn_testkit::postgres::database().await;
    let dir = Fixture::new()
        .migration(
            1,
            "create_t",
            "CREATE TABLE t (id INTEGER PRIMARY KEY);\n",
            Some("DROP TABLE t;\n"),
        )
        .migration(
            2,
            "create_u",
            "CREATE TABLE u (id INTEGER PRIMARY KEY);\n",
            Some("DROP TABLE u;\n"),
        )
        .build();
    let migrator = migrator(&dir);
    let mut driver = connect(&db).await;
    let report = migrator.up(&mut driver, Some(1)).await.expect("up to 1");
    assert_eq!(report.migrations.len(), 1);

    let mut observer = connect(&db).await;
    terminate(&mut observer, driver.backend_pid()).await;

    let failure = tokio::time::timeout(BOUND, migrator.up(&mut driver, None))
        .await
        .expect("up on a dead connection hung")
        .expect_err("up on a dead connection succeeded");
    let shown = failure.to_string();
    assert!(failure.report.migrations.is_empty(), "{:?}", failure.report);
    match &failure.error {
        Error::Driver {
            engine,
            context,
            cause,
        } => {
            assert_eq!(*engine, Engine::Postgres);
            assert_eq!(cause.kind, DriverErrorKind::Connection, "{shown}");
            assert_eq!(context, "taking the migration lock", "{shown}");
            assert!(
                cause.message.contains("connection")
                    && (cause.message.contains("closed") || cause.message.contains("terminating")),
                "{shown}"
            );
        }
        other => panic!("expected a driver error, got {other:?}"),
    }
    // Every further call fails the same way, without panicking.
    let again = driver
        .query("SELECT 1")
        .await
        .expect_err("a dead session answered");
    assert_eq!(again.kind, DriverErrorKind::Connection, "{again}");
    drop(driver);

    let mut fresh = connect(&db).await;
    let history = migrator.history(&mut fresh).await.expect("history");
    let states: Vec<_> = history.iter().map(|r| (r.version, r.state)).collect();
    assert_eq!(states, vec![(1, HistoryState::Applied)], "{history:?}");
    assert_eq!(log(&mut fresh).await, vec![entry("1", "up", "ok")]);

    let report = tokio::time::timeout(BOUND, migrator.up(&mut fresh, None))
        .await
        .expect("the rerun hung")
        .unwrap_or_else(|f| panic!("the rerun failed: {f}"));
    let applied: Vec<_> = report.migrations.iter().map(|m| m.version).collect();
    assert_eq!(applied, vec![2]);
    let status = migrator.status(&mut fresh).await.expect("status");
    assert!(status.problems.is_empty(), "{:?}", status.problems);
    assert_eq!(count(&mut fresh, "SELECT count(*) FROM u").await, 0);
    assert_eq!(
        log(&mut fresh).await,
        vec![entry("1", "up", "ok"), entry("2", "up", "ok")]
    );
}

/// The local test server trusts every connection, so this one runs against a
/// container whose `pg_hba.conf` asks for scram-sha-256 passwords.
#[tokio::test]
async fn wrong_password_is_a_clear_error_without_the_password() {
    let admin = cairn_testkit::server::container_url(Engine::Postgres)
        .await
        .unwrap_or_else(|why| panic!("no PostgreSQL container for this test: {why}"));
    let right = super::Parts::parse(&admin);
    let user = right.user.clone();
    let good = right
        .password
        .clone()
        .expect("the container URL has a password");
    let wrong_password = "hunter2-wrong";
    assert_ne!(good, wrong_password);

    // The right password connects: the failure below is the password's.
    let driver = PgDriver::connect(&DatabaseUrl::parse(&right.url("")).expect("a URL"))
        .await
        .unwrap_or_else(|e| panic!("the container refused its own password: {e}"));
    drop(driver);

    let mut wrong = super::Parts::parse(&admin);
    wrong.password = Some(wrong_password.to_owned());
    let url = DatabaseUrl::parse(&wrong.url("")).expect("a URL");
    let err = PgDriver::connect(&url)
        .await
        .expect_err("a wrong password was accepted");
    assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
    assert_eq!(err.code.as_deref(), Some("28P01"), "{err}");
    assert!(
        err.message.contains(&format!(
            "password authentication failed for user \"{user}\""
        )),
        "{err}"
    );
    assert!(
        err.message.contains(&format!("{user}:***@127.0.0.1:")),
        "{err}"
    );
    for shown in [err.to_string(), format!("{err:?}"), err.message.clone()] {
        assert!(
            !shown.contains(wrong_password),
            "the password leaked: {shown}"
        );
        assert!(!shown.contains(&good), "the right password leaked: {shown}");
    }
}

//! Faults: the server ends the migrating session (`KILL`, a restart, a dropped
//! network) during a migration or between two. MySQL/MariaDB run migrations
//! outside transactions, so a migration cut off part way leaves its `running`
//! row (the dead session cannot mark it failed): Cairn must fail quickly with an
//! error that says the connection was lost, `status` must report the row with
//! advice, and `up --resume` on a new connection must continue from the last
//! completed statement and finish.

use std::time::{Duration, Instant};

use cairn_core::{
    Driver, DriverErrorKind, Engine, Error, HistoryState, Migrator, MigratorOptions, Problem,
};
use cairn_mysql::MySqlDriver;
use cairn_testkit::fixture::{Fixture, FixtureDir};

use super::{connect, value};

/// How long a run may take once its session is killed: far below the 30 s sleep.
const BOUND: Duration = Duration::from_secs(15);

async fn count(driver: &mut MySqlDriver, sql: &str) -> i64 {
    value(driver, sql)
        .await
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count from {sql}"))
}

/// The log, oldest first: `(version, action, outcome)`.
async fn log(driver: &mut MySqlDriver) -> Vec<(String, String, String)> {
    let sql = "SELECT version, action, outcome FROM cairn_history_log ORDER BY id";
    driver
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
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

/// Waits until connection `id` runs a statement containing `needle`, then kills it.
async fn kill_when_running(observer: &mut MySqlDriver, id: u64, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let running = format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id} AND COMMAND = 'Query' AND LOCATE('{needle}', INFO) > 0"
    );
    while count(observer, &running).await == 0 {
        assert!(
            Instant::now() < deadline,
            "connection {id} never ran `{needle}`"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill(observer, id).await;
}

/// Kills connection `id` and waits until the server no longer lists it.
async fn kill(observer: &mut MySqlDriver, id: u64) {
    observer
        .execute(&format!("KILL {id}"))
        .await
        .unwrap_or_else(|e| panic!("KILL {id}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let alive = format!("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id}");
    while count(observer, &alive).await > 0 {
        assert!(
            Instant::now() < deadline,
            "connection {id} outlived its KILL"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn migrator(dir: &FixtureDir) -> Migrator {
    Migrator::new(dir.read(), MigratorOptions::default())
}

/// Migration 1 applied; migration 2's first statement committed, its second
/// killed. The history keeps migration 2 `running` after 1 statement, `status`
/// reports it with advice, plain `up` refuses, and `up --resume` on a new
/// connection runs only the remaining statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_killed_during_a_migration() {
    let db = cairn_testkit::mysql::database().await;
    let dir = Fixture::new()
        .migration(
            1,
            "create_t",
            "CREATE TABLE t (id INT PRIMARY KEY);\n",
            Some("DROP TABLE t;\n"),
        )
        .migration(
            2,
            "fill_t",
            "INSERT INTO t VALUES (1);\nSELECT SLEEP(30);\n",
            Some("DELETE FROM t;\n"),
        )
        .build();
    let migrator = migrator(&dir);
    let mut driver = connect(db.url()).await;
    let mut observer = connect(db.url()).await;
    let id = driver.connection_id();

    let started = Instant::now();
    let (result, ()) = tokio::join!(
        tokio::time::timeout(BOUND, migrator.up(&mut driver, None)),
        kill_when_running(&mut observer, id, "SLEEP(30)"),
    );
    let Ok(result) = result else {
        panic!("up still running {BOUND:?} after its connection was killed");
    };
    let failure = result.expect_err("up succeeded although its connection was killed");
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());

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
            kind,
            message,
            outcome,
            ..
        } => {
            assert_eq!((*version, name.as_str()), (2, "fill_t"), "{shown}");
            assert_eq!((*index, *count), (2, 2), "{shown}");
            assert!(location.to_string().ends_with("up.sql:2"), "{shown}");
            assert_eq!(*kind, DriverErrorKind::Connection, "{shown}");
            // MariaDB closes the socket ("connection to the server lost");
            // some servers first send error 1927 "Connection was killed".
            let message = message.to_lowercase();
            assert!(
                message.contains("connection to the server lost")
                    || message.contains("connection was killed"),
                "{shown}"
            );
            assert!(outcome.contains("cairn up --resume"), "{shown}");
        }
        other => panic!("expected a statement error, got {other:?}"),
    }
    assert!(
        shown.starts_with("up of migration 2 (fill_t) failed on mysql at statement 2 of 2"),
        "{shown}"
    );
    drop(driver);

    // A new connection: migration 1 applied, migration 2 still `running`
    // after its first statement, whose insert stays.
    let mut fresh = connect(db.url()).await;
    let history = migrator.history(&mut fresh).await.expect("history");
    let states: Vec<_> = history
        .iter()
        .map(|r| (r.version, r.state, r.statements_done))
        .collect();
    assert_eq!(
        states,
        vec![
            (1, HistoryState::Applied, None),
            (2, HistoryState::Running, Some(1))
        ],
        "{history:?}"
    );
    assert_eq!(count(&mut fresh, "SELECT COUNT(*) FROM t").await, 1);
    let status = migrator.status(&mut fresh).await.expect("status");
    match status.problems.as_slice() {
        [problem @ Problem::Running { version: 2, .. }] => {
            let advice = problem.to_string();
            assert!(advice.contains("migration 2 (fill_t)"), "{advice}");
            assert!(advice.contains("cairn up --resume"), "{advice}");
            assert!(advice.contains("cairn repair"), "{advice}");
        }
        other => panic!("expected migration 2 running, got {other:?}"),
    }
    // The failure could not be logged on the dead connection.
    assert_eq!(log(&mut fresh).await, vec![entry("1", "up", "ok")]);

    // With the sleep made short: a plain `up` refuses because of the running row.
    dir.write(
        "2_fill_t/up.sql",
        "INSERT INTO t VALUES (1);\nSELECT SLEEP(0);\n",
    );
    let migrator = self::migrator(&dir);
    let refused = migrator
        .up(&mut fresh, None)
        .await
        .expect_err("up ran past a running migration");
    assert!(refused.error.is_validation(), "{}", refused.error);
    assert!(
        refused.error.to_string().contains("cairn up --resume"),
        "{}",
        refused.error
    );

    // `up --resume` continues from statement 2: the insert does not run twice.
    let report = tokio::time::timeout(BOUND, migrator.up_resume(&mut fresh, None))
        .await
        .expect("the resume hung")
        .unwrap_or_else(|f| panic!("the resume failed: {f}"));
    let resumed: Vec<_> = report
        .migrations
        .iter()
        .map(|m| (m.version, m.statements))
        .collect();
    assert_eq!(resumed, vec![(2, 1)], "{report:?}");
    assert_eq!(count(&mut fresh, "SELECT COUNT(*) FROM t").await, 1);
    let history = migrator.history(&mut fresh).await.expect("history");
    assert!(
        history.len() == 2
            && history
                .iter()
                .all(|r| r.state == HistoryState::Applied && r.statements_done.is_none()),
        "{history:?}"
    );
    let status = migrator.status(&mut fresh).await.expect("status");
    assert!(status.problems.is_empty(), "{:?}", status.problems);
    assert_eq!(
        log(&mut fresh).await,
        vec![entry("1", "up", "ok"), entry("2", "up", "ok")]
    );
}

/// The connection dies while idle between two runs (a restart, a network
/// drop): the next run on the same driver fails at once with a connection
/// error, changes nothing, and a new connection finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_gone_before_the_next_migration() {
    let db = cairn_testkit::mysql::database().await;
    let dir = Fixture::new()
        .migration(
            1,
            "create_t",
            "CREATE TABLE t (id INT PRIMARY KEY);\n",
            Some("DROP TABLE t;\n"),
        )
        .migration(
            2,
            "create_u",
            "CREATE TABLE u (id INT PRIMARY KEY);\n",
            Some("DROP TABLE u;\n"),
        )
        .build();
    let migrator = migrator(&dir);
    let mut driver = connect(db.url()).await;
    let report = migrator.up(&mut driver, Some(1)).await.expect("up to 1");
    assert_eq!(report.migrations.len(), 1);

    let mut observer = connect(db.url()).await;
    kill(&mut observer, driver.connection_id()).await;

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
            assert_eq!(*engine, Engine::Mysql);
            assert_eq!(context, "taking the migration lock", "{shown}");
            assert_eq!(cause.kind, DriverErrorKind::Connection, "{shown}");
            let message = cause.message.to_lowercase();
            assert!(
                message.contains("connection to the server lost")
                    || message.contains("connection was killed"),
                "{shown}"
            );
        }
        other => panic!("expected a driver error, got {other:?}"),
    }
    let again = driver
        .query("SELECT 1")
        .await
        .expect_err("a dead connection answered");
    assert_eq!(again.kind, DriverErrorKind::Connection, "{again}");
    drop(driver);

    let mut fresh = connect(db.url()).await;
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
    assert_eq!(count(&mut fresh, "SELECT COUNT(*) FROM u").await, 0);
    assert_eq!(
        log(&mut fresh).await,
        vec![entry("1", "up", "ok"), entry("2", "up", "ok")]
    );
}

//! The fault suite: the server ends the migrating session (an administrator's
//! kill, a restart, a dropped network) during a migration or between two.
//! Cairn must fail quickly with an error that says so, leave a history that
//! tells the truth, and let a rerun on a new connection finish.
//!
//! On an engine with transactional DDL the migration's transaction dies with
//! the session: the history shows the migration pending and a plain `up`
//! applies it. Without (MySQL/MariaDB), a migration cut off part way leaves
//! its `running` row (the dead session cannot mark it failed): `status`
//! reports it with advice, plain `up` refuses, and `up --resume` on a new
//! connection continues from the last completed statement.
//!
//! A driver crate runs it by implementing [`Server`] (how to see and end a
//! session on its server) on its conformance [`Target`] and expanding
//! [`fault_tests!`](crate::fault_tests), which makes one `#[tokio::test]` per case in [`CASES`].
//! The cases are generated from one list, as the conformance suite's are.

use std::time::{Duration, Instant};

use cairn_core::{
    Driver, DriverErrorKind, Error, HistoryState, Migrator, MigratorOptions, Problem,
};

use crate::conformance::Target;
use crate::fixture::{Fixture, FixtureDir};

/// How to watch and end sessions on the server a [`Target`] makes databases
/// on; every query returns one row with one value.
pub trait Server: Target {
    /// The query that returns the id the server gives the session that runs
    /// it (`SELECT pg_backend_pid()`, `SELECT CONNECTION_ID()`).
    fn session_id_query(&self) -> &'static str;

    /// A query counting the sessions with `id` that are running a statement
    /// containing `needle`.
    fn running_query(&self, id: &str, needle: &str) -> String;

    /// A query counting the sessions with `id` (0 once it has gone).
    fn alive_query(&self, id: &str) -> String;

    /// The statement that ends session `id` (`SELECT pg_terminate_backend(id)`,
    /// `KILL id`); a value it returns must not be false.
    fn kill_statement(&self, id: &str) -> String;

    /// A statement that sleeps `seconds` on the server.
    fn sleep_statement(&self, seconds: u32) -> String;

    /// Whether `message`, the error of a statement whose session was killed
    /// while it ran, says so in the driver's words. The default accepts any
    /// message (the error's kind is checked anyway).
    fn says_killed(&self, message: &str) -> bool {
        let _ = message;
        true
    }

    /// Whether `message`, the error of the first call on a session killed
    /// while idle, says so in the driver's words. The default accepts any message.
    fn says_gone(&self, message: &str) -> bool {
        let _ = message;
        true
    }
}

/// The one list of fault cases: [`CASES`] and [`fault_tests!`](crate::fault_tests) are both
/// generated from it. It calls `$then!` with `$args`, a `;`, and the names.
#[doc(hidden)]
#[macro_export]
macro_rules! __fault_cases {
    ($then:ident!($($args:tt)*)) => {
        $crate::$then!($($args)*;
            connection_killed_during_a_migration,
            server_gone_before_the_next_migration,
        );
    };
}

/// Defines [`CASES`] from the names it is given.
#[doc(hidden)]
#[macro_export]
macro_rules! __fault_case_names {
    (; $($case:ident),* $(,)?) => {
        /// The names of every fault case, in the order [`fault_tests!`](crate::fault_tests) expands them.
        pub const CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

__fault_cases!(__fault_case_names!());

/// Expands to one `#[tokio::test]` per fault case for `$server` (an
/// expression of a type implementing [`Server`]), from the same list as
/// [`CASES`]. The calling crate needs `tokio` with the `macros` and
/// `rt-multi-thread` features as a dev-dependency.
#[macro_export]
macro_rules! fault_tests {
    ($server:expr) => {
        $crate::__fault_cases!(__fault_test_fns!($server));
    };
}

/// The test functions of [`fault_tests!`](crate::fault_tests).
#[doc(hidden)]
#[macro_export]
macro_rules! __fault_test_fns {
    ($server:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::faults::$case(&$server).await;
            }
        )*
    };
}

/// How long a run may take once its session is killed: far below the 30 s sleep.
const BOUND: Duration = Duration::from_secs(15);

async fn rows(driver: &mut dyn Driver, sql: &str) -> Vec<Vec<Option<String>>> {
    driver
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn value(driver: &mut dyn Driver, sql: &str) -> String {
    rows(driver, sql)
        .await
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next().flatten())
        .unwrap_or_else(|| panic!("no value from {sql}"))
}

async fn count(driver: &mut dyn Driver, sql: &str) -> i64 {
    let text = value(driver, sql).await;
    text.parse()
        .unwrap_or_else(|_| panic!("`{text}` from {sql} is not a count"))
}

/// The log, oldest first: `(version, action, outcome)`.
async fn log(driver: &mut dyn Driver) -> Vec<(String, String, String)> {
    rows(
        driver,
        "SELECT version, action, outcome FROM cairn_history_log ORDER BY id",
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

/// Waits until session `id` runs a statement containing `needle`, then ends it.
async fn kill_when_running(server: &dyn Server, observer: &mut dyn Driver, id: &str, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let running = server.running_query(id, needle);
    while count(observer, &running).await == 0 {
        assert!(
            Instant::now() < deadline,
            "session {id} never ran `{needle}`"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill(server, observer, id).await;
}

/// Ends session `id` and waits until the server no longer lists it.
async fn kill(server: &dyn Server, observer: &mut dyn Driver, id: &str) {
    let statement = server.kill_statement(id);
    let killed = rows(observer, &statement).await;
    assert!(
        !killed
            .iter()
            .flatten()
            .any(|v| matches!(v.as_deref(), Some("f" | "false" | "0"))),
        "{statement}: {killed:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let alive = server.alive_query(id);
    while count(observer, &alive).await > 0 {
        assert!(
            Instant::now() < deadline,
            "session {id} outlived `{statement}`"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn migrator(dir: &FixtureDir) -> Migrator {
    Migrator::new(dir.read(), MigratorOptions::default())
}

/// Migration 1 applied, migration 2 killed at its second statement. With
/// transactional DDL the transaction is rolled back with the session: the
/// history shows 1 applied and 2 pending, and a plain `up` applies 2. Without,
/// the history keeps migration 2 `running` after 1 statement, `status`
/// reports it with advice, plain `up` refuses, and `up --resume` on a new
/// connection runs only the remaining statement.
pub async fn connection_killed_during_a_migration(server: &dyn Server) {
    let db = server.fresh().await;
    let sleep = server.sleep_statement(30);
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
            &format!("INSERT INTO t VALUES (1);\n{sleep};\n"),
            Some("DELETE FROM t;\n"),
        )
        .build();
    let migrator = migrator(&dir);
    let mut driver = db.connect().await;
    let mut observer = db.connect().await;
    let transactional = driver.capabilities().transactional_ddl;
    let engine = driver.dialect().engine();
    let id = value(driver.as_mut(), server.session_id_query()).await;

    let started = Instant::now();
    let (result, ()) = tokio::join!(
        tokio::time::timeout(BOUND, migrator.up(driver.as_mut(), None)),
        kill_when_running(server, observer.as_mut(), &id, &sleep),
    );
    let Ok(result) = result else {
        panic!("up still running {BOUND:?} after its session was killed");
    };
    let failure = result.expect_err("up succeeded although its session was killed");
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());

    // What completed is reported; the error names the migration, the
    // statement, the server's reason, and what became of the migration.
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
            assert_eq!((version.key(), name.as_str()), (2, "fill_t"), "{shown}");
            assert_eq!((*index, *count), (2, 2), "{shown}");
            assert!(location.to_string().ends_with("up.sql:2"), "{shown}");
            assert_eq!(*kind, DriverErrorKind::Connection, "{shown}");
            assert!(server.says_killed(message), "{shown}");
            if transactional {
                assert!(outcome.contains("rolled back"), "{shown}");
            } else {
                assert!(outcome.contains("cairn up --resume"), "{shown}");
            }
        }
        other => panic!("expected a statement error, got {other:?}"),
    }
    assert!(
        shown.starts_with(&format!(
            "up of migration 2 (fill_t) failed on {engine} at statement 2 of 2"
        )),
        "{shown}"
    );
    drop(driver);

    let mut fresh = db.connect().await;
    let fresh = fresh.as_mut();
    let history = migrator.history(fresh).await.expect("history");
    if transactional {
        // Migration 1 applied, migration 2 not at all, its insert rolled back.
        let states: Vec<_> = history.iter().map(|r| (r.version.key(), r.state)).collect();
        assert_eq!(states, vec![(1, HistoryState::Applied)], "{history:?}");
        assert_eq!(count(fresh, "SELECT COUNT(*) FROM t").await, 0);
        let status = migrator.status(fresh).await.expect("status");
        assert!(status.problems.is_empty(), "{:?}", status.problems);
    } else {
        // Migration 2 still `running` after its first statement, whose insert stays.
        let states: Vec<_> = history
            .iter()
            .map(|r| (r.version.key(), r.state, r.statements_done))
            .collect();
        assert_eq!(
            states,
            vec![
                (1, HistoryState::Applied, None),
                (2, HistoryState::Running, Some(1))
            ],
            "{history:?}"
        );
        assert_eq!(count(fresh, "SELECT COUNT(*) FROM t").await, 1);
        let status = migrator.status(fresh).await.expect("status");
        match status.problems.as_slice() {
            [problem @ Problem::Running { version, .. }] if *version == 2 => {
                let advice = problem.to_string();
                assert!(advice.contains("migration 2 (fill_t)"), "{advice}");
                assert!(advice.contains("cairn up --resume"), "{advice}");
                assert!(advice.contains("cairn repair"), "{advice}");
            }
            other => panic!("expected migration 2 running, got {other:?}"),
        }
    }
    // The failure could not be logged on the dead session: the log has migration 1 only.
    assert_eq!(log(fresh).await, vec![entry("1", "up", "ok")]);

    // The rerun, with the sleep made short.
    dir.write(
        "2_fill_t/up.sql",
        &format!(
            "INSERT INTO t VALUES (1);\n{};\n",
            server.sleep_statement(0)
        ),
    );
    let migrator = self::migrator(&dir);
    if transactional {
        // A plain `up` applies migration 2 once.
        let report = tokio::time::timeout(BOUND, migrator.up(fresh, None))
            .await
            .expect("the rerun hung")
            .unwrap_or_else(|f| panic!("the rerun failed: {f}"));
        let applied: Vec<_> = report.migrations.iter().map(|m| m.version).collect();
        assert_eq!(applied, vec![2]);
    } else {
        // A plain `up` refuses because of the running row...
        let refused = migrator
            .up(fresh, None)
            .await
            .expect_err("up ran past a running migration");
        assert!(refused.error.is_validation(), "{}", refused.error);
        assert!(
            refused.error.to_string().contains("cairn up --resume"),
            "{}",
            refused.error
        );
        // ...and `up --resume` continues from statement 2: the insert does not run twice.
        let report = tokio::time::timeout(BOUND, migrator.up_resume(fresh, None))
            .await
            .expect("the resume hung")
            .unwrap_or_else(|f| panic!("the resume failed: {f}"));
        let resumed: Vec<_> = report
            .migrations
            .iter()
            .map(|m| (m.version.key(), m.statements))
            .collect();
        assert_eq!(resumed, vec![(2, 1)], "{report:?}");
    }
    assert_eq!(count(fresh, "SELECT COUNT(*) FROM t").await, 1);
    let history = migrator.history(fresh).await.expect("history");
    assert!(
        history.len() == 2
            && history
                .iter()
                .all(|r| r.state == HistoryState::Applied && r.statements_done.is_none()),
        "{history:?}"
    );
    let status = migrator.status(fresh).await.expect("status");
    assert!(status.problems.is_empty(), "{:?}", status.problems);
    assert_eq!(
        log(fresh).await,
        vec![entry("1", "up", "ok"), entry("2", "up", "ok")]
    );
}

/// The session dies while idle between two runs (a restart, a network drop):
/// the next run on the same driver fails at once with a connection error,
/// changes nothing, every further call fails the same way without
/// panicking, and a new connection finishes.
pub async fn server_gone_before_the_next_migration(server: &dyn Server) {
    let db = server.fresh().await;
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
    let mut driver = db.connect().await;
    let report = migrator
        .up(driver.as_mut(), Some(cairn_core::Version::from(1)))
        .await
        .expect("up to 1");
    assert_eq!(report.migrations.len(), 1);

    let mut observer = db.connect().await;
    let id = value(driver.as_mut(), server.session_id_query()).await;
    kill(server, observer.as_mut(), &id).await;

    let failure = tokio::time::timeout(BOUND, migrator.up(driver.as_mut(), None))
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
            assert_eq!(*engine, driver.dialect().engine());
            assert_eq!(context, "taking the migration lock", "{shown}");
            assert_eq!(cause.kind, DriverErrorKind::Connection, "{shown}");
            assert!(server.says_gone(&cause.message), "{shown}");
        }
        other => panic!("expected a driver error, got {other:?}"),
    }
    let again = driver
        .query("SELECT 1")
        .await
        .expect_err("a dead session answered");
    assert_eq!(again.kind, DriverErrorKind::Connection, "{again}");
    drop(driver);

    let mut fresh = db.connect().await;
    let fresh = fresh.as_mut();
    let history = migrator.history(fresh).await.expect("history");
    let states: Vec<_> = history.iter().map(|r| (r.version.key(), r.state)).collect();
    assert_eq!(states, vec![(1, HistoryState::Applied)], "{history:?}");
    assert_eq!(log(fresh).await, vec![entry("1", "up", "ok")]);

    let report = tokio::time::timeout(BOUND, migrator.up(fresh, None))
        .await
        .expect("the rerun hung")
        .unwrap_or_else(|f| panic!("the rerun failed: {f}"));
    let applied: Vec<_> = report.migrations.iter().map(|m| m.version).collect();
    assert_eq!(applied, vec![2]);
    let status = migrator.status(fresh).await.expect("status");
    assert!(status.problems.is_empty(), "{:?}", status.problems);
    assert_eq!(count(fresh, "SELECT COUNT(*) FROM u").await, 0);
    assert_eq!(
        log(fresh).await,
        vec![entry("1", "up", "ok"), entry("2", "up", "ok")]
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every public `async fn <case>(server: &dyn Server)` is in the one case list.
    #[test]
    fn every_case_function_is_listed() {
        let defined: Vec<&str> = include_str!("faults.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter_map(|rest| rest.split_once("(server: &dyn Server)"))
            .map(|(name, _)| name)
            .collect();
        assert_eq!(defined, CASES, "a fault case is defined but not listed");
    }
}

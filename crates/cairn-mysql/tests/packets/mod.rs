//! Statement packets (issue 14): each statement of a migration goes to the
//! server with the progress write of the one before, and the finish in one
//! more round trip.
//! These cases cut the session inside a packet (during a statement, during a
//! progress write, during the final transaction) and fail a statement in the
//! middle of one, and check that the history says exactly which statements
//! completed and that `up --resume` finishes the migration.

use std::time::{Duration, Instant};

use cairn_core::{Driver, DriverErrorKind, Error, HistoryState, Migrator, MigratorOptions};
use cairn_testkit::fixture::{Fixture, FixtureDir};

use super::{connect, value, MySqlDriver};

/// Far below the 30 s sleeps: a killed run must end well within it.
const BOUND: Duration = Duration::from_secs(20);

async fn count(driver: &mut MySqlDriver, sql: &str) -> i64 {
    value(driver, sql)
        .await
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{sql}: not a count"))
}

/// Waits until session `id` sleeps in `SLEEP()` (state `User sleep`), then kills it.
async fn kill_when_sleeping(observer: &mut MySqlDriver, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let sleeping = format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id} AND STATE = 'User sleep'"
    );
    while count(observer, &sleeping).await == 0 {
        assert!(Instant::now() < deadline, "session {id} never slept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    observer
        .execute(&format!("KILL {id}"))
        .await
        .expect("kill the migrating session");
    let alive = format!("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id}");
    while count(observer, &alive).await > 0 {
        assert!(Instant::now() < deadline, "session {id} outlived KILL");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn migrator(dir: &FixtureDir) -> Migrator {
    Migrator::new(dir.read(), MigratorOptions::default())
}

/// `(state, statements_done)` of migration `version`'s history row.
async fn row(
    migrator: &Migrator,
    driver: &mut MySqlDriver,
    version: i64,
) -> (HistoryState, Option<i64>) {
    let history = migrator.history(driver).await.expect("history");
    let row = history
        .iter()
        .find(|r| r.version == version)
        .unwrap_or_else(|| panic!("no row for {version}: {history:?}"));
    (row.state, row.statements_done)
}

/// Runs `up` on a fresh connection while `observer` kills it once it sleeps;
/// returns the run's error.
async fn up_killed(db_url: &str, migrator: &Migrator) -> Error {
    let mut driver = connect(db_url).await;
    let mut observer = connect(db_url).await;
    let id = driver.connection_id().to_string();
    let started = Instant::now();
    let (result, ()) = tokio::join!(
        tokio::time::timeout(BOUND, migrator.up(&mut driver, None)),
        kill_when_sleeping(&mut observer, &id),
    );
    let result = result.expect("up still running after its session was killed");
    let failure = result.expect_err("up succeeded although its session was killed");
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
    failure.error
}

/// The error of a run whose connection was lost with a packet in flight
/// (the progress write of statement 1, then statement 2): it says statement
/// 1 completed, that its history write and statement 2 were in doubt, that
/// `cairn status` tells which, and what to run for each.
fn assert_lost_in_packet(error: &Error, count: usize) {
    let shown = error.to_string();
    match error {
        Error::Driver { context, cause, .. } => {
            for needle in [
                format!("recording progress after statement 1 of {count} of migration 2 ("),
                "the statement completed, but the connection was lost before Cairn saw that history write's outcome, and statement 2 (".to_owned(),
                "`cairn status` shows which statement is in doubt".to_owned(),
                "if it is statement 1, run `cairn up --resume --skip-in-doubt`".to_owned(),
                "if it is statement 2, it may or may not have completed: run `cairn up --resume`".to_owned(),
            ] {
                assert!(context.contains(&needle), "{needle}: {shown}");
            }
            assert_eq!(cause.kind, DriverErrorKind::Connection, "{shown}");
        }
        other => panic!("expected a driver error, got {other:?}"),
    }
}

/// Killed during a statement in the middle of a packet: the statements
/// before it and their progress are recorded, nothing after it ran, and
/// `--resume` runs the rest once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_killed_during_a_statement_inside_it() {
    let db = cairn_testkit::mysql::database().await;
    let script = |sleep: u32| {
        format!(
            "INSERT INTO t VALUES (1);\nDO SLEEP({sleep});\nINSERT INTO t VALUES (2);\nCREATE TABLE u (id INT);\n"
        )
    };
    let dir = Fixture::new()
        .migration(1, "create_t", "CREATE TABLE t (id INT);\n", None)
        .migration(2, "fill_t", &script(30), None)
        .build();
    let migrator = migrator(&dir);
    let error = up_killed(db.url(), &migrator).await;
    assert_lost_in_packet(&error, 4);
    let mut fresh = connect(db.url()).await;
    // Statement 1 completed and is recorded; the sleep is in doubt; nothing after it ran.
    assert_eq!(
        row(&migrator, &mut fresh, 2).await,
        (HistoryState::Running, Some(1))
    );
    assert_eq!(count(&mut fresh, "SELECT COUNT(*) FROM t").await, 1);
    assert_eq!(
        count(
            &mut fresh,
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'u'"
        )
        .await,
        0
    );
    dir.write("2_fill_t/up.sql", &script(0));
    let migrator = self::migrator(&dir);
    let report = migrator
        .up_resume(&mut fresh, None)
        .await
        .unwrap_or_else(|f| panic!("the resume failed: {f}"));
    let resumed: Vec<_> = report
        .migrations
        .iter()
        .map(|m| (m.version.key(), m.statements))
        .collect();
    assert_eq!(resumed, vec![(2, 3)], "{report:?}");
    assert_eq!(count(&mut fresh, "SELECT COUNT(*) FROM t").await, 2);
    assert_eq!(
        row(&migrator, &mut fresh, 2).await,
        (HistoryState::Applied, None)
    );
}

/// Killed during a progress write inside a packet (a trigger on the history
/// makes it sleep): the statement before it completed, the history still
/// counts it as not done, so it is in doubt; `--resume` runs it again, sees
/// its table exists and counts it as completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_killed_during_a_progress_write_inside_it() {
    let db = cairn_testkit::mysql::database().await;
    let dir = Fixture::new()
        .migration(1, "first", "CREATE TABLE t (id INT);\n", None)
        .migration(
            2,
            "two_tables",
            "CREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\n",
            None,
        )
        .build();
    let migrator = migrator(&dir);
    let mut setup = connect(db.url()).await;
    migrator
        .up(&mut setup, Some(1.into()))
        .await
        .expect("migration 1");
    setup
        .execute(
            "CREATE TRIGGER slow_progress BEFORE UPDATE ON cairn_history FOR EACH ROW \
             BEGIN IF NEW.version = 2 AND NEW.statements_done = 1 THEN DO SLEEP(30); END IF; END",
        )
        .await
        .expect("the trigger");
    let error = up_killed(db.url(), &migrator).await;
    assert_lost_in_packet(&error, 2);
    let mut fresh = connect(db.url()).await;
    fresh
        .execute("DROP TRIGGER slow_progress")
        .await
        .expect("drop the trigger");
    // Table a exists, the progress write was rolled back with the session, b never ran.
    assert_eq!(
        row(&migrator, &mut fresh, 2).await,
        (HistoryState::Running, Some(0))
    );
    let tables = "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('a', 'b')";
    assert_eq!(count(&mut fresh, tables).await, 1);
    let report = migrator
        .up_resume(&mut fresh, None)
        .await
        .unwrap_or_else(|f| panic!("the resume failed: {f}"));
    let recovered = report.migrations[0].recovered.clone().unwrap_or_default();
    assert!(recovered.contains("had completed"), "{report:?}");
    assert_eq!(count(&mut fresh, tables).await, 2);
    assert_eq!(
        row(&migrator, &mut fresh, 2).await,
        (HistoryState::Applied, None)
    );
}

/// Killed in the final transaction (a trigger on the log makes it sleep):
/// the last statement's progress was left to the final row, so the row
/// stays `running` with that statement in doubt; `--resume` confirms it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_killed_during_the_final_transaction() {
    let db = cairn_testkit::mysql::database().await;
    let dir = Fixture::new()
        .migration(1, "first", "CREATE TABLE t (id INT);\n", None)
        .migration(
            2,
            "two_tables",
            "CREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\n",
            None,
        )
        .build();
    let migrator = migrator(&dir);
    let mut setup = connect(db.url()).await;
    migrator
        .up(&mut setup, Some(1.into()))
        .await
        .expect("migration 1");
    setup
        .execute(
            "CREATE TRIGGER slow_log BEFORE INSERT ON cairn_history_log FOR EACH ROW \
             BEGIN IF NEW.version = 2 THEN DO SLEEP(30); END IF; END",
        )
        .await
        .expect("the trigger");
    let error = up_killed(db.url(), &migrator).await;
    let shown = error.to_string();
    match &error {
        Error::Driver { context, cause, .. } => {
            assert!(
                context.starts_with("recording up of migration 2 (two_tables) in the history after its 2 statement(s) completed"),
                "{shown}"
            );
            assert!(
                context.contains("`cairn up --resume` confirms it"),
                "{shown}"
            );
            assert_eq!(cause.kind, DriverErrorKind::Connection, "{shown}");
        }
        other => panic!("expected a driver error, got {other:?}"),
    }
    let mut fresh = connect(db.url()).await;
    fresh
        .execute("DROP TRIGGER slow_log")
        .await
        .expect("drop the trigger");
    // The final transaction died with the session: running, statement 2 in doubt.
    assert_eq!(
        row(&migrator, &mut fresh, 2).await,
        (HistoryState::Running, Some(1))
    );
    let report = migrator
        .up_resume(&mut fresh, None)
        .await
        .unwrap_or_else(|f| panic!("the resume failed: {f}"));
    let recovered = report.migrations[0].recovered.clone().unwrap_or_default();
    assert!(recovered.contains("statement 2 of 2"), "{report:?}");
    assert_eq!(
        row(&migrator, &mut fresh, 2).await,
        (HistoryState::Applied, None)
    );
}

/// Killed in the final transaction of a migration that also claims the next
/// one (issue 14: the next claim rides in it): the transaction died with the
/// session, so the migration stays `running` with its last statement in
/// doubt and the next one has no row; `--resume` finishes both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_killed_during_the_final_transaction_with_the_next_claim() {
    let db = cairn_testkit::mysql::database().await;
    let dir = Fixture::new()
        .migration(1, "first", "CREATE TABLE t (id INT);\n", None)
        .migration(
            2,
            "two_tables",
            "CREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\n",
            None,
        )
        .migration(3, "third", "CREATE TABLE c (id INT);\n", None)
        .build();
    let migrator = migrator(&dir);
    let mut setup = connect(db.url()).await;
    migrator
        .up(&mut setup, Some(1.into()))
        .await
        .expect("migration 1");
    setup
        .execute(
            "CREATE TRIGGER slow_log BEFORE INSERT ON cairn_history_log FOR EACH ROW \
             BEGIN IF NEW.version = 2 THEN DO SLEEP(30); END IF; END",
        )
        .await
        .expect("the trigger");
    let error = up_killed(db.url(), &migrator).await;
    let shown = error.to_string();
    match &error {
        Error::Driver { context, cause, .. } => {
            for needle in [
                "recording up of migration 2 (two_tables) in the history after its 2 statement(s) completed",
                "the same transaction claimed migration 3 (third), none of whose statements was sent",
                "`cairn up --resume` runs it from its first statement",
            ] {
                assert!(context.contains(needle), "{needle}: {shown}");
            }
            assert_eq!(cause.kind, DriverErrorKind::Connection, "{shown}");
        }
        other => panic!("expected a driver error, got {other:?}"),
    }
    let mut fresh = connect(db.url()).await;
    fresh
        .execute("DROP TRIGGER slow_log")
        .await
        .expect("drop the trigger");
    assert_eq!(
        row(&migrator, &mut fresh, 2).await,
        (HistoryState::Running, Some(1))
    );
    let history = migrator.history(&mut fresh).await.expect("history");
    assert!(
        history.iter().all(|r| r.version != 3),
        "the claim of 3 outlived its transaction: {history:?}"
    );
    let report = migrator
        .up_resume(&mut fresh, None)
        .await
        .unwrap_or_else(|f| panic!("the resume failed: {f}"));
    let versions: Vec<_> = report.migrations.iter().map(|m| m.version.key()).collect();
    assert_eq!(versions, [2, 3], "{report:?}");
    for version in [2, 3] {
        assert_eq!(
            row(&migrator, &mut fresh, version).await,
            (HistoryState::Applied, None)
        );
    }
    assert_eq!(
        count(
            &mut fresh,
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('a', 'b', 'c')"
        )
        .await,
        3
    );
}

/// After a run of several migrations the history is what one migration at a
/// time writes: every row applied, with one log entry each, and no claim
/// left behind (the claims rode in the final transactions).
#[tokio::test]
async fn packet_carried_claims_leave_the_history_of_single_runs() {
    let db = cairn_testkit::mysql::database().await;
    let mut fixture = Fixture::new();
    for version in 1..=4 {
        fixture = fixture.migration(
            version,
            &format!("m{version}"),
            &format!(
                "CREATE TABLE t{version} (id INT);\nCREATE INDEX i{version} ON t{version} (id);\n"
            ),
            Some(&format!("DROP TABLE t{version};\n")),
        );
    }
    let dir = fixture.build();
    let migrator = migrator(&dir);
    let mut driver = connect(db.url()).await;
    let report = migrator.up(&mut driver, None).await.expect("up");
    assert_eq!(report.migrations.len(), 4);
    let states = "SELECT COUNT(*) FROM cairn_history WHERE state = 'applied' AND statements_done IS NULL AND error IS NULL";
    assert_eq!(count(&mut driver, states).await, 4);
    assert_eq!(
        count(
            &mut driver,
            "SELECT COUNT(*) FROM cairn_history_log WHERE action = 'up' AND outcome = 'ok'"
        )
        .await,
        4
    );
    migrator
        .down(&mut driver, cairn_core::DownTarget::All)
        .await
        .expect("down");
    assert_eq!(
        count(&mut driver, "SELECT COUNT(*) FROM cairn_history").await,
        0
    );
    assert_eq!(
        count(
            &mut driver,
            "SELECT COUNT(*) FROM cairn_history_log WHERE action = 'down' AND outcome = 'ok'"
        )
        .await,
        4
    );
}

/// A statement fails in the middle of a packet: the server stops there, the
/// history marks the migration failed after the statements before it, the
/// ones after it never ran, and `--resume` after the fix continues from it.
#[tokio::test]
async fn packet_a_failing_statement_stops_the_packet_there() {
    let db = cairn_testkit::mysql::database().await;
    let dir = Fixture::new()
        .migration(
            1,
            "three",
            "CREATE TABLE a (id INT);\nINSERT INTO missing VALUES (1);\nCREATE TABLE b (id INT);\n",
            None,
        )
        .build();
    let migrator = migrator(&dir);
    let mut driver = connect(db.url()).await;
    let failure = migrator
        .up(&mut driver, None)
        .await
        .expect_err("a statement on a missing table succeeded");
    let shown = failure.error.to_string();
    match &failure.error {
        Error::Statement {
            index,
            count,
            kind,
            location,
            outcome,
            ..
        } => {
            assert_eq!((*index, *count), (2, 3), "{shown}");
            assert_eq!(*kind, DriverErrorKind::Statement, "{shown}");
            assert!(location.to_string().ends_with("up.sql:2"), "{shown}");
            assert!(outcome.contains("failed after 1 statement(s)"), "{shown}");
        }
        other => panic!("expected a statement error, got {other:?}"),
    }
    assert_eq!(
        row(&migrator, &mut driver, 1).await,
        (HistoryState::Failed, Some(1))
    );
    let tables = "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('a', 'b', 'missing')";
    assert_eq!(value(&mut driver, tables).await.as_deref(), Some("a"));
    driver
        .execute("CREATE TABLE missing (id INT)")
        .await
        .expect("the fix");
    migrator
        .up_resume(&mut driver, None)
        .await
        .unwrap_or_else(|f| panic!("the resume failed: {f}"));
    assert_eq!(
        value(&mut driver, tables).await.as_deref(),
        Some("a,b,missing")
    );
    assert_eq!(count(&mut driver, "SELECT COUNT(*) FROM missing").await, 1);
    assert_eq!(
        row(&migrator, &mut driver, 1).await,
        (HistoryState::Applied, None)
    );
}

/// A statement in the middle of a packet times out on a lock: it is retried
/// with backoff from that statement, so the ones before it run once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_a_lock_timeout_inside_it_retries_from_that_statement() {
    let db = cairn_testkit::mysql::database().await;
    let mut setup = connect(db.url()).await;
    setup
        .execute("CREATE TABLE busy (id INT)")
        .await
        .expect("create busy");
    setup
        .execute("CREATE TABLE seen (id INT)")
        .await
        .expect("create seen");
    let dir = Fixture::new()
        .migration(
            1,
            "alter_busy",
            "INSERT INTO seen VALUES (1);\nALTER TABLE busy ADD COLUMN c INT;\nINSERT INTO seen VALUES (2);\n",
            None,
        )
        .build();
    let migrator = Migrator::new(
        dir.read(),
        MigratorOptions {
            statement_lock_timeout: Duration::from_secs(1),
            lock_retries: 10,
            retry_backoff: Duration::from_millis(50),
            ..MigratorOptions::default()
        },
    );
    // An open transaction holds busy's metadata lock for 2.5 s.
    let mut blocker = connect(db.url()).await;
    blocker.begin().await.expect("begin");
    blocker
        .query("SELECT * FROM busy FOR UPDATE")
        .await
        .expect("lock busy");
    let release = async {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        blocker.rollback().await.expect("release busy");
    };
    let (result, ()) = tokio::join!(migrator.up(&mut setup, None), release);
    result.unwrap_or_else(|f| panic!("the migration failed behind the lock: {f}"));
    assert_eq!(
        value(&mut setup, "SELECT GROUP_CONCAT(id ORDER BY id) FROM seen")
            .await
            .as_deref(),
        Some("1,2")
    );
    assert_eq!(
        row(&migrator, &mut setup, 1).await,
        (HistoryState::Applied, None)
    );
}

/// A rollback that fails in the middle of its packet: the history marks the
/// rollback failed after the statements that completed.
#[tokio::test]
async fn packet_a_rollback_failing_inside_it_is_recorded_precisely() {
    let db = cairn_testkit::mysql::database().await;
    let dir = Fixture::new()
        .migration(
            1,
            "two",
            "CREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\n",
            Some("DROP TABLE b;\nDROP TABLE missing;\nDROP TABLE a;\n"),
        )
        .build();
    let migrator = migrator(&dir);
    let mut driver = connect(db.url()).await;
    migrator.up(&mut driver, None).await.expect("up");
    let failure = migrator
        .down(&mut driver, cairn_core::DownTarget::Steps(1))
        .await
        .expect_err("dropping a missing table succeeded");
    match &failure.error {
        Error::Statement { index, count, .. } => {
            assert_eq!((*index, *count), (2, 3), "{}", failure.error);
        }
        other => panic!("expected a statement error, got {other:?}"),
    }
    assert_eq!(
        row(&migrator, &mut driver, 1).await,
        (HistoryState::Failed, Some(1))
    );
    let tables = "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('a', 'b')";
    assert_eq!(value(&mut driver, tables).await.as_deref(), Some("a"));
}

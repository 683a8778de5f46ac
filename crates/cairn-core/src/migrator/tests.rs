//! The migrator's algorithm on a [`RecordingDriver`]: what it sends, in which
//! order, and what it records, without a database.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::recording::{Call, RecordingDriver};
use super::{Migrator, MigratorOptions};
use crate::driver::{Capabilities, LockKind};
use crate::error::{Error, Location};
use crate::history::{HistoryKind, HistoryState, RowError};
use crate::migration::{Direction, Directives, Layout, Migration, Script, Scripts, Version};
use crate::plan::DownTarget;

fn script(version: Version, file: &str, text: &str) -> Script {
    Script {
        path: PathBuf::from(format!("migrations/{version}_m{version}/{file}")),
        first_line: 1,
        text: text.to_owned(),
        directives: Directives::default(),
    }
}

/// Migration `version` whose up script creates `a<version>`, `b<version>`
/// and `c<version>`, one statement per line, and whose down script drops them.
fn migration(version: impl Into<Version>) -> Migration {
    let version = version.into();
    let up = format!(
        "CREATE TABLE a{version} (id INT);\nCREATE TABLE b{version} (id INT);\nCREATE TABLE c{version} (id INT);\n"
    );
    let down = format!("DROP TABLE c{version};\nDROP TABLE b{version};\nDROP TABLE a{version};\n");
    Migration {
        version,
        name: format!("m{version}"),
        layout: Layout::Cairn,
        location: PathBuf::from(format!("migrations/{version}_m{version}")),
        up: Scripts {
            plain: Some(script(version, "up.sql", &up)),
            overrides: BTreeMap::new(),
        },
        down: Scripts {
            plain: Some(script(version, "down.sql", &down)),
            overrides: BTreeMap::new(),
        },
        declaration: None,
    }
}

fn migrator(versions: &[i64]) -> Migrator {
    Migrator::new(
        versions.iter().copied().map(migration).collect(),
        MigratorOptions::default(),
    )
}

fn creates(version: impl Into<Version>) -> Vec<String> {
    let version: Version = version.into();
    ["a", "b", "c"]
        .map(|t| format!("CREATE TABLE {t}{version} (id INT)"))
        .to_vec()
}

fn drops(version: Version) -> Vec<String> {
    ["c", "b", "a"]
        .map(|t| format!("DROP TABLE {t}{version}"))
        .to_vec()
}

#[tokio::test]
async fn up_applies_in_order_and_records_rows() {
    let migrator = migrator(&[1, 2, 3]);
    let mut driver = RecordingDriver::new(true);
    let report = migrator.up(&mut driver, None).await.expect("up");

    let versions: Vec<Version> = report.migrations.iter().map(|m| m.version).collect();
    assert_eq!(versions, [1, 2, 3]);
    assert!(report
        .migrations
        .iter()
        .all(|m| m.transactional && m.statements == 3));
    assert_eq!(
        driver.applied(),
        [creates(1), creates(2), creates(3)].concat()
    );
    let history = migrator.history(&mut driver).await.expect("history");
    let rows: Vec<(i64, HistoryKind, HistoryState)> = history
        .iter()
        .map(|r| (r.version.key(), r.kind, r.state))
        .collect();
    assert_eq!(
        rows,
        [1, 2, 3].map(|v| (v, HistoryKind::Sql, HistoryState::Applied))
    );
    assert_eq!(driver.cell(1, "kind").as_deref(), Some("sql"));
    let log: Vec<(i64, &str, &str)> = driver
        .db
        .log
        .iter()
        .map(|(v, action, outcome)| (v.key(), action.as_str(), outcome.as_str()))
        .collect();
    assert_eq!(log, [(1, "up", "ok"), (2, "up", "ok"), (3, "up", "ok")]);
}

#[tokio::test]
async fn up_locks_before_reading_history_and_unlocks_after() {
    let migrator = migrator(&[1]);
    let mut driver = RecordingDriver::new(true);
    migrator.up(&mut driver, None).await.expect("up");

    assert_eq!(
        driver.calls.first(),
        Some(&Call::Lock),
        "{:?}",
        driver.calls
    );
    assert_eq!(
        driver.calls.last(),
        Some(&Call::Unlock),
        "{:?}",
        driver.calls
    );
    let first_query = driver
        .calls
        .iter()
        .position(|c| matches!(c, Call::Query(_)))
        .expect("a history read");
    assert!(first_query > 0);
    let locks = driver.calls.iter().filter(|c| **c == Call::Lock).count();
    assert_eq!(locks, 1, "{:?}", driver.calls);
}

#[tokio::test]
async fn a_failed_run_still_unlocks() {
    let migrator = migrator(&[1]);
    let mut driver = RecordingDriver::new(true);
    driver.fail_user_statement(1);
    migrator.up(&mut driver, None).await.expect_err("up fails");
    assert_eq!(
        driver.calls.last(),
        Some(&Call::Unlock),
        "{:?}",
        driver.calls
    );
}

#[tokio::test]
async fn a_failing_statement_in_a_transaction_rolls_back_and_records_nothing() {
    let migrator = migrator(&[1, 2]);
    let mut driver = RecordingDriver::new(true);
    driver.fail_user_statement(5); // statement 2 of migration 2
    let failure = migrator.up(&mut driver, None).await.expect_err("up fails");

    let done: Vec<Version> = failure
        .report
        .migrations
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(done, [1], "the report keeps what completed");
    match &failure.error {
        Error::Statement {
            direction: Direction::Up,
            version,
            index: 2,
            count: 3,
            location,
            outcome,
            ..
        } if version == 2 => {
            assert_eq!(location, &Location::new("migrations/2_m2/up.sql", 2));
            assert!(outcome.contains("rolled back"), "{outcome}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        driver.applied(),
        creates(1),
        "migration 2's first statement is undone"
    );
    assert!(driver.calls.contains(&Call::Rollback));
    let versions: Vec<Version> = driver.db.history.keys().copied().collect();
    assert_eq!(versions, [1], "no row for the failed migration");
    assert_eq!(driver.db.log.last().map(|l| l.2.as_str()), Some("failed"));
}

#[tokio::test]
async fn a_failing_statement_outside_a_transaction_records_failed_with_statements_done() {
    let migrator = migrator(&[1]);
    let mut driver = RecordingDriver::new(false);
    driver.fail_user_statement(2);
    let failure = migrator.up(&mut driver, None).await.expect_err("up fails");

    assert!(
        matches!(failure.error, Error::Statement { index: 2, .. }),
        "{:?}",
        failure.error
    );
    assert_eq!(driver.applied(), &creates(1)[..1], "statement 1 stays");
    let history = migrator.history(&mut driver).await.expect("history");
    let row = &history[0];
    assert_eq!(row.state, HistoryState::Failed);
    assert_eq!(row.statements_done, Some(1));
    match &row.error {
        Some(RowError::Statement {
            direction: Direction::Up,
            in_doubt: false,
            detail,
        }) => assert!(
            detail.starts_with("statement 2 of 3 (migrations/1_m1/up.sql:2): boom"),
            "{detail}"
        ),
        other => panic!("unexpected {other:?}"),
    }
    let stored = driver.cell(1, "error").expect("an error");
    assert!(stored.starts_with("up statement 2 of 3 ("), "{stored}");
}

#[tokio::test]
async fn resume_continues_from_the_failed_statement() {
    let migrator = migrator(&[1]);
    let mut driver = RecordingDriver::new(false);
    driver.fail_user_statement(2);
    migrator.up(&mut driver, None).await.expect_err("up fails");
    let report = migrator.up_resume(&mut driver, None).await.expect("resume");

    assert_eq!(report.migrations[0].statements, 2);
    assert_eq!(driver.applied(), creates(1), "statement 1 ran once");
    let history = migrator.history(&mut driver).await.expect("history");
    assert_eq!(history[0].state, HistoryState::Applied);
    assert_eq!(history[0].error, None);
}

#[tokio::test]
async fn down_runs_down_scripts_in_reverse() {
    let migrator = migrator(&[1, 2, 3]);
    let mut driver = RecordingDriver::new(true);
    migrator.up(&mut driver, None).await.expect("up");
    let report = migrator
        .down(&mut driver, DownTarget::All)
        .await
        .expect("down");

    let versions: Vec<Version> = report.migrations.iter().map(|m| m.version).collect();
    assert_eq!(versions, [3, 2, 1]);
    let undone = &driver.applied()[9..];
    assert_eq!(
        undone,
        [
            drops(crate::migration::Version::from(3)),
            drops(crate::migration::Version::from(2)),
            drops(crate::migration::Version::from(1))
        ]
        .concat()
    );
    assert!(driver.db.history.is_empty());
    let downs: Vec<Version> = driver
        .db
        .log
        .iter()
        .filter(|l| l.1 == "down")
        .map(|l| l.0)
        .collect();
    assert_eq!(downs, [3, 2, 1]);
}

#[tokio::test]
async fn a_rollback_outside_a_transaction_is_marked_in_the_stored_format() {
    let migrator = migrator(&[1]);
    let mut driver = RecordingDriver::new(false);
    migrator.up(&mut driver, None).await.expect("up");
    driver.fail_user_statement(2);
    migrator
        .down(&mut driver, DownTarget::All)
        .await
        .expect_err("down fails");

    let marked = driver.calls.iter().any(|c| {
        matches!(c, Call::Execute(sql) if sql.contains("'down in progress: statements_done counts the rollback''s statements'"))
    });
    assert!(marked, "the claim marks the rollback: {:?}", driver.calls);
    let history = migrator.history(&mut driver).await.expect("history");
    assert!(
        matches!(
            &history[0].error,
            Some(RowError::Statement {
                direction: Direction::Down,
                ..
            })
        ),
        "{:?}",
        history[0].error
    );
    let error = migrator
        .up_resume(&mut driver, None)
        .await
        .expect_err("a rollback is not resumed")
        .error;
    assert!(
        matches!(&error, Error::RollbackNotResumable { version, .. } if version == 1),
        "{error:?}"
    );
}

#[tokio::test]
async fn dry_run_sends_nothing_that_writes() {
    let migrator = migrator(&[1, 2]);
    let mut driver = RecordingDriver::new(true);
    let planned = migrator.plan_up(&mut driver, None).await.expect("plan");

    assert_eq!(planned.len(), 2);
    assert_eq!(
        planned[0].statements[1].location,
        "migrations/1_m1/up.sql:2"
    );
    let writes: Vec<&Call> = driver.calls.iter().filter(|c| c.writes()).collect();
    assert!(writes.is_empty(), "{writes:?}");

    migrator.up(&mut driver, None).await.expect("up");
    driver.clear_calls();
    let planned = migrator
        .plan_down(&mut driver, DownTarget::Steps(1))
        .await
        .expect("plan down");
    assert_eq!(planned[0].version, 2);
    let writes: Vec<&Call> = driver.calls.iter().filter(|c| c.writes()).collect();
    assert!(writes.is_empty(), "{writes:?}");
}

#[tokio::test]
async fn the_index_execute_many_returns_names_the_statement() {
    let migrator = migrator(&[1]);
    let mut driver = RecordingDriver::new(true);
    driver.fail_user_statement(3);
    let error = migrator
        .up(&mut driver, None)
        .await
        .expect_err("up fails")
        .error;

    match &error {
        Error::Statement {
            index, location, ..
        } => {
            assert_eq!(*index, 3);
            assert_eq!(location.to_string(), "migrations/1_m1/up.sql:3");
        }
        other => panic!("unexpected {other:?}"),
    }
    let batches: Vec<&Vec<String>> = driver
        .calls
        .iter()
        .filter_map(|c| match c {
            Call::ExecuteMany(statements) => Some(statements),
            _ => None,
        })
        .collect();
    assert_eq!(
        batches.first(),
        Some(&&creates(1)),
        "one batch of the script"
    );
    let single = driver
        .calls
        .iter()
        .any(|c| matches!(c, Call::Execute(sql) if sql.starts_with("CREATE TABLE a1")));
    assert!(!single, "the statements went together: {:?}", driver.calls);
}

#[tokio::test]
async fn requests_that_cannot_be_carried_out_are_refused_with_named_errors() {
    let migrator = migrator(&[1, 2]);
    let mut driver = RecordingDriver::new(true);

    let error = migrator.redo(&mut driver).await.expect_err("redo").error;
    assert!(matches!(error, Error::NothingToRedo), "{error:?}");
    let error = migrator
        .up_resume(&mut driver, None)
        .await
        .expect_err("resume")
        .error;
    assert!(matches!(error, Error::NothingToResume), "{error:?}");
    assert_eq!(
        error.to_string(),
        "nothing to resume: no migration is failed or interrupted; run `cairn up`"
    );
    let error = migrator
        .baseline(&mut driver, crate::migration::Version::from(0))
        .await
        .expect_err("baseline 0");
    assert!(
        matches!(error, Error::BaselineVersion { version } if version == 0),
        "{error:?}"
    );
    assert!(
        driver
            .calls
            .iter()
            .all(|c| !matches!(c, Call::Execute(_) | Call::Begin)),
        "nothing was written: {:?}",
        driver.calls
    );

    migrator
        .up(&mut driver, Some(crate::migration::Version::from(1)))
        .await
        .expect("up to 1");
    let error = migrator
        .down(&mut driver, DownTarget::Steps(2))
        .await
        .expect_err("too many steps")
        .error;
    assert!(
        matches!(
            error,
            Error::TooManySteps {
                steps: 2,
                applied: 1
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("Use --all, or --steps 1"),
        "{error}"
    );
    let error = migrator
        .down(
            &mut driver,
            DownTarget::To(crate::migration::Version::from(2)),
        )
        .await
        .expect_err("a target that is not applied")
        .error;
    assert!(
        matches!(
            error,
            Error::DownTargetNotApplied {
                target,
                newest
            } if target == 2 && newest == 1
        ),
        "{error:?}"
    );
    let error = migrator
        .baseline(&mut driver, crate::migration::Version::from(5))
        .await
        .expect_err("baseline");
    assert!(
        matches!(
            error,
            Error::BaselineOverHistory {
                rows: 1,
                first,
                ..
            } if first == 1
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn skip_in_doubt_is_refused_for_a_statement_that_failed_with_an_error() {
    let migrator = migrator(&[1]);
    let mut driver = RecordingDriver::new(false);
    driver.fail_user_statement(2);
    migrator.up(&mut driver, None).await.expect_err("up fails");
    let error = migrator
        .up_resume_skip_in_doubt(&mut driver, None)
        .await
        .expect_err("nothing in doubt")
        .error;
    assert!(
        matches!(
            &error,
            Error::NoStatementInDoubt {
                version,
                statement: 2,
                ..
            } if version == 1
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn resuming_a_migration_gone_from_disk_is_refused() {
    let mut driver = RecordingDriver::new(false);
    driver.fail_user_statement(2);
    migrator(&[1])
        .up(&mut driver, None)
        .await
        .expect_err("up fails");
    let error = migrator(&[])
        .up_resume(&mut driver, None)
        .await
        .expect_err("gone")
        .error;
    assert!(
        matches!(&error, Error::ResumeMissing { version, .. } if version == 1),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("restore it to resume"),
        "{error}"
    );
}

#[tokio::test]
async fn a_row_another_run_wrote_meanwhile_stops_the_run() {
    let migrator = migrator(&[1]);
    let mut driver = RecordingDriver::with_capabilities(
        Capabilities::new(true, LockKind::WriteTransaction).with_run_lock(),
    );
    driver.other_run_writes(crate::migration::Version::from(1), "running");
    let error = migrator
        .up(&mut driver, None)
        .await
        .expect_err("stopped")
        .error;
    match &error {
        Error::ChangedByOtherRun { version, state, .. } => {
            assert_eq!((version.key(), state.as_str()), (1, "running"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(driver.applied().is_empty(), "{:?}", driver.applied());
}

#[tokio::test]
async fn on_step_is_told_before_each_migration_of_a_run() {
    use std::sync::{Arc, Mutex};
    let mut migrator = migrator(&[1, 2, 3]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    migrator.on_step(Arc::new(move |s: &super::StepStart<'_>| {
        record.lock().unwrap().push((
            s.index,
            s.total,
            s.version.key(),
            s.name.to_owned(),
            s.direction,
        ));
    }));
    let mut driver = RecordingDriver::new(true);
    migrator
        .up(&mut driver, Some(crate::migration::Version::from(2)))
        .await
        .expect("up");
    migrator
        .down(&mut driver, DownTarget::All)
        .await
        .expect("down");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            (1, 2, 1, "m1".to_owned(), Direction::Up),
            (2, 2, 2, "m2".to_owned(), Direction::Up),
            (1, 2, 2, "m2".to_owned(), Direction::Down),
            (2, 2, 1, "m1".to_owned(), Direction::Down),
        ]
    );
}

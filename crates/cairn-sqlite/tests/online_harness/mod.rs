//! The public zero-downtime harness (`cairn_testkit::online`) on SQLite:
//! every operation through expand, abort, contract and un-contract with an
//! old-version and a new-version connection, writers of both versions on
//! 100,000 rows (as on the servers: SQLite serialises the writers, and
//! Cairn's write transactions stay short enough for their busy timeout),
//! and the harness's own errors.
//!
//! No lock-queue test here: SQLite has no table locks to queue behind, only
//! the one write lock and the busy timeout, which the concurrency test's
//! writers wait on.

use cairn_core::Engine;
use cairn_testkit::online::{self, cases, concurrency, HarnessError, Sql, Stage};

use super::Sqlite;

cairn_testkit::online_tests!(Sqlite);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_of_both_versions_during_expand_backfill_and_contract() {
    let report = concurrency(&Sqlite, 100_000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The figures, for `cargo test -- --nocapture`.
    eprintln!("{report:?}");
    assert!(report.new_during_backfill > 0, "{report:#?}");
    assert_eq!(
        (report.failed, report.disagreeing, report.unfilled),
        (0, 0, 0),
        "{report:#?}"
    );
}

fn failure(outcome: Result<online::Outcome, HarnessError>) -> HarnessError {
    match outcome {
        Ok(outcome) => panic!("the harness passed a broken case: {outcome:?}"),
        Err(e) => e,
    }
}

/// A table that does not build fails the case at setup, naming the statement.
#[tokio::test]
async fn a_setup_that_fails_names_the_case_stage_engine_and_statement() {
    let mut case = cases::rename_column();
    case.setup = vec![Sql::new("CREATE TABLE items (id INTEGER PRIMARY KEY,")];
    let e = failure(online::run(&case, &Sqlite).await);
    assert_eq!(
        (e.case.as_str(), e.engine, e.stage),
        ("rename_column", Engine::Sqlite, Stage::Setup),
        "{e}"
    );
    assert_eq!(
        e.statement.as_deref(),
        Some("CREATE TABLE items (id INTEGER PRIMARY KEY,")
    );
    let text = e.to_string();
    assert!(
        text.starts_with("online case `rename_column` on sqlite, setup:"),
        "{text}"
    );
}

/// A version that reads something else than the case says fails while
/// expanded, naming the read and what it got.
#[tokio::test]
async fn a_wrong_read_names_the_statement_and_both_values() {
    let mut case = cases::rename_column();
    case.values.new_reads = "gamma{id}".to_owned();
    let e = failure(online::run(&case, &Sqlite).await);
    assert_eq!(e.stage, Stage::Expanded, "{e}");
    assert_eq!(
        e.statement.as_deref(),
        Some("SELECT label FROM items WHERE id = 1001"),
        "{e}"
    );
    assert!(e.message.contains("`alpha1001`"), "{e}");
    assert!(e.message.contains("`gamma1001`"), "{e}");
}

/// An engine listed as refusing an operation that it runs is an error:
/// the list cannot go stale silently.
#[tokio::test]
async fn an_engine_listed_as_refusing_that_accepts_is_an_error() {
    let mut case = cases::rename_column();
    case.refused_on = vec![Engine::Sqlite];
    let e = failure(online::run(&case, &Sqlite).await);
    assert_eq!(e.stage, Stage::Refusal, "{e}");
    assert!(e.message.contains("remove sqlite"), "{e}");
}

/// An operation the engine cannot run (here: a column that does not exist)
/// is not taken for a refusal as not online unless it is an operation error
/// of this engine — and when it is, nothing may have changed.
#[tokio::test]
async fn a_refusal_is_an_operation_error_and_changes_nothing() {
    let mut case = cases::rename_column();
    case.migration = case
        .migration
        .replace("column = \"name\"", "column = \"nope\"");
    case.refused_on = vec![Engine::Sqlite];
    let outcome = online::run(&case, &Sqlite).await;
    assert_eq!(outcome, Ok(online::Outcome::Refused));
}

/// A final shape the contract did not reach fails the case, naming it.
#[tokio::test]
async fn a_contracted_shape_that_differs_is_named() {
    let mut case = cases::add_column();
    case.after_contract = vec![online::Shape::NoColumn(
        "items".to_owned(),
        "doubled".to_owned(),
    )];
    let e = failure(online::run(&case, &Sqlite).await);
    assert_eq!(e.stage, Stage::Contracted, "{e}");
    assert!(e.message.contains("NoColumn"), "{e}");
}

/// An old version that still reads after contract, where the case says its
/// shape is gone, fails the case with the read that still works.
#[tokio::test]
async fn an_old_shape_left_after_contract_is_an_error() {
    let mut case = cases::add_column();
    case.old_breaks_after_contract = true;
    let e = failure(online::run(&case, &Sqlite).await);
    assert_eq!(e.stage, Stage::Contracted, "{e}");
    assert_eq!(
        e.statement.as_deref(),
        Some("SELECT qty FROM items WHERE id = 1"),
        "{e}"
    );
}

//! The public zero-downtime harness (`cairn_testkit::online`) on PostgreSQL:
//! every operation through expand, abort, contract and un-contract with an
//! old-version and a new-version connection, writers of both versions on
//! 100,000 rows, and a transaction holding the table while expand runs.

use std::time::Duration;

use cairn_testkit::online::{concurrency, lock_queue, LockQueue};

use super::Postgres;

cairn_testkit::online_tests!(Postgres);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_of_both_versions_during_expand_backfill_and_contract() {
    let report = concurrency(&Postgres, 100_000)
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

/// `lock_timeout` is exact on PostgreSQL: a third session waits at most
/// the 200 ms behind Cairn's `ALTER`, plus a margin for a loaded machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_table_times_expand_out_without_queueing_the_application() {
    let queue = LockQueue {
        lock_timeout: Duration::from_millis(200),
        retries: 2,
        bound: Duration::from_millis(200 + 300),
    };
    let report = lock_queue(&Postgres, queue)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{report:?}");
    assert!(report.probes > 0, "{report:?}");
    assert!(report.longest_wait <= queue.bound, "{report:?}");
    assert!(report.error.contains("lock"), "{report:?}");
}

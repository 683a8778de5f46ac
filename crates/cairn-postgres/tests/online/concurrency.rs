//! The sync trigger under concurrent writers: old-version and new-version
//! writers, each on its own connection, insert and update while expand and
//! the backfill (in batches, as the keyset runner does) run. Afterwards no
//! statement has failed and no row has the two columns disagree.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::*;

const ROWS: usize = 2_000;
/// Each writer's iterations at least, and at most (a bound, so the test ends
/// by itself).
const ITERATIONS: (usize, usize) = (50, 20_000);

/// A writer of one application version: inserts and updates through its
/// own column until `stop` (at least `ITERATIONS.0` times); how many
/// iterations it made, and how many statements failed, with the first error.
async fn writer(
    mut driver: PgDriver,
    column: &'static str,
    id: usize,
    stop: Arc<AtomicBool>,
) -> (usize, usize, Option<String>) {
    let mut failed = 0;
    let mut first = None;
    let mut i = 0;
    while i < ITERATIONS.1 && (i < ITERATIONS.0 || !stop.load(Ordering::Relaxed)) {
        i += 1;
        let target = 1 + (i * 37 + id * 11) % ROWS;
        for sql in [
            format!("INSERT INTO users ({column}) VALUES ('{column}-{id}-{i}')"),
            format!("UPDATE users SET {column} = '{column}-{id}-u{i}' WHERE id = {target}"),
        ] {
            if let Err(e) = driver.execute(&sql).await {
                failed += 1;
                first.get_or_insert_with(|| format!("{sql}: {e}"));
            }
        }
    }
    (i, failed, first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_column_under_concurrent_old_and_new_writers() {
    let mut lab = Lab::new(&format!(
        "CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL);
         INSERT INTO users (name) SELECT 'user' || i FROM generate_series(1, {ROWS}) i;"
    ))
    .await;
    let before = lab.table("users").await;
    let phases = compiled(rename("users", "name", "full_name"), &before);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for id in 0..2 {
        let driver = super::super::connect(&lab.db).await;
        writers.push(tokio::spawn(writer(driver, "name", id, stop.clone())));
    }
    lab.run(&phases.expand).await;
    for id in 2..4 {
        let driver = super::super::connect(&lab.db).await;
        writers.push(tokio::spawn(writer(driver, "full_name", id, stop.clone())));
    }
    let Action::Sql { set, filter, .. } = &phases.backfill[0].action else {
        panic!("a SQL backfill");
    };
    let filter = filter.as_deref().expect("a filter");
    for start in (1..=ROWS).step_by(100) {
        lab.execute(&format!(
            "UPDATE users SET {set} WHERE id BETWEEN {start} AND {} AND {filter}",
            start + 99
        ))
        .await;
    }
    lab.backfill(&phases.backfill).await;
    stop.store(true, Ordering::Relaxed);
    let mut inserted = 0;
    for writer in writers {
        let (iterations, failed, first) = writer.await.expect("the writer ran");
        assert_eq!(failed, 0, "statements failed, the first: {first:?}");
        inserted += iterations;
    }
    let disagree = lab
        .value("SELECT count(*) FROM users WHERE name IS DISTINCT FROM full_name")
        .await;
    assert_eq!(disagree.as_deref(), Some("0"));
    let total = lab.value("SELECT count(*) FROM users").await;
    assert_eq!(total, Some((ROWS + inserted).to_string()));
    lab.run(&phases.contract).await;
    assert_eq!(
        lab.value("SELECT count(*) FROM users WHERE full_name IS NULL")
            .await
            .as_deref(),
        Some("0")
    );
}

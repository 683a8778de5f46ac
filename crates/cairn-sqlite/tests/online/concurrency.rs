//! Old-version and new-version writers run while `rename_column` expands,
//! backfills in batches and contracts: no statement fails, and afterwards
//! no row has columns that disagree.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::*;

const ROWS: u64 = 5_000;

/// Writes through `driver` until `stop`: inserts, and updates of rows
/// spread over the table, naming only `column`; counts failed statements.
fn writer(
    mut driver: SqliteDriver,
    column: &'static str,
    stop: Arc<AtomicBool>,
    failed: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut n: u64 = 0;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let id = (n * 7919) % ROWS + 1;
            let sql = if n.is_multiple_of(3) {
                format!("INSERT INTO users ({column}) VALUES ('{column}-i{n}')")
            } else {
                format!("UPDATE users SET {column} = '{column}-u{n}' WHERE id = {id}")
            };
            if driver.execute(&sql).await.is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            tokio::task::yield_now().await;
        }
        n
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_of_both_versions_never_fail_and_never_disagree() {
    let mut db = Db::new(&[
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE INDEX users_name ON users (name)",
    ])
    .await;
    db.cairn
        .execute(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) \
             INSERT INTO users (name) SELECT 'seed' || i FROM n"
        ))
        .await
        .expect("seed");
    db.cairn
        .execute("PRAGMA journal_mode = WAL")
        .await
        .expect("wal");
    let before = db.snapshot().await;
    let phases = compile(
        Kind::RenameColumn {
            table: "users".to_owned(),
            column: "name".to_owned(),
            to: "full_name".to_owned(),
        },
        before.tables.get("users"),
    )
    .expect("compiles");

    let url = DatabaseUrl::parse(db._file.url()).expect("url");
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(0));
    let old = SqliteDriver::connect(&url).await.expect("opens");
    let old = writer(old, "name", stop.clone(), failed.clone());
    let new_stop = Arc::new(AtomicBool::new(false));

    // Old code alone while expand runs, then both while the backfill runs.
    let pause = |ms| tokio::time::sleep(std::time::Duration::from_millis(ms));
    pause(100).await;
    db.run(&phases.expand).await;
    let new = SqliteDriver::connect(&url).await.expect("opens");
    let new = writer(new, "full_name", new_stop.clone(), failed.clone());
    let mut low = 0;
    while low < ROWS * 2 {
        db.cairn
            .execute(&format!(
                "UPDATE users SET full_name = name WHERE id > {low} AND id <= {} \
                 AND full_name IS NULL AND name IS NOT NULL",
                low + 500
            ))
            .await
            .expect("a batch");
        low += 500;
        pause(10).await;
    }
    pause(100).await;
    // The old version is retired before contract.
    stop.store(true, Ordering::Relaxed);
    let old_writes = old.await.expect("old writer");
    let differ = "SELECT count(*) FROM users WHERE name IS NOT full_name OR full_name IS NULL";
    assert_eq!(db.value(differ).await.as_deref(), Some("0"));
    db.run(&phases.contract).await;
    pause(100).await;
    new_stop.store(true, Ordering::Relaxed);
    let new_writes = new.await.expect("new writer");
    assert_eq!(failed.load(Ordering::Relaxed), 0, "failed statements");
    assert!(
        old_writes > 10 && new_writes > 10,
        "{old_writes} old, {new_writes} new writes"
    );
    let nulls = "SELECT count(*) FROM users WHERE full_name IS NULL";
    assert_eq!(db.value(nulls).await.as_deref(), Some("0"));
    assert!(!db.table("users").await.columns["full_name"].nullable);
}

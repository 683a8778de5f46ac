//! `kill -9` in the middle of each zero-downtime phase (ZERO-DOWNTIME.md §3:
//! every phase is resumable), through the `cairn` binary, on a table of
//! [`ROWS`] rows renamed by a `rename_column` operation:
//!
//! - during the backfill (every engine): `cairn up` again converges to
//!   `expanded` with every row filled, and `cairn abort` from the killed
//!   backfill restores the schema exactly, with the rows the old version
//!   wrote meanwhile;
//! - during expand's DDL (PostgreSQL, MariaDB: a session holding the table
//!   keeps the first step retrying): `cairn abort` restores the schema
//!   exactly, and `cairn up` again converges;
//! - during contract (PostgreSQL, MariaDB, the same way): `cairn contract`
//!   again finishes it, and `down` (un-contract) then `abort` restore the
//!   schema (as a set of lines: an un-contract re-adds the old column at the
//!   end of the table on PostgreSQL).
//!
//! - an `up` expression that fails on one row (every engine): `cairn up`
//!   fails naming that row's key, and `cairn abort` restores the schema
//!   with every row.
//!
//! On SQLite a held write lock stops the command before it records the
//! phase (recording it is itself a write), so it cannot keep a step
//! retrying in the middle of a phase ([`super::online`] tests that stop);
//! an expand stopped after each of its steps and then aborted is
//! cairn-sqlite's `online` suite.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn::Driver;
use cairn_testkit::TestDatabase;

use crate::support::{cairn, connect, count, spawn_in, write, Running, DEADLINE};

/// Rows in `users`: with batches of [`BATCH`] rows and a pause between them,
/// the backfill takes seconds, long enough to be killed in the middle.
const ROWS: i64 = 20_000;
const BATCH: i64 = 200;

const RENAME: &str = "[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\ncolumn = \"name\"\nto = \"full_name\"\nbatch_size = 200\npause = \"20ms\"\n";

/// Migration 1 creates `users`; migration 2 renames `users.name`.
fn fixture(db: &TestDatabase) -> PathBuf {
    let dir = db.scratch_dir().join("migrations");
    write(
        &dir.join("1_create_users/up.sql"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, note VARCHAR(100));\n",
    );
    write(&dir.join("1_create_users/down.sql"), "DROP TABLE users;\n");
    write(&dir.join("2_rename_users_name/migration.toml"), RENAME);
    assert_eq!(BATCH, 200, "RENAME's batch_size");
    dir
}

/// Applies migration 1 and fills `users`; returns the schema dump before the rename.
async fn prepare(db: &TestDatabase, dir: &Path, driver: &mut dyn Driver) -> String {
    cairn(db, dir, &["up", "--to", "1"]).await.success();
    let ids: Vec<i64> = (1..=ROWS).collect();
    for chunk in ids.chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|id| format!("({id}, 'user {id}')"))
            .collect();
        driver
            .execute(&format!(
                "INSERT INTO users (id, name) VALUES {}",
                values.join(", ")
            ))
            .await
            .expect("insert the users");
    }
    dump(db, dir).await
}

async fn dump(db: &TestDatabase, dir: &Path) -> String {
    cairn(db, dir, &["schema", "dump"])
        .await
        .success()
        .to_owned()
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches(',')).collect();
    lines.sort_unstable();
    lines
}

/// The history state of migration 2 (`None` without a row).
async fn state(driver: &mut dyn Driver) -> Option<String> {
    driver
        .query("SELECT state FROM cairn_history WHERE version = 2")
        .await
        .ok()
        .and_then(|rows| rows.into_iter().next())
        .and_then(|row| row.into_iter().next().flatten())
}

/// Waits until migration 2 is in `wanted`, failing after [`DEADLINE`] or
/// when the process ends first.
async fn wait_for(running: &mut Running, driver: &mut dyn Driver, wanted: &str) {
    let started = Instant::now();
    loop {
        if state(driver).await.as_deref() == Some(wanted) {
            return;
        }
        assert!(
            !running.has_exited(),
            "cairn ended before migration 2 was {wanted}\n{}",
            running.stderr_so_far()
        );
        assert!(
            started.elapsed() < DEADLINE,
            "migration 2 never became {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Rows where the two columns disagree, or the new one is unfilled.
async fn disagreeing(driver: &mut dyn Driver) -> i64 {
    count(
        driver,
        "SELECT count(*) FROM users WHERE full_name IS NULL OR full_name <> name",
    )
    .await
}

/// The old application version writes while the migration is stuck.
async fn old_version_writes(driver: &mut dyn Driver) {
    driver
        .execute(&format!(
            "INSERT INTO users (id, name) VALUES ({}, 'late writer')",
            ROWS + 1
        ))
        .await
        .expect("the old version inserts");
    driver
        .execute("UPDATE users SET name = 'changed' WHERE id = 1")
        .await
        .expect("the old version updates");
}

async fn old_version_rows_are_there(driver: &mut dyn Driver) {
    assert_eq!(count(driver, "SELECT count(*) FROM users").await, ROWS + 1);
    assert_eq!(
        count(
            driver,
            "SELECT count(*) FROM users WHERE id = 1 AND name = 'changed'"
        )
        .await,
        1
    );
}

/// A config with many retries, so that a held table keeps a step retrying.
fn patient(db: &TestDatabase) -> String {
    let config = db.scratch_dir().join("conf/cairn.toml");
    write(
        &config,
        "lock_retries = 200\noperation_lock_timeout = \"200ms\"\n",
    );
    config.display().to_string()
}

/// A session reading `users` in an open transaction: DDL on it must wait.
async fn hold_users(db: &TestDatabase) -> Box<dyn Driver> {
    let mut blocker = connect(db).await;
    blocker.begin().await.expect("the blocker's transaction");
    blocker
        .query("SELECT count(*) FROM users")
        .await
        .expect("the blocker reads users");
    blocker
}

/// kill -9 in the middle of the backfill: `up` again converges, and abort
/// from the killed backfill restores the schema.
async fn killed_during_the_backfill(db: TestDatabase) {
    let dir = fixture(&db);
    let mut driver = connect(&db).await;
    let before = prepare(&db, &dir, driver.as_mut()).await;

    // Killed, then continued by the same command.
    let mut up = spawn_in(&db, db.scratch_dir(), &dir, &[], &["up"]);
    wait_for(&mut up, driver.as_mut(), "backfilling").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = up.kill_9();
    assert_eq!(
        state(driver.as_mut()).await.as_deref(),
        Some("backfilling"),
        "the backfill ended before the kill\n{killed}"
    );
    old_version_writes(driver.as_mut()).await;
    let again = cairn(&db, &dir, &["up"]).await;
    again.success();
    assert_eq!(state(driver.as_mut()).await.as_deref(), Some("expanded"));
    assert_eq!(disagreeing(driver.as_mut()).await, 0);
    assert_eq!(
        count(
            driver.as_mut(),
            "SELECT count(*) FROM users WHERE id = 1 AND full_name = 'changed'"
        )
        .await,
        1
    );

    // Killed again, then undone from there.
    cairn(&db, &dir, &["abort"]).await.success();
    let mut up = spawn_in(&db, db.scratch_dir(), &dir, &[], &["up"]);
    wait_for(&mut up, driver.as_mut(), "backfilling").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = up.kill_9();
    assert_eq!(
        state(driver.as_mut()).await.as_deref(),
        Some("backfilling"),
        "the backfill ended before the kill\n{killed}"
    );
    let abort = cairn(&db, &dir, &["abort"]).await;
    abort.success();
    assert_eq!(state(driver.as_mut()).await, None, "{abort}");
    assert_eq!(dump(&db, &dir).await, before);
    old_version_rows_are_there(driver.as_mut()).await;
}

/// kill -9 while expand's first DDL step retries behind a held table: abort
/// restores the schema; `up` again converges.
async fn killed_during_expand(db: TestDatabase) {
    let dir = fixture(&db);
    let mut driver = connect(&db).await;
    let before = prepare(&db, &dir, driver.as_mut()).await;
    let config = patient(&db);

    let mut blocker = hold_users(&db).await;
    let mut up = spawn_in(&db, db.scratch_dir(), &dir, &["--config", &config], &["up"]);
    wait_for(&mut up, driver.as_mut(), "expanding").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = up.kill_9();
    blocker.commit().await.expect("the blocker ends");
    assert_eq!(
        state(driver.as_mut()).await.as_deref(),
        Some("expanding"),
        "{killed}"
    );
    old_version_writes(driver.as_mut()).await;
    cairn(&db, &dir, &["abort"]).await.success();
    assert_eq!(state(driver.as_mut()).await, None);
    assert_eq!(dump(&db, &dir).await, before);
    old_version_rows_are_there(driver.as_mut()).await;

    // Killed again, then continued.
    let mut blocker = hold_users(&db).await;
    let mut up = spawn_in(&db, db.scratch_dir(), &dir, &["--config", &config], &["up"]);
    wait_for(&mut up, driver.as_mut(), "expanding").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    up.kill_9();
    blocker.commit().await.expect("the blocker ends");
    cairn(&db, &dir, &["up"]).await.success();
    assert_eq!(state(driver.as_mut()).await.as_deref(), Some("expanded"));
    assert_eq!(disagreeing(driver.as_mut()).await, 0);
}

/// kill -9 while contract retries behind a held table: contract again
/// finishes it; down (un-contract) and abort restore the schema.
async fn killed_during_contract(db: TestDatabase) {
    let dir = fixture(&db);
    let mut driver = connect(&db).await;
    let before = prepare(&db, &dir, driver.as_mut()).await;
    let config = patient(&db);
    cairn(&db, &dir, &["up"]).await.success();

    let mut blocker = hold_users(&db).await;
    let mut contract = spawn_in(
        &db,
        db.scratch_dir(),
        &dir,
        &["--config", &config],
        &["contract"],
    );
    wait_for(&mut contract, driver.as_mut(), "contracting").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = contract.kill_9();
    blocker.commit().await.expect("the blocker ends");
    assert_eq!(
        state(driver.as_mut()).await.as_deref(),
        Some("contracting"),
        "{killed}"
    );
    cairn(&db, &dir, &["contract"]).await.success();
    assert_eq!(state(driver.as_mut()).await.as_deref(), Some("applied"));
    assert_eq!(
        count(
            driver.as_mut(),
            "SELECT count(*) FROM users WHERE full_name IS NULL"
        )
        .await,
        0
    );
    assert!(
        driver
            .query("SELECT name FROM users WHERE 1 = 0")
            .await
            .is_err(),
        "users.name is still there after contract"
    );

    cairn(&db, &dir, &["down"]).await.success();
    assert_eq!(state(driver.as_mut()).await.as_deref(), Some("expanded"));
    assert_eq!(disagreeing(driver.as_mut()).await, 0);
    cairn(&db, &dir, &["abort"]).await.success();
    let after = dump(&db, &dir).await;
    assert_eq!(sorted_lines(&after), sorted_lines(&before), "{after}");
    assert_eq!(
        count(driver.as_mut(), "SELECT count(*) FROM users").await,
        ROWS
    );
}

const TYPE_CHANGE: &str = "[[operation]]\nkind = \"change_column_type\"\ntable = \"items\"\ncolumn = \"qty\"\nto = \"qty_n\"\ntype = \"INTEGER\"\nup = \"CAST(qty AS INTEGER)\"\ndown = \"CAST(qty_n AS VARCHAR(20))\"\nbatch_size = 100\n[operation.mysql]\nup = \"CAST(qty AS SIGNED)\"\ndown = \"CAST(qty_n AS CHAR(20))\"\n[operation.sqlite]\nup = \"json_extract(qty, '$')\"\ndown = \"CAST(qty_n AS TEXT)\"\n";

/// Rows of `items`; the one with key [`BAD_KEY`] holds a quantity that is no number.
const ITEMS: i64 = 1_000;
const BAD_KEY: i64 = 777;

/// `up` fails on one row (PostgreSQL and MariaDB refuse the cast, SQLite's
/// `json_extract` the malformed text): the error names the row's key and the
/// migration stays where abort undoes it.
async fn a_failing_up_names_the_row(db: TestDatabase) {
    let dir = db.scratch_dir().join("migrations");
    write(
        &dir.join("1_create_items/up.sql"),
        "CREATE TABLE items (id INTEGER PRIMARY KEY, qty VARCHAR(20));\n",
    );
    write(&dir.join("1_create_items/down.sql"), "DROP TABLE items;\n");
    write(&dir.join("2_qty_as_number/migration.toml"), TYPE_CHANGE);
    cairn(&db, &dir, &["up", "--to", "1"]).await.success();
    let mut driver = connect(&db).await;
    let values: Vec<String> = (1..=ITEMS)
        .map(|id| {
            if id == BAD_KEY {
                format!("({id}, 'seven')")
            } else {
                format!("({id}, '{id}')")
            }
        })
        .collect();
    driver
        .execute(&format!(
            "INSERT INTO items (id, qty) VALUES {}",
            values.join(", ")
        ))
        .await
        .expect("insert the items");
    let before = dump(&db, &dir).await;

    let up = cairn(&db, &dir, &["up"]).await;
    assert_eq!(up.code(), Some(1), "{up}");
    for part in [
        "backfill of `items` in migration 2",
        &format!("at the row with key ({BAD_KEY})"),
        "2_qty_as_number/migration.toml",
    ] {
        assert!(up.stderr.contains(part), "{part:?} missing\n{up}");
    }
    let stuck = driver
        .query("SELECT state FROM cairn_history WHERE version = 2")
        .await
        .expect("the history")
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next().flatten());
    assert_eq!(stuck.as_deref(), Some("backfilling"), "{up}");

    let abort = cairn(&db, &dir, &["abort"]).await;
    abort.success();
    assert_eq!(dump(&db, &dir).await, before);
    assert_eq!(
        count(driver.as_mut(), "SELECT count(*) FROM items").await,
        ITEMS
    );
    assert_eq!(
        count(
            driver.as_mut(),
            &format!("SELECT count(*) FROM items WHERE id = {BAD_KEY} AND qty = 'seven'")
        )
        .await,
        1
    );
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_kill_9_during_the_backfill_converges_or_aborts() {
        killed_during_the_backfill(TestDatabase::sqlite()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn input_an_up_that_fails_on_one_row_names_it_and_aborts_cleanly() {
        a_failing_up_names_the_row(TestDatabase::sqlite()).await;
    }
}

#[cfg(feature = "servers")]
mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_kill_9_during_the_backfill_converges_or_aborts() {
        killed_during_the_backfill(cairn_testkit::postgres::database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn input_an_up_that_fails_on_one_row_names_it_and_aborts_cleanly() {
        a_failing_up_names_the_row(cairn_testkit::postgres::database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_kill_9_during_expand_aborts_or_converges() {
        killed_during_expand(cairn_testkit::postgres::database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_kill_9_during_contract_converges_and_rolls_back() {
        killed_during_contract(cairn_testkit::postgres::database().await).await;
    }
}

#[cfg(feature = "servers")]
mod mysql {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_kill_9_during_the_backfill_converges_or_aborts() {
        killed_during_the_backfill(cairn_testkit::mysql::database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn input_an_up_that_fails_on_one_row_names_it_and_aborts_cleanly() {
        a_failing_up_names_the_row(cairn_testkit::mysql::database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_kill_9_during_expand_aborts_or_converges() {
        killed_during_expand(cairn_testkit::mysql::database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_kill_9_during_contract_converges_and_rolls_back() {
        killed_during_contract(cairn_testkit::mysql::database().await).await;
    }
}

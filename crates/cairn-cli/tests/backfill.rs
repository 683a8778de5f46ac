//! End-to-end tests of backfills (issue 5) through the `cairn` binary, on
//! SQLite, PostgreSQL and MySQL/MariaDB: `kill -9` at a random batch and
//! resume (on a plain and on a composite text key), Ctrl-C at a batch
//! boundary, SIGTERM then a second signal, `cairn down` after `kill -9`, a
//! second identical backfill, inserts while a backfill runs, a bad `set`, a
//! row that fails, the `us_address` example, and (SQLite) the backfill lock
//! between two runners.
//!
//! Every case gets a fresh database of its own ([`TestDatabase`]) and a
//! migrations directory written into the database's scratch directory. The
//! `cairn` processes write their output into files there (not pipes, which a
//! test that polls the database would have to drain), and a [`Running`]
//! process that a failed assertion leaves behind is killed when dropped.

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn::history::string_literal;
use cairn::{Driver, Engine};
use cairn_testkit::TestDatabase;
use sha2::{Digest as _, Sha256};

/// Rows in the table of the long-running cases.
const ROWS: i64 = 20_000;
/// Rows per batch in every fixture.
const BATCH: i64 = 200;
/// How long any one `cairn` process may take before the test gives up on it:
/// a deadline against hangs, not a measure of speed.
const DEADLINE: Duration = Duration::from_secs(180);

// ----- the fixture ---------------------------------------------------------

/// Migration 1: the table the backfills fill. `v` is `NULL` until a backfill
/// sets it to `n * 2`; the CHECK is what makes one row fail in case 6 (every
/// engine here enforces CHECK constraints, MariaDB since 10.2).
const CREATE_ITEMS: &str = "CREATE TABLE items (\n    id INTEGER PRIMARY KEY,\n    n INTEGER NOT NULL,\n    v INTEGER,\n    CONSTRAINT items_v_small CHECK (v IS NULL OR v < 100000)\n);\n";

/// A `migration.toml` with one backfill of `items`; the `[[backfill]]`
/// header is on line 3 (messages name it).
fn backfill_toml(set: &str, pause: Option<&str>) -> String {
    backfill_toml_for("items", set, pause)
}

/// [`backfill_toml`] for another table.
fn backfill_toml_for(table: &str, set: &str, pause: Option<&str>) -> String {
    let pause = pause.map_or_else(String::new, |p| format!("pause = \"{p}\"\n"));
    format!(
        "# Fill v from n, {BATCH} rows at a time.\n\n[[backfill]]\ntable = \"{table}\"\nset = \"{set}\"\nwhere = \"v IS NULL\"\nbatch_size = {BATCH}\n{pause}"
    )
}

/// The value of `n` for the row with key `id`: spread out, so that a checksum
/// over the table depends on every row.
fn n_of(id: i64) -> i64 {
    (id * 7919) % 10007
}

/// Migration 1 of the composite-key case: a key of an integer and a text
/// whose values hold quotes and backslashes (literals in the keyset SQL).
const CREATE_PAIRS: &str = "CREATE TABLE pairs (\n    a INTEGER NOT NULL,\n    b VARCHAR(20) NOT NULL,\n    n INTEGER NOT NULL,\n    v INTEGER,\n    PRIMARY KEY (a, b)\n);\n";

/// The table a case backfills.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `items`, keyed by `id`.
    Items,
    /// `pairs`, keyed by `(a, b)`.
    Pairs,
}

impl Shape {
    fn table(self) -> &'static str {
        match self {
            Shape::Items => "items",
            Shape::Pairs => "pairs",
        }
    }

    fn create(self) -> &'static str {
        match self {
            Shape::Items => CREATE_ITEMS,
            Shape::Pairs => CREATE_PAIRS,
        }
    }

    /// Every row in key order, for checksums.
    fn select_all(self) -> &'static str {
        match self {
            Shape::Items => "SELECT id, n, v FROM items ORDER BY id",
            Shape::Pairs => "SELECT a, b, n, v FROM pairs ORDER BY a, b",
        }
    }

    /// Inserts `rows` rows (a multiple of 400 for `pairs`), `v` NULL.
    async fn insert(self, driver: &mut dyn Driver, rows: i64) {
        match self {
            Shape::Items => insert_items(driver, 1, rows).await,
            Shape::Pairs => {
                let engine = driver.dialect().engine();
                let values: Vec<String> = (0..rows)
                    .map(|i| {
                        let (a, j) = (i / 400, i % 400);
                        let b = match j % 10 {
                            0 => format!("o'k{j:03}"),
                            5 => format!("b\\s{j:03}"),
                            _ => format!("k{j:03}"),
                        };
                        format!("({a}, {}, {})", string_literal(engine, &b), n_of(i))
                    })
                    .collect();
                for chunk in values.chunks(1000) {
                    driver
                        .execute(&format!(
                            "INSERT INTO pairs (a, b, n) VALUES {}",
                            chunk.join(", ")
                        ))
                        .await
                        .expect("insert the rows to backfill");
                }
            }
        }
    }
}

/// A migrations directory in the database's scratch directory: `1_create_items`
/// and the given backfill-only migrations (`(folder, migration.toml)`).
fn items_project(db: &TestDatabase, backfills: &[(&str, String)]) -> PathBuf {
    project(db, Shape::Items, backfills)
}

/// [`items_project`] for any [`Shape`].
fn project(db: &TestDatabase, shape: Shape, backfills: &[(&str, String)]) -> PathBuf {
    let dir = db.scratch_dir().join("migrations");
    let table = shape.table();
    write(
        &dir.join(format!("1_create_{table}/up.sql")),
        shape.create(),
    );
    write(
        &dir.join(format!("1_create_{table}/down.sql")),
        &format!("DROP TABLE {table};\n"),
    );
    for (folder, toml) in backfills {
        write(&dir.join(folder).join("migration.toml"), toml);
    }
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent folder")).expect("create the folder");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Rows `from..=to` of `items`, `v` NULL, in multi-row INSERTs.
async fn insert_items(driver: &mut dyn Driver, from: i64, to: i64) {
    let ids: Vec<i64> = (from..=to).collect();
    for chunk in ids.chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|id| format!("({id}, {})", n_of(*id)))
            .collect();
        driver
            .execute(&format!(
                "INSERT INTO items (id, n) VALUES {}",
                values.join(", ")
            ))
            .await
            .expect("insert the rows to backfill");
    }
}

/// Applies `1_create_items` with `cairn up --to 1` and inserts `rows` rows.
async fn prepare_items(db: &TestDatabase, dir: &Path, driver: &mut dyn Driver, rows: i64) {
    prepare(db, dir, driver, Shape::Items, rows).await;
}

/// [`prepare_items`] for any [`Shape`].
async fn prepare(db: &TestDatabase, dir: &Path, driver: &mut dyn Driver, shape: Shape, rows: i64) {
    cairn(db, dir, &["up", "--to", "1"]).await.success();
    shape.insert(driver, rows).await;
}

// ----- running cairn -------------------------------------------------------

/// How a `cairn` process ended.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts exit 0 and returns stdout.
    fn success(&self) -> &str {
        assert_eq!(self.code(), Some(0), "cairn failed\n{self}");
        &self.stdout
    }
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status: {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// A `cairn` process started by a test; killed (by its id) if the test ends
/// before it does.
struct Running {
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Running {
    fn pid(&self) -> u32 {
        self.child.as_ref().expect("the process").id()
    }

    /// Whether it has exited (without collecting it).
    fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .expect("the process")
            .try_wait()
            .expect("try_wait")
            .is_some()
    }

    /// Waits (polling, so the runtime keeps running other tasks) for the
    /// process to end, at most [`DEADLINE`].
    async fn finish(mut self) -> Finished {
        let started = Instant::now();
        let mut child = self.child.take().expect("the process");
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if started.elapsed() > DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "cairn did not finish within {DEADLINE:?}\n--- stderr:\n{}",
                    read(&self.stderr)
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        Finished {
            status,
            stdout: read(&self.stdout),
            stderr: read(&self.stderr),
        }
    }

    /// `kill -9`: the process gets no chance to clean up.
    async fn kill_9(mut self) -> Finished {
        let mut child = self.child.take().expect("the process");
        child.kill().expect("SIGKILL the process");
        let status = child.wait().expect("reap the process");
        Finished {
            status,
            stdout: read(&self.stdout),
            stderr: read(&self.stderr),
        }
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT failed: {status}");
    }

    fn stderr_so_far(&self) -> String {
        read(&self.stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Starts `cairn <global> --database-url <db> --dir <dir> <args>` in the
/// database's scratch directory, with output into files.
fn spawn_with(db: &TestDatabase, dir: &Path, global: &[&str], args: &[&str]) -> Running {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let stdout = db.scratch_dir().join(format!("cairn-{n}.stdout"));
    let stderr = db.scratch_dir().join(format!("cairn-{n}.stderr"));
    let child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(global)
        .args(["--database-url", db.url(), "--dir"])
        .arg(dir)
        .args(args)
        .current_dir(db.scratch_dir())
        .env_remove("CAIRN_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("the cairn binary starts");
    Running {
        child: Some(child),
        stdout,
        stderr,
    }
}

fn spawn(db: &TestDatabase, dir: &Path, args: &[&str]) -> Running {
    spawn_with(db, dir, &[], args)
}

/// Runs `cairn` to the end.
async fn cairn(db: &TestDatabase, dir: &Path, args: &[&str]) -> Finished {
    spawn(db, dir, args).finish().await
}

/// The state of migration `version` as `cairn status --format json` shows it.
async fn history_state(db: &TestDatabase, dir: &Path, version: i64) -> String {
    let status = cairn(db, dir, &["status", "--format", "json"]).await;
    let json: serde_json::Value = serde_json::from_str(&status.stdout)
        .unwrap_or_else(|e| panic!("status does not print JSON ({e})\n{status}"));
    json["migrations"]
        .as_array()
        .expect("a migrations array")
        .iter()
        .find(|m| m["version"].as_i64() == Some(version))
        .and_then(|m| m["state"].as_str())
        .unwrap_or_else(|| panic!("no migration {version} in {json}"))
        .to_owned()
}

// ----- reading the database ------------------------------------------------

async fn connect(db: &TestDatabase) -> Box<dyn Driver> {
    crate::support::connect(db).await
}

async fn count(driver: &mut dyn Driver, sql: &str) -> i64 {
    let rows = driver
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.first()
        .and_then(|row| row.first().cloned().flatten())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{sql}: not a count: {rows:?}"))
}

/// SHA-256 over every row of `items` (`id|n|v`, NULL as `NULL`) in key order.
async fn items_checksum(driver: &mut dyn Driver) -> String {
    checksum(driver, Shape::Items).await
}

/// [`items_checksum`] for any [`Shape`].
async fn checksum(driver: &mut dyn Driver, shape: Shape) -> String {
    let rows = driver
        .query(shape.select_all())
        .await
        .expect("read the table");
    let mut hash = Sha256::new();
    for row in &rows {
        let fields: Vec<&str> = row.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect();
        hash.update(fields.join("|").as_bytes());
        hash.update(b"\n");
    }
    format!("{:x} over {} rows", hash.finalize(), rows.len())
}

/// Rows of `items` that the backfill has set (`v = n * 2`).
async fn filled(driver: &mut dyn Driver) -> i64 {
    filled_in(driver, Shape::Items).await
}

/// [`filled`] for any [`Shape`].
async fn filled_in(driver: &mut dyn Driver, shape: Shape) -> i64 {
    count(
        driver,
        &format!(
            "SELECT COUNT(*) FROM {} WHERE v IS NOT NULL AND v = n * 2",
            shape.table()
        ),
    )
    .await
}

/// One checkpoint row of `cairn_history_backfill`, as the test reads it.
#[derive(Clone, Debug)]
struct Checkpoint {
    state: String,
    max_key: Option<Vec<String>>,
    rows_total: i64,
    rows_done: i64,
    rows_changed: i64,
    rows_rejected: i64,
    batches: i64,
    error: Option<String>,
}

/// The checkpoint of the first backfill of `version`; `None` while there is
/// none (or no checkpoint table yet).
async fn checkpoint(driver: &mut dyn Driver, version: i64) -> Option<Checkpoint> {
    let rows = driver
        .query(&format!(
            "SELECT state, max_key, rows_total, rows_done, rows_changed, rows_rejected, batches, error \
             FROM cairn_history_backfill WHERE version = {version} AND step = 0"
        ))
        .await
        .ok()?;
    let row = rows.into_iter().next()?;
    let int = |i: usize| -> i64 {
        row[i]
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("column {i} of the checkpoint is not a number: {row:?}"))
    };
    Some(Checkpoint {
        state: row[0].clone().unwrap_or_default(),
        max_key: row[1]
            .as_deref()
            .map(|json| serde_json::from_str(json).expect("max_key is a JSON array of text")),
        rows_total: int(2),
        rows_done: int(3),
        rows_changed: int(4),
        rows_rejected: int(5),
        batches: int(6),
        error: row[7].clone(),
    })
}

async fn checkpoint_of(driver: &mut dyn Driver, version: i64) -> Checkpoint {
    checkpoint(driver, version)
        .await
        .unwrap_or_else(|| panic!("no checkpoint for migration {version}"))
}

/// Polls the checkpoint of `version` until `rows_done` reaches `at_least`.
/// Fails if `running` ends first.
async fn wait_for_rows_done(
    driver: &mut dyn Driver,
    version: i64,
    at_least: i64,
    running: &mut Running,
) -> Checkpoint {
    let started = Instant::now();
    loop {
        if let Some(c) = checkpoint(driver, version).await {
            if c.rows_done >= at_least {
                return c;
            }
        }
        if running.has_exited() {
            let last = checkpoint(driver, version).await;
            panic!(
                "cairn ended before the backfill reached {at_least} rows (checkpoint {last:?})\n--- stderr:\n{}",
                running.stderr_so_far()
            );
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the backfill did not reach {at_least} rows within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A seed for the random batch: `CAIRN_TEST_SEED` when set (to replay a
/// failure), else the clock. Printed either way.
fn seed() -> u64 {
    let seed = std::env::var("CAIRN_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("a clock after 1970")
                .as_nanos() as u64
        });
    println!("seed {seed} (replay with CAIRN_TEST_SEED={seed})");
    seed
}

/// splitmix64: one well-mixed number from a seed.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// ----- the cases -----------------------------------------------------------

/// Case 1: `kill -9` while the backfill is at a random batch leaves a
/// `backfilling` migration and a checkpoint of whole batches; `cairn up`
/// resumes from it, and the table ends identical to an uninterrupted run's.
/// On `pairs` the keyset runs on a composite key whose text part holds quotes
/// and backslashes.
async fn sigkill_then_resume(db: TestDatabase, reference: TestDatabase, shape: Shape) {
    let toml = backfill_toml_for(shape.table(), "v = n * 2", Some("20ms"));
    let dir = project(&db, shape, &[("2_fill_v", toml.clone())]);
    let mut driver = connect(&db).await;
    prepare(&db, &dir, driver.as_mut(), shape, ROWS).await;

    // Between the first batch and a few batches before the end.
    let threshold = BATCH + (mix(seed()) % (ROWS - 10 * BATCH) as u64) as i64;
    println!("killing the backfill once rows_done >= {threshold}");
    let mut running = spawn(&db, &dir, &["up"]);
    wait_for_rows_done(driver.as_mut(), 2, threshold, &mut running).await;
    let killed = running.kill_9().await;
    assert_eq!(killed.status.signal(), Some(9), "{killed}");

    assert_eq!(history_state(&db, &dir, 2).await, "backfilling");
    let before = checkpoint_of(driver.as_mut(), 2).await;
    assert_eq!(before.state, "running", "{before:?}");
    assert_eq!(before.rows_total, ROWS, "{before:?}");
    assert!(
        before.rows_done >= threshold && before.rows_done < ROWS,
        "{before:?}"
    );
    assert_eq!(
        before.rows_done % BATCH,
        0,
        "the committed count is whole batches: {before:?}"
    );
    assert_eq!(before.batches, before.rows_done / BATCH, "{before:?}");
    assert!(before.batches > 0, "{before:?}");
    // The batch in flight was rolled back with the process: the table holds
    // exactly the committed batches.
    assert_eq!(filled_in(driver.as_mut(), shape).await, before.rows_done);
    assert_eq!(before.rows_changed, before.rows_done, "{before:?}");

    // `cairn backfill status` in another shell reads the same checkpoint.
    let status = cairn(&db, &dir, &["backfill", "status", "--format", "json"]).await;
    let json: serde_json::Value = serde_json::from_str(status.success())
        .unwrap_or_else(|e| panic!("backfill status does not print JSON ({e})\n{status}"));
    let shown = &json["backfills"][0];
    assert_eq!(shown["version"], 2, "{json}");
    assert_eq!(shown["rows_done"], before.rows_done, "{json}");
    assert_eq!(shown["state"], "running", "{json}");

    let resumed = cairn(&db, &dir, &["up"]).await;
    let stdout = resumed.success();
    let rest = ROWS - before.rows_done;
    assert!(
        stdout.contains("applied 2 fill_v (")
            && stdout.contains(&format!("backfilled {rest} rows")),
        "the second run continues from the checkpoint\n{resumed}"
    );
    assert!(
        resumed
            .stderr
            .contains(&format!("{ROWS}/{ROWS} rows (100%)")),
        "the second run logs the backfill reaching the total\n{resumed}"
    );
    let after = checkpoint_of(driver.as_mut(), 2).await;
    assert_eq!(after.state, "done", "{after:?}");
    assert_eq!(
        (after.rows_done, after.rows_total),
        (ROWS, ROWS),
        "{after:?}"
    );
    assert_eq!(after.rows_changed, ROWS, "{after:?}");
    assert_eq!(
        after.batches,
        ROWS / BATCH,
        "no batch ran twice or was lost: {after:?}"
    );
    assert!(after.batches > before.batches, "{after:?} after {before:?}");
    assert_eq!(history_state(&db, &dir, 2).await, "applied");
    assert_eq!(filled_in(driver.as_mut(), shape).await, ROWS);

    // The same migrations on another fresh database, without interruption.
    let reference_dir = project(&reference, shape, &[("2_fill_v", toml)]);
    let mut reference_driver = connect(&reference).await;
    prepare(
        &reference,
        &reference_dir,
        reference_driver.as_mut(),
        shape,
        ROWS,
    )
    .await;
    cairn(&reference, &reference_dir, &["up"]).await.success();
    assert_eq!(
        checksum(driver.as_mut(), shape).await,
        checksum(reference_driver.as_mut(), shape).await,
        "the resumed table differs from an uninterrupted run's"
    );
}

/// Case 2: SIGINT stops at a batch boundary with exit code 130, the
/// checkpoint matches the table exactly, and `cairn up` finishes.
async fn ctrl_c_stops_cleanly(db: TestDatabase) {
    let dir = items_project(
        &db,
        &[("2_fill_v", backfill_toml("v = n * 2", Some("20ms")))],
    );
    // A migration after it, still pending when the run stops.
    write(
        &dir.join("3_index_items/up.sql"),
        "CREATE INDEX items_v_idx ON items (v);\n",
    );
    let mut driver = connect(&db).await;
    prepare_items(&db, &dir, driver.as_mut(), ROWS).await;
    let before_checksum = items_checksum(driver.as_mut()).await;

    let mut running = spawn(&db, &dir, &["up"]);
    wait_for_rows_done(driver.as_mut(), 2, 5 * BATCH, &mut running).await;
    // `cairn backfill status` from another shell while the backfill runs.
    let status = cairn(&db, &dir, &["backfill", "status", "--format", "json"]).await;
    let json: serde_json::Value = serde_json::from_str(status.success())
        .unwrap_or_else(|e| panic!("backfill status does not print JSON ({e})\n{status}"));
    let shown = &json["backfills"][0];
    assert_eq!(shown["state"], "running", "{json}");
    assert_eq!(shown["table"], "items", "{json}");
    assert_eq!(shown["rows_total"], ROWS, "{json}");
    assert!(
        shown["rows_done"].as_i64().is_some_and(|d| d >= 5 * BATCH),
        "{json}"
    );
    wait_for_rows_done(driver.as_mut(), 2, 10 * BATCH, &mut running).await;
    running.interrupt();
    let stopped = running.finish().await;
    assert_eq!(stopped.code(), Some(130), "{stopped}");
    assert!(
        stopped.stderr.contains("stopped at a batch boundary"),
        "{stopped}"
    );
    assert!(
        stopped.stderr.contains("run `cairn up` to resume"),
        "{stopped}"
    );

    let c = checkpoint_of(driver.as_mut(), 2).await;
    assert!(c.state != "done" && c.state != "failed", "{c:?}");
    assert!(c.rows_done >= 10 * BATCH && c.rows_done < ROWS, "{c:?}");
    assert_eq!(c.rows_done % BATCH, 0, "whole batches: {c:?}");
    // No half batch: what the table holds is what the checkpoint says.
    let changed = count(
        driver.as_mut(),
        "SELECT COUNT(*) FROM items WHERE v IS NOT NULL",
    )
    .await;
    assert_eq!(changed, c.rows_changed, "{c:?}");
    assert_eq!(c.rows_changed, c.rows_done, "{c:?}");
    assert_eq!(filled(driver.as_mut()).await, c.rows_done);
    assert!(
        stopped
            .stderr
            .contains(&format!("has done {} of {ROWS} rows", c.rows_done)),
        "the message gives the committed count\n{stopped}"
    );
    assert_eq!(history_state(&db, &dir, 2).await, "backfilling");
    assert_eq!(history_state(&db, &dir, 3).await, "pending");
    assert_ne!(items_checksum(driver.as_mut()).await, before_checksum);

    // The interrupted backfill finishes first, then the pending migration runs.
    let resumed = cairn(&db, &dir, &["up"]).await;
    let stdout = resumed.success();
    let fill = stdout
        .find("applied 2 fill_v (")
        .unwrap_or_else(|| panic!("{resumed}"));
    let index = stdout
        .find("applied 3 index_items (")
        .unwrap_or_else(|| panic!("{resumed}"));
    assert!(fill < index, "{resumed}");
    assert!(
        stdout.contains(&format!("backfilled {} rows", ROWS - c.rows_done)),
        "{resumed}"
    );
    assert_eq!(filled(driver.as_mut()).await, ROWS);
    let done = checkpoint_of(driver.as_mut(), 2).await;
    assert_eq!((done.state.as_str(), done.rows_done), ("done", ROWS));
    assert_eq!(history_state(&db, &dir, 2).await, "applied");
    assert_eq!(history_state(&db, &dir, 3).await, "applied");
}

/// SIGTERM (what `kill`, systemd and Kubernetes send) asks for the same stop
/// as Ctrl-C; a second signal ends the process without waiting for the
/// batch boundary. The long pause keeps the run between two batches, so the
/// second signal normally arrives before the next boundary; whichever way the
/// process ends, it exits with 130 and the table holds exactly the committed
/// batches.
async fn a_second_signal_exits_at_once(db: TestDatabase) {
    let dir = items_project(
        &db,
        &[("2_fill_v", backfill_toml("v = n * 2", Some("10s")))],
    );
    let mut driver = connect(&db).await;
    prepare_items(&db, &dir, driver.as_mut(), ROWS).await;

    let mut running = spawn(&db, &dir, &["up"]);
    wait_for_rows_done(driver.as_mut(), 2, BATCH, &mut running).await;
    let term = Command::new("kill")
        .args(["-TERM", &running.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(term.success(), "kill -TERM failed: {term}");
    // Wait until the handler has seen it (it says so on stderr).
    let started = Instant::now();
    while !running.stderr_so_far().contains("press Ctrl-C again") {
        assert!(
            !running.has_exited(),
            "cairn ended on SIGTERM without saying it would stop\n--- stderr:\n{}",
            running.stderr_so_far()
        );
        assert!(
            started.elapsed() < DEADLINE,
            "cairn did not acknowledge SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if !running.has_exited() {
        running.interrupt();
    }
    let stopped = running.finish().await;
    assert_eq!(stopped.code(), Some(130), "{stopped}");

    let c = checkpoint_of(driver.as_mut(), 2).await;
    assert_eq!(c.rows_done, BATCH, "only the first batch committed: {c:?}");
    assert_eq!(filled(driver.as_mut()).await, BATCH);
    assert_eq!(
        count(
            driver.as_mut(),
            "SELECT COUNT(*) FROM items WHERE v IS NOT NULL"
        )
        .await,
        c.rows_changed
    );
    assert_eq!(history_state(&db, &dir, 2).await, "backfilling");

    // Resume without the long pause: an interrupted backfill's migration.toml
    // may be edited (its checksum is renewed when it resumes).
    write(
        &dir.join("2_fill_v/migration.toml"),
        &backfill_toml("v = n * 2", None),
    );
    let resumed = cairn(&db, &dir, &["up"]).await;
    assert!(
        resumed
            .success()
            .contains(&format!("backfilled {} rows", ROWS - BATCH)),
        "{resumed}"
    );
    assert_eq!(filled(driver.as_mut()).await, ROWS);
    assert_eq!(history_state(&db, &dir, 2).await, "applied");
    cairn(&db, &dir, &["validate"]).await.success();
}

/// After `kill -9` mid-backfill, `cairn down` rolls the interrupted
/// migration back like an applied one (its checkpoint goes, the rows it
/// filled stay), on every engine; `cairn up` then backfills what is left.
/// Regression: on SQLite the down was refused as "backfilling in the
/// history, written by another run meanwhile" although no run was left.
async fn down_after_an_interrupted_backfill(db: TestDatabase) {
    let dir = items_project(
        &db,
        &[("2_fill_v", backfill_toml("v = n * 2", Some("20ms")))],
    );
    let mut driver = connect(&db).await;
    prepare_items(&db, &dir, driver.as_mut(), ROWS).await;
    let mut running = spawn(&db, &dir, &["up"]);
    wait_for_rows_done(driver.as_mut(), 2, 5 * BATCH, &mut running).await;
    running.kill_9().await;
    assert_eq!(history_state(&db, &dir, 2).await, "backfilling");
    let partial = filled(driver.as_mut()).await;
    assert!((5 * BATCH..ROWS).contains(&partial), "{partial}");

    let down = cairn(&db, &dir, &["down"]).await;
    assert!(down.success().contains("rolled back 2 fill_v ("), "{down}");
    assert_eq!(history_state(&db, &dir, 2).await, "pending");
    assert!(
        checkpoint(driver.as_mut(), 2).await.is_none(),
        "the checkpoint goes with the migration"
    );
    assert_eq!(filled(driver.as_mut()).await, partial);

    let up = cairn(&db, &dir, &["up"]).await;
    assert!(
        up.success()
            .contains(&format!("backfilled {} rows", ROWS - partial)),
        "{up}"
    );
    assert_eq!(filled(driver.as_mut()).await, ROWS);
    assert_eq!(history_state(&db, &dir, 2).await, "applied");
}

/// Case 3: the same backfill in migrations 2 and 3: the second finds nothing
/// to do and leaves the table as it was; `cairn up` after that has nothing
/// to apply.
async fn running_twice_changes_nothing(db: TestDatabase) {
    const FEW: i64 = 2_000;
    let toml = backfill_toml("v = n * 2", None);
    let dir = items_project(&db, &[("2_fill_v", toml.clone()), ("3_fill_v_again", toml)]);
    let mut driver = connect(&db).await;
    prepare_items(&db, &dir, driver.as_mut(), FEW).await;

    let first = cairn(&db, &dir, &["up", "--to", "2"]).await;
    assert!(
        first.success().contains(&format!("backfilled {FEW} rows")),
        "{first}"
    );
    let after_first = items_checksum(driver.as_mut()).await;
    assert_eq!(filled(driver.as_mut()).await, FEW);

    let second = cairn(&db, &dir, &["up"]).await;
    let stdout = second.success();
    assert!(
        stdout.contains("applied 3 fill_v_again (") && stdout.contains("backfilled 0 rows"),
        "{second}"
    );
    let c = checkpoint_of(driver.as_mut(), 3).await;
    assert_eq!(c.state, "done", "{c:?}");
    assert_eq!((c.rows_changed, c.rows_done), (0, 0), "{c:?}");
    assert_eq!(items_checksum(driver.as_mut()).await, after_first);

    let third = cairn(&db, &dir, &["up"]).await;
    assert!(
        third
            .success()
            .contains("nothing to apply: the database is up to date"),
        "{third}"
    );
    assert_eq!(items_checksum(driver.as_mut()).await, after_first);
    for version in [1, 2, 3] {
        assert_eq!(history_state(&db, &dir, version).await, "applied");
    }
}

/// Case 4: rows inserted all the while do not keep the backfill from
/// finishing. Its work is bounded by the largest key when it started (the
/// checkpoint's `max_key`): every row up to it is filled, every row after it
/// is left to the application (docs/backfills.md).
async fn concurrent_inserts(db: TestDatabase) {
    let dir = items_project(
        &db,
        &[("2_fill_v", backfill_toml("v = n * 2", Some("20ms")))],
    );
    let mut driver = connect(&db).await;
    prepare_items(&db, &dir, driver.as_mut(), ROWS).await;

    let stop = Arc::new(AtomicBool::new(false));
    let inserted = Arc::new(AtomicI64::new(0));
    let mut writer = connect(&db).await;
    let inserter = {
        let stop = stop.clone();
        let inserted = inserted.clone();
        tokio::spawn(async move {
            let mut id = ROWS + 1;
            while !stop.load(Ordering::SeqCst) {
                // One row per statement, as an application writes them.
                writer
                    .execute(&format!(
                        "INSERT INTO items (id, n) VALUES ({id}, {})",
                        n_of(id)
                    ))
                    .await
                    .unwrap_or_else(|e| panic!("inserting row {id} during the backfill: {e}"));
                inserted.fetch_add(1, Ordering::SeqCst);
                id += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    let mut running = spawn(&db, &dir, &["up"]);
    // Once the first batch is committed, the bound is fixed.
    wait_for_rows_done(driver.as_mut(), 2, BATCH, &mut running).await;
    let inserted_at_start = inserted.load(Ordering::SeqCst);
    let finished = running.finish().await;
    let inserted_at_end = inserted.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    inserter.await.expect("the inserting task");
    finished.success();
    assert!(
        inserted_at_end > inserted_at_start,
        "rows were inserted while the backfill ran ({inserted_at_start} then {inserted_at_end})"
    );

    let c = checkpoint_of(driver.as_mut(), 2).await;
    assert_eq!(c.state, "done", "{c:?}");
    let max: i64 = c
        .max_key
        .as_ref()
        .and_then(|k| k.first())
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("no integer max_key in {c:?}"));
    assert!(max >= ROWS, "the bound covers the rows there before: {c:?}");
    let within = count(
        driver.as_mut(),
        &format!("SELECT COUNT(*) FROM items WHERE id <= {max}"),
    )
    .await;
    assert_eq!((c.rows_done, c.rows_total), (within, within), "{c:?}");
    assert_eq!(
        count(
            driver.as_mut(),
            &format!("SELECT COUNT(*) FROM items WHERE id <= {max} AND (v IS NULL OR v <> n * 2)"),
        )
        .await,
        0,
        "every row up to the bound is filled"
    );
    let later = count(
        driver.as_mut(),
        &format!("SELECT COUNT(*) FROM items WHERE id > {max}"),
    )
    .await;
    assert!(later > 0, "some rows came after the bound ({c:?})");
    assert_eq!(
        count(
            driver.as_mut(),
            &format!("SELECT COUNT(*) FROM items WHERE id > {max} AND v IS NOT NULL"),
        )
        .await,
        0,
        "rows after the bound are the application's, not the backfill's"
    );
    assert_eq!(history_state(&db, &dir, 2).await, "applied");
}

/// Case 5: a `set` naming a column that does not exist fails before any
/// batch: exit 1, the message names migration.toml and its line, the table
/// and the database's error, and nothing is written. Fixing the file and
/// running `cairn up` again finishes.
async fn bad_set_expression(db: TestDatabase) {
    const FEW: i64 = 1_000;
    let dir = items_project(
        &db,
        &[("2_bad_set", backfill_toml("v = no_such_column + 1", None))],
    );
    let mut driver = connect(&db).await;
    prepare_items(&db, &dir, driver.as_mut(), FEW).await;
    let before = items_checksum(driver.as_mut()).await;

    let failed = cairn(&db, &dir, &["up"]).await;
    assert_eq!(failed.code(), Some(1), "{failed}");
    let toml = dir.join("2_bad_set/migration.toml");
    let err = &failed.stderr;
    assert!(
        err.contains(&format!("{}:3", toml.display())),
        "names the file and the line of [[backfill]]\n{failed}"
    );
    assert!(err.contains("`items`"), "names the table\n{failed}");
    assert!(err.contains("no_such_column"), "{failed}");
    let database_says = match db.engine() {
        Engine::Postgres => "does not exist",
        Engine::Mysql => "Unknown column",
        Engine::Sqlite => "no such column",
        other => panic!("this test knows no {other} databases"),
    };
    assert!(
        err.contains(database_says),
        "the database's error\n{failed}"
    );
    assert!(err.contains("nothing was written"), "{failed}");

    assert_eq!(items_checksum(driver.as_mut()).await, before);
    assert_eq!(
        count(
            driver.as_mut(),
            "SELECT COUNT(*) FROM cairn_history_backfill WHERE rows_done > 0"
        )
        .await,
        0
    );

    write(&toml, &backfill_toml("v = n * 2", None));
    let fixed = cairn(&db, &dir, &["up"]).await;
    assert!(
        fixed.success().contains(&format!("backfilled {FEW} rows")),
        "{fixed}"
    );
    assert_eq!(filled(driver.as_mut()).await, FEW);
    assert_eq!(history_state(&db, &dir, 2).await, "applied");
}

/// Case 6: a row whose new value breaks a CHECK constraint fails its batch:
/// exit 1 naming the row's key and the database's error, the checkpoint
/// `failed` at the last committed batch; after the row is deleted `cairn up`
/// resumes and finishes.
async fn a_row_that_fails(db: TestDatabase) {
    const FEW: i64 = 2_000;
    const BAD: i64 = 1_234;
    let dir = items_project(&db, &[("2_fill_v", backfill_toml("v = n * 2", None))]);
    let mut driver = connect(&db).await;
    prepare_items(&db, &dir, driver.as_mut(), FEW).await;
    // v = 199998 breaks `v < 100000`.
    driver
        .execute(&format!("UPDATE items SET n = 99999 WHERE id = {BAD}"))
        .await
        .expect("plant the bad row");

    let failed = cairn(&db, &dir, &["up"]).await;
    assert_eq!(failed.code(), Some(1), "{failed}");
    assert!(
        failed
            .stderr
            .contains(&format!("at the row with key ({BAD})")),
        "names the row\n{failed}"
    );
    assert!(
        failed.stderr.contains("items_v_small"),
        "the database's error names the constraint\n{failed}"
    );
    assert!(
        failed.stderr.contains(&format!(
            "{}:3",
            dir.join("2_fill_v/migration.toml").display()
        )),
        "{failed}"
    );
    // Batches of 200 by key: 1..=200, ..., 1001..=1200 commit; 1201..=1400 holds the bad row.
    let committed = (BAD - 1) / BATCH * BATCH;
    let c = checkpoint_of(driver.as_mut(), 2).await;
    assert_eq!(c.state, "failed", "{c:?}");
    assert_eq!(c.rows_done, committed, "{c:?}");
    assert!(
        c.error
            .as_deref()
            .is_some_and(|e| e.contains(&BAD.to_string())),
        "{c:?}"
    );
    assert!(
        failed
            .stderr
            .contains(&format!("{committed} of {FEW} rows done")),
        "{failed}"
    );
    assert_eq!(filled(driver.as_mut()).await, committed);
    assert_eq!(history_state(&db, &dir, 2).await, "backfilling");

    driver
        .execute(&format!("DELETE FROM items WHERE id = {BAD}"))
        .await
        .expect("delete the bad row");
    let resumed = cairn(&db, &dir, &["up"]).await;
    assert!(
        resumed
            .success()
            .contains(&format!("backfilled {} rows", FEW - 1 - committed)),
        "{resumed}"
    );
    let c = checkpoint_of(driver.as_mut(), 2).await;
    assert_eq!(c.state, "done", "{c:?}");
    assert_eq!(c.rows_done, FEW - 1, "{c:?}");
    assert_eq!(c.error, None, "{c:?}");
    assert_eq!(filled(driver.as_mut()).await, FEW - 1);
    assert_eq!(history_state(&db, &dir, 2).await, "applied");
}

/// Issue 10 item 8: a checkpoint row whose last key has more values than the
/// table's key has columns (a corrupted row) is refused with an error naming
/// the checkpoint table, the backfill and what to do, instead of a panic; the
/// advice it gives (delete the row) then restarts the backfill.
async fn a_corrupted_checkpoint(db: TestDatabase) {
    const FEW: i64 = 2_000;
    const BAD: i64 = 1_234;
    let dir = items_project(&db, &[("2_fill_v", backfill_toml("v = n * 2", None))]);
    let mut driver = connect(&db).await;
    prepare_items(&db, &dir, driver.as_mut(), FEW).await;
    driver
        .execute(&format!("UPDATE items SET n = 99999 WHERE id = {BAD}"))
        .await
        .expect("plant the bad row");
    let failed = cairn(&db, &dir, &["up"]).await;
    assert_eq!(failed.code(), Some(1), "{failed}");
    assert_eq!(history_state(&db, &dir, 2).await, "backfilling");
    driver
        .execute(&format!("DELETE FROM items WHERE id = {BAD}"))
        .await
        .expect("delete the bad row");
    driver
        .execute(
            "UPDATE cairn_history_backfill SET last_key = '[\"1200\",\"x\"]' WHERE version = 2 AND step = 0",
        )
        .await
        .expect("corrupt the checkpoint");

    let refused = cairn(&db, &dir, &["up"]).await;
    assert_eq!(refused.code(), Some(1), "{refused}");
    for needle in [
        "backfill of `items` in migration 2 (fill_v)",
        "cairn_history_backfill",
        "is corrupted: its last key (last_key) has 2 values (1200, x) but the key of `items` has 1 column (id)",
        "nothing was written; delete the checkpoint row (`DELETE FROM ",
        "WHERE version = 2 AND step = 0`)",
    ] {
        assert!(refused.stderr.contains(needle), "lacks {needle:?}\n{refused}");
    }
    assert!(!refused.stderr.contains("panicked"), "{refused}");
    assert_eq!(filled(driver.as_mut()).await, (BAD - 1) / BATCH * BATCH);

    driver
        .execute("DELETE FROM cairn_history_backfill WHERE version = 2 AND step = 0")
        .await
        .expect("delete the checkpoint as advised");
    cairn(&db, &dir, &["up"]).await.success();
    let c = checkpoint_of(driver.as_mut(), 2).await;
    // The restarted backfill visits the rows its filter (`v IS NULL`) still
    // matches: those after the batches committed before the failure.
    let committed = (BAD - 1) / BATCH * BATCH;
    assert_eq!(
        (c.state.as_str(), c.rows_done),
        ("done", FEW - 1 - committed),
        "{c:?}"
    );
    assert_eq!(filled(driver.as_mut()).await, FEW - 1);
    assert_eq!(history_state(&db, &dir, 2).await, "applied");
}

/// Issue 10 item 8: on an engine where `max_replication_lag` cannot be
/// measured without replica connections, the warning that it is ignored is
/// given once per run, not before every batch.
async fn an_ignored_replication_lag_is_warned_once(db: TestDatabase) {
    const FEW: i64 = 2_000;
    let toml = format!(
        "{}max_replication_lag = \"1s\"\n",
        backfill_toml("v = n * 2", None)
    );
    let dir = items_project(&db, &[("2_fill_v", toml)]);
    let mut driver = connect(&db).await;
    prepare_items(&db, &dir, driver.as_mut(), FEW).await;
    let run = cairn(&db, &dir, &["up"]).await;
    run.success();
    let c = checkpoint_of(driver.as_mut(), 2).await;
    assert_eq!(
        (c.state.as_str(), c.batches),
        ("done", FEW / BATCH),
        "{c:?}"
    );
    assert_eq!(
        run.stderr
            .matches("max_replication_lag needs replica connections")
            .count(),
        1,
        "one warning for {} batches\n{run}",
        c.batches
    );
}

/// The example project's migration that splits addresses with `us_address`.
const SPLIT_ADDRESSES: i64 = 20260101090400;

/// Addresses that parse, and the parts `us_address` makes of them.
const GOOD: &[(&str, [&str; 4])] = &[
    (
        "123 Main St, New York, NY 10001",
        ["123 Main St", "New York", "NY", "10001"],
    ),
    (
        "1 Elm St, Apt 4, Boston, MA 02108",
        ["1 Elm St, Apt 4", "Boston", "MA", "02108"],
    ),
    (
        "500 Pine Rd, Austin, TX, 73301",
        ["500 Pine Rd", "Austin", "TX", "73301"],
    ),
    (
        " 9 Oak Ave ,Springfield,  il   62704-1234 ",
        ["9 Oak Ave", "Springfield", "IL", "62704-1234"],
    ),
    (
        "12 O'Connell St, Savannah, GA 31401",
        ["12 O'Connell St", "Savannah", "GA", "31401"],
    ),
    (
        "7 Back\\Slash Rd, Señora Bay, DE 19901",
        ["7 Back\\Slash Rd", "Señora Bay", "DE", "19901"],
    ),
];

/// Addresses `us_address` rejects.
const BAD: &[&str] = &[
    "somewhere over the rainbow",
    "123 Main St, New York, ZZ 10001",
    "Main St, New York, NY 10001",
    "1 A St,, NY 10001",
];

/// Case 7: the `us_address` data migration of the example project: rows that
/// parse get street, city, state and zip code with `address` kept; rows that
/// do not stay NULL and are listed on stderr by key.
async fn address_example(db: TestDatabase) {
    let dir = db.scratch_dir().join("migrations");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations"),
        &dir,
    );
    let toml = dir.join("20260101090400_split_addresses/migration.toml");
    assert!(
        read(&toml).contains("rust = \"us_address\""),
        "the example project's split_addresses migration uses us_address: {}",
        toml.display()
    );
    cairn(&db, &dir, &["up", "--to", "20260101090300"])
        .await
        .success();
    let engine = db.engine();
    let mut driver = connect(&db).await;
    driver
        .execute("INSERT INTO users (id, email, name) VALUES (1, 'ada@example.com', 'Ada'), (2, 'bob@example.com', 'Bob')")
        .await
        .expect("insert users");

    // 1,200 addresses (three batches of 500): a bad one every 97 rows.
    let total: i64 = 1_200;
    let mut expected_bad = Vec::new();
    let mut values = Vec::new();
    for id in 1..=total {
        let address = if id % 97 == 3 {
            expected_bad.push(id);
            BAD[(id as usize / 97) % BAD.len()]
        } else {
            GOOD[id as usize % GOOD.len()].0
        };
        values.push(format!(
            "({id}, {}, {})",
            1 + id % 2,
            string_literal(engine, address)
        ));
    }
    for chunk in values.chunks(400) {
        driver
            .execute(&format!(
                "INSERT INTO addresses (id, user_id, address) VALUES {}",
                chunk.join(", ")
            ))
            .await
            .expect("insert addresses");
    }

    let run = cairn(&db, &dir, &["up", "--to", "20260101090400"]).await;
    run.success();
    let rows = driver
        .query("SELECT id, address, street, city, state, zip_code FROM addresses ORDER BY id")
        .await
        .expect("read addresses");
    assert_eq!(rows.len() as i64, total);
    for row in &rows {
        let id: i64 = row[0].as_deref().and_then(|v| v.parse().ok()).expect("id");
        let parts: Vec<Option<&str>> = row[2..].iter().map(|v| v.as_deref()).collect();
        if expected_bad.contains(&id) {
            let original = BAD[(id as usize / 97) % BAD.len()];
            assert_eq!(row[1].as_deref(), Some(original), "row {id}");
            assert_eq!(parts, [None; 4], "a rejected row stays NULL: row {id}");
            assert!(
                run.stderr.contains(&format!("rejected row ({id}): ")),
                "rejected row {id} is listed\n{run}"
            );
        } else {
            let (original, expected) = GOOD[id as usize % GOOD.len()];
            assert_eq!(
                row[1].as_deref(),
                Some(original),
                "the address is kept: row {id}"
            );
            let expected: Vec<Option<&str>> = expected.iter().map(|p| Some(*p)).collect();
            assert_eq!(parts, expected, "row {id}");
        }
    }
    assert_eq!(
        run.stderr.matches("rejected row (").count(),
        expected_bad.len(),
        "{run}"
    );
    let c = checkpoint_of(driver.as_mut(), SPLIT_ADDRESSES).await;
    assert_eq!(c.state, "done", "{c:?}");
    assert_eq!(c.rows_rejected, expected_bad.len() as i64, "{c:?}");
    assert_eq!(c.rows_changed, total - expected_bad.len() as i64, "{c:?}");
    assert_eq!(c.rows_done, total, "{c:?}");
    assert_eq!(history_state(&db, &dir, SPLIT_ADDRESSES).await, "applied");
}

// ----- issue 9: literals under legacy session settings --------------------

/// `ALTER DATABASE <db> SET standard_conforming_strings = off`: every session
/// that connects afterwards (each `cairn` process) starts with legacy strings.
async fn legacy_strings(driver: &mut dyn Driver) {
    let rows = driver
        .query("SELECT current_database()")
        .await
        .expect("current_database()");
    let name = rows[0][0].clone().expect("a database name");
    driver
        .execute(&format!(
            "ALTER DATABASE {} SET standard_conforming_strings = off",
            cairn::history::quote_ident(Engine::Postgres, &name)
        ))
        .await
        .expect("ALTER DATABASE ... SET standard_conforming_strings = off");
}

/// The address of the injection in issue 9: `us_address` splits it into the
/// street `1 Main St\` and the city `; DROP TABLE victim; --`.
const ATTACK: &str = "1 Main St\\, ; DROP TABLE victim; --, NY 10001";

async fn literal_address_example(db: TestDatabase) {
    let dir = db.scratch_dir().join("migrations");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations"),
        &dir,
    );
    cairn(&db, &dir, &["up", "--to", "20260101090300"])
        .await
        .success();
    let engine = db.engine();
    let mut driver = connect(&db).await;
    driver
        .execute("INSERT INTO users (id, email, name) VALUES (1, 'ada@example.com', 'Ada')")
        .await
        .expect("insert a user");
    driver
        .execute("CREATE TABLE victim (id INTEGER)")
        .await
        .expect("create victim");
    let total: i64 = 1_200;
    let address = |id: i64| {
        if id % 50 == 7 {
            ATTACK
        } else {
            GOOD[id as usize % GOOD.len()].0
        }
    };
    let values: Vec<String> = (1..=total)
        .map(|id| format!("({id}, 1, {})", string_literal(engine, address(id))))
        .collect();
    for chunk in values.chunks(400) {
        driver
            .execute(&format!(
                "INSERT INTO addresses (id, user_id, address) VALUES {}",
                chunk.join(", ")
            ))
            .await
            .expect("insert addresses");
    }
    legacy_strings(driver.as_mut()).await;

    let run = cairn(&db, &dir, &["up", "--to", "20260101090400"]).await;
    run.success();
    assert_eq!(
        count(driver.as_mut(), "SELECT COUNT(*) FROM victim").await,
        0,
        "victim still exists"
    );
    let rows = driver
        .query("SELECT id, address, street, city, state, zip_code FROM addresses ORDER BY id")
        .await
        .expect("read addresses");
    assert_eq!(rows.len() as i64, total);
    for row in &rows {
        let id: i64 = row[0].as_deref().and_then(|v| v.parse().ok()).expect("id");
        assert_eq!(
            row[1].as_deref(),
            Some(address(id)),
            "the address is kept: row {id}"
        );
        let parts: Vec<Option<&str>> = row[2..].iter().map(|v| v.as_deref()).collect();
        let expected: [&str; 4] = if address(id) == ATTACK {
            ["1 Main St\\", "; DROP TABLE victim; --", "NY", "10001"]
        } else {
            GOOD[id as usize % GOOD.len()].1
        };
        let expected: Vec<Option<&str>> = expected.iter().map(|p| Some(*p)).collect();
        assert_eq!(parts, expected, "row {id}");
    }
    let c = checkpoint_of(driver.as_mut(), SPLIT_ADDRESSES).await;
    assert_eq!((c.state.as_str(), c.rows_changed), ("done", total), "{c:?}");
}

/// A table keyed by two texts that end in backslashes and hold quotes.
const CREATE_TRICKY: &str = "CREATE TABLE tricky (\n    a VARCHAR(20) NOT NULL,\n    b VARCHAR(20) NOT NULL,\n    n INTEGER NOT NULL,\n    v INTEGER,\n    PRIMARY KEY (a, b)\n);\n";

/// The key of row `i` of `tricky`.
fn tricky_key(i: i64) -> (String, String) {
    let a = ["x\\", "o'k", "p\\'q\\", "plain"][(i % 4) as usize];
    let b = match i % 3 {
        0 => format!("{i:04}\\"),
        1 => format!("'{i:04}"),
        _ => format!("{i:04}\\'\\"),
    };
    (a.to_owned(), b)
}

async fn literal_composite_text_key(db: TestDatabase) {
    let dir = db.scratch_dir().join("migrations");
    write(&dir.join("1_create_tricky/up.sql"), CREATE_TRICKY);
    write(
        &dir.join("1_create_tricky/down.sql"),
        "DROP TABLE tricky;\n",
    );
    write(
        &dir.join("2_fill_tricky/migration.toml"),
        &format!("[[backfill]]\ntable = \"tricky\"\nset = \"v = n * 2\"\nwhere = \"v IS NULL AND n % 3 <> 0\"\nbatch_size = {BATCH}\n"),
    );
    cairn(&db, &dir, &["up", "--to", "1"]).await.success();
    let engine = db.engine();
    let mut driver = connect(&db).await;
    let rows: i64 = 1_000;
    let values: Vec<String> = (0..rows)
        .map(|i| {
            let (a, b) = tricky_key(i);
            format!(
                "({}, {}, {})",
                string_literal(engine, &a),
                string_literal(engine, &b),
                n_of(i)
            )
        })
        .collect();
    driver
        .execute(&format!(
            "INSERT INTO tricky (a, b, n) VALUES {}",
            values.join(", ")
        ))
        .await
        .expect("insert the rows to backfill");
    legacy_strings(driver.as_mut()).await;

    let run = cairn(&db, &dir, &["up"]).await;
    run.success();
    let table = driver
        .query("SELECT a, b, n, v FROM tricky")
        .await
        .expect("read tricky");
    assert_eq!(table.len() as i64, rows, "no row added or lost");
    let mut expected: Vec<(String, String, Option<String>)> = (0..rows)
        .map(|i| {
            let (a, b) = tricky_key(i);
            let n = n_of(i);
            (a, b, (n % 3 != 0).then(|| (n * 2).to_string()))
        })
        .collect();
    let mut actual: Vec<(String, String, Option<String>)> = table
        .into_iter()
        .map(|row| {
            (
                row[0].clone().unwrap_or_default(),
                row[1].clone().unwrap_or_default(),
                row[3].clone(),
            )
        })
        .collect();
    expected.sort();
    actual.sort();
    assert_eq!(actual, expected, "exactly the rows with n % 3 <> 0 are set");
    let c = checkpoint_of(driver.as_mut(), 2).await;
    let changed = expected.iter().filter(|r| r.2.is_some()).count() as i64;
    assert_eq!(
        (c.state.as_str(), c.rows_changed),
        ("done", changed),
        "{c:?}"
    );
    assert!(c.batches > 1, "the keyset bounds were used: {c:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a migration file");
        }
    }
}

macro_rules! backfill_tests {
    ($db:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sigkill_at_a_random_batch_then_resume_matches_an_uninterrupted_run() {
            sigkill_then_resume($db, $db, Shape::Items).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sigkill_then_resume_on_a_composite_text_key() {
            sigkill_then_resume($db, $db, Shape::Pairs).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn ctrl_c_stops_at_a_batch_boundary_and_up_finishes() {
            ctrl_c_stops_cleanly($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sigterm_then_a_second_signal_exits_at_once() {
            a_second_signal_exits_at_once($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn down_rolls_back_a_backfill_interrupted_by_sigkill() {
            down_after_an_interrupted_backfill($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_second_identical_backfill_changes_nothing() {
            running_twice_changes_nothing($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_inserts_do_not_keep_the_backfill_from_finishing() {
            concurrent_inserts($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_bad_set_expression_names_the_file_and_writes_nothing() {
            bad_set_expression($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_failing_row_is_named_and_the_checkpoint_stays_at_the_last_batch() {
            a_row_that_fails($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_address_example_splits_good_rows_and_reports_bad_ones() {
            address_example($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_corrupted_checkpoint_key_is_an_error_that_says_what_to_do() {
            a_corrupted_checkpoint($db).await;
        }
    };
}

mod sqlite {
    use super::*;

    backfill_tests!(TestDatabase::sqlite());

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_ignored_replication_lag_is_warned_once_per_run() {
        an_ignored_replication_lag_is_warned_once(TestDatabase::sqlite()).await;
    }

    /// Case 8, with the default `lock_wait` (60 s): a second `cairn up`
    /// started while the first is backfilling waits for the backfill lock,
    /// then finds nothing left to apply; the backfill ran once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_up_waits_for_the_backfill_lock() {
        let db = TestDatabase::sqlite();
        let dir = items_project(
            &db,
            &[("2_fill_v", backfill_toml("v = n * 2", Some("20ms")))],
        );
        let mut driver = connect(&db).await;
        prepare_items(&db, &dir, driver.as_mut(), ROWS).await;

        let mut first = spawn(&db, &dir, &["up"]);
        wait_for_rows_done(driver.as_mut(), 2, BATCH, &mut first).await;
        let lock = cairn::sqlite::backfill_lock_path(&db.sqlite_path().expect("a file"));
        assert!(lock.exists(), "{} exists", lock.display());
        let mut second = spawn(&db, &dir, &["up"]);
        // The second must still be waiting whenever the first is still running.
        let started = Instant::now();
        while !first.has_exited() {
            assert!(
                !second.has_exited(),
                "the second run ended while the first was backfilling\n--- stderr:\n{}",
                second.stderr_so_far()
            );
            assert!(started.elapsed() < DEADLINE, "the first run did not end");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        first.finish().await.success();
        let waited = second.finish().await;
        assert!(
            waited
                .success()
                .contains("nothing to apply: the database is up to date"),
            "{waited}"
        );
        let c = checkpoint_of(driver.as_mut(), 2).await;
        assert_eq!(
            (c.state.as_str(), c.batches),
            ("done", ROWS / BATCH),
            "{c:?}"
        );
        assert_eq!(filled(driver.as_mut()).await, ROWS);
    }

    /// Case 8, with a short `lock_wait` in cairn.toml: the second `cairn up`
    /// gives up with exit code 4 and names the backfill lock; the first
    /// finishes undisturbed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_up_gives_up_on_the_backfill_lock_with_exit_4() {
        let db = TestDatabase::sqlite();
        let dir = items_project(
            &db,
            &[("2_fill_v", backfill_toml("v = n * 2", Some("20ms")))],
        );
        let mut driver = connect(&db).await;
        prepare_items(&db, &dir, driver.as_mut(), ROWS).await;
        let config = db.scratch_dir().join("impatient/cairn.toml");
        write(&config, "lock_wait = \"300ms\"\n");
        let config = config.display().to_string();

        let mut first = spawn(&db, &dir, &["up"]);
        wait_for_rows_done(driver.as_mut(), 2, BATCH, &mut first).await;
        let second = spawn_with(&db, &dir, &["--config", &config], &["up"])
            .finish()
            .await;
        assert_eq!(second.code(), Some(4), "{second}");
        assert!(second.stderr.contains("backfill lock"), "{second}");
        assert!(
            second.stderr.contains("-cairn-backfill.lock"),
            "names the lock file\n{second}"
        );
        first.finish().await.success();
        let c = checkpoint_of(driver.as_mut(), 2).await;
        assert_eq!(
            (c.state.as_str(), c.batches),
            ("done", ROWS / BATCH),
            "{c:?}"
        );
        assert_eq!(filled(driver.as_mut()).await, ROWS);
    }
}

#[cfg(feature = "servers")]
mod postgres {
    use super::*;

    backfill_tests!(cairn_testkit::postgres::database().await);

    /// Issue 9, case 1: on a database set to `standard_conforming_strings =
    /// off`, an address whose street ends in a backslash cannot end its
    /// literal early: `victim` survives and every row gets its own parts.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn literal_the_address_example_with_legacy_strings_writes_exactly_its_rows() {
        literal_address_example(cairn_testkit::postgres::database().await).await;
    }

    /// Issue 9, case 2: a plain SQL backfill keyed by text with backslashes
    /// and quotes, on a database set to `standard_conforming_strings = off`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn literal_a_sql_backfill_on_a_text_key_with_legacy_strings_changes_the_right_rows() {
        literal_composite_text_key(cairn_testkit::postgres::database().await).await;
    }
}

#[cfg(feature = "servers")]
mod mysql {
    use super::*;

    backfill_tests!(cairn_testkit::mysql::database().await);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_ignored_replication_lag_is_warned_once_per_run() {
        an_ignored_replication_lag_is_warned_once(cairn_testkit::mysql::database().await).await;
    }
}

//! The harness's load tests: application writers of both versions running
//! while the phases run ([`concurrency`]), and a session holding the table
//! while expand waits for its lock ([`lock_queue`]).
//!
//! Both use one migration, the rename of `items.name` to `label`
//! (`up` = `down` = identity), so that "the columns agree" is one query over
//! every row: `label IS NULL OR name IS NULL OR label <> name` counts none.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_core::history::HistoryState;
use cairn_core::{Driver, DriverErrorKind, Engine, Error, MigratorOptions, SessionSettings};

use super::{fixture, migrator, Case, HarnessError, Sql, Stage, CASE_VERSION};
use crate::conformance::{Database, Target};

/// What a load test saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Rows in the table before the migration.
    pub rows: i64,
    /// Statements the application writers ran.
    pub statements: u64,
    /// Of those, the new version's while `up` ran (during the backfill):
    /// more than none, or the test did not test the two versions together.
    pub new_during_backfill: u64,
    /// Statements that failed (the goal: none).
    pub failed: u64,
    /// The first few failures, with their statements.
    pub failures: Vec<String>,
    /// Rows where the new column disagrees with the old after expand and
    /// backfill, counted by one query over all rows (the goal: none).
    pub disagreeing: i64,
    /// Rows without the new column's value after contract (the goal: none).
    pub unfilled: i64,
}

/// How [`lock_queue`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockQueue {
    /// Cairn's operation lock timeout (`MigratorOptions::operation_lock_timeout`).
    pub lock_timeout: Duration,
    /// How often Cairn retries a step that timed out.
    pub retries: u32,
    /// The longest a third session's query on the table may wait: the
    /// timeout as the engine applies it (MySQL rounds up to whole seconds)
    /// plus a margin.
    pub bound: Duration,
}

/// What [`lock_queue`] measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockQueueReport {
    /// The longest wait of the third session's queries while Cairn retried.
    pub longest_wait: Duration,
    /// How many queries the third session ran.
    pub probes: u64,
    /// How long the `up` that ran out of retries took.
    pub failed_after: Duration,
    /// Its error, as users see it.
    pub error: String,
}

/// The rename every load test runs.
const RENAME: &str =
    "[[operation]]\nkind = \"rename_column\"\ntable = \"items\"\ncolumn = \"name\"\nto = \"label\"\n";

/// The query counting rows where the columns disagree.
const DISAGREEING: &str =
    "SELECT COUNT(*) FROM items WHERE label IS NULL OR name IS NULL OR label <> name";

fn load_case() -> Case {
    Case {
        name: "rename_under_load",
        setup: Vec::new(),
        migration: RENAME.to_owned(),
        old: super::App::column("items", "name"),
        new: super::App::column("items", "label"),
        values: super::Values::same(("'a'", "a"), ("'b'", "b")),
        seeds: Vec::new(),
        old_breaks_after_contract: true,
        after_contract: Vec::new(),
        seeds_after_uncontract: None,
        refused_on: Vec::new(),
    }
}

struct Ctx {
    engine: Engine,
}

impl Ctx {
    fn error(&self, message: impl Into<String>, statement: Option<&str>) -> HarnessError {
        HarnessError {
            case: load_case().name.to_owned(),
            engine: self.engine,
            stage: Stage::Load,
            message: message.into(),
            statement: statement.map(str::to_owned),
        }
    }

    async fn execute(&self, driver: &mut dyn Driver, sql: &str) -> Result<u64, HarnessError> {
        driver
            .execute(sql)
            .await
            .map_err(|e| self.error(format!("{e}"), Some(sql)))
    }

    async fn count(&self, driver: &mut dyn Driver, sql: &str) -> Result<i64, HarnessError> {
        let rows = driver
            .query(sql)
            .await
            .map_err(|e| self.error(format!("{e}"), Some(sql)))?;
        rows.first()
            .and_then(|row| row.first().cloned().flatten())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| self.error(format!("not a count: {rows:?}"), Some(sql)))
    }

    async fn state(
        &self,
        migrator: &cairn_core::Migrator,
        driver: &mut dyn Driver,
    ) -> Result<Option<HistoryState>, HarnessError> {
        let history = migrator
            .history(driver)
            .await
            .map_err(|e| self.error(format!("the history does not read: {e}"), None))?;
        Ok(history
            .iter()
            .find(|row| row.version == CASE_VERSION)
            .map(|row| row.state))
    }
}

/// `items (id, name NOT NULL, qty)` with `rows` rows (at most 100,000),
/// generated by one statement on every engine (a cross join of digits).
async fn items(ctx: &Ctx, driver: &mut dyn Driver, rows: i64) -> Result<(), HarnessError> {
    let digits = "(SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
                  UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
                  UNION ALL SELECT 8 UNION ALL SELECT 9)";
    let id = "1 + a.n + 10 * b.n + 100 * c.n + 1000 * d.n + 10000 * e.n";
    let fill = Sql::new(format!(
        "INSERT INTO items (id, name, qty) SELECT {id}, CAST({id} AS VARCHAR(100)), a.n \
         FROM {digits} a, {digits} b, {digits} c, {digits} d, {digits} e WHERE {id} <= {rows}"
    ))
    .on(
        Engine::Mysql,
        format!(
            "INSERT INTO items (id, name, qty) SELECT {id}, CAST({id} AS CHAR), a.n \
             FROM {digits} a, {digits} b, {digits} c, {digits} d, {digits} e WHERE {id} <= {rows}"
        ),
    );
    ctx.execute(
        driver,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, qty INTEGER)",
    )
    .await?;
    ctx.execute(driver, fill.for_engine(ctx.engine)).await?;
    Ok(())
}

/// The application writers of one version, counting their statements and failures.
struct Writers {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

struct Tally {
    /// What Cairn is running meanwhile: `up` or `contract`.
    phase: Mutex<&'static str>,
    statements: AtomicU64,
    new_statements: AtomicU64,
    failed: AtomicU64,
    failures: Mutex<Vec<String>>,
    next_id: AtomicI64,
}

impl Tally {
    fn record(&self, new: bool, sql: &str, outcome: Result<u64, cairn_core::DriverError>) {
        self.statements.fetch_add(1, Ordering::Relaxed);
        if new {
            self.new_statements.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(e) = outcome {
            self.failed.fetch_add(1, Ordering::Relaxed);
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            if failures.len() < 5 {
                let phase = *self.phase.lock().unwrap_or_else(|p| p.into_inner());
                let version = if new { "new" } else { "old" };
                failures.push(format!(
                    "during `{phase}`, a {version}-version writer: {e}\n  statement: {sql}"
                ));
            }
        }
    }
}

/// Starts two writers of the old version (writing `name`) or the new one
/// (`label`), once `start` is set:
/// each inserts, updates an existing row and deletes a row it inserted, in turn.
fn writers(
    db: &Arc<dyn Database>,
    tally: &Arc<Tally>,
    new: bool,
    start: &Arc<AtomicBool>,
    rows: i64,
) -> Writers {
    let column = if new { "label" } else { "name" };
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = (0..2)
        .map(|writer| {
            let (db, tally, stop, start) =
                (db.clone(), tally.clone(), stop.clone(), start.clone());
            tokio::spawn(async move {
                let mut driver = db.connect().await;
                // The application's own timeouts: it waits for a lock at most
                // this long (SQLite: its busy timeout).
                let _ = driver
                    .apply_settings(&SessionSettings {
                        lock_timeout: Some(Duration::from_secs(5)),
                        statement_timeout: None,
                    })
                    .await;
                // The new version is deployed once expand has created the
                // column and its triggers: it starts with the backfill.
                while !stop.load(Ordering::Relaxed) && !start.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                let mut mine = Vec::new();
                let mut turn: i64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    turn += 1;
                    let sql = match turn % 3 {
                        0 => {
                            let id = tally.next_id.fetch_add(1, Ordering::Relaxed);
                            mine.push(id);
                            format!("INSERT INTO items (id, {column}, qty) VALUES ({id}, '{column}{id}', {writer})")
                        }
                        1 => {
                            let id = 1 + (turn * 7919 + writer as i64 * 104_729) % rows;
                            format!("UPDATE items SET {column} = '{column}{turn}' WHERE id = {id}")
                        }
                        _ => match mine.pop() {
                            Some(id) => format!("DELETE FROM items WHERE id = {id}"),
                            None => continue,
                        },
                    };
                    let outcome = driver.execute(&sql).await;
                    tally.record(new, &sql, outcome);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        })
        .collect();
    Writers { stop, tasks }
}

impl Writers {
    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// The concurrency test (ZERO-DOWNTIME.md §6): on a table of `rows` rows,
/// old-version writers (of `name`) run while expand and backfill run,
/// new-version writers (of `label`) from the backfill's first batch on (the
/// new version is deployed once expand created `label` and its triggers;
/// writing it before the triggers exist would be a deploy too early), then
/// new-version writers alone while contract runs (the old version is no
/// longer deployed then). Returns what
/// it counted; the caller asserts 0 failed statements, 0 disagreeing rows
/// and 0 unfilled rows. `rows` is at most 100,000.
pub async fn concurrency(target: &dyn Target, rows: i64) -> Result<LoadReport, HarnessError> {
    let db: Arc<dyn Database> = Arc::from(target.fresh().await);
    let mut cairn = db.connect().await;
    let ctx = Ctx {
        engine: cairn.dialect().engine(),
    };
    items(&ctx, cairn.as_mut(), rows).await?;
    let dir = fixture(&load_case());
    let mut migrator = migrator(&dir, super::options());
    let backfilling = Arc::new(AtomicBool::new(false));
    let started = backfilling.clone();
    migrator.on_progress(Arc::new(move |_: &cairn_core::backfill::Progress<'_>| {
        started.store(true, Ordering::Relaxed);
    }));
    let always = Arc::new(AtomicBool::new(true));
    let tally = Arc::new(Tally {
        phase: Mutex::new("up"),
        statements: AtomicU64::new(0),
        new_statements: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        failures: Mutex::new(Vec::new()),
        next_id: AtomicI64::new(1_000_000),
    });

    let old = writers(&db, &tally, false, &always, rows);
    let new = writers(&db, &tally, true, &backfilling, rows);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let expanded = migrator.up(cairn.as_mut(), None).await;
    let new_during_backfill = tally.new_statements.load(Ordering::Relaxed);
    backfilling.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    old.stop().await;
    new.stop().await;
    expanded.map_err(|f| ctx.error(format!("`up` under load failed: {f}"), None))?;
    let disagreeing = ctx.count(cairn.as_mut(), DISAGREEING).await?;

    *tally.phase.lock().unwrap_or_else(|p| p.into_inner()) = "contract";
    let new = writers(&db, &tally, true, &always, rows);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let contracted = migrator.contract(cairn.as_mut(), None).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    new.stop().await;
    contracted.map_err(|f| ctx.error(format!("`contract` under load failed: {f}"), None))?;
    let unfilled = ctx
        .count(
            cairn.as_mut(),
            "SELECT COUNT(*) FROM items WHERE label IS NULL",
        )
        .await?;

    let failures = tally
        .failures
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok(LoadReport {
        rows,
        statements: tally.statements.load(Ordering::Relaxed),
        new_during_backfill,
        failed: tally.failed.load(Ordering::Relaxed),
        failures,
        disagreeing,
        unfilled,
    })
}

/// Whether `error` is a lock timeout, however the migrator wrapped it.
pub fn is_lock_timeout(error: &Error) -> bool {
    match error {
        Error::Driver { cause, .. } => cause.kind == DriverErrorKind::LockTimeout,
        Error::Statement { kind, .. } => *kind == DriverErrorKind::LockTimeout,
        Error::LockTimeout { .. } => false,
        other => {
            let mut source = std::error::Error::source(other);
            while let Some(e) = source {
                if let Some(driver) = e.downcast_ref::<cairn_core::DriverError>() {
                    return driver.kind == DriverErrorKind::LockTimeout;
                }
                source = e.source();
            }
            false
        }
    }
}

/// The adversarial test (ZERO-DOWNTIME.md §5, §6): a session holds a
/// transaction open on the table (an uncommitted row update) while Cairn's
/// expand runs. Cairn must time out after `lock_timeout` and retry; a third
/// session's queries on the table must never wait longer than `bound`; when
/// the retries run out the error is a lock timeout and the history row is
/// `expanding` (resumable); once the holder commits, `up` converges to
/// `expanded`.
pub async fn lock_queue(
    target: &dyn Target,
    queue: LockQueue,
) -> Result<LockQueueReport, HarnessError> {
    let db: Arc<dyn Database> = Arc::from(target.fresh().await);
    let mut cairn = db.connect().await;
    let ctx = Ctx {
        engine: cairn.dialect().engine(),
    };
    items(&ctx, cairn.as_mut(), 100).await?;
    let dir = fixture(&load_case());
    let options = MigratorOptions {
        operation_lock_timeout: queue.lock_timeout,
        statement_lock_timeout: queue.lock_timeout,
        lock_retries: queue.retries,
        retry_backoff: Duration::from_millis(50),
        retry_backoff_max: Duration::from_millis(100),
        ..super::options()
    };
    let migrator = migrator(&dir, options);

    let mut holder = db.connect().await;
    let hold = "UPDATE items SET qty = qty + 1 WHERE id = 1";
    holder
        .begin()
        .await
        .map_err(|e| ctx.error(format!("the holder cannot begin: {e}"), None))?;
    ctx.execute(holder.as_mut(), hold).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let prober = {
        let (db, stop) = (db.clone(), stop.clone());
        tokio::spawn(async move {
            let mut driver = db.connect().await;
            let _ = driver
                .apply_settings(&SessionSettings {
                    lock_timeout: Some(Duration::from_secs(30)),
                    statement_timeout: None,
                })
                .await;
            let probe = "SELECT name FROM items WHERE id = 2";
            let (mut longest, mut probes, mut failed) = (Duration::ZERO, 0u64, None);
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                if let Err(e) = driver.query(probe).await {
                    failed.get_or_insert_with(|| format!("{e}"));
                }
                longest = longest.max(start.elapsed());
                probes += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (longest, probes, failed)
        })
    };

    let start = Instant::now();
    let first = migrator.up(cairn.as_mut(), None).await;
    let failed_after = start.elapsed();
    let state = ctx.state(&migrator, cairn.as_mut()).await?;
    let _ = holder.rollback().await;
    stop.store(true, Ordering::Relaxed);
    let (longest_wait, probes, probe_failed) = prober
        .await
        .map_err(|e| ctx.error(format!("the third session panicked: {e}"), None))?;

    let error = match first {
        Ok(report) => {
            return Err(ctx.error(
                format!(
                    "`up` succeeded while a transaction held the table: {:?}",
                    report.migrations
                ),
                Some(hold),
            ))
        }
        Err(failure) if is_lock_timeout(&failure.error) => failure.error.to_string(),
        Err(failure) => {
            return Err(ctx.error(
                format!("`up` behind a held table failed, but not with a lock timeout: {failure}"),
                Some(hold),
            ))
        }
    };
    let attempts = queue.retries + 1;
    if failed_after < queue.lock_timeout * attempts {
        return Err(ctx.error(
            format!(
                "`up` gave up after {failed_after:?}, sooner than {attempts} attempts of {:?}: did it retry?",
                queue.lock_timeout
            ),
            None,
        ));
    }
    if state != Some(HistoryState::Expanding) {
        return Err(ctx.error(
            format!(
                "after the lock timeout the history row is {:?}, expected expanding (resumable)",
                state.map(HistoryState::as_str)
            ),
            None,
        ));
    }
    if let Some(e) = probe_failed {
        return Err(ctx.error(format!("a third session's query failed: {e}"), None));
    }
    if longest_wait > queue.bound {
        return Err(ctx.error(
            format!(
                "a third session's query waited {longest_wait:?}, longer than {:?} (lock timeout {:?})",
                queue.bound, queue.lock_timeout
            ),
            None,
        ));
    }

    migrator
        .up(cairn.as_mut(), None)
        .await
        .map_err(|f| ctx.error(format!("`up` after the holder committed failed: {f}"), None))?;
    let state = ctx.state(&migrator, cairn.as_mut()).await?;
    if state != Some(HistoryState::Expanded) {
        return Err(ctx.error(
            format!(
                "after the holder committed, `up` left the row {:?}, expected expanded",
                state.map(HistoryState::as_str)
            ),
            None,
        ));
    }
    let disagreeing = ctx.count(cairn.as_mut(), DISAGREEING).await?;
    if disagreeing != 0 {
        return Err(ctx.error(
            format!("{disagreeing} rows disagree after the resumed expand"),
            Some(DISAGREEING),
        ));
    }
    Ok(LockQueueReport {
        longest_wait,
        probes,
        failed_after,
        error,
    })
}

#[cfg(test)]
mod tests {
    use cairn_core::{Direction, DriverError, Location};

    use super::*;

    fn statement(kind: DriverErrorKind) -> Error {
        Error::Statement {
            direction: Direction::Up,
            version: cairn_core::Version::from(1),
            name: "rename".to_owned(),
            engine: Engine::Postgres,
            location: Location::new("migration.toml", 1),
            index: 1,
            count: 1,
            message: "canceling statement due to lock timeout".to_owned(),
            kind,
            outcome: String::new(),
        }
    }

    #[test]
    fn a_lock_timeout_is_recognised_however_it_is_wrapped() {
        let driver = |kind| Error::Driver {
            engine: Engine::Mysql,
            context: "expand".to_owned(),
            cause: DriverError::new(kind, "Lock wait timeout exceeded"),
        };
        assert!(is_lock_timeout(&driver(DriverErrorKind::LockTimeout)));
        assert!(is_lock_timeout(&statement(DriverErrorKind::LockTimeout)));
        assert!(!is_lock_timeout(&driver(DriverErrorKind::Statement)));
        assert!(!is_lock_timeout(&statement(DriverErrorKind::Other)));
        // The migration lock held by another runner is another failure.
        let run_lock = Error::LockTimeout {
            engine: Engine::Postgres,
            waited_ms: 200,
            holder: "pid 7".to_owned(),
        };
        assert!(!is_lock_timeout(&run_lock));
    }
}

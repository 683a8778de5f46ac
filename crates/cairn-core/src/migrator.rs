//! The migrator: the one algorithm every driver runs.
//!
//! `up`: lock → ensure the history tables → read the history → plan → for each
//! migration, apply it and record it → unlock. The lock, the history read and
//! the migrations share the driver's one connection.
//!
//! How one migration is applied depends on the engine's capabilities:
//!
//! - **In a transaction** (PostgreSQL, SQLite, unless `-- cairn:no-transaction`):
//!   `BEGIN`, the statements, the history row and the log row, `COMMIT`. A
//!   failure rolls everything back: the database and the history are unchanged.
//! - **Outside a transaction** (MySQL/MariaDB commit DDL implicitly, or the
//!   directive asks for it): a `running` row is committed first, then each
//!   statement, recording progress after each one; a failure leaves a `failed`
//!   row naming the statement and the server's error, and later runs refuse
//!   until it is resumed or repaired. A run that dies leaves the row
//!   `running`, with one statement in doubt ([`crate::recovery`]).
//!
//! Every run holds the driver's migration lock from planning to the end, so
//! runs never interleave. With [`LockKind::WriteTransaction`] (SQLite) that
//! lock is the driver's own (a file lock), and each migration's transaction
//! also takes the write lock and re-reads the history for its version,
//! skipping a migration another runner (an older Cairn) applied.
//!
//! A statement that times out waiting for a lock held by another session is
//! retried with a jittered, capped backoff (`MigratorOptions::lock_retries`;
//! see [`crate::retry`]), so DDL never queues for long in front of the
//! application's queries.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::backfill::{self, DataMigration, Hooks, ProgressFn, StopSignal};
use crate::clock::UtcTime;
use crate::driver::{
    BatchFailure, Driver, DriverError, DriverErrorKind, LockKind, SessionSettings, Workload,
};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::history::{
    kind, HistoryRow, HistorySql, HistoryState, HistoryTable, LogAction, LogEntry,
};
use crate::migration::{Direction, Migration, Script, Version};
use crate::plan::{self, DownTarget, PlanOptions, Problem, StatusEntry};
use crate::retry;
use crate::split::{self, Statement};

/// How the migrator behaves. Built once from the configuration and passed around.
#[derive(Clone, Debug)]
pub struct MigratorOptions {
    /// Where the history lives.
    pub table: HistoryTable,
    /// What the plan allows.
    pub plan: PlanOptions,
    /// How long to wait for the migration lock held by another runner.
    pub lock_wait: Duration,
    /// `lock_timeout` for each statement unless a directive says otherwise:
    /// short, so the application's queries never queue behind a blocked
    /// statement for longer (see [`crate::retry`]).
    pub statement_lock_timeout: Duration,
    /// How often a statement that timed out on a lock is retried.
    pub lock_retries: u32,
    /// The first backoff between retries; it doubles each time, up to
    /// `retry_backoff_max`, and each pause is jittered.
    pub retry_backoff: Duration,
    /// The longest backoff between retries.
    pub retry_backoff_max: Duration,
    /// Who runs the migrations, recorded in the history.
    pub actor: String,
}

impl Default for MigratorOptions {
    fn default() -> Self {
        MigratorOptions {
            table: HistoryTable::default(),
            plan: PlanOptions::default(),
            lock_wait: Duration::from_secs(60),
            statement_lock_timeout: retry::DEFAULT_LOCK_TIMEOUT,
            lock_retries: retry::DEFAULT_LOCK_RETRIES,
            retry_backoff: retry::DEFAULT_RETRY_BACKOFF,
            retry_backoff_max: retry::DEFAULT_RETRY_BACKOFF_MAX,
            actor: "cairn".to_owned(),
        }
    }
}

/// What happened to one migration during a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Version.
    pub version: Version,
    /// Name.
    pub name: String,
    /// Which way it ran.
    pub direction: Direction,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
    /// Statements run.
    pub statements: usize,
    /// Whether it ran inside a transaction.
    pub transactional: bool,
    /// `true` when another runner had applied it first, so this run skipped it.
    pub skipped: bool,
    /// Rows its backfills changed in this run (`None` without backfills).
    pub backfilled: Option<i64>,
    /// What `--resume` decided about the statement an interrupted run left
    /// in doubt (counted as completed, or recorded without running it).
    pub recovered: Option<String>,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// Every migration it touched, in order.
    pub migrations: Vec<Applied>,
}

/// A run that failed, with what it did before the failure.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct RunFailure {
    /// What completed before the error.
    pub report: RunReport,
    /// The error (its message is this failure's message, so it is not also a `source`).
    pub error: Error,
}

impl From<Error> for RunFailure {
    fn from(error: Error) -> Self {
        RunFailure {
            report: RunReport::default(),
            error,
        }
    }
}

/// One statement as a dry run shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedStatement {
    /// `path:line`.
    pub location: String,
    /// The SQL.
    pub sql: String,
}

/// One migration as a dry run shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedMigration {
    /// Version.
    pub version: Version,
    /// Name.
    pub name: String,
    /// Which way.
    pub direction: Direction,
    /// Whether it would run in a transaction.
    pub transactional: bool,
    /// Its statements.
    pub statements: Vec<PlannedStatement>,
    /// The bookkeeping statements Cairn would add: on a database without
    /// history tables, their creation first (in the first migration only),
    /// then the history row and the log row.
    pub history: Vec<String>,
}

/// What `repair` changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RepairAction {
    /// Version.
    pub version: Version,
    /// Name.
    pub name: String,
    /// What was done, in words.
    pub action: String,
}

/// Status of a database, for `cairn status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// The engine.
    pub engine: Engine,
    /// Every migration on disk or in the history.
    pub migrations: Vec<StatusEntry>,
    /// Problems found.
    pub problems: Vec<Problem>,
}

/// The `error` of a history row whose rollback is in progress; like every
/// error of a failed rollback, it starts with `down `.
const DOWN_IN_PROGRESS: &str = "down in progress: statements_done counts the rollback's statements";

/// Why running a migration's statements stopped.
#[derive(Debug)]
enum StepError {
    /// Statement `.0` (0-based) failed.
    Statement(usize, DriverError),
    /// Statement `.0` completed, but recording that in the history failed.
    Progress(usize, DriverError),
    /// A batch failed and the driver did not say which statement (see
    /// [`crate::driver::checked_execute_many`]).
    Batch(DriverError),
}

/// What a locked run was asked to do.
#[derive(Clone, Copy, Debug)]
enum Request {
    Up(Option<Version>),
    /// Resume; `.1` is `--skip-in-doubt`.
    Resume(Option<Version>, bool),
    Down(DownTarget),
    Redo,
}

/// A migration prepared for running: its statements split, its settings known.
struct Prepared<'a> {
    migration: &'a Migration,
    direction: Direction,
    script: &'a Script,
    statements: Vec<Statement>,
    transactional: bool,
    settings: SessionSettings,
    /// For a rollback: the history row as it was, restored if the rollback
    /// changes nothing (a lock timeout at its first statement).
    applied_row: Option<HistoryRow>,
}

/// Runs a set of migrations against databases through a [`Driver`].
#[derive(Clone, Debug)]
pub struct Migrator {
    migrations: Vec<Migration>,
    options: MigratorOptions,
    hooks: Hooks,
}

impl Migrator {
    /// A migrator for `migrations` (as read by [`crate::source::read_dir`]).
    pub fn new(migrations: Vec<Migration>, options: MigratorOptions) -> Self {
        Migrator {
            migrations,
            options,
            hooks: Hooks::default(),
        }
    }

    /// Registers a data migration written in Rust under `name`, the name a
    /// `migration.toml` gives it (`rust = "<name>"`).
    pub fn register_data_migration(
        &mut self,
        name: impl Into<String>,
        migration: impl DataMigration + 'static,
    ) -> &mut Self {
        self.hooks
            .data_migrations
            .insert(name.into(), std::sync::Arc::new(migration));
        self
    }

    /// Backfills stop at the next batch boundary once `stop` is given.
    pub fn set_stop_signal(&mut self, stop: StopSignal) -> &mut Self {
        self.hooks.stop = stop;
        self
    }

    /// Adds a replica whose lag `max_replication_lag` in migration.toml limits
    /// (see [`backfill::Replica`]); `name` is how messages call it.
    pub fn add_replica(&mut self, name: impl Into<String>, driver: Box<dyn Driver>) -> &mut Self {
        self.hooks.replicas.push(backfill::Replica {
            name: name.into(),
            driver: std::sync::Arc::new(tokio::sync::Mutex::new(driver)),
        });
        self
    }

    /// Receives a report when each backfill starts, after every batch and at its end.
    pub fn on_progress(&mut self, progress: std::sync::Arc<ProgressFn>) -> &mut Self {
        self.hooks.progress = Some(progress);
        self
    }

    /// The checkpoints of every backfill (`cairn backfill status`); empty
    /// when none has run. Changes nothing.
    pub async fn backfill_status(
        &self,
        driver: &mut dyn Driver,
    ) -> Result<Vec<backfill::Checkpoint>> {
        let engine = driver.engine();
        let sql = self.sql(driver);
        let checkpoints = sql.checkpoints();
        let exists = driver
            .query(&sql.checkpoints_exist())
            .await
            .map_err(|e| Error::driver(engine, "checking for the backfill checkpoints", e))?;
        if exists.is_empty() {
            return Ok(Vec::new());
        }
        let rows = driver
            .query(&checkpoints.select(None))
            .await
            .map_err(|e| Error::driver(engine, format!("reading {}", checkpoints.table()), e))?;
        checkpoints
            .decode(rows)
            .map_err(|message| Error::CorruptHistory {
                table: checkpoints.table().to_owned(),
                engine,
                message,
            })
    }

    /// The migrations it knows.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// Its options.
    pub fn options(&self) -> &MigratorOptions {
        &self.options
    }

    fn sql(&self, driver: &dyn Driver) -> HistorySql {
        HistorySql::new(driver.engine(), &self.options.table)
    }

    async fn history_exists(&self, driver: &mut dyn Driver) -> Result<bool> {
        let sql = self.sql(driver);
        let engine = driver.engine();
        let rows = driver
            .query(&sql.exists())
            .await
            .map_err(|e| Error::driver(engine, "checking for the history table", e))?;
        Ok(!rows.is_empty())
    }

    /// Reads the history without creating the tables (empty if they do not exist).
    pub async fn history(&self, driver: &mut dyn Driver) -> Result<Vec<HistoryRow>> {
        let sql = self.sql(driver);
        let engine = driver.engine();
        self.options.table.check_names(engine)?;
        if !self.history_exists(driver).await? {
            return Ok(Vec::new());
        }
        let rows = driver
            .query(&sql.select())
            .await
            .map_err(|e| Error::driver(engine, format!("reading {}", sql.table()), e))?;
        sql.decode(rows)
    }

    /// The status of every migration, and the problems found. Changes nothing.
    pub async fn status(&self, driver: &mut dyn Driver) -> Result<StatusReport> {
        let history = self.history(driver).await?;
        let engine = driver.engine();
        Ok(StatusReport {
            engine,
            migrations: plan::status(&self.migrations, &history, engine),
            problems: plan::problems(&self.migrations, &history, engine, self.options.plan),
        })
    }

    /// Checks the source against the history, and that every pending script
    /// splits. Changes nothing; `Err(Error::Validation)` lists the problems.
    pub async fn validate(&self, driver: &mut dyn Driver) -> Result<StatusReport> {
        let report = self.status(driver).await?;
        let engine = driver.engine();
        for migration in plan::applicable(&self.migrations, engine).values() {
            for direction in [Direction::Up, Direction::Down] {
                if migration.script(direction, engine).is_some() {
                    self.prepare(migration, direction, driver)?;
                }
            }
        }
        if !report.problems.is_empty() {
            return Err(Error::Validation(crate::error::Problems(report.problems)));
        }
        Ok(report)
    }

    /// What `up` would run, without running it (`--dry-run`).
    pub async fn plan_up(
        &self,
        driver: &mut dyn Driver,
        to: Option<Version>,
    ) -> Result<Vec<PlannedMigration>> {
        let history = self.history(driver).await?;
        let engine = driver.engine();
        let chosen = plan::plan_up(&self.migrations, &history, engine, self.options.plan, to)?;
        let setup = self.setup_statements(driver).await?;
        self.describe(driver, chosen, Direction::Up, setup)
    }

    /// The statements that would create the history tables, if they are missing.
    async fn setup_statements(&self, driver: &mut dyn Driver) -> Result<Vec<String>> {
        Ok(if self.history_exists(driver).await? {
            Vec::new()
        } else {
            self.sql(driver).create()
        })
    }

    /// What `down` would run, without running it (`--dry-run`).
    pub async fn plan_down(
        &self,
        driver: &mut dyn Driver,
        target: DownTarget,
    ) -> Result<Vec<PlannedMigration>> {
        let history = self.history(driver).await?;
        let engine = driver.engine();
        let chosen = plan::plan_down(&self.migrations, &history, engine, target)?;
        self.describe(driver, chosen, Direction::Down, Vec::new())
    }

    fn describe(
        &self,
        driver: &dyn Driver,
        chosen: Vec<&Migration>,
        direction: Direction,
        mut setup: Vec<String>,
    ) -> Result<Vec<PlannedMigration>> {
        let sql = self.sql(driver);
        chosen
            .into_iter()
            .map(|m| {
                let prepared = self.prepare(m, direction, driver)?;
                let row = self.row(&prepared, driver.engine(), HistoryState::Applied, 0);
                let mut history = std::mem::take(&mut setup);
                history.push(match direction {
                    Direction::Up => sql.insert(&row),
                    Direction::Down => sql.delete(m.version),
                });
                history.push(sql.log(&self.log_entry(&prepared, &row.applied_at, 0, None)));
                Ok(PlannedMigration {
                    version: m.version,
                    name: m.name.clone(),
                    direction,
                    transactional: prepared.transactional,
                    statements: prepared
                        .statements
                        .iter()
                        .map(|s| PlannedStatement {
                            location: prepared.script.location(s.line),
                            sql: s.sql.clone(),
                        })
                        .collect(),
                    history,
                })
            })
            .collect()
    }

    /// Applies pending migrations up to `to` (all if `None`).
    pub async fn up(
        &self,
        driver: &mut dyn Driver,
        to: Option<Version>,
    ) -> Result<RunReport, RunFailure> {
        self.run_locked(driver, Request::Up(to)).await
    }

    /// Continues migrations that failed part way outside a transaction from
    /// the statement that failed — after the user fixed that statement — as
    /// long as the statements that completed are unchanged; then applies the
    /// pending migrations up to `to`.
    pub async fn up_resume(
        &self,
        driver: &mut dyn Driver,
        to: Option<Version>,
    ) -> Result<RunReport, RunFailure> {
        self.run_locked(driver, Request::Resume(to, false)).await
    }

    /// Like [`Migrator::up_resume`], but the statement an interrupted run left
    /// in doubt (see [`crate::recovery`]) is recorded as completed without
    /// running it (`--skip-in-doubt`). Refuses, changing nothing, when no
    /// statement is in doubt.
    pub async fn up_resume_skip_in_doubt(
        &self,
        driver: &mut dyn Driver,
        to: Option<Version>,
    ) -> Result<RunReport, RunFailure> {
        self.run_locked(driver, Request::Resume(to, true)).await
    }

    /// Rolls back applied migrations as far as `target` says.
    pub async fn down(
        &self,
        driver: &mut dyn Driver,
        target: DownTarget,
    ) -> Result<RunReport, RunFailure> {
        self.run_locked(driver, Request::Down(target)).await
    }

    /// Rolls back the newest applied migration and applies it again.
    pub async fn redo(&self, driver: &mut dyn Driver) -> Result<RunReport, RunFailure> {
        self.run_locked(driver, Request::Redo).await
    }

    /// Records a baseline at `version`: migrations up to it count as applied.
    /// Refuses when the history already has rows.
    pub async fn baseline(&self, driver: &mut dyn Driver, version: Version) -> Result<HistoryRow> {
        if version <= 0 {
            return Err(Error::Invalid(format!(
                "baseline version must be a positive integer, got {version}"
            )));
        }
        self.lock(driver).await?;
        let result = self.baseline_locked(driver, version).await;
        self.unlock(driver, result).await
    }

    async fn baseline_locked(
        &self,
        driver: &mut dyn Driver,
        version: Version,
    ) -> Result<HistoryRow> {
        let this = self;
        let engine = driver.engine();
        let sql = this.sql(driver);
        this.ensure_tables(driver).await?;
        let history = this.history(driver).await?;
        if let Some(first) = history.first() {
            return Err(Error::Invalid(format!(
                        "cannot baseline on {engine}: the history already has {} row(s), starting with migration {}; baseline is for a database that has no Cairn history yet",
                        history.len(),
                        first.version
                    )));
        }
        let name = this
            .migrations
            .iter()
            .find(|m| m.version == version)
            .map_or_else(|| "baseline".to_owned(), |m| m.name.clone());
        let now = UtcTime::now().rfc3339();
        let row = HistoryRow {
            version,
            name: name.clone(),
            kind: kind::BASELINE.to_owned(),
            checksum: String::new(),
            state: HistoryState::Applied,
            applied_at: now.clone(),
            execution_ms: 0,
            applied_by: this.options.actor.clone(),
            cairn_version: crate::CAIRN_VERSION.to_owned(),
            statements_done: None,
            statements_checksum: None,
            error: None,
        };
        let log = sql.log(&LogEntry {
            version,
            name: &name,
            action: LogAction::Baseline,
            success: true,
            at: &now,
            duration_ms: 0,
            actor: &this.options.actor,
            detail: None,
        });
        this.in_transaction(driver, &[sql.insert(&row), log], "recording the baseline")
            .await?;
        Ok(row)
    }

    /// Repairs the history after a human has reviewed the problems: accepts
    /// modified checksums, drops rows of migrations missing on disk, and
    /// removes failed or running rows (the database must have been brought
    /// back to the state before that migration).
    pub async fn repair(&self, driver: &mut dyn Driver) -> Result<Vec<RepairAction>> {
        self.lock(driver).await?;
        let result = self.repair_locked(driver).await;
        self.unlock(driver, result).await
    }

    async fn repair_locked(&self, driver: &mut dyn Driver) -> Result<Vec<RepairAction>> {
        let this = self;
        let engine = driver.engine();
        let sql = this.sql(driver);
        // A database without history has nothing to repair: create nothing there.
        let history = this.history(driver).await?;
        let problems = plan::problems(
            &this.migrations,
            &history,
            engine,
            PlanOptions {
                allow_out_of_order: true,
            },
        );
        let now = UtcTime::now().rfc3339();
        let mut statements = Vec::new();
        let mut actions = Vec::new();
        for problem in problems {
            let version = problem.version();
            let Some(row) = history.iter().find(|r| r.version == version) else {
                continue;
            };
            let (statement, action) = match &problem {
                Problem::Modified { actual, name, .. } => {
                    let mut fixed = row.clone();
                    fixed.checksum.clone_from(actual);
                    fixed.name.clone_from(name);
                    (
                        sql.update(&fixed),
                        format!(
                            "accepted the new checksum {}",
                            &actual[..12.min(actual.len())]
                        ),
                    )
                }
                Problem::Missing { .. } => (
                    sql.delete(version),
                    "removed from the history: missing on disk".to_owned(),
                ),
                Problem::Failed { .. } => {
                    (sql.delete(version), "removed the failed row".to_owned())
                }
                Problem::Running { .. } => {
                    (sql.delete(version), "removed the unfinished row".to_owned())
                }
                Problem::OutOfOrder { .. } => continue,
            };
            statements.push(statement);
            statements.push(sql.log(&LogEntry {
                version,
                name: &row.name,
                action: LogAction::Repair,
                success: true,
                at: &now,
                duration_ms: 0,
                actor: &this.options.actor,
                detail: Some(&action),
            }));
            actions.push(RepairAction {
                version,
                name: row.name.clone(),
                action,
            });
        }
        if !statements.is_empty() {
            this.in_transaction(driver, &statements, "repairing the history")
                .await?;
        }
        Ok(actions)
    }

    // ----- the machinery -------------------------------------------------

    /// Takes the migration lock, which serialises whole runs on every engine
    /// (on SQLite a file lock that ends with the process).
    async fn lock(&self, driver: &mut dyn Driver) -> Result<()> {
        let engine = driver.engine();
        if !driver.capabilities().run_lock {
            return Err(Error::driver(
                engine,
                "taking the migration lock",
                crate::driver::no_run_lock(driver.driver_name()),
            ));
        }
        let started = Instant::now();
        driver
            .lock(self.options.lock_wait)
            .await
            .map_err(|e| lock_error(engine, started, "taking the migration lock", e))
    }

    /// Releases the lock; an error releasing it matters only if the work succeeded.
    async fn unlock<T>(&self, driver: &mut dyn Driver, result: Result<T>) -> Result<T> {
        let engine = driver.engine();
        match (driver.unlock().await, result) {
            (Err(e), Ok(_)) => Err(Error::driver(engine, "releasing the migration lock", e)),
            (_, result) => result,
        }
    }

    async fn run_locked(
        &self,
        driver: &mut dyn Driver,
        request: Request,
    ) -> Result<RunReport, RunFailure> {
        // The migration lock covers the whole run, backfills included, on
        // every engine: the plan below cannot go stale while the run goes on.
        self.lock(driver).await?;
        let mut report = RunReport::default();
        let result = self.run_request(driver, request, &mut report).await;
        match self.unlock(driver, result).await {
            Ok(()) => Ok(report),
            Err(error) => Err(RunFailure { report, error }),
        }
    }

    async fn run_request(
        &self,
        driver: &mut dyn Driver,
        request: Request,
        report: &mut RunReport,
    ) -> Result<()> {
        let engine = driver.engine();
        // Plan before creating anything, so a refused run leaves a fresh database untouched.
        let mut history = self.history(driver).await?;
        let request = match request {
            Request::Resume(to, skip_in_doubt) => {
                // A `running` row under the migration lock (every engine has
                // one) was left by a run that died (kill -9, a lost
                // connection): resume it like a failed one.
                let failed: Vec<HistoryRow> = history
                    .iter()
                    .filter(|row| matches!(row.state, HistoryState::Failed | HistoryState::Running))
                    .cloned()
                    .collect();
                if failed.is_empty() {
                    return Err(Error::Invalid(
                        "nothing to resume: no migration is failed or interrupted; run `cairn up`"
                            .to_owned(),
                    ));
                }
                if skip_in_doubt {
                    if let Some(row) = failed
                        .iter()
                        .find(|row| !crate::recovery::has_statement_in_doubt(row))
                    {
                        return Err(Error::Invalid(format!(
                            "--skip-in-doubt: migration {} ({}) has no statement in doubt: statement {} failed with an error, so it did not complete; nothing was changed. Fix it and run `cairn up --resume` without --skip-in-doubt",
                            row.version,
                            row.name,
                            row.statements_done.unwrap_or(0) + 1
                        )));
                    }
                }
                // Refuse before changing anything if something else is wrong.
                let resumed: Vec<Version> = failed.iter().map(|row| row.version).collect();
                let others: Vec<Problem> =
                    plan::problems(&self.migrations, &history, engine, self.options.plan)
                        .into_iter()
                        .filter(|p| {
                            !(resumed.contains(&p.version())
                                && matches!(p, Problem::Failed { .. } | Problem::Running { .. }))
                        })
                        .collect();
                if !others.is_empty() {
                    return Err(Error::Validation(crate::error::Problems(others)));
                }
                for row in &failed {
                    let applied = self.resume(driver, row, skip_in_doubt).await?;
                    report.migrations.push(applied);
                }
                history = self.history(driver).await?;
                Request::Up(to)
            }
            other => other,
        };
        if let Request::Up(to) = request {
            // Backfills interrupted by a crash or Ctrl-C continue first, from
            // their checkpoints, unless something else is wrong.
            let backfilling: Vec<HistoryRow> = history
                .iter()
                .filter(|row| row.state == HistoryState::Backfilling)
                .filter(|row| to.is_none_or(|to| row.version <= to))
                .cloned()
                .collect();
            if !backfilling.is_empty() {
                let problems =
                    plan::problems(&self.migrations, &history, engine, self.options.plan);
                if !problems.is_empty() {
                    return Err(Error::Validation(crate::error::Problems(problems)));
                }
                for row in &backfilling {
                    let applied = self.resume_backfills(driver, row).await?;
                    report.migrations.push(applied);
                }
                history = self.history(driver).await?;
            }
        }
        let steps = match request {
            Request::Resume(..) => unreachable!("resume was turned into up above"),
            Request::Up(to) => {
                plan::plan_up(&self.migrations, &history, engine, self.options.plan, to)?
                    .into_iter()
                    .map(|m| self.prepare(m, Direction::Up, driver))
                    .collect::<Result<Vec<_>>>()?
            }
            Request::Down(target) => plan::plan_down(&self.migrations, &history, engine, target)?
                .into_iter()
                .map(|m| self.prepare_down(m, &history, driver))
                .collect::<Result<Vec<_>>>()?,
            Request::Redo => {
                let chosen =
                    plan::plan_down(&self.migrations, &history, engine, DownTarget::Steps(1))?;
                let Some(last) = chosen.first() else {
                    return Err(Error::Invalid(
                        "nothing to redo: no migration is applied".to_owned(),
                    ));
                };
                vec![
                    self.prepare_down(last, &history, driver)?,
                    self.prepare(last, Direction::Up, driver)?,
                ]
            }
        };
        if steps.is_empty() {
            return Ok(());
        }
        self.ensure_tables(driver).await?;
        let mut session = None;
        for step in &steps {
            if self.hooks.stop.is_stopped() {
                return Err(Error::Stopped {
                    version: step.migration.version,
                    name: step.migration.name.clone(),
                });
            }
            let applied = self.run(driver, step, &mut session).await?;
            report.migrations.push(applied);
        }
        Ok(())
    }

    async fn ensure_tables(&self, driver: &mut dyn Driver) -> Result<()> {
        let sql = self.sql(driver);
        let engine = driver.engine();
        self.options.table.check_names(engine)?;
        for statement in sql.create() {
            driver
                .execute(&statement)
                .await
                .map_err(|e| Error::driver(engine, format!("creating {}", sql.table()), e))?;
        }
        Ok(())
    }

    async fn in_transaction(
        &self,
        driver: &mut dyn Driver,
        statements: &[String],
        context: &str,
    ) -> Result<()> {
        let engine = driver.engine();
        driver
            .begin()
            .await
            .map_err(|e| Error::driver(engine, context, e))?;
        for statement in statements {
            if let Err(e) = driver.execute(statement).await {
                let _ = driver.rollback().await;
                return Err(Error::driver(engine, context, e));
            }
        }
        driver
            .commit()
            .await
            .map_err(|e| Error::driver(engine, context, e))
    }

    /// [`Migrator::prepare`] for a rollback, remembering its history row.
    fn prepare_down<'m>(
        &self,
        migration: &'m Migration,
        history: &[HistoryRow],
        driver: &dyn Driver,
    ) -> Result<Prepared<'m>> {
        let mut step = self.prepare(migration, Direction::Down, driver)?;
        step.applied_row = history
            .iter()
            .find(|row| row.version == migration.version)
            .cloned();
        Ok(step)
    }

    fn prepare<'m>(
        &self,
        migration: &'m Migration,
        direction: Direction,
        driver: &dyn Driver,
    ) -> Result<Prepared<'m>> {
        let engine = driver.engine();
        let script = migration
            .script(direction, engine)
            .ok_or_else(|| Error::NoDownScript {
                version: migration.version,
                name: migration.name.clone(),
                engine,
                irreversible: if migration.is_irreversible(engine) {
                    " (declared irreversible)"
                } else {
                    ""
                },
            })?;
        let statements = split::split(&script.text, engine).map_err(|e| {
            let line = match &e {
                split::SplitError::Unterminated { line, .. }
                | split::SplitError::EmptyDelimiter { line } => *line,
                #[allow(unreachable_patterns)]
                _ => 1,
            };
            Error::Split {
                location: script.location(line),
                message: e.to_string(),
            }
        })?;
        let directives = &script.directives;
        let transactional = driver.capabilities().transactional_ddl && !directives.no_transaction;
        if transactional {
            refuse_transaction_control(migration, direction, engine, script, &statements)?;
        }
        Ok(Prepared {
            migration,
            direction,
            script,
            statements,
            transactional,
            settings: SessionSettings {
                lock_timeout: Some(
                    directives
                        .lock_timeout
                        .unwrap_or(self.options.statement_lock_timeout),
                ),
                statement_timeout: directives.statement_timeout,
            },
            applied_row: None,
        })
    }

    fn row(
        &self,
        step: &Prepared<'_>,
        engine: Engine,
        state: HistoryState,
        execution_ms: i64,
    ) -> HistoryRow {
        self.migration_row(step.migration, engine, state, execution_ms)
    }

    fn migration_row(
        &self,
        m: &Migration,
        engine: Engine,
        state: HistoryState,
        execution_ms: i64,
    ) -> HistoryRow {
        HistoryRow {
            version: m.version,
            name: m.name.clone(),
            kind: kind::SQL.to_owned(),
            checksum: m.checksum(engine).unwrap_or_default(),
            state,
            applied_at: UtcTime::now().rfc3339(),
            execution_ms,
            applied_by: self.options.actor.clone(),
            cairn_version: crate::CAIRN_VERSION.to_owned(),
            statements_done: None,
            statements_checksum: None,
            error: None,
        }
    }

    fn log_entry<'e>(
        &'e self,
        step: &'e Prepared<'_>,
        at: &'e str,
        ms: i64,
        detail: Option<&'e str>,
    ) -> LogEntry<'e> {
        LogEntry {
            version: step.migration.version,
            name: &step.migration.name,
            action: match step.direction {
                Direction::Up => LogAction::Up,
                Direction::Down => LogAction::Down,
            },
            success: detail.is_none(),
            at,
            duration_ms: ms,
            actor: &self.options.actor,
            detail,
        }
    }

    /// Runs one step. `session` remembers the settings last applied on this
    /// connection, so that they are sent only when a migration changes them.
    async fn run(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        session: &mut Option<SessionSettings>,
    ) -> Result<Applied> {
        let engine = driver.engine();
        // Engines without transactional DDL (MySQL) get the settings before
        // every migration: the driver also re-asserts session state there
        // (sql_mode) that a previous migration may have changed.
        let cache = driver.capabilities().transactional_ddl;
        if !cache || *session != Some(step.settings) {
            driver
                .apply_settings(&step.settings)
                .await
                .map_err(|e| Error::driver(engine, "setting lock and statement timeouts", e))?;
            *session = Some(step.settings);
        }
        let started = Instant::now();
        let skipped = if step.transactional {
            self.run_transactional(driver, step, started).await?
        } else {
            self.run_outside_transaction(driver, step, started).await?
        };
        let backfilled = if skipped || !self.backfills_up(step) {
            None
        } else {
            Some(self.run_backfills(driver, step.migration, started).await?)
        };
        Ok(Applied {
            version: step.migration.version,
            name: step.migration.name.clone(),
            direction: step.direction,
            duration_ms: elapsed_ms(started),
            statements: step.statements.len(),
            transactional: step.transactional,
            skipped,
            backfilled,
            recovered: None,
        })
    }

    /// Whether another runner already did this step (checked under the write lock).
    async fn done_by_other(&self, driver: &mut dyn Driver, step: &Prepared<'_>) -> Result<bool> {
        if driver.capabilities().lock != LockKind::WriteTransaction {
            return Ok(false);
        }
        let engine = driver.engine();
        let version = step.migration.version;
        let rows = match driver
            .query(&self.sql(driver).select_version(version))
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                let _ = driver.rollback().await;
                return Err(Error::driver(engine, "re-reading the history", e));
            }
        };
        let state = rows.first().and_then(|row| row.first().cloned().flatten());
        match (step.direction, state.as_deref()) {
            (Direction::Up, None) => Ok(false),
            (Direction::Up, Some("applied")) | (Direction::Down, None) => Ok(true),
            // Under the backfill lock (taken for the run), a `backfilling` row is
            // one a stopped or killed run left: `plan_down` rolls it back like
            // an applied one, as on engines with a session lock.
            (Direction::Down, Some("applied" | "backfilling")) => Ok(false),
            (_, Some(state)) => {
                // Another run is in the middle of it (or failed in it): going on
                // would apply later migrations on top of a half-done one.
                let _ = driver.rollback().await;
                Err(Error::Invalid(format!(
                    "migration {version} ({}) is {state} in the history, written by another run meanwhile; stopped here. Wait for that run, then check `cairn status`",
                    step.migration.name
                )))
            }
        }
    }

    /// Returns `Ok(true)` when the step was skipped because another runner did it.
    async fn run_transactional(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        started: Instant,
    ) -> Result<bool> {
        let engine = driver.engine();
        let sql = self.sql(driver);
        let mut attempt = 0;
        loop {
            if let Err(e) = driver.begin().await {
                // SQLite's BEGIN IMMEDIATE waits for the write lock: retry it like a statement.
                if e.kind == DriverErrorKind::LockTimeout && attempt < self.options.lock_retries {
                    self.backoff(attempt).await;
                    attempt += 1;
                    continue;
                }
                return Err(Error::driver(
                    engine,
                    format!(
                        "starting the transaction for migration {} (after {attempt} retries)",
                        step.migration.version
                    ),
                    self.gave_up(engine, step, e, attempt),
                ));
            }
            if self.done_by_other(driver, step).await? {
                let _ = driver.rollback().await;
                return Ok(true);
            }
            match self.execute_statements(driver, step, 0, false, None).await {
                Ok(_) => {}
                // Without progress recording only statements fail (at an
                // index, or at one the driver could not name).
                Err(failure) => {
                    let (index, e) = match failure {
                        StepError::Statement(index, e) | StepError::Progress(index, e) => {
                            (Some(index), e)
                        }
                        StepError::Batch(e) => (None, e),
                    };
                    // Claim a rollback only when the transaction was still open.
                    let open = match sql.transaction_probe() {
                        Some(probe) => sql.transaction_still_open(&driver.execute(probe).await),
                        None => None,
                    };
                    let rolled_back = driver.rollback().await;
                    let undone = open == Some(true) && rolled_back.is_ok();
                    if undone
                        && e.kind == DriverErrorKind::LockTimeout
                        && attempt < self.options.lock_retries
                    {
                        self.backoff(attempt).await;
                        attempt += 1;
                        continue;
                    }
                    let outcome = match (open, rolled_back) {
                        (Some(true), Ok(())) => "the transaction was rolled back: the database and the history are unchanged".to_owned(),
                        (Some(false), _) => "Cairn's transaction had already ended when this statement failed (a statement of the script, or the engine on this error, ended it): statements before it may be committed while the history does not record the migration. Check the database and undo what remains by hand, then remove the transaction control from the script or mark it `-- cairn:no-transaction`".to_owned(),
                        (None, _) if e.kind == DriverErrorKind::Connection => "the connection was lost, and the server rolled back the transaction that was open on it: the database and the history are unchanged (`cairn status` on a new connection tells)".to_owned(),
                        (_, Err(rollback)) => format!("Cairn could not roll its transaction back ({rollback}): a lost connection rolls it back on the server, but check the database and `cairn status` before running again"),
                        (None, Ok(())) => "Cairn could not confirm that its transaction was still open: a lost connection rolls it back on the server, but check the database and `cairn status` before running again".to_owned(),
                    };
                    let e = self.gave_up(engine, step, e, attempt);
                    let error = match index {
                        Some(index) => self.statement_error(engine, step, index, &e, outcome),
                        None => Error::driver(
                            engine,
                            format!(
                                "{} of migration {} ({}) failed in its transaction ({outcome})",
                                step.direction, step.migration.version, step.migration.name
                            ),
                            e,
                        ),
                    };
                    self.log_failure(driver, step, started, &error).await;
                    return Err(error);
                }
            }
            let ms = elapsed_ms(started);
            let now = UtcTime::now().rfc3339();
            let mut bookkeeping = match step.direction {
                // With backfills to run, the row says so until the last one
                // finishes, and the log entry waits for that.
                Direction::Up if self.backfills_up(step) => {
                    vec![sql.insert(&self.row(step, engine, HistoryState::Backfilling, ms))]
                }
                Direction::Up => vec![
                    sql.insert(&self.row(step, engine, HistoryState::Applied, ms)),
                    sql.log(&self.log_entry(step, &now, ms, None)),
                ],
                Direction::Down => vec![
                    sql.delete(step.migration.version),
                    sql.log(&self.log_entry(step, &now, ms, None)),
                ],
            };
            if step.direction == Direction::Down && !step.migration.backfills().is_empty() {
                let checkpoints = sql.checkpoints();
                bookkeeping.push(checkpoints.create());
                bookkeeping.push(checkpoints.delete(step.migration.version));
            }
            let bookkeeping: Vec<&str> = bookkeeping.iter().map(String::as_str).collect();
            if let Err((_, e)) = driver.execute_many(&bookkeeping).await {
                let _ = driver.rollback().await;
                return Err(Error::driver(
                    engine,
                    "recording the migration in the history",
                    e,
                ));
            }
            driver.commit().await.map_err(|e| {
                Error::driver(
                    engine,
                    format!(
                        "committing migration {} (if the connection was lost, the commit may or may not have taken effect: `cairn status` on a new connection tells)",
                        step.migration.version
                    ),
                    e,
                )
            })?;
            return Ok(false);
        }
    }

    async fn run_outside_transaction(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        started: Instant,
    ) -> Result<bool> {
        let engine = driver.engine();
        let sql = self.sql(driver);
        // Claim the migration with a `running` row, committed before any statement runs.
        let mut row = self.row(step, engine, HistoryState::Running, 0);
        row.statements_done = Some(0);
        if step.direction == Direction::Down {
            // Marks the row as a rollback in progress, so `--resume` never
            // mistakes it for an interrupted up.
            row.error = Some(DOWN_IN_PROGRESS.to_owned());
        }
        let claim = match step.direction {
            Direction::Up => sql.insert(&row),
            // Keep the applied row's identity; mark it running while it rolls back.
            Direction::Down => sql.update(&row),
        };
        if driver.capabilities().lock == LockKind::Session {
            // Under the session lock nobody else can claim it: one autocommitted write.
            driver
                .execute(&claim)
                .await
                .map_err(|e| Error::driver(engine, "claiming the migration in the history", e))?;
        } else {
            // Without one, re-check and claim under the engine's write lock.
            driver
                .begin()
                .await
                .map_err(|e| Error::driver(engine, "claiming the migration", e))?;
            if self.done_by_other(driver, step).await? {
                let _ = driver.rollback().await;
                return Ok(true);
            }
            if let Err(e) = driver.execute(&claim).await {
                let _ = driver.rollback().await;
                return Err(Error::driver(
                    engine,
                    "claiming the migration in the history",
                    e,
                ));
            }
            driver
                .commit()
                .await
                .map_err(|e| Error::driver(engine, "claiming the migration", e))?;
        }
        self.continue_outside_transaction(driver, step, row, 0, false, started)
            .await?;
        Ok(false)
    }

    /// Runs the statements of `step` from `from` on, recording progress in
    /// `row` (already committed as `running`), and finishes or fails the row.
    /// With `in_doubt`, statement `from` is the one an interrupted run may
    /// have completed (see [`crate::recovery`]). Returns what was decided
    /// about it.
    async fn continue_outside_transaction(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        mut row: HistoryRow,
        from: usize,
        in_doubt: bool,
        started: Instant,
    ) -> Result<Option<String>> {
        let engine = driver.engine();
        let sql = self.sql(driver);
        let version = step.migration.version;
        let outcome = self
            .execute_statements(driver, step, from, in_doubt, Some((&sql, &mut row)))
            .await;
        let recovered = match outcome {
            Ok(recovered) => recovered,
            Err(StepError::Progress(index, e)) => {
                let n = index + 1;
                let next = match step.direction {
                    Direction::Up => "run `cairn up --resume --skip-in-doubt`, which records it as completed without running it again".to_owned(),
                    Direction::Down => crate::recovery::rollback_advice().to_owned(),
                };
                return Err(Error::driver(
                    engine,
                    format!(
                        "recording progress after statement {n} of {} of migration {version} ({}: `{}`): the statement completed, but the history still counts {index} done, so the next run sees statement {n} as in doubt; {next}",
                        step.statements.len(),
                        step.script.location(step.statements[index].line),
                        crate::recovery::first_line(&step.statements[index].sql),
                    ),
                    e,
                ));
            }
            Err(StepError::Statement(index, e)) => {
                return Err(self
                    .fail_outside_transaction(driver, step, row, from, in_doubt, index, e, started)
                    .await);
            }
            // Progress is recorded statement by statement, never in a batch.
            Err(StepError::Batch(e)) => {
                return Err(Error::driver(
                    engine,
                    format!("running migration {version} ({})", step.migration.name),
                    e,
                ));
            }
        };
        let ms = elapsed_ms(started);
        let now = UtcTime::now().rfc3339();
        if self.backfills_up(step) {
            // The statements are done; the backfills run next (see `run`).
            row.state = HistoryState::Backfilling;
            row.execution_ms = ms;
            driver
                .execute(&sql.update(&row))
                .await
                .map_err(|e| Error::driver(engine, "recording the migration in the history", e))?;
            return Ok(recovered);
        }
        let mut finish = vec![match step.direction {
            Direction::Up => {
                row.state = HistoryState::Applied;
                row.execution_ms = ms;
                row.statements_done = None;
                row.statements_checksum = None;
                row.error = None;
                sql.update(&row)
            }
            Direction::Down => sql.delete(version),
        }];
        finish.push(sql.log(&LogEntry {
            detail: recovered.as_deref(),
            success: true,
            ..self.log_entry(step, &now, ms, None)
        }));
        if step.direction == Direction::Down && !step.migration.backfills().is_empty() {
            let checkpoints = sql.checkpoints();
            driver.execute(&checkpoints.create()).await.map_err(|e| {
                Error::driver(engine, format!("creating {}", checkpoints.table()), e)
            })?;
            finish.push(checkpoints.delete(version));
        }
        self.in_transaction(driver, &finish, "recording the migration in the history")
            .await?;
        Ok(recovered)
    }

    /// Records that statement `index` of `step` failed outside a transaction
    /// and returns the error that says what is left and what to run.
    #[allow(clippy::too_many_arguments)] // one call site; the parts are the failure's context
    async fn fail_outside_transaction(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        mut row: HistoryRow,
        from: usize,
        in_doubt: bool,
        index: usize,
        e: DriverError,
        started: Instant,
    ) -> Error {
        let engine = driver.engine();
        let sql = self.sql(driver);
        let version = step.migration.version;
        let n = index + 1;
        let statement = &step.statements[index];
        let named = format!(
            "statement {n} ({}: `{}`)",
            step.script.location(statement.line),
            crate::recovery::first_line(&statement.sql)
        );
        // A lock timeout at the first statement, with nothing of this
        // migration done before: the server did nothing, so the history goes
        // back to what it was and a plain retry (a deploy loop) heals.
        let untouched =
            e.kind == DriverErrorKind::LockTimeout && index == 0 && from == 0 && !in_doubt;
        if untouched {
            let (undo, state) = match (step.direction, &step.applied_row) {
                (Direction::Up, _) => (
                    Some(sql.delete(version)),
                    "the history no longer mentions it",
                ),
                (Direction::Down, Some(applied)) => (
                    Some(sql.update(applied)),
                    "the history marks it applied again",
                ),
                (Direction::Down, None) => (None, ""),
            };
            if let Some(undo) = undo {
                if driver.execute(&undo).await.is_ok() {
                    let command = match step.direction {
                        Direction::Up => "cairn up",
                        Direction::Down => "the same command",
                    };
                    let outcome = format!(
                        "{named} timed out waiting for a lock held by another session (after {} retries), before anything of this migration ran: nothing changed and {state}; retrying is safe: run {command} again once that session is done (or raise lock_timeout in cairn.toml or with `-- cairn:lock-timeout`)",
                        self.options.lock_retries
                    );
                    let error = self.statement_error(engine, step, index, &e, outcome);
                    self.log_failure(driver, step, started, &error).await;
                    return error;
                }
            }
        }
        let lost = e.kind == DriverErrorKind::Connection;
        // The statement stays in doubt when the connection was lost during
        // it, or when it was in doubt before and running it again failed.
        let doubt = step.direction == Direction::Up && (lost || (in_doubt && index == from));
        row.state = HistoryState::Failed;
        row.execution_ms = elapsed_ms(started);
        row.error = Some(format!(
            "{}{} statement {n} of {} ({}): {e}",
            if doubt {
                crate::recovery::IN_DOUBT_PREFIX
            } else {
                ""
            },
            step.direction.as_str(),
            step.statements.len(),
            step.script.location(statement.line)
        ));
        let recorded = driver.execute(&sql.update(&row)).await.is_ok();
        let what = match step.direction {
            Direction::Up => "migration",
            Direction::Down => "rollback",
        };
        let history = match (recorded, lost) {
            (true, _) => {
                format!("the history marks migration {version} as failed after {index} statement(s)")
            }
            (false, true) => format!("the history still marks migration {version} as running after {index} statement(s), which tells the next run that statement {n} is in doubt"),
            (false, false) => format!("the history could not be updated and still marks migration {version} as running after {index} statement(s)"),
        };
        let outcome = if step.direction == Direction::Down {
            let during = if lost {
                format!(
                    "the connection was lost during {named}, which may or may not have completed"
                )
            } else {
                format!("{named} failed")
            };
            format!(
                "{during}; this rollback ran outside a transaction: the {index} statement(s) before it were committed and stay; {history}. {}",
                crate::recovery::rollback_advice()
            )
        } else if lost {
            format!(
                "the connection was lost during {named} of this {what}, which ran outside a transaction: the {index} statement(s) before it were committed and stay, and statement {n} may or may not have completed; {history}. On a new connection, {}",
                crate::recovery::resume_in_doubt_advice()
            )
        } else if doubt {
            format!(
                "{named} was in doubt after an interrupted run, and running it again failed; the {index} statement(s) before it were committed and stay; {history}. {}",
                crate::recovery::in_doubt_failed_advice()
            )
        } else {
            format!(
                "this {what} ran outside a transaction: the {index} statement(s) before it were committed and stay; {history}. {}",
                crate::recovery::resume_failed_advice(index as i64)
            )
        };
        let error = self.statement_error(engine, step, index, &e, outcome);
        self.log_failure(driver, step, started, &error).await;
        error
    }

    /// Continues a migration that failed or was interrupted outside a
    /// transaction, from the statement that failed or is in doubt, if the
    /// statements that completed are unchanged. With `skip_in_doubt` the
    /// statement in doubt is recorded as completed without running it.
    async fn resume(
        &self,
        driver: &mut dyn Driver,
        row: &HistoryRow,
        skip_in_doubt: bool,
    ) -> Result<Applied> {
        let engine = driver.engine();
        let version = row.version;
        if crate::recovery::is_rollback(row) {
            return Err(Error::Invalid(format!(
                "migration {version} ({}) failed while rolling back, or was interrupted; {}",
                row.name,
                crate::recovery::rollback_advice()
            )));
        }
        let migration = plan::applicable(&self.migrations, engine)
            .get(&version)
            .copied()
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "migration {version} ({}) failed and is no longer on disk: restore it to resume, or fix the database by hand and run `cairn repair`",
                    row.name
                ))
            })?;
        let step = self.prepare(migration, Direction::Up, driver)?;
        let mut done = usize::try_from(row.statements_done.unwrap_or(0)).unwrap_or(usize::MAX);
        let unchanged = done <= step.statements.len()
            && (done == 0
                || row.statements_checksum.as_deref()
                    == Some(&crate::checksum::statements_checksum(
                        step.statements[..done].iter().map(|s| s.sql.as_str()),
                    )));
        if !unchanged {
            return Err(Error::ResumeChanged {
                version,
                name: migration.name.clone(),
                done,
            });
        }
        let mut in_doubt =
            crate::recovery::has_statement_in_doubt(row) && done < step.statements.len();
        let mut recovered = None;
        if skip_in_doubt && in_doubt {
            let statement = &step.statements[done];
            recovered = Some(format!(
                "statement {} of {} ({}: `{}`), in doubt after an interrupted run, recorded as completed without running it (--skip-in-doubt)",
                done + 1,
                step.statements.len(),
                step.script.location(statement.line),
                crate::recovery::first_line(&statement.sql)
            ));
            done += 1;
            in_doubt = false;
        }
        let started = Instant::now();
        let mut running = row.clone();
        running.state = HistoryState::Running;
        running.error = None;
        running.checksum = migration.checksum(engine).unwrap_or_default();
        running.applied_at = UtcTime::now().rfc3339();
        running.applied_by.clone_from(&self.options.actor);
        running.statements_done = Some(done as i64);
        running.statements_checksum = (done > 0).then(|| {
            crate::checksum::statements_checksum(
                step.statements[..done].iter().map(|s| s.sql.as_str()),
            )
        });
        driver
            .apply_settings(&step.settings)
            .await
            .map_err(|e| Error::driver(engine, "setting lock and statement timeouts", e))?;
        driver
            .execute(&self.sql(driver).update(&running))
            .await
            .map_err(|e| Error::driver(engine, "marking the migration as running again", e))?;
        let confirmed = self
            .continue_outside_transaction(driver, &step, running, done, in_doubt, started)
            .await?;
        let backfilled = if self.backfills_up(&step) {
            Some(self.run_backfills(driver, migration, started).await?)
        } else {
            None
        };
        Ok(Applied {
            version,
            name: migration.name.clone(),
            direction: Direction::Up,
            duration_ms: elapsed_ms(started),
            statements: step.statements.len() - done,
            transactional: false,
            skipped: false,
            backfilled,
            recovered: recovered.or(confirmed),
        })
    }

    /// Whether `step` applies a migration that has backfills to run after its SQL.
    fn backfills_up(&self, step: &Prepared<'_>) -> bool {
        step.direction == Direction::Up && !step.migration.backfills().is_empty()
    }

    /// Runs the backfills of `migration`, whose row is `backfilling`, each
    /// from its checkpoint, then records the migration as applied. Returns
    /// the rows changed by this run.
    async fn run_backfills(
        &self,
        driver: &mut dyn Driver,
        migration: &Migration,
        started: Instant,
    ) -> Result<i64> {
        let engine = driver.engine();
        let sql = self.sql(driver);
        let checkpoints = sql.checkpoints();
        let backfills = migration.backfills();
        let mut changed = 0;
        for (step, backfill) in backfills.iter().enumerate() {
            // A backfill's batches are the user's work: they may take long.
            driver.set_workload(Workload::User);
            let outcome = backfill::run(
                driver,
                backfill,
                &backfill::Context {
                    version: migration.version,
                    migration: &migration.name,
                    step,
                    steps: backfills.len(),
                    checkpoints: &checkpoints,
                    hooks: &self.hooks,
                    lock_retries: self.options.lock_retries,
                    retry_backoff: self.options.retry_backoff,
                    retry_backoff_max: self.options.retry_backoff_max,
                },
            )
            .await;
            driver.set_workload(Workload::Bookkeeping);
            let (_, changed_now) = outcome?;
            changed += changed_now;
        }
        let ms = elapsed_ms(started);
        let now = UtcTime::now().rfc3339();
        let row = self.migration_row(migration, engine, HistoryState::Applied, ms);
        let log = sql.log(&LogEntry {
            version: migration.version,
            name: &migration.name,
            action: LogAction::Up,
            success: true,
            at: &now,
            duration_ms: ms,
            actor: &self.options.actor,
            detail: None,
        });
        self.in_transaction(
            driver,
            &[sql.update(&row), log],
            "recording the migration as applied after its backfills",
        )
        .await?;
        Ok(changed)
    }

    /// Resumes the backfills of a migration whose row is `backfilling`: a run
    /// that was stopped or died (under the lock, no other run is at it).
    async fn resume_backfills(&self, driver: &mut dyn Driver, row: &HistoryRow) -> Result<Applied> {
        let engine = driver.engine();
        let migration = plan::applicable(&self.migrations, engine)
            .get(&row.version)
            .copied()
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "migration {} ({}) is backfilling but is no longer on disk: restore it and run `cairn up`",
                    row.version, row.name
                ))
            })?;
        let step = self.prepare(migration, Direction::Up, driver)?;
        driver
            .apply_settings(&step.settings)
            .await
            .map_err(|e| Error::driver(engine, "setting lock and statement timeouts", e))?;
        let started = Instant::now();
        let backfilled = self.run_backfills(driver, migration, started).await?;
        Ok(Applied {
            version: migration.version,
            name: migration.name.clone(),
            direction: Direction::Up,
            duration_ms: elapsed_ms(started),
            statements: 0,
            transactional: false,
            skipped: false,
            backfilled: Some(backfilled),
            recovered: None,
        })
    }

    /// Runs the statements from `from`; outside a transaction, records progress
    /// in `progress` after each one. On failure returns the statement's index.
    /// With `in_doubt`, statement `from` may have completed in an interrupted
    /// run: an error that the driver says means "already done" counts it as
    /// completed, and the returned note says so.
    async fn execute_statements(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        from: usize,
        in_doubt: bool,
        mut progress: Option<(&HistorySql, &mut HistoryRow)>,
    ) -> Result<Option<String>, StepError> {
        if progress.is_none() {
            // In a transaction nothing is recorded between statements: let the
            // driver send them together (one round trip or thread hop where it can).
            let statements: Vec<&str> = step.statements[from..]
                .iter()
                .map(|s| s.sql.as_str())
                .collect();
            driver.set_workload(Workload::User);
            let outcome = crate::driver::checked_execute_many(driver, &statements).await;
            driver.set_workload(Workload::Bookkeeping);
            return match outcome {
                Ok(()) => Ok(None),
                Err(BatchFailure {
                    index: Some(index),
                    error,
                }) => Err(StepError::Statement(from + index, error)),
                Err(BatchFailure { index: None, error }) => Err(StepError::Batch(error)),
            };
        }
        let mut recovered = None;
        for (index, statement) in step.statements.iter().enumerate().skip(from) {
            let mut attempt = 0;
            loop {
                driver.set_workload(Workload::User);
                let outcome = driver.execute(&statement.sql).await;
                driver.set_workload(Workload::Bookkeeping);
                match outcome {
                    Ok(_) => break,
                    // Outside a transaction a statement that timed out on a lock did nothing: retry it.
                    Err(e)
                        if progress.is_some()
                            && e.kind == DriverErrorKind::LockTimeout
                            && attempt < self.options.lock_retries =>
                    {
                        self.backoff(attempt).await;
                        attempt += 1;
                    }
                    // Only the statement in doubt, and only for errors that mean
                    // its effect is there: it completed in the interrupted run.
                    Err(e) if in_doubt && index == from && driver.confirms_completed(&e).await => {
                        recovered = Some(format!(
                            "statement {} of {} ({}: `{}`), in doubt after an interrupted run, had completed: running it again answered \"{e}\", so it was counted as completed",
                            index + 1,
                            step.statements.len(),
                            step.script.location(statement.line),
                            crate::recovery::first_line(&statement.sql)
                        ));
                        tracing::info!(statement = index + 1, error = %e, "the statement in doubt had completed");
                        break;
                    }
                    Err(e) => {
                        let e = self.gave_up(driver.engine(), step, e, attempt);
                        return Err(StepError::Statement(index, e));
                    }
                }
            }
            if let Some((sql, row)) = progress.as_mut() {
                row.statements_done = Some(index as i64 + 1);
                row.statements_checksum = Some(crate::checksum::statements_checksum(
                    step.statements[..=index].iter().map(|s| s.sql.as_str()),
                ));
                driver
                    .execute(&sql.update(row))
                    .await
                    .map_err(|e| StepError::Progress(index, e))?;
            }
        }
        Ok(recovered)
    }

    fn statement_error(
        &self,
        engine: Engine,
        step: &Prepared<'_>,
        index: usize,
        e: &DriverError,
        outcome: String,
    ) -> Error {
        Error::Statement {
            direction: step.direction,
            version: step.migration.version,
            name: step.migration.name.clone(),
            engine,
            location: step.script.location(step.statements[index].line),
            index: index + 1,
            count: step.statements.len(),
            message: e.to_string(),
            kind: e.kind,
            outcome,
        }
    }

    /// Appends a failed entry to the log; a failure to log is not the user's problem here.
    async fn log_failure(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        started: Instant,
        error: &Error,
    ) {
        let now = UtcTime::now().rfc3339();
        let detail = error.to_string();
        let entry = self.log_entry(step, &now, elapsed_ms(started), Some(&detail));
        let statement = self.sql(driver).log(&entry);
        if let Err(e) = driver.execute(&statement).await {
            tracing::warn!(error = %e, "could not append the failure to the history log");
        }
    }

    async fn backoff(&self, attempt: u32) {
        let delay = retry::backoff(
            self.options.retry_backoff,
            self.options.retry_backoff_max,
            attempt,
        );
        tracing::info!(
            attempt = attempt + 1,
            delay_ms = delay.as_millis() as u64,
            "statement timed out waiting for a lock; retrying"
        );
        tokio::time::sleep(delay).await;
    }

    /// A lock timeout that used up the retries, saying so.
    fn gave_up(
        &self,
        engine: Engine,
        step: &Prepared<'_>,
        e: DriverError,
        attempt: u32,
    ) -> DriverError {
        if e.kind != DriverErrorKind::LockTimeout {
            return e;
        }
        let timeout = step
            .settings
            .lock_timeout
            .unwrap_or(self.options.statement_lock_timeout);
        retry::gave_up(engine, e, attempt + 1, timeout)
    }
}

/// Refuses a script run in Cairn's transaction that starts or ends one itself
/// (see [`split::transaction_control`]).
fn refuse_transaction_control(
    migration: &Migration,
    direction: Direction,
    engine: Engine,
    script: &Script,
    statements: &[Statement],
) -> Result<()> {
    for statement in statements {
        if let Some(keywords) = split::transaction_control(&statement.sql) {
            return Err(Error::TransactionControl {
                location: script.location(statement.line),
                statement: keywords,
                direction,
                version: migration.version,
                name: migration.name.clone(),
                engine,
            });
        }
    }
    Ok(())
}

/// A lock held by another runner is a [`Error::LockTimeout`] naming the
/// holder; anything else is a driver error in `context`.
fn lock_error(engine: Engine, started: Instant, context: &str, e: DriverError) -> Error {
    match e.kind {
        DriverErrorKind::LockHeld => Error::LockTimeout {
            engine,
            waited_ms: started.elapsed().as_millis(),
            holder: e.message,
        },
        _ => Error::driver(engine, context, e),
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

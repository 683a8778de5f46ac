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
//!   until it is repaired.
//!
//! With [`LockKind::WriteTransaction`] (SQLite) there is no session lock: each
//! migration's transaction starts by taking the write lock and re-reading the
//! history for its version, and skips a migration another runner applied.
//!
//! A statement that times out waiting for a lock held by another session is
//! retried with a jittered, capped backoff (`MigratorOptions::lock_retries`;
//! see [`crate::retry`]), so DDL never queues for long in front of the
//! application's queries.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::backfill::{self, DataMigration, Hooks, ProgressFn, StopSignal};
use crate::clock::UtcTime;
use crate::driver::{Driver, DriverError, DriverErrorKind, LockKind, SessionSettings};
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
}

/// What a locked run was asked to do.
#[derive(Clone, Copy, Debug)]
enum Request {
    Up(Option<Version>),
    Resume(Option<Version>),
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
        self.run_locked(driver, Request::Resume(to)).await
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

    /// Takes the migration lock when the engine has a session lock.
    async fn lock(&self, driver: &mut dyn Driver) -> Result<()> {
        if driver.capabilities().lock != LockKind::Session {
            return Ok(());
        }
        let engine = driver.engine();
        let started = Instant::now();
        driver
            .lock(self.options.lock_wait)
            .await
            .map_err(|e| lock_error(engine, started, "taking the migration lock", e))
    }

    /// Releases the lock; an error releasing it matters only if the work succeeded.
    async fn unlock<T>(&self, driver: &mut dyn Driver, result: Result<T>) -> Result<T> {
        if driver.capabilities().lock != LockKind::Session {
            return result;
        }
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
        self.lock(driver).await?;
        let mut report = RunReport::default();
        let result = match self.lock_backfills(driver).await {
            Ok(locked) => {
                let result = self.run_request(driver, request, &mut report).await;
                if locked {
                    if let Err(e) = driver.unlock_backfill().await {
                        tracing::warn!(error = %e, "could not release the backfill lock");
                    }
                }
                result
            }
            Err(e) => Err(e),
        };
        match self.unlock(driver, result).await {
            Ok(()) => Ok(report),
            Err(error) => Err(RunFailure { report, error }),
        }
    }

    /// On an engine without a session lock, takes the driver's backfill lock
    /// for the run when any migration has backfills. Returns whether it did.
    async fn lock_backfills(&self, driver: &mut dyn Driver) -> Result<bool> {
        if driver.capabilities().lock == LockKind::Session
            || self.migrations.iter().all(|m| m.backfills().is_empty())
        {
            return Ok(false);
        }
        let engine = driver.engine();
        let started = Instant::now();
        driver
            .lock_backfill(self.options.lock_wait)
            .await
            .map_err(|e| lock_error(engine, started, "taking the backfill lock", e))?;
        Ok(true)
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
            Request::Resume(to) => {
                // A `running` row under our session lock was left by a run that
                // died (a crash, a lost connection): resume it like a failed one.
                // Without a session lock another runner may still be running it.
                let session = driver.capabilities().lock == LockKind::Session;
                let failed: Vec<HistoryRow> = history
                    .iter()
                    .filter(|row| {
                        row.state == HistoryState::Failed
                            || (session && row.state == HistoryState::Running)
                    })
                    .cloned()
                    .collect();
                if failed.is_empty() {
                    return Err(Error::Invalid(
                        "nothing to resume: no migration is marked failed; run `cairn up`"
                            .to_owned(),
                    ));
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
                    let applied = self.resume(driver, row).await?;
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
            Request::Resume(_) => unreachable!("resume was turned into up above"),
            Request::Up(to) => {
                plan::plan_up(&self.migrations, &history, engine, self.options.plan, to)?
                    .into_iter()
                    .map(|m| self.prepare(m, Direction::Up, driver))
                    .collect::<Result<Vec<_>>>()?
            }
            Request::Down(target) => plan::plan_down(&self.migrations, &history, engine, target)?
                .into_iter()
                .map(|m| self.prepare(m, Direction::Down, driver))
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
                    self.prepare(last, Direction::Down, driver)?,
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
        Ok(Prepared {
            migration,
            direction,
            script,
            statements,
            transactional: driver.capabilities().transactional_ddl && !directives.no_transaction,
            settings: SessionSettings {
                lock_timeout: Some(
                    directives
                        .lock_timeout
                        .unwrap_or(self.options.statement_lock_timeout),
                ),
                statement_timeout: directives.statement_timeout,
            },
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
            match self.execute_statements(driver, step, 0, None).await {
                Ok(()) => {}
                // Without progress recording only statements fail.
                Err(StepError::Statement(index, e) | StepError::Progress(index, e)) => {
                    let _ = driver.rollback().await;
                    if e.kind == DriverErrorKind::LockTimeout && attempt < self.options.lock_retries
                    {
                        self.backoff(attempt).await;
                        attempt += 1;
                        continue;
                    }
                    let outcome = "the transaction was rolled back: the database and the history are unchanged".to_owned();
                    let e = self.gave_up(engine, step, e, attempt);
                    let error = self.statement_error(engine, step, index, &e, outcome);
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
        self.continue_outside_transaction(driver, step, row, 0, started)
            .await?;
        Ok(false)
    }

    /// Runs the statements of `step` from `from` on, recording progress in
    /// `row` (already committed as `running`), and finishes or fails the row.
    async fn continue_outside_transaction(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        mut row: HistoryRow,
        from: usize,
        started: Instant,
    ) -> Result<()> {
        let engine = driver.engine();
        let sql = self.sql(driver);
        let failure = self
            .execute_statements(driver, step, from, Some((&sql, &mut row)))
            .await;
        if let Err(StepError::Progress(index, e)) = failure {
            return Err(Error::driver(
                engine,
                format!(
                    "recording progress after statement {} of {} of migration {}: the statement completed but the history still counts {index} done; check the database before `cairn up --resume` or `cairn repair`",
                    index + 1,
                    step.statements.len(),
                    step.migration.version
                ),
                e,
            ));
        }
        if let Err(StepError::Statement(index, e)) = failure {
            row.state = HistoryState::Failed;
            row.execution_ms = elapsed_ms(started);
            row.error = Some(format!(
                "{} statement {} of {} ({}): {e}",
                step.direction.as_str(),
                index + 1,
                step.statements.len(),
                step.script.location(step.statements[index].line)
            ));
            let recorded = driver.execute(&sql.update(&row)).await.is_ok();
            let version = step.migration.version;
            let n = index + 1;
            let what = match step.direction {
                Direction::Up => "migration",
                Direction::Down => "rollback",
            };
            let next = match step.direction {
                Direction::Up => "Check the database, then run `cairn up --resume` on a new connection (it runs that statement again), or restore the database by hand and run `cairn repair`",
                Direction::Down => "Finish or undo the rollback by hand, then run `cairn repair`",
            };
            let history = if recorded {
                format!(
                    "the history marks migration {version} as failed after {index} statement(s)"
                )
            } else {
                format!("the history could not be updated and still marks migration {version} as running after {index} statement(s)")
            };
            let outcome = if e.kind == DriverErrorKind::Connection {
                format!(
                    "the connection was lost during statement {n} of this {what}, which ran outside a transaction: the {index} statement(s) before it were committed and stay, and statement {n} may or may not have completed; {history}. {next}"
                )
            } else {
                let next = match step.direction {
                    Direction::Up => "Either fix the failing statement (leave the ones before it unchanged) and run `cairn up --resume`, or bring the database back to the state before the migration by hand and run `cairn repair`",
                    Direction::Down => next,
                };
                format!(
                    "this {what} ran outside a transaction: the {index} statement(s) before it were committed and stay; {history}. {next}"
                )
            };
            let error = self.statement_error(engine, step, index, &e, outcome);
            self.log_failure(driver, step, started, &error).await;
            return Err(error);
        }
        let ms = elapsed_ms(started);
        let now = UtcTime::now().rfc3339();
        if self.backfills_up(step) {
            // The statements are done; the backfills run next (see `run`).
            row.state = HistoryState::Backfilling;
            row.execution_ms = ms;
            return driver
                .execute(&sql.update(&row))
                .await
                .map(drop)
                .map_err(|e| Error::driver(engine, "recording the migration in the history", e));
        }
        let mut finish = vec![match step.direction {
            Direction::Up => {
                row.state = HistoryState::Applied;
                row.execution_ms = ms;
                row.statements_done = None;
                row.statements_checksum = None;
                sql.update(&row)
            }
            Direction::Down => sql.delete(step.migration.version),
        }];
        finish.push(sql.log(&self.log_entry(step, &now, ms, None)));
        if step.direction == Direction::Down && !step.migration.backfills().is_empty() {
            let checkpoints = sql.checkpoints();
            driver.execute(&checkpoints.create()).await.map_err(|e| {
                Error::driver(engine, format!("creating {}", checkpoints.table()), e)
            })?;
            finish.push(checkpoints.delete(step.migration.version));
        }
        self.in_transaction(driver, &finish, "recording the migration in the history")
            .await?;
        Ok(())
    }

    /// Continues a migration that failed outside a transaction, from the
    /// statement that failed, if the statements that completed are unchanged.
    async fn resume(&self, driver: &mut dyn Driver, row: &HistoryRow) -> Result<Applied> {
        let engine = driver.engine();
        let version = row.version;
        if row.error.as_deref().is_some_and(|e| e.starts_with("down ")) {
            return Err(Error::Invalid(format!(
                "migration {version} ({}) failed while rolling back; --resume only continues an up: finish or undo the rollback by hand, then run `cairn repair`",
                row.name
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
        let done = usize::try_from(row.statements_done.unwrap_or(0)).unwrap_or(usize::MAX);
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
        let started = Instant::now();
        let mut running = row.clone();
        running.state = HistoryState::Running;
        running.error = None;
        running.checksum = migration.checksum(engine).unwrap_or_default();
        running.applied_at = UtcTime::now().rfc3339();
        running.applied_by.clone_from(&self.options.actor);
        driver
            .apply_settings(&step.settings)
            .await
            .map_err(|e| Error::driver(engine, "setting lock and statement timeouts", e))?;
        driver
            .execute(&self.sql(driver).update(&running))
            .await
            .map_err(|e| Error::driver(engine, "marking the migration as running again", e))?;
        self.continue_outside_transaction(driver, &step, running, done, started)
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
            let (_, changed_now) = backfill::run(
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
            .await?;
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
        })
    }

    /// Runs the statements from `from`; outside a transaction, records progress
    /// in `progress` after each one. On failure returns the statement's index.
    async fn execute_statements(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        from: usize,
        mut progress: Option<(&HistorySql, &mut HistoryRow)>,
    ) -> Result<(), StepError> {
        if progress.is_none() {
            // In a transaction nothing is recorded between statements: let the
            // driver send them together (one round trip or thread hop where it can).
            let statements: Vec<&str> = step.statements[from..]
                .iter()
                .map(|s| s.sql.as_str())
                .collect();
            return driver
                .execute_many(&statements)
                .await
                .map_err(|(index, e)| StepError::Statement(from + index, e));
        }
        for (index, statement) in step.statements.iter().enumerate().skip(from) {
            let mut attempt = 0;
            loop {
                match driver.execute(&statement.sql).await {
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
        Ok(())
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

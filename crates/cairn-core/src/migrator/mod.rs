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
//! runs never interleave. With [`LockKind::WriteTransaction`](crate::driver::LockKind::WriteTransaction) (SQLite) that
//! lock is the driver's own (a file lock), and each migration's transaction
//! also takes the write lock and re-reads the history for its version,
//! skipping a migration another runner (an older Cairn) applied.
//!
//! A statement that times out waiting for a lock held by another session is
//! retried with a jittered, capped backoff (`MigratorOptions::lock_retries`;
//! see [`crate::retry`]), so DDL never queues for long in front of the
//! application's queries.
//!
//! The files, one job each: this one holds the [`Migrator`], its options and
//! the run (lock, plan, steps, unlock); `prepare.rs` turns a migration into
//! statements and settings; `apply.rs` applies one, in a transaction or
//! statement by statement, then its backfills; `resume.rs` continues what a
//! failed or interrupted run left (`--resume`); `admin.rs` changes the history
//! without running migrations (`baseline`, `repair`); `dry_run.rs` says what
//! would run; `report.rs` holds what runs return; `online.rs` runs the
//! zero-downtime life cycle of migrations with `[[operation]]`s (expand,
//! backfill, contract, abort, un-contract), which `up`, `down` and `redo`
//! hand over to when such a migration is involved. The unit tests (`tests.rs`,
//! `online_tests.rs`) run the algorithm on a recording fake driver (`recording.rs`).

mod admin;
mod adopt;
mod apply;
mod dry_run;
mod online;
#[cfg(test)]
mod online_tests;
mod packet;
mod prepare;
#[cfg(test)]
mod recording;
mod report;
mod resume;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use crate::backfill::{self, DataMigration, Hooks, ProgressFn, StopSignal};
use crate::driver::{Driver, DriverError, DriverErrorKind};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::history::{HistoryRow, HistorySql, HistoryTable};
use crate::migration::{Direction, Migration, Version};
use crate::plan::{self, DownTarget, PlanOptions};
use crate::retry;

pub use adopt::AdoptRequest;
use prepare::Prepared;
pub use report::{
    Applied, ExpandedMigration, PlannedMigration, PlannedStatement, RepairAction, RunFailure,
    RunReport, StatusReport,
};

/// What [`Migrator::on_step`] is told before each migration of a run.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct StepStart<'a> {
    /// Which one of the run, from 1.
    pub index: usize,
    /// How many the run has.
    pub total: usize,
    /// The migration's version.
    pub version: Version,
    /// Its name.
    pub name: &'a str,
    /// Applied or rolled back.
    pub direction: Direction,
}

/// Receives [`StepStart`] reports.
pub type StepFn = dyn Fn(&StepStart<'_>) + Send + Sync;

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
    /// `lock_timeout` for each DDL step of an operation (ZERO-DOWNTIME.md §5;
    /// default 500 ms), retried like statements (`lock_retries`).
    pub operation_lock_timeout: Duration,
    /// `cairn up --contract`: contract a migration right after its expand
    /// (development and CI), instead of stopping at `expanded`.
    pub contract_after_expand: bool,
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
            operation_lock_timeout: Duration::from_millis(500),
            contract_after_expand: false,
        }
    }
}

/// What a locked run was asked to do.
#[derive(Clone, Copy, Debug)]
enum Request {
    Up(Option<Version>),
    /// Resume; `.1` is `--skip-in-doubt`.
    Resume(Option<Version>, bool),
    Down(DownTarget),
    Redo,
    /// `contract [VERSION]`.
    Contract(Option<Version>),
    /// `abort [VERSION]`.
    Abort(Option<Version>),
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

    /// Is told before each migration of `up`, `down` and `redo` runs (not the
    /// phases of a zero-downtime operation, which report their backfills
    /// through [`Migrator::on_progress`]): what a progress bar needs.
    pub fn on_step(&mut self, step: std::sync::Arc<StepFn>) -> &mut Self {
        self.hooks.step = Some(step);
        self
    }

    /// The checkpoints of every backfill (`cairn backfill status`); empty
    /// when none has run. Changes nothing.
    pub async fn backfill_status(
        &self,
        driver: &mut dyn Driver,
    ) -> Result<Vec<backfill::Checkpoint>> {
        let engine = driver.dialect().engine();
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
        HistorySql::new(driver.dialect(), &self.options.table)
    }

    async fn history_exists(&self, driver: &mut dyn Driver) -> Result<bool> {
        let sql = self.sql(driver);
        let engine = driver.dialect().engine();
        let rows = driver
            .query(&sql.exists())
            .await
            .map_err(|e| Error::driver(engine, "checking for the history table", e))?;
        Ok(!rows.is_empty())
    }

    /// Reads the history without creating the tables (empty if they do not exist).
    pub async fn history(&self, driver: &mut dyn Driver) -> Result<Vec<HistoryRow>> {
        let sql = self.sql(driver);
        let engine = driver.dialect().engine();
        self.options.table.check_names(driver.dialect())?;
        if !self.history_exists(driver).await? {
            return Ok(Vec::new());
        }
        let rows = driver
            .query(&sql.select())
            .await
            .map_err(|e| Error::driver(engine, format!("reading {}", sql.table()), e))?;
        // Dotted and repeatable versions keep their text in `version_text`,
        // read only when there is such a row (so a history of integral
        // versions is read with the one query it always was).
        let texts = if HistorySql::needs_version_texts(&rows) {
            let texts = driver
                .query(&sql.select_version_texts())
                .await
                .map_err(|e| Error::driver(engine, format!("reading {}", sql.table()), e))?;
            sql.decode_version_texts(texts)?
        } else {
            Default::default()
        };
        sql.decode_with_texts(rows, &texts)
    }

    /// The status of every migration, and the problems found. Changes nothing.
    pub async fn status(&self, driver: &mut dyn Driver) -> Result<StatusReport> {
        let history = self.history(driver).await?;
        let engine = driver.dialect().engine();
        let expanded = self.phases(driver, &history).await;
        Ok(StatusReport {
            engine,
            migrations: plan::status(&self.migrations, &history, engine),
            problems: plan::problems(&self.migrations, &history, engine, self.options.plan),
            expanded,
        })
    }

    /// Checks the source against the history, and that every pending script
    /// splits. Changes nothing; `Err(Error::Validation)` lists the problems.
    pub async fn validate(&self, driver: &mut dyn Driver) -> Result<StatusReport> {
        let report = self.status(driver).await?;
        let engine = driver.dialect().engine();
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

    /// Applies pending migrations up to `to` (all if `None`).
    ///
    /// A migration with `[[operation]]`s is expanded and backfilled, and the
    /// run stops there ([`RunReport::held`]) unless
    /// [`MigratorOptions::contract_after_expand`]; one left expanding or
    /// backfilling by a killed or failed run is continued from its recorded
    /// step. No later migration is applied over an expanded one: that is
    /// [`Error::PhaseState`], naming `cairn contract` and `cairn abort`.
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
    ///
    /// A migration with `[[operation]]`s in a phase is handled first: an
    /// expanding, backfilling or expanded one is aborted, an uncontracting
    /// one's un-contract continued. A contracted one is un-contracted back to
    /// `expanded` when it is the last of `--steps`, and taken all the way back
    /// (un-contract, then abort) when later ones go below it or with `--to` /
    /// `--all`.
    pub async fn down(
        &self,
        driver: &mut dyn Driver,
        target: DownTarget,
    ) -> Result<RunReport, RunFailure> {
        self.run_locked(driver, Request::Down(target)).await
    }

    /// Rolls back the newest applied migration and applies it again.
    ///
    /// A migration with `[[operation]]`s moves one phase back and forth: a
    /// contracted one is un-contracted and contracted again, an expanded one
    /// aborted and expanded again (other phases are refused, naming the
    /// command that finishes them).
    pub async fn redo(&self, driver: &mut dyn Driver) -> Result<RunReport, RunFailure> {
        self.run_locked(driver, Request::Redo).await
    }

    // ----- the machinery -------------------------------------------------

    /// Takes the migration lock, which serialises whole runs on every engine
    /// (on SQLite a file lock that ends with the process).
    async fn lock(&self, driver: &mut dyn Driver) -> Result<()> {
        let engine = driver.dialect().engine();
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
        let engine = driver.dialect().engine();
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
        let engine = driver.dialect().engine();
        // Plan before creating anything, so a refused run leaves a fresh database untouched.
        let mut history = self.history(driver).await?;
        let request = match request {
            Request::Resume(to, skip_in_doubt) => {
                self.resume_failed(driver, &history, skip_in_doubt, report)
                    .await?;
                history = self.history(driver).await?;
                Request::Up(to)
            }
            other => other,
        };
        match request {
            Request::Contract(version) => {
                return self
                    .contract_request(driver, &history, version, report)
                    .await
            }
            Request::Abort(version) => {
                return self.abort_request(driver, &history, version, report).await
            }
            _ => {}
        }
        if let Request::Up(to) = request {
            if self
                .resume_backfilling(driver, &history, to, report)
                .await?
            {
                history = self.history(driver).await?;
            }
        }
        // Migrations with `[[operation]]`s go through their life cycle (online.rs).
        if self.involves_online(&history, engine, request) {
            return self.run_online(driver, history, request, report).await;
        }
        let steps = match request {
            Request::Resume(..) | Request::Contract(_) | Request::Abort(_) => {
                unreachable!("resume was turned into up, contract and abort returned, above")
            }
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
                    return Err(Error::NothingToRedo);
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
        self.ensure_version_text(driver, steps.iter().map(|step| step.migration.version))
            .await?;
        let mut session = None;
        // A claim written with the final row of the step before (packet.rs).
        let mut claimed: Option<packet::Claim> = None;
        for (index, step) in steps.iter().enumerate() {
            if self.hooks.stop.is_stopped() {
                if let Some(claim) = claimed.take() {
                    // Stopped between the two commits: the claim goes back.
                    driver.execute(&claim.undo).await.map_err(|e| {
                        Error::driver(
                            engine,
                            format!(
                                "giving back the claim of migration {} after the run was stopped (the history shows it running with no statement done, and none ran: `cairn up --resume` runs it)",
                                step.migration.version
                            ),
                            e,
                        )
                    })?;
                }
                return Err(Error::Stopped {
                    version: step.migration.version,
                    name: step.migration.name.clone(),
                });
            }
            if let Some(on_step) = &self.hooks.step {
                on_step(&StepStart {
                    index: index + 1,
                    total: steps.len(),
                    version: step.migration.version,
                    name: &step.migration.name,
                    direction: step.direction,
                });
            }
            let (applied, handed) = self
                .run_handing(
                    driver,
                    step,
                    &mut session,
                    claimed.take(),
                    steps.get(index + 1),
                )
                .await?;
            claimed = handed;
            report.migrations.push(applied);
        }
        Ok(())
    }

    async fn ensure_tables(&self, driver: &mut dyn Driver) -> Result<()> {
        let sql = self.sql(driver);
        let engine = driver.dialect().engine();
        self.options.table.check_names(driver.dialect())?;
        for statement in sql.create() {
            driver
                .execute(&statement)
                .await
                .map_err(|e| Error::driver(engine, format!("creating {}", sql.table()), e))?;
        }
        Ok(())
    }

    /// The in-place upgrade of the history for versions that are not one
    /// integer (Flyway's `1.1`, repeatable migrations), done under the
    /// migration lock the first time such a version is recorded: a nullable
    /// `version_text` column on the history and its log. A history of
    /// integral versions is never changed.
    pub(crate) async fn ensure_version_text(
        &self,
        driver: &mut dyn Driver,
        versions: impl IntoIterator<Item = Version>,
    ) -> Result<()> {
        if versions
            .into_iter()
            .all(|version| version.as_i64().is_some())
        {
            return Ok(());
        }
        let sql = self.sql(driver);
        let engine = driver.dialect().engine();
        let present = driver
            .query(&sql.version_text_exists())
            .await
            .map_err(|e| {
                Error::driver(engine, format!("reading the columns of {}", sql.table()), e)
            })?;
        if !present.is_empty() {
            return Ok(());
        }
        for statement in sql.add_version_text() {
            driver.execute(&statement).await.map_err(|e| {
                Error::driver(
                    engine,
                    format!("adding the version_text column to {}", sql.table()),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// Runs Cairn's own `statements` in one transaction. A lock timeout (the
    /// application's writers hold SQLite's write lock, a row lock elsewhere)
    /// rolls it back and runs it again after a backoff, like a statement.
    async fn in_transaction(
        &self,
        driver: &mut dyn Driver,
        statements: &[String],
        context: &str,
    ) -> Result<()> {
        let engine = driver.dialect().engine();
        let mut attempt = 0;
        loop {
            match Self::transaction_once(driver, statements).await {
                Ok(()) => return Ok(()),
                Err(e)
                    if e.kind == DriverErrorKind::LockTimeout
                        && attempt < self.options.lock_retries =>
                {
                    self.backoff(attempt).await;
                    attempt += 1;
                }
                Err(e) => return Err(Error::driver(engine, context, e)),
            }
        }
    }

    async fn transaction_once(
        driver: &mut dyn Driver,
        statements: &[String],
    ) -> std::result::Result<(), DriverError> {
        driver.begin().await?;
        for statement in statements {
            if let Err(e) = driver.execute(statement).await {
                let _ = driver.rollback().await;
                return Err(e);
            }
        }
        if let Err(e) = driver.commit().await {
            let _ = driver.rollback().await;
            return Err(e);
        }
        Ok(())
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

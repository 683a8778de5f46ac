//! Applying one migration (or rolling it back): in a transaction where the
//! engine allows it, otherwise statement by statement with progress in the
//! history; then its backfills.

use std::time::Instant;

use super::packet::{self, Claim, Lead};
use super::{elapsed_ms, Applied, Migrator, Prepared};
use crate::backfill;
use crate::clock::UtcTime;
use crate::driver::{
    BatchFailure, Driver, DriverError, DriverErrorKind, LockKind, SessionSettings, Workload,
};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::history::{HistoryRow, HistorySql, HistoryState, LogAction, LogEntry, RowError};
use crate::migration::{Direction, Migration};
use crate::retry;

/// Why running a migration's statements stopped.
#[derive(Debug)]
pub(super) enum StepError {
    /// Statement `.0` (0-based) failed.
    Statement(usize, DriverError),
    /// Statement `.0` completed, but recording that in the history failed.
    Progress(usize, DriverError),
    /// A batch failed and the driver did not say which statement (see
    /// [`crate::driver::checked_execute_many`]).
    Batch(DriverError),
    /// Something before the first statement failed (a packet's settings or
    /// claim, see [`super::packet`]): nothing of the migration ran.
    Failed(Error),
}

impl Migrator {
    /// Runs one step. `session` remembers the settings last applied on this
    /// connection, so that they are sent only when a migration changes them.
    pub(super) async fn run(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        session: &mut Option<SessionSettings>,
    ) -> Result<Applied> {
        Ok(self.run_handing(driver, step, session, None, None).await?.0)
    }

    /// Runs one step of a run whose next step is `next`: where the driver
    /// takes packets, the claim of `next` may be written with this step's
    /// final row, and is returned to be handed to `next`'s run as `claimed`
    /// (see [`Claim`]).
    pub(super) async fn run_handing(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        session: &mut Option<SessionSettings>,
        claimed: Option<Claim>,
        next: Option<&Prepared<'_>>,
    ) -> Result<(Applied, Option<Claim>)> {
        let engine = driver.dialect().engine();
        // Engines without transactional DDL (MySQL) get the settings before
        // every migration: the driver also re-asserts session state there
        // (sql_mode) that a previous migration may have changed.
        let cache = driver.capabilities().transactional_ddl;
        // With statement packets the settings go in the migration's first packet.
        let packed = !step.transactional && packet::enabled(driver);
        if packed {
            *session = Some(step.settings);
        } else if !cache || *session != Some(step.settings) {
            driver
                .apply_settings(&step.settings)
                .await
                .map_err(|e| Error::driver(engine, "setting lock and statement timeouts", e))?;
            *session = Some(step.settings);
        }
        let started = Instant::now();
        let (skipped, handed) = if step.transactional {
            (self.run_transactional(driver, step, started).await?, None)
        } else {
            self.run_outside_transaction(driver, step, started, packed, claimed, next)
                .await?
        };
        let backfilled = if skipped || !self.backfills_up(step) {
            None
        } else {
            Some(self.run_backfills(driver, step.migration, started).await?)
        };
        let applied = Applied {
            version: step.migration.version,
            name: step.migration.name.clone(),
            direction: step.direction,
            duration_ms: elapsed_ms(started),
            statements: step.statements.len(),
            transactional: step.transactional,
            skipped,
            backfilled,
            recovered: None,
            phase: None,
        };
        Ok((applied, handed))
    }

    /// Whether another runner already did this step (checked under the write lock).
    async fn done_by_other(&self, driver: &mut dyn Driver, step: &Prepared<'_>) -> Result<bool> {
        if driver.capabilities().lock != LockKind::WriteTransaction {
            return Ok(false);
        }
        let engine = driver.dialect().engine();
        let version = step.migration.version;
        let repeatable = version.is_repeatable() && step.direction == Direction::Up;
        let query = if repeatable {
            self.sql(driver).select_state_and_checksum(version)
        } else {
            self.sql(driver).select_version(version)
        };
        let rows = match driver.query(&query).await {
            Ok(rows) => rows,
            Err(e) => {
                let _ = driver.rollback().await;
                return Err(Error::driver(engine, "re-reading the history", e));
            }
        };
        let state = rows.first().and_then(|row| row.first().cloned().flatten());
        if repeatable && state.as_deref() == Some("applied") {
            // Applied again only when its checksum changed since.
            let recorded = rows.first().and_then(|row| row.get(1).cloned().flatten());
            return Ok(recorded == step.migration.checksum(engine));
        }
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
                Err(Error::ChangedByOtherRun {
                    version,
                    name: step.migration.name.clone(),
                    state: state.to_owned(),
                })
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
        let engine = driver.dialect().engine();
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
            let count = step.statements.len();
            match self
                .execute_statements(driver, step, 0, count, false, None)
                .await
            {
                Ok(_) => {}
                // Without progress recording only statements fail (at an
                // index, or at one the driver could not name).
                Err(failure) => {
                    let (index, e) = match failure {
                        StepError::Statement(index, e) | StepError::Progress(index, e) => {
                            (Some(index), e)
                        }
                        StepError::Batch(e) => (None, e),
                        StepError::Failed(error) => return Err(error),
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
            let mut bookkeeping = Vec::new();
            // A repeatable applied again replaces its row, in the same transaction.
            if step.direction == Direction::Up && step.migration.version.is_repeatable() {
                bookkeeping.push(sql.delete(step.migration.version));
            }
            bookkeeping.extend(match step.direction {
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
            });
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

    /// The `running` row that claims `step` before any statement runs.
    pub(super) fn claim_row(&self, step: &Prepared<'_>, engine: Engine) -> HistoryRow {
        let mut row = self.row(step, engine, HistoryState::Running, 0);
        row.statements_done = Some(0);
        if step.direction == Direction::Down {
            // Marks the row as a rollback in progress, so `--resume` never
            // mistakes it for an interrupted up.
            row.error = Some(RowError::RollbackInProgress);
        }
        row
    }

    /// Returns whether the step was skipped because another runner did it,
    /// and the claim of `next` when it was written with this step's final row.
    async fn run_outside_transaction(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        started: Instant,
        packed: bool,
        claimed: Option<Claim>,
        next: Option<&Prepared<'_>>,
    ) -> Result<(bool, Option<Claim>)> {
        let engine = driver.dialect().engine();
        let sql = self.sql(driver);
        if let Some(claim) = claimed.filter(|_| packed) {
            // Claimed with the final row of the migration before: the
            // settings go first in the packet of the statements.
            let lead = Lead {
                settings: Some(step.settings),
                claim: None,
                undo: Some(claim.undo),
            };
            let handed = self
                .continue_handing(driver, step, claim.row, 0, false, started, lead, next)
                .await?
                .1;
            return Ok((false, handed));
        }
        // Claim the migration with a `running` row, committed before any statement runs.
        let row = self.claim_row(step, engine);
        if step.direction == Direction::Up && step.migration.version.is_repeatable() {
            // A repeatable applied again: its previous row gives way to the claim.
            driver
                .execute(&sql.delete(step.migration.version))
                .await
                .map_err(|e| Error::driver(engine, "replacing the repeatable's history row", e))?;
        }
        let claim = match step.direction {
            Direction::Up => sql.insert(&row),
            // Keep the applied row's identity; mark it running while it rolls back.
            Direction::Down => sql.update(&row),
        };
        let mut lead = Lead::default();
        if packed {
            // The settings and the claim go first in the packet of the statements.
            lead = Lead {
                settings: Some(step.settings),
                claim: Some(claim),
                undo: None,
            };
        } else if driver.capabilities().lock == LockKind::Session {
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
                return Ok((true, None));
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
        let handed = self
            .continue_handing(driver, step, row, 0, false, started, lead, next)
            .await?
            .1;
        Ok((false, handed))
    }

    /// Runs the statements of `step` from `from` on, recording progress in
    /// `row` (already committed as `running`), and finishes or fails the row.
    /// With `in_doubt`, statement `from` is the one an interrupted run may
    /// have completed (see [`crate::recovery`]). Returns what was decided
    /// about it. `lead` is what a packet sends first (empty unless the
    /// driver takes packets, see [`super::packet`]).
    #[allow(clippy::too_many_arguments)] // two call sites; the parts are the run's context
    pub(super) async fn continue_outside_transaction(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        row: HistoryRow,
        from: usize,
        in_doubt: bool,
        started: Instant,
        lead: Lead,
    ) -> Result<Option<String>> {
        Ok(self
            .continue_handing(driver, step, row, from, in_doubt, started, lead, None)
            .await?
            .0)
    }

    /// [`Migrator::continue_outside_transaction`], writing the claim of
    /// `next` with the final row where the driver takes packets (see
    /// [`Claim`]); returns it when it was committed.
    #[allow(clippy::too_many_arguments)] // private; the parts are the run's context
    async fn continue_handing(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        mut row: HistoryRow,
        from: usize,
        in_doubt: bool,
        started: Instant,
        lead: Lead,
        next: Option<&Prepared<'_>>,
    ) -> Result<(Option<String>, Option<Claim>)> {
        let engine = driver.dialect().engine();
        let sql = self.sql(driver);
        let version = step.migration.version;
        let packed = packet::enabled(driver);
        // The final row implies the last statement's progress when it is
        // written in Cairn's transaction right after (see `super::packet`).
        // (A migration with backfills writes more around its final row.)
        let finish_packet = packed
            && step.migration.backfills().is_empty()
            && sql.dialect().packet_transaction().is_some();
        let count = step.statements.len();
        let outcome = if packed {
            self.execute_packed(
                driver,
                step,
                &sql,
                &mut row,
                from,
                in_doubt,
                lead,
                finish_packet,
            )
            .await
        } else {
            self.execute_statements(driver, step, from, count, in_doubt, Some((&sql, &mut row)))
                .await
        };
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
                // In a packet too the index is exact here: a lost connection
                // with more of the packet sent is `StepError::Failed`.
                return Err(self
                    .fail_outside_transaction(driver, step, row, from, in_doubt, index, e, started)
                    .await);
            }
            Err(StepError::Failed(error)) => return Err(error),
            // Progress is recorded statement by statement, never in a batch.
            Err(StepError::Batch(e)) => {
                return Err(Error::driver(
                    engine,
                    format!("running migration {version} ({})", step.migration.name),
                    e,
                ));
            }
        };
        // The progress of every statement, for a finish packet that fails.
        let progress = row.clone();
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
            return Ok((recovered, None));
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
        let mut handed = None;
        if finish_packet && count > 0 {
            // The next migration's claim rides in this transaction, unless
            // the run was asked to stop here or it takes another path.
            let claim = next
                .filter(|next| !next.transactional && !self.hooks.stop.is_stopped())
                .and_then(|next| self.carried_claim(next, &sql));
            if self
                .finish_packed(driver, step, &sql, &progress, &finish, claim.as_ref())
                .await?
            {
                handed = claim;
            }
        } else {
            self.in_transaction(driver, &finish, "recording the migration in the history")
                .await?;
        }
        Ok((recovered, handed))
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
        let engine = driver.dialect().engine();
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
        row.error = Some(RowError::Statement {
            direction: step.direction,
            in_doubt: doubt,
            detail: format!(
                "statement {n} of {} ({}): {e}",
                step.statements.len(),
                step.script.location(statement.line)
            ),
        });
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

    /// Runs the statements from `from`; outside a transaction, records progress
    /// in `progress` after each one. On failure returns the statement's index.
    /// With `in_doubt`, statement `from` may have completed in an interrupted
    /// run: an error that the driver says means "already done" counts it as
    /// completed, and the returned note says so.
    pub(super) async fn execute_statements(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        from: usize,
        until: usize,
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
        for (index, statement) in step.statements.iter().enumerate().take(until).skip(from) {
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
                        let e = self.gave_up(driver.dialect().engine(), step, e, attempt);
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

    pub(super) fn statement_error(
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
            message: match step.transactional
                && crate::dialect::for_engine(engine).cannot_run_in_transaction(e)
            {
                true => format!(
                    "{e}; to run this migration outside a transaction, {}",
                    step.migration.no_transaction_hint()
                ),
                false => e.to_string(),
            },
            kind: e.kind,
            outcome,
        }
    }

    /// Appends a failed entry to the log; a failure to log is not the user's problem here.
    pub(super) async fn log_failure(
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

    pub(super) async fn backoff(&self, attempt: u32) {
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
    pub(super) fn gave_up(
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

    /// Whether `step` applies a migration that has backfills to run after its SQL.
    pub(super) fn backfills_up(&self, step: &Prepared<'_>) -> bool {
        step.direction == Direction::Up && !step.migration.backfills().is_empty()
    }

    /// Runs the backfills of `migration`, whose row is `backfilling`, each
    /// from its checkpoint, then records the migration as applied. Returns
    /// the rows changed by this run.
    pub(super) async fn run_backfills(
        &self,
        driver: &mut dyn Driver,
        migration: &Migration,
        started: Instant,
    ) -> Result<i64> {
        let engine = driver.dialect().engine();
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
}

//! The zero-downtime life cycle of a migration with `[[operation]]`s
//! (ZERO-DOWNTIME.md §3): expand and backfill under `up`, then `contract`,
//! `abort`, and `down` of a contracted migration (un-contract). Every phase
//! records its progress per step in the history row, so the same command
//! continues a phase that was killed or failed half-way.
//!
//! ```text
//! pending ─up─▶ expanding ─▶ backfilling ─▶ expanded ─contract─▶ contracting ─▶ applied
//!    ▲                                         │  ▲                                │
//!    └──────── aborting ◀── abort (or down) ───┘  └── expanded ◀── uncontracting ◀─┘ down
//! ```
//!
//! What the history row holds in each phase: its state, and in
//! `statements_done` how many actions of the phase completed. For
//! `expanding` those are the statements of the migration's `up.sql` (which
//! runs first) followed by the expand steps; for `aborting` the abort steps
//! followed by the statements of its `down.sql`; for `contracting` and
//! `uncontracting` their steps. A step that failed leaves the row in its
//! state with the error in `error`; the same command continues from that
//! step (every step is guarded by [`Step::done_if`] or idempotent, so the
//! step that was running when a run died is safe to run again).
//!
//! The tables the operations change are introspected once, after `up.sql`
//! and before the first expand step, and kept as JSON in `<history>_shape`:
//! `contract`, `abort` and un-contract compile their SQL from that shape,
//! so they run what `up` planned even though the table has changed since.
//!
//! Backfill checkpoints are numbered per migration: the operations'
//! backfills first, then the declared `[[backfill]]`s (both run after
//! expand), then the un-contract backfills. `contract` forgets them, so a
//! later un-contract backfills afresh.
//!
//! One migration per database is in a phase at a time: `up` applies no
//! later migration over one (it says why), and `down` handles it first.
//!
//! `redo` of an operation migration moves it one phase back and forth:
//! a contracted one is un-contracted and contracted again, an expanded one
//! aborted and expanded again.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{
    elapsed_ms, Applied, ExpandedMigration, Migrator, PlannedMigration, PlannedStatement, Prepared,
    Request, RunFailure, RunReport,
};
use crate::backfill::{self, Action, Backfill};
use crate::clock::UtcTime;
use crate::driver::{Driver, DriverErrorKind, SessionSettings, Workload};
use crate::engine::Engine;
use crate::error::{Error, Location, Result};
use crate::history::{HistoryRow, HistoryState, LogAction, LogEntry, RowError};
use crate::migration::{Direction, Migration, Version};
use crate::operation::{self, exec, Compiled, Phase, Step};
use crate::plan::{self, DownTarget};
use crate::retry;
use crate::schema::Table;

/// Whether `migration` declares `[[operation]]`s, so that it runs through the life cycle.
pub(super) fn is_online(migration: &Migration) -> bool {
    !operations_of(migration).is_empty()
}

fn operations_of(migration: &Migration) -> &[operation::Operation] {
    migration
        .declaration
        .as_ref()
        .map_or(&[], |declaration| &declaration.operations)
}

/// How many actions of its phase the row records as done.
fn progress(row: &HistoryRow) -> usize {
    usize::try_from(row.statements_done.unwrap_or(0)).unwrap_or(0)
}

/// What to run next for a migration in `state`.
fn next_command(state: HistoryState, version: Version) -> String {
    match state {
        HistoryState::Expanding | HistoryState::Backfilling => format!(
            "run `cairn up` to continue its expand, or `cairn abort {version}` to undo it"
        ),
        HistoryState::Expanded => format!(
            "deploy the new application version, then run `cairn contract {version}` (or `cairn abort {version}` to undo the expand)"
        ),
        HistoryState::Contracting => {
            format!("run `cairn contract {version}` to finish its contract")
        }
        HistoryState::Aborting => format!("run `cairn abort {version}` to finish its abort"),
        HistoryState::Uncontracting => {
            "run `cairn down` to finish its un-contract (back to expanded)".to_owned()
        }
        _ => format!("run `cairn status` to see where migration {version} stands"),
    }
}

/// The steps of one phase, each with the `migration.toml` line of its operation.
fn located<'c>(
    compiled: &'c Compiled,
    migration: &Migration,
    phase: Phase,
) -> Vec<(Location, &'c Step)> {
    let operations = operations_of(migration);
    let mut out = Vec::new();
    let mut order: Vec<usize> = (0..compiled.operations.len()).collect();
    if matches!(phase, Phase::Abort | Phase::Uncontract) {
        order.reverse();
    }
    for index in order {
        let phases = &compiled.operations[index];
        let steps = match phase {
            Phase::Expand => &phases.expand,
            Phase::Contract => &phases.contract,
            Phase::Abort => &phases.abort,
            Phase::Uncontract => &phases.uncontract,
        };
        let location = operations.get(index).map_or_else(
            || Location::new(&migration.location, 1),
            |op| op.location.clone(),
        );
        out.extend(steps.iter().map(|step| (location.clone(), step)));
    }
    out
}

/// A step as a dry run shows it: its statements, the first preceded by
/// what it does and the guard that skips it.
fn planned_step(location: &Location, step: &Step) -> Vec<PlannedStatement> {
    let mut header = format!("-- {}", step.what);
    if let Some(guard) = &step.done_if {
        header.push_str(&format!("\n-- skipped when this returns a row: {guard}"));
    }
    if let Some(count) = &step.rows_of {
        header.push_str(&format!("\n-- rewrites the rows counted by: {count}"));
    }
    if step.transaction {
        header.push_str("\n-- in one transaction");
    }
    let mut out: Vec<PlannedStatement> = step
        .statements
        .iter()
        .map(|sql| PlannedStatement {
            location: location.to_string(),
            sql: sql.clone(),
        })
        .collect();
    match out.first_mut() {
        Some(first) => first.sql = format!("{header}\n{}", first.sql),
        None => out.push(PlannedStatement {
            location: location.to_string(),
            sql: header,
        }),
    }
    if let Some(check) = &step.must_be_empty {
        out.push(PlannedStatement {
            location: location.to_string(),
            sql: format!("-- must return no row, else the step is rolled back\n{check}"),
        });
    }
    out
}

/// A backfill as a dry run shows it.
fn planned_backfill(backfill: &Backfill, engine: Engine) -> PlannedStatement {
    let sql = match &backfill.action {
        Action::Sql { .. } => {
            let (set, filter) = backfill.action.sql_for(engine);
            let filter = filter.map_or_else(String::new, |f| format!(" WHERE {f}"));
            format!(
                "-- backfill in batches by primary key, each batch:\n-- UPDATE {} SET {}{filter}",
                backfill.table,
                set.unwrap_or_default()
            )
        }
        Action::Rust { name, .. } => format!(
            "-- backfill {} in batches by primary key with the data migration `{name}`",
            backfill.table
        ),
    };
    PlannedStatement {
        location: backfill.location.clone(),
        sql,
    }
}

impl Migrator {
    /// Contracts the expanded migration (`version`, or the one expanded):
    /// the destructive steps, once the new application version is deployed.
    /// Continues a contract that was interrupted or failed.
    pub async fn contract(
        &self,
        driver: &mut dyn Driver,
        version: Option<Version>,
    ) -> Result<RunReport, RunFailure> {
        self.run_locked(driver, Request::Contract(version)).await
    }

    /// Undoes the expand of the migration `version` (or the one expanding,
    /// backfilling or expanded), from any point before contract, then runs
    /// its `down.sql` if its `up.sql` had statements and forgets it.
    /// Continues an abort that was interrupted or failed.
    pub async fn abort(
        &self,
        driver: &mut dyn Driver,
        version: Option<Version>,
    ) -> Result<RunReport, RunFailure> {
        self.run_locked(driver, Request::Abort(version)).await
    }

    /// What `contract` would run, without running it (`--dry-run`).
    pub async fn plan_contract(
        &self,
        driver: &mut dyn Driver,
        version: Option<Version>,
    ) -> Result<Vec<PlannedMigration>> {
        let history = self.history(driver).await?;
        let (m, row) = self.chosen_for(driver, &history, version, "contract")?;
        self.allowed_to_contract(m, row)?;
        let compiled = self.compile_kept(driver, m).await?;
        let done = if row.state == HistoryState::Contracting {
            progress(row)
        } else {
            0
        };
        let sql = self.sql(driver);
        let mut statements = Vec::new();
        for (location, step) in located(&compiled, m, Phase::Contract).iter().skip(done) {
            statements.extend(planned_step(location, step));
        }
        let mut done_row = row.clone();
        done_row.state = HistoryState::Applied;
        Ok(vec![PlannedMigration {
            version: m.version,
            name: m.name.clone(),
            direction: Direction::Up,
            transactional: false,
            phase: Some(Phase::Contract),
            statements,
            history: vec![
                sql.update(&done_row),
                sql.checkpoints().delete(m.version),
                self.phase_log(driver, m, LogAction::Contract),
            ],
        }])
    }

    /// What `abort` would run, without running it (`--dry-run`).
    pub async fn plan_abort(
        &self,
        driver: &mut dyn Driver,
        version: Option<Version>,
    ) -> Result<Vec<PlannedMigration>> {
        let history = self.history(driver).await?;
        let (m, row) = self.chosen_for(driver, &history, version, "abort")?;
        self.allowed_to_abort(m, row)?;
        Ok(vec![self.describe_abort(driver, m, row).await?])
    }

    // ----- planning ------------------------------------------------------

    /// The migration in a zero-downtime phase, if any (one per database).
    pub(super) fn in_flight<'h>(
        &self,
        history: &'h [HistoryRow],
        engine: Engine,
    ) -> Option<&'h HistoryRow> {
        let source = plan::applicable(&self.migrations, engine);
        history.iter().find(|row| match row.state {
            HistoryState::Expanding
            | HistoryState::Expanded
            | HistoryState::Contracting
            | HistoryState::Aborting
            | HistoryState::Uncontracting => true,
            HistoryState::Backfilling => source.get(&row.version).is_some_and(|m| is_online(m)),
            _ => false,
        })
    }

    /// Whether `version` is a migration with operations on `engine`.
    pub(super) fn is_online_version(&self, version: Version, engine: Engine) -> bool {
        plan::applicable(&self.migrations, engine)
            .get(&version)
            .is_some_and(|m| is_online(m))
    }

    /// Whether a request touches a migration with operations, so that it
    /// runs through [`Migrator::run_online`].
    pub(super) fn involves_online(
        &self,
        history: &[HistoryRow],
        engine: Engine,
        request: Request,
    ) -> bool {
        if self.in_flight(history, engine).is_some() {
            return true;
        }
        let chosen = match request {
            Request::Up(to) => {
                plan::plan_up(&self.migrations, history, engine, self.options.plan, to)
            }
            Request::Down(target) => plan::plan_down(&self.migrations, history, engine, target),
            Request::Redo => {
                plan::plan_down(&self.migrations, history, engine, DownTarget::Steps(1))
            }
            _ => return false,
        };
        chosen.is_ok_and(|chosen| chosen.iter().any(|m| is_online(m)))
    }

    /// The migration on disk for a history row in a phase.
    fn source_for(&self, row: &HistoryRow, engine: Engine) -> Result<&Migration> {
        plan::applicable(&self.migrations, engine)
            .get(&row.version)
            .copied()
            .ok_or_else(|| Error::PhaseState {
                version: row.version,
                name: row.name.clone(),
                state: row.state,
                advice: "its files are no longer on disk, and Cairn needs its migration.toml to go on: restore them, then run the command again".to_owned(),
            })
    }

    /// Refuses, changing nothing, when the migration's files changed since
    /// its expand (or another problem concerns it).
    fn refuse_problems_of(
        &self,
        history: &[HistoryRow],
        version: Version,
        engine: Engine,
    ) -> Result<()> {
        let problems: Vec<plan::Problem> =
            plan::problems(&self.migrations, history, engine, self.options.plan)
                .into_iter()
                .filter(|p| p.version() == version)
                .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(crate::error::Problems(problems)))
        }
    }

    /// The migration `contract` or `abort` works on: `version`, or the one in a phase.
    fn chosen_for<'h>(
        &self,
        driver: &dyn Driver,
        history: &'h [HistoryRow],
        version: Option<Version>,
        command: &'static str,
    ) -> Result<(&Migration, &'h HistoryRow)> {
        let engine = driver.dialect().engine();
        let row = match version {
            Some(version) => history.iter().find(|row| row.version == version),
            None => self.in_flight(history, engine),
        };
        let Some(row) = row else {
            let advice = match version {
                Some(version) => format!("migration {version} is not in the history; `cairn status` lists the migrations and their states"),
                None => "no migration is expanding, expanded or in another zero-downtime phase; `cairn up` expands a migration with `[[operation]]`s".to_owned(),
            };
            return Err(Error::NoPhaseInProgress { command, advice });
        };
        let m = self.source_for(row, engine)?;
        if !is_online(m) {
            return Err(Error::PhaseState {
                version: row.version,
                name: row.name.clone(),
                state: row.state,
                advice: format!("it declares no `[[operation]]`, so it has no {command} phase: `cairn down` rolls it back"),
            });
        }
        self.refuse_problems_of(history, row.version, engine)?;
        Ok((m, row))
    }

    fn allowed_to_contract(&self, m: &Migration, row: &HistoryRow) -> Result<()> {
        let advice = match row.state {
            HistoryState::Expanded | HistoryState::Contracting => return Ok(()),
            HistoryState::Applied => {
                "it is contracted already; `cairn down` un-contracts it".to_owned()
            }
            state => format!(
                "contract needs it expanded: {}",
                next_command(state, m.version)
            ),
        };
        Err(self.phase_error(m, row, advice))
    }

    fn allowed_to_abort(&self, m: &Migration, row: &HistoryRow) -> Result<()> {
        let advice = match row.state {
            HistoryState::Expanding
            | HistoryState::Backfilling
            | HistoryState::Expanded
            | HistoryState::Aborting => return Ok(()),
            HistoryState::Applied => "it is contracted: run `cairn down` to un-contract it back to expanded, then `cairn abort`".to_owned(),
            state => format!("abort undoes an expand only: {}", next_command(state, m.version)),
        };
        Err(self.phase_error(m, row, advice))
    }

    fn phase_error(&self, m: &Migration, row: &HistoryRow, advice: String) -> Error {
        Error::PhaseState {
            version: m.version,
            name: m.name.clone(),
            state: row.state,
            advice,
        }
    }

    // ----- the requests --------------------------------------------------

    /// `up`, `down` or `redo` when a migration with operations is involved.
    pub(super) async fn run_online(
        &self,
        driver: &mut dyn Driver,
        history: Vec<HistoryRow>,
        request: Request,
        report: &mut RunReport,
    ) -> Result<()> {
        match request {
            Request::Up(to) => self.up_online(driver, history, to, report).await,
            Request::Down(target) => self.down_online(driver, history, target, report).await,
            Request::Redo => self.redo_online(driver, history, report).await,
            Request::Contract(version) => {
                self.contract_request(driver, &history, version, report)
                    .await
            }
            Request::Abort(version) => self.abort_request(driver, &history, version, report).await,
            Request::Resume(..) => unreachable!("resume was turned into up before"),
        }
    }

    pub(super) async fn contract_request(
        &self,
        driver: &mut dyn Driver,
        history: &[HistoryRow],
        version: Option<Version>,
        report: &mut RunReport,
    ) -> Result<()> {
        let (m, row) = self.chosen_for(driver, history, version, "contract")?;
        self.allowed_to_contract(m, row)?;
        self.ensure_tables(driver).await?;
        self.ensure_phase_tables(driver).await?;
        let applied = self.run_contract(driver, m, row.clone()).await?;
        report.migrations.push(applied);
        Ok(())
    }

    pub(super) async fn abort_request(
        &self,
        driver: &mut dyn Driver,
        history: &[HistoryRow],
        version: Option<Version>,
        report: &mut RunReport,
    ) -> Result<()> {
        let (m, row) = self.chosen_for(driver, history, version, "abort")?;
        self.allowed_to_abort(m, row)?;
        self.ensure_tables(driver).await?;
        self.ensure_phase_tables(driver).await?;
        let applied = self.run_abort(driver, m, row.clone()).await?;
        report.migrations.push(applied);
        Ok(())
    }

    async fn up_online(
        &self,
        driver: &mut dyn Driver,
        mut history: Vec<HistoryRow>,
        to: Option<Version>,
        report: &mut RunReport,
    ) -> Result<()> {
        let engine = driver.dialect().engine();
        if let Some(row) = self.in_flight(&history, engine).cloned() {
            let m = self.source_for(&row, engine)?;
            self.refuse_problems_of(&history, row.version, engine)?;
            match row.state {
                HistoryState::Expanding | HistoryState::Backfilling => {
                    self.ensure_tables(driver).await?;
                    self.ensure_phase_tables(driver).await?;
                    report
                        .migrations
                        .push(self.run_expand(driver, m, Some(row)).await?);
                    if !self.options.contract_after_expand {
                        report.held = Some(self.held(driver, m, &history).await);
                        return Ok(());
                    }
                    let row = self.current_row(driver, m.version).await?;
                    report
                        .migrations
                        .push(self.run_contract(driver, m, row).await?);
                }
                HistoryState::Expanded if self.options.contract_after_expand => {
                    self.ensure_phase_tables(driver).await?;
                    report
                        .migrations
                        .push(self.run_contract(driver, m, row).await?);
                }
                HistoryState::Expanded => {
                    let pending =
                        plan::plan_up(&self.migrations, &history, engine, self.options.plan, to)?;
                    if let Some(first) = pending.first() {
                        return Err(self.phase_error(
                            m,
                            &row,
                            format!(
                                "`cairn up` applies no later migration over an expanded one ({} pending, the first {} {}): {}",
                                pending.len(),
                                first.version,
                                first.name,
                                next_command(row.state, m.version)
                            ),
                        ));
                    }
                    report.held = Some(self.held(driver, m, &history).await);
                    return Ok(());
                }
                state => {
                    return Err(self.phase_error(
                        m,
                        &row,
                        format!(
                            "`cairn up` applies nothing while it is {}: {}",
                            state.as_str(),
                            next_command(state, m.version)
                        ),
                    ))
                }
            }
            history = self.history(driver).await?;
        }
        let chosen = plan::plan_up(&self.migrations, &history, engine, self.options.plan, to)?;
        // Split every plain script before anything runs, as a plain `up` does.
        for m in chosen.iter().filter(|m| !is_online(m)) {
            self.prepare(m, Direction::Up, driver)?;
        }
        if chosen.is_empty() {
            return Ok(());
        }
        self.ensure_tables(driver).await?;
        let mut session = None;
        for m in chosen {
            if self.hooks.stop.is_stopped() {
                return Err(Error::Stopped {
                    version: m.version,
                    name: m.name.clone(),
                });
            }
            if !is_online(m) {
                let step = self.prepare(m, Direction::Up, driver)?;
                report
                    .migrations
                    .push(self.run(driver, &step, &mut session).await?);
                continue;
            }
            // The phase sets its own lock timeouts.
            session = None;
            self.ensure_phase_tables(driver).await?;
            report
                .migrations
                .push(self.run_expand(driver, m, None).await?);
            if !self.options.contract_after_expand {
                let history = self.history(driver).await?;
                report.held = Some(self.held(driver, m, &history).await);
                return Ok(());
            }
            let row = self.current_row(driver, m.version).await?;
            report
                .migrations
                .push(self.run_contract(driver, m, row).await?);
        }
        Ok(())
    }

    async fn down_online(
        &self,
        driver: &mut dyn Driver,
        mut history: Vec<HistoryRow>,
        target: DownTarget,
        report: &mut RunReport,
    ) -> Result<()> {
        let engine = driver.dialect().engine();
        // `--to` and `--all` take every migration above the target all the
        // way back; `down` by steps moves an operation migration one phase.
        let (mut remaining, full) = match target {
            DownTarget::Steps(n) => (Some(n), false),
            _ => (None, true),
        };
        if let Some(row) = self.in_flight(&history, engine).cloned() {
            let above_target = match target {
                DownTarget::To(to) => row.version > to,
                _ => true,
            };
            if above_target {
                let m = self.source_for(&row, engine)?;
                self.refuse_problems_of(&history, row.version, engine)?;
                self.ensure_phase_tables(driver).await?;
                match row.state {
                    HistoryState::Expanding
                    | HistoryState::Backfilling
                    | HistoryState::Expanded
                    | HistoryState::Aborting => {
                        report.migrations.push(self.run_abort(driver, m, row).await?);
                    }
                    HistoryState::Uncontracting => {
                        report.migrations.push(self.run_uncontract(driver, m, row).await?);
                        if full {
                            let row = self.current_row(driver, m.version).await?;
                            report.migrations.push(self.run_abort(driver, m, row).await?);
                        } else {
                            let history = self.history(driver).await?;
                            report.held = Some(self.held(driver, m, &history).await);
                        }
                    }
                    state => {
                        return Err(self.phase_error(
                            m,
                            &row,
                            format!(
                                "`cairn down` cannot roll back a migration that is {}: {}, then `cairn down`",
                                state.as_str(),
                                next_command(state, m.version)
                            ),
                        ))
                    }
                }
                if let Some(n) = remaining.as_mut() {
                    *n -= 1;
                    if *n == 0 {
                        return Ok(());
                    }
                }
                history = self.history(driver).await?;
            }
        }
        let target = remaining.map_or(target, DownTarget::Steps);
        let chosen = plan::plan_down(&self.migrations, &history, engine, target)?;
        for m in chosen.iter().filter(|m| !is_online(m)) {
            self.prepare_down(m, &history, driver)?;
        }
        if chosen.is_empty() {
            return Ok(());
        }
        self.ensure_tables(driver).await?;
        let last = chosen.len() - 1;
        let mut session = None;
        for (index, m) in chosen.into_iter().enumerate() {
            if self.hooks.stop.is_stopped() {
                return Err(Error::Stopped {
                    version: m.version,
                    name: m.name.clone(),
                });
            }
            if !is_online(m) {
                let step = self.prepare_down(m, &history, driver)?;
                report
                    .migrations
                    .push(self.run(driver, &step, &mut session).await?);
                continue;
            }
            session = None;
            self.ensure_phase_tables(driver).await?;
            let row = self.current_row(driver, m.version).await?;
            report
                .migrations
                .push(self.run_uncontract(driver, m, row).await?);
            if full || index != last {
                let row = self.current_row(driver, m.version).await?;
                report
                    .migrations
                    .push(self.run_abort(driver, m, row).await?);
            } else {
                let history = self.history(driver).await?;
                report.held = Some(self.held(driver, m, &history).await);
            }
        }
        Ok(())
    }

    async fn redo_online(
        &self,
        driver: &mut dyn Driver,
        history: Vec<HistoryRow>,
        report: &mut RunReport,
    ) -> Result<()> {
        let engine = driver.dialect().engine();
        self.ensure_tables(driver).await?;
        self.ensure_phase_tables(driver).await?;
        if let Some(row) = self.in_flight(&history, engine).cloned() {
            let m = self.source_for(&row, engine)?;
            self.refuse_problems_of(&history, row.version, engine)?;
            if row.state != HistoryState::Expanded {
                return Err(self.phase_error(
                    m,
                    &row,
                    format!(
                        "`cairn redo` needs it expanded or applied: {}",
                        next_command(row.state, m.version)
                    ),
                ));
            }
            report
                .migrations
                .push(self.run_abort(driver, m, row).await?);
            report
                .migrations
                .push(self.run_expand(driver, m, None).await?);
            let history = self.history(driver).await?;
            report.held = Some(self.held(driver, m, &history).await);
            return Ok(());
        }
        let chosen = plan::plan_down(&self.migrations, &history, engine, DownTarget::Steps(1))?;
        let Some(m) = chosen.first().copied() else {
            return Err(Error::NothingToRedo);
        };
        let row = self.current_row(driver, m.version).await?;
        report
            .migrations
            .push(self.run_uncontract(driver, m, row).await?);
        let row = self.current_row(driver, m.version).await?;
        report
            .migrations
            .push(self.run_contract(driver, m, row).await?);
        Ok(())
    }

    // ----- the phases ----------------------------------------------------

    /// Expand, then backfill, to `expanded`; `row` is the row a killed or
    /// failed run left (`expanding` or `backfilling`), `None` for a fresh start.
    async fn run_expand(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
        row: Option<HistoryRow>,
    ) -> Result<Applied> {
        let engine = driver.dialect().engine();
        let sql = self.sql(driver);
        let started = Instant::now();
        let up = self.prepare(m, Direction::Up, driver)?;
        let n_up = up.statements.len();
        let mut fresh = None;
        let mut row = match row {
            Some(row) => row,
            None => {
                // Without an up.sql the operations are checked against the
                // table before anything is written.
                if n_up == 0 {
                    let before = self.read_before(driver, m).await?;
                    let compiled = self.compile(driver, m, &before)?;
                    fresh = Some((before, compiled));
                }
                let mut row = self.migration_row(m, engine, HistoryState::Expanding, 0);
                row.statements_done = Some(0);
                driver
                    .execute(&sql.insert(&row))
                    .await
                    .map_err(|e| Error::driver(engine, "recording the expand in the history", e))?;
                row
            }
        };
        if row.state == HistoryState::Expanding && progress(&row) < n_up {
            let from = progress(&row);
            self.run_script(driver, &up, &mut row, from, 0, started)
                .await?;
        }
        let compiled = match fresh {
            Some((before, compiled)) => {
                self.keep_shape(driver, m.version, &before).await?;
                compiled
            }
            None => match self.kept_shape(driver, m).await? {
                Some(before) => self.compile(driver, m, &before)?,
                None if row.state == HistoryState::Expanding && progress(&row) <= n_up => {
                    let before = self.read_before(driver, m).await?;
                    self.keep_shape(driver, m.version, &before).await?;
                    self.compile(driver, m, &before)?
                }
                None => return Err(self.shape_lost(driver, m, &row)),
            },
        };
        let steps: Vec<&Step> = compiled.expand();
        if row.state == HistoryState::Expanding {
            self.run_steps(driver, m, &mut row, &steps, n_up, Phase::Expand, started)
                .await?;
            row.state = HistoryState::Backfilling;
            row.statements_done = Some((n_up + steps.len()) as i64);
            self.record(driver, &row).await?;
        }
        let mut backfills = compiled.backfill();
        backfills.extend(m.backfills());
        let total = backfills.len();
        let backfilled = self
            .run_phase_backfills(driver, m, &backfills, 0, total)
            .await?;
        row.state = HistoryState::Expanded;
        row.statements_done = None;
        row.error = None;
        row.execution_ms = elapsed_ms(started);
        self.finish_phase(driver, m, &[sql.update(&row)], LogAction::Expand, started)
            .await?;
        Ok(self.applied(
            m,
            Direction::Up,
            Phase::Expand,
            started,
            n_up + steps.len(),
            (total > 0).then_some(backfilled),
        ))
    }

    async fn run_contract(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
        mut row: HistoryRow,
    ) -> Result<Applied> {
        let sql = self.sql(driver);
        let started = Instant::now();
        let compiled = self.compile_kept(driver, m).await?;
        if row.state == HistoryState::Expanded {
            row.state = HistoryState::Contracting;
            row.statements_done = Some(0);
            row.error = None;
            self.record(driver, &row).await?;
        }
        let steps = compiled.contract();
        self.run_steps(driver, m, &mut row, &steps, 0, Phase::Contract, started)
            .await?;
        row.state = HistoryState::Applied;
        row.statements_done = None;
        row.error = None;
        // Forget the expand's checkpoints: a later un-contract backfills afresh.
        let bookkeeping = [sql.update(&row), sql.checkpoints().delete(m.version)];
        self.finish_phase(driver, m, &bookkeeping, LogAction::Contract, started)
            .await?;
        Ok(self.applied(
            m,
            Direction::Up,
            Phase::Contract,
            started,
            steps.len(),
            None,
        ))
    }

    async fn run_abort(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
        mut row: HistoryRow,
    ) -> Result<Applied> {
        let sql = self.sql(driver);
        let started = Instant::now();
        let up = self.prepare(m, Direction::Up, driver)?;
        let n_up = up.statements.len();
        // Its down.sql undoes its up.sql: refuse before anything changes if there is none.
        let down = if n_up > 0 {
            Some(self.prepare(m, Direction::Down, driver)?)
        } else {
            None
        };
        let forget = [
            sql.delete(m.version),
            sql.delete_shapes(m.version),
            sql.checkpoints().delete(m.version),
        ];
        let mut nothing_ran = false;
        if row.state == HistoryState::Expanding {
            let done = progress(&row);
            if done == 0 {
                // Nothing of it ran: forget it.
                self.finish_phase(driver, m, &forget, LogAction::Abort, started)
                    .await?;
                return Ok(self.applied(m, Direction::Down, Phase::Abort, started, 0, None));
            }
            if done < n_up {
                return Err(self.phase_error(
                    m,
                    &row,
                    format!(
                        "its up.sql stopped after {done} of {n_up} statement(s), which ran outside a transaction, so its down.sql would undo what did not run: run `cairn up` to finish the up.sql and the expand, then `cairn abort {}`",
                        m.version
                    ),
                ));
            }
            nothing_ran = done == n_up;
        }
        let compiled = match self.compile_kept(driver, m).await {
            Ok(compiled) => compiled,
            // No expand step ran: there is nothing of the operations to undo.
            Err(_) if nothing_ran => Compiled::default(),
            Err(e) => return Err(e),
        };
        if row.state != HistoryState::Aborting {
            row.state = HistoryState::Aborting;
            row.statements_done = Some(0);
            row.error = None;
            self.record(driver, &row).await?;
        }
        let steps = compiled.abort();
        self.run_steps(driver, m, &mut row, &steps, 0, Phase::Abort, started)
            .await?;
        let mut statements = steps.len();
        if let Some(down) = &down {
            let from = progress(&row).saturating_sub(steps.len());
            if from < down.statements.len() {
                self.run_script(driver, down, &mut row, from, steps.len(), started)
                    .await?;
            }
            statements += down.statements.len();
        }
        self.finish_phase(driver, m, &forget, LogAction::Abort, started)
            .await?;
        Ok(self.applied(m, Direction::Down, Phase::Abort, started, statements, None))
    }

    async fn run_uncontract(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
        mut row: HistoryRow,
    ) -> Result<Applied> {
        let sql = self.sql(driver);
        let started = Instant::now();
        let compiled = self.compile_kept(driver, m).await?;
        if row.state == HistoryState::Applied {
            row.state = HistoryState::Uncontracting;
            row.statements_done = Some(0);
            row.error = None;
            self.record(driver, &row).await?;
        }
        let steps = compiled.uncontract();
        self.run_steps(driver, m, &mut row, &steps, 0, Phase::Uncontract, started)
            .await?;
        // Numbered after the expand's backfills, whose checkpoints contract forgot.
        let first = compiled.backfill().len() + m.backfills().len();
        let backfills = compiled.uncontract_backfill();
        let total = first + backfills.len();
        let backfilled = self
            .run_phase_backfills(driver, m, &backfills, first, total)
            .await?;
        row.state = HistoryState::Expanded;
        row.statements_done = None;
        row.error = None;
        self.finish_phase(
            driver,
            m,
            &[sql.update(&row)],
            LogAction::Uncontract,
            started,
        )
        .await?;
        Ok(self.applied(
            m,
            Direction::Down,
            Phase::Uncontract,
            started,
            steps.len(),
            (!backfills.is_empty()).then_some(backfilled),
        ))
    }

    // ----- the parts -----------------------------------------------------

    fn applied(
        &self,
        m: &Migration,
        direction: Direction,
        phase: Phase,
        started: Instant,
        statements: usize,
        backfilled: Option<i64>,
    ) -> Applied {
        Applied {
            version: m.version,
            name: m.name.clone(),
            direction,
            duration_ms: elapsed_ms(started),
            statements,
            transactional: false,
            skipped: false,
            backfilled,
            recovered: None,
            phase: Some(phase),
        }
    }

    /// Runs `steps` from the first the row does not record as done (`offset`
    /// counts the actions of the phase before them), recording each.
    #[allow(clippy::too_many_arguments)] // the phase's context, from its one caller each
    async fn run_steps(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
        row: &mut HistoryRow,
        steps: &[&Step],
        offset: usize,
        phase: Phase,
        started: Instant,
    ) -> Result<()> {
        let done = progress(row).saturating_sub(offset);
        for (index, step) in steps.iter().enumerate().skip(done) {
            if let Err(error) = self
                .run_phase_step(driver, m, row.state, step, phase, index, steps.len())
                .await
            {
                row.error = Some(RowError::Other(error.to_string()));
                row.execution_ms = elapsed_ms(started);
                let _ = driver.execute(&self.sql(driver).update(row)).await;
                self.log_phase_failure(driver, m, phase, started, &error)
                    .await;
                return Err(error);
            }
            row.statements_done = Some((offset + index + 1) as i64);
            row.error = None;
            self.record(driver, row).await?;
            // Ctrl-C stops between two steps, each done one recorded: the
            // phase continues from the next with the same command.
            if index + 1 < steps.len() && self.hooks.stop.is_stopped() {
                return Err(Error::PhaseStopped {
                    version: m.version,
                    name: m.name.clone(),
                    phase,
                    done: index + 1,
                    count: steps.len(),
                    state: row.state,
                    next: next_command(row.state, m.version),
                });
            }
        }
        Ok(())
    }

    /// Runs one step under the phase's lock timeout, retrying a lock timeout
    /// with backoff; the error says where the phase stands and what to run.
    #[allow(clippy::too_many_arguments)] // the step's place in its phase, for the error
    async fn run_phase_step(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
        state: HistoryState,
        step: &Step,
        phase: Phase,
        index: usize,
        count: usize,
    ) -> Result<()> {
        let engine = driver.dialect().engine();
        let timeout = if step.lock_timeout {
            self.options.operation_lock_timeout
        } else {
            self.options.statement_lock_timeout
        };
        driver
            .apply_settings(&SessionSettings {
                lock_timeout: Some(timeout),
                statement_timeout: None,
            })
            .await
            .map_err(|e| Error::driver(engine, "setting the operation lock timeout", e))?;
        if let Some(count_query) = &step.rows_of {
            let rows = driver.query(count_query).await.map_err(|e| {
                Error::driver(engine, format!("counting the rows of `{}`", step.what), e)
            })?;
            let count = rows
                .first()
                .and_then(|row| row.first().cloned().flatten())
                .unwrap_or_else(|| "0".to_owned());
            // Writers wait for the rewrite of a table with rows; an empty
            // one (a fresh database, the quick start) is not worth a warning.
            if count.trim() != "0" {
                tracing::warn!(
                    version = %m.version,
                    step = %step.what,
                    rows = %count,
                    "this step rewrites the table in one write transaction"
                );
            }
        }
        let mut attempt = 0;
        loop {
            driver.set_workload(Workload::User);
            let outcome = exec::run_step(driver, step).await;
            driver.set_workload(Workload::Bookkeeping);
            let failure = match outcome {
                Ok(_) => return Ok(()),
                Err(failure) => failure,
            };
            if failure.error.kind == DriverErrorKind::LockTimeout
                && attempt < self.options.lock_retries
            {
                self.backoff(attempt).await;
                attempt += 1;
                continue;
            }
            let cause = if failure.error.kind == DriverErrorKind::LockTimeout {
                retry::gave_up(engine, failure.error, attempt + 1, timeout)
            } else {
                failure.error
            };
            let statement = match failure.statement {
                Some(i) => format!(
                    ", statement {} of {} (`{}`)",
                    i + 1,
                    step.statements.len(),
                    crate::recovery::first_line(&step.statements[i])
                ),
                None => String::new(),
            };
            return Err(Error::driver(
                engine,
                format!(
                    "{phase} of migration {} ({}) stopped at step {} of {count} ({}){statement}; the history keeps it {} after {index} step(s): fix the cause and {}",
                    m.version,
                    m.name,
                    index + 1,
                    step.what,
                    state.as_str(),
                    next_command(state, m.version)
                ),
                cause,
            ));
        }
    }

    /// Runs the statements of `up.sql` or `down.sql` from `from`, recording
    /// progress in `row` after `offset` actions of the phase: in one
    /// transaction with the progress where the engine allows it, else
    /// statement by statement.
    async fn run_script(
        &self,
        driver: &mut dyn Driver,
        script: &Prepared<'_>,
        row: &mut HistoryRow,
        from: usize,
        offset: usize,
        started: Instant,
    ) -> Result<()> {
        let engine = driver.dialect().engine();
        let sql = self.sql(driver);
        driver
            .apply_settings(&script.settings)
            .await
            .map_err(|e| Error::driver(engine, "setting lock and statement timeouts", e))?;
        let version = script.migration.version;
        let state = row.state;
        let total = script.statements.len();
        if script.transactional {
            driver
                .begin()
                .await
                .map_err(|e| Error::driver(engine, "starting a transaction", e))?;
            for (index, statement) in script.statements.iter().enumerate() {
                driver.set_workload(Workload::User);
                let outcome = driver.execute(&statement.sql).await;
                driver.set_workload(Workload::Bookkeeping);
                if let Err(e) = outcome {
                    let _ = driver.rollback().await;
                    let outcome = format!(
                        "the transaction was rolled back; the history keeps migration {version} {} before this script: fix it and {}",
                        state.as_str(),
                        next_command(state, version)
                    );
                    let error = self.statement_error(engine, script, index, &e, outcome);
                    self.log_failure(driver, script, started, &error).await;
                    return Err(error);
                }
            }
            row.statements_done = Some((offset + total) as i64);
            if let Err(e) = driver.execute(&sql.update(row)).await {
                let _ = driver.rollback().await;
                row.statements_done = Some(offset as i64);
                return Err(Error::driver(
                    engine,
                    "recording the progress in the history",
                    e,
                ));
            }
            return driver
                .commit()
                .await
                .map_err(|e| Error::driver(engine, "committing the script and its progress", e));
        }
        for (index, statement) in script.statements.iter().enumerate().skip(from) {
            let mut attempt = 0;
            loop {
                driver.set_workload(Workload::User);
                let outcome = driver.execute(&statement.sql).await;
                driver.set_workload(Workload::Bookkeeping);
                match outcome {
                    Ok(_) => break,
                    Err(e)
                        if e.kind == DriverErrorKind::LockTimeout
                            && attempt < self.options.lock_retries =>
                    {
                        self.backoff(attempt).await;
                        attempt += 1;
                    }
                    Err(e) => {
                        let e = self.gave_up(engine, script, e, attempt);
                        let outcome = format!(
                            "it ran outside a transaction: the {index} statement(s) before it stay, and the history keeps migration {version} {} after them: fix it and {}",
                            state.as_str(),
                            next_command(state, version)
                        );
                        let error = self.statement_error(engine, script, index, &e, outcome);
                        row.error = Some(RowError::Other(error.to_string()));
                        let _ = driver.execute(&sql.update(row)).await;
                        self.log_failure(driver, script, started, &error).await;
                        return Err(error);
                    }
                }
            }
            row.statements_done = Some((offset + index + 1) as i64);
            row.error = None;
            self.record(driver, row).await?;
        }
        Ok(())
    }

    /// Runs `backfills`, numbered from `first` among the `total` checkpoint
    /// steps of the migration, each from its checkpoint. Returns the rows changed.
    async fn run_phase_backfills(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
        backfills: &[&Backfill],
        first: usize,
        total: usize,
    ) -> Result<i64> {
        let checkpoints = self.sql(driver).checkpoints();
        let mut changed = 0;
        if !backfills.is_empty() {
            // Batches wait for locks as a plain migration's do, not as DDL steps.
            let engine = driver.dialect().engine();
            driver
                .apply_settings(&SessionSettings {
                    lock_timeout: Some(self.options.statement_lock_timeout),
                    statement_timeout: None,
                })
                .await
                .map_err(|e| {
                    Error::driver(engine, "setting the lock timeout of the backfill", e)
                })?;
        }
        for (index, backfill) in backfills.iter().enumerate() {
            driver.set_workload(Workload::User);
            let outcome = backfill::run(
                driver,
                backfill,
                &backfill::Context {
                    version: m.version,
                    migration: &m.name,
                    step: first + index,
                    steps: total,
                    checkpoints: &checkpoints,
                    hooks: &self.hooks,
                    lock_retries: self.options.lock_retries,
                    retry_backoff: self.options.retry_backoff,
                    retry_backoff_max: self.options.retry_backoff_max,
                },
            )
            .await;
            driver.set_workload(Workload::Bookkeeping);
            changed += outcome?.1;
        }
        Ok(changed)
    }

    /// Writes `row` over its history row.
    /// A lock timeout (the application's writers hold SQLite's write lock)
    /// is retried after a backoff, like a statement.
    async fn record(&self, driver: &mut dyn Driver, row: &HistoryRow) -> Result<()> {
        let engine = driver.dialect().engine();
        let statement = self.sql(driver).update(row);
        let mut attempt = 0;
        loop {
            match driver.execute(&statement).await {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.kind == DriverErrorKind::LockTimeout
                        && attempt < self.options.lock_retries =>
                {
                    self.backoff(attempt).await;
                    attempt += 1;
                }
                Err(e) => {
                    return Err(Error::driver(
                        engine,
                        format!(
                            "recording the progress of migration {} ({}) in the history",
                            row.version,
                            row.state.as_str()
                        ),
                        e,
                    ))
                }
            }
        }
    }

    /// Ends a phase: `bookkeeping` and its log entry in one transaction.
    async fn finish_phase(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
        bookkeeping: &[String],
        action: LogAction,
        started: Instant,
    ) -> Result<()> {
        let sql = self.sql(driver);
        let now = UtcTime::now().rfc3339();
        let mut statements = bookkeeping.to_vec();
        statements.push(sql.log(&LogEntry {
            version: m.version,
            name: &m.name,
            action,
            success: true,
            at: &now,
            duration_ms: elapsed_ms(started),
            actor: &self.options.actor,
            detail: None,
        }));
        self.in_transaction(
            driver,
            &statements,
            &format!(
                "recording the {} of migration {} in the history",
                action.as_str(),
                m.version
            ),
        )
        .await
    }

    async fn log_phase_failure(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
        phase: Phase,
        started: Instant,
        error: &Error,
    ) {
        let action = match phase {
            Phase::Expand => LogAction::Expand,
            Phase::Contract => LogAction::Contract,
            Phase::Abort => LogAction::Abort,
            Phase::Uncontract => LogAction::Uncontract,
        };
        let now = UtcTime::now().rfc3339();
        let detail = error.to_string();
        let statement = self.sql(driver).log(&LogEntry {
            version: m.version,
            name: &m.name,
            action,
            success: false,
            at: &now,
            duration_ms: elapsed_ms(started),
            actor: &self.options.actor,
            detail: Some(&detail),
        });
        if let Err(e) = driver.execute(&statement).await {
            tracing::warn!(error = %e, "could not append the failure to the history log");
        }
    }

    fn phase_log(&self, driver: &dyn Driver, m: &Migration, action: LogAction) -> String {
        let now = UtcTime::now().rfc3339();
        self.sql(driver).log(&LogEntry {
            version: m.version,
            name: &m.name,
            action,
            success: true,
            at: &now,
            duration_ms: 0,
            actor: &self.options.actor,
            detail: None,
        })
    }

    /// Creates the before-shape and checkpoint tables if they do not exist.
    async fn ensure_phase_tables(&self, driver: &mut dyn Driver) -> Result<()> {
        let engine = driver.dialect().engine();
        let sql = self.sql(driver);
        for statement in [sql.create_shapes(), sql.checkpoints().create()] {
            driver
                .execute(&statement)
                .await
                .map_err(|e| Error::driver(engine, "creating Cairn's tables for operations", e))?;
        }
        Ok(())
    }

    /// The history row of `version`, as stored now.
    async fn current_row(&self, driver: &mut dyn Driver, version: Version) -> Result<HistoryRow> {
        let engine = driver.dialect().engine();
        let table = self.sql(driver).table().to_owned();
        self.history(driver)
            .await?
            .into_iter()
            .find(|row| row.version == version)
            .ok_or_else(|| Error::CorruptHistory {
                table,
                engine,
                message: format!("the row of migration {version} disappeared during the run"),
            })
    }

    // ----- the before-shape ----------------------------------------------

    /// Introspects the tables the operations of `m` change or refer to
    /// ([`operation::tables_needed`]); one that does not exist is left out.
    async fn read_before(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
    ) -> Result<BTreeMap<String, Table>> {
        let dialect = crate::schema::dialect_of(driver);
        let snapshot = dialect.read_schema(driver).await?;
        let mut before = BTreeMap::new();
        for table in operation::tables_needed(operations_of(m)) {
            if let Some(shape) = snapshot.tables.get(&table) {
                before.insert(table, shape.clone());
            }
        }
        Ok(before)
    }

    async fn keep_shape(
        &self,
        driver: &mut dyn Driver,
        version: Version,
        before: &BTreeMap<String, Table>,
    ) -> Result<()> {
        let engine = driver.dialect().engine();
        let sql = self.sql(driver);
        let mut statements = vec![sql.delete_shapes(version)];
        for (position, (name, table)) in before.iter().enumerate() {
            let json = serde_json::to_string(table).map_err(|e| Error::CorruptHistory {
                table: sql.shapes_table(),
                engine,
                message: format!("the shape of `{name}` does not serialise: {e}"),
            })?;
            statements.push(sql.insert_shape(version, position, name, &json));
        }
        self.in_transaction(
            driver,
            &statements,
            "keeping the tables' shape before expand",
        )
        .await
    }

    /// The shape kept at expand, `None` when there is none.
    async fn kept_shape(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
    ) -> Result<Option<BTreeMap<String, Table>>> {
        let engine = driver.dialect().engine();
        let sql = self.sql(driver);
        let exists = driver
            .query(&sql.shapes_exist())
            .await
            .map_err(|e| Error::driver(engine, "checking for the before-shape table", e))?;
        let rows = if exists.is_empty() {
            Vec::new()
        } else {
            driver
                .query(&sql.select_shapes(m.version))
                .await
                .map_err(|e| Error::driver(engine, format!("reading {}", sql.shapes_table()), e))?
        };
        let changes_a_table = !operation::tables_needed(operations_of(m)).is_empty();
        if rows.is_empty() && changes_a_table {
            return Ok(None);
        }
        let mut before = BTreeMap::new();
        for row in rows {
            let mut cells = row.into_iter();
            let name = cells.next().flatten().unwrap_or_default();
            let json = cells.next().flatten().unwrap_or_default();
            let table: Table = serde_json::from_str(&json).map_err(|e| Error::CorruptHistory {
                table: sql.shapes_table(),
                engine,
                message: format!(
                    "the shape of `{name}` kept for migration {} is not readable ({e}); restore the row, or `cairn abort` cannot compile its SQL",
                    m.version
                ),
            })?;
            before.insert(name, table);
        }
        Ok(Some(before))
    }

    fn shape_lost(&self, driver: &dyn Driver, m: &Migration, row: &HistoryRow) -> Error {
        Error::CorruptHistory {
            table: self.sql(driver).shapes_table(),
            engine: driver.dialect().engine(),
            message: format!(
                "migration {} ({}) is {} but the shape of its tables before expand is not kept, so its SQL cannot be compiled; restore the rows of version {} from a backup",
                m.version,
                m.name,
                row.state.as_str(),
                m.version
            ),
        }
    }

    fn compile(
        &self,
        driver: &dyn Driver,
        m: &Migration,
        before: &BTreeMap<String, Table>,
    ) -> Result<Compiled> {
        operation::compile(operations_of(m), m.version, before, driver.dialect())
    }

    /// The phases of `m`, compiled from the shape kept at its expand.
    async fn compile_kept(&self, driver: &mut dyn Driver, m: &Migration) -> Result<Compiled> {
        match self.kept_shape(driver, m).await? {
            Some(before) => self.compile(driver, m, &before),
            None => {
                let row = self.current_row(driver, m.version).await?;
                Err(self.shape_lost(driver, m, &row))
            }
        }
    }

    // ----- status and dry runs -------------------------------------------

    /// What `status` and a run say about a migration in a phase.
    async fn held(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
        history: &[HistoryRow],
    ) -> ExpandedMigration {
        let state = history
            .iter()
            .find(|row| row.version == m.version)
            .map_or(HistoryState::Expanded, |row| row.state);
        let versions = match self.compile_kept(driver, m).await {
            Ok(compiled) => compiled.versions(),
            Err(_) => operation::Versions::default(),
        };
        ExpandedMigration {
            version: m.version,
            name: m.name.clone(),
            state,
            versions,
            next: next_command(state, m.version),
        }
    }

    /// Every migration in a phase, for `status`.
    pub(super) async fn phases(
        &self,
        driver: &mut dyn Driver,
        history: &[HistoryRow],
    ) -> Vec<ExpandedMigration> {
        let engine = driver.dialect().engine();
        let source = plan::applicable(&self.migrations, engine);
        let mut out = Vec::new();
        for row in history {
            let Some(m) = source.get(&row.version).copied().filter(|m| is_online(m)) else {
                continue;
            };
            if matches!(row.state, HistoryState::Applied) {
                continue;
            }
            out.push(self.held(driver, m, history).await);
        }
        out
    }

    /// The expand of `m` as a dry run shows it (`row` for one under way).
    pub(super) async fn describe_expand(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
        row: Option<&HistoryRow>,
        mut setup: Vec<String>,
    ) -> Result<PlannedMigration> {
        let engine = driver.dialect().engine();
        let sql = self.sql(driver);
        let up = self.prepare(m, Direction::Up, driver)?;
        let n_up = up.statements.len();
        let done = row.map_or(0, progress);
        let compiled = match row {
            Some(_) => match self.kept_shape(driver, m).await? {
                Some(before) => self.compile(driver, m, &before)?,
                None => {
                    let before = self.read_before(driver, m).await?;
                    self.compile(driver, m, &before)?
                }
            },
            None => {
                let before = self.read_before(driver, m).await?;
                self.compile(driver, m, &before)?
            }
        };
        let mut statements: Vec<PlannedStatement> = Vec::new();
        let expanding = row.is_none_or(|row| row.state == HistoryState::Expanding);
        if expanding {
            statements.extend(up.statements.iter().skip(done).map(|s| PlannedStatement {
                location: up.script.location(s.line).to_string(),
                sql: s.sql.clone(),
            }));
            for (location, step) in located(&compiled, m, Phase::Expand)
                .iter()
                .skip(done.saturating_sub(n_up))
            {
                statements.extend(planned_step(location, step));
            }
        }
        let mut backfills = compiled.backfill();
        backfills.extend(m.backfills());
        statements.extend(backfills.iter().map(|b| planned_backfill(b, engine)));
        if row.is_none() {
            setup.push(sql.create_shapes());
            let mut expanding = self.migration_row(m, engine, HistoryState::Expanding, 0);
            expanding.statements_done = Some(0);
            setup.push(sql.insert(&expanding));
        }
        let mut expanded = self.migration_row(m, engine, HistoryState::Expanded, 0);
        expanded.statements_done = None;
        setup.push(sql.update(&expanded));
        setup.push(self.phase_log(driver, m, LogAction::Expand));
        Ok(PlannedMigration {
            version: m.version,
            name: m.name.clone(),
            direction: Direction::Up,
            transactional: false,
            phase: Some(Phase::Expand),
            statements,
            history: setup,
        })
    }

    /// The abort of `m` as a dry run shows it.
    async fn describe_abort(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
        row: &HistoryRow,
    ) -> Result<PlannedMigration> {
        let sql = self.sql(driver);
        let compiled = match self.compile_kept(driver, m).await {
            Ok(compiled) => compiled,
            Err(_) if row.state == HistoryState::Expanding => Compiled::default(),
            Err(e) => return Err(e),
        };
        let done = if row.state == HistoryState::Aborting {
            progress(row)
        } else {
            0
        };
        let mut statements = Vec::new();
        let steps = located(&compiled, m, Phase::Abort);
        for (location, step) in steps.iter().skip(done) {
            statements.extend(planned_step(location, step));
        }
        let up = self.prepare(m, Direction::Up, driver)?;
        if !up.statements.is_empty() {
            let down = self.prepare(m, Direction::Down, driver)?;
            statements.extend(
                down.statements
                    .iter()
                    .skip(done.saturating_sub(steps.len()))
                    .map(|s| PlannedStatement {
                        location: down.script.location(s.line).to_string(),
                        sql: s.sql.clone(),
                    }),
            );
        }
        Ok(PlannedMigration {
            version: m.version,
            name: m.name.clone(),
            direction: Direction::Down,
            transactional: false,
            phase: Some(Phase::Abort),
            statements,
            history: vec![
                sql.delete(m.version),
                sql.delete_shapes(m.version),
                sql.checkpoints().delete(m.version),
                self.phase_log(driver, m, LogAction::Abort),
            ],
        })
    }

    /// The un-contract of `m` as a dry run shows it.
    async fn describe_uncontract(
        &self,
        driver: &mut dyn Driver,
        m: &Migration,
        row: &HistoryRow,
    ) -> Result<PlannedMigration> {
        let engine = driver.dialect().engine();
        let sql = self.sql(driver);
        let compiled = self.compile_kept(driver, m).await?;
        let done = if row.state == HistoryState::Uncontracting {
            progress(row)
        } else {
            0
        };
        let mut statements = Vec::new();
        for (location, step) in located(&compiled, m, Phase::Uncontract).iter().skip(done) {
            statements.extend(planned_step(location, step));
        }
        statements.extend(
            compiled
                .uncontract_backfill()
                .iter()
                .map(|b| planned_backfill(b, engine)),
        );
        let mut expanded = row.clone();
        expanded.state = HistoryState::Expanded;
        expanded.statements_done = None;
        Ok(PlannedMigration {
            version: m.version,
            name: m.name.clone(),
            direction: Direction::Down,
            transactional: false,
            phase: Some(Phase::Uncontract),
            statements,
            history: vec![
                sql.update(&expanded),
                self.phase_log(driver, m, LogAction::Uncontract),
            ],
        })
    }

    /// `plan_up` when a migration with operations is involved: plain
    /// migrations as always, an expand (and with `contract_after_expand`
    /// its contract), stopping where `up` would stop.
    pub(super) async fn plan_up_online(
        &self,
        driver: &mut dyn Driver,
        history: &[HistoryRow],
        to: Option<Version>,
        mut setup: Vec<String>,
    ) -> Result<Vec<PlannedMigration>> {
        let engine = driver.dialect().engine();
        let mut planned = Vec::new();
        if let Some(row) = self.in_flight(history, engine) {
            let m = self.source_for(row, engine)?;
            self.refuse_problems_of(history, row.version, engine)?;
            match row.state {
                HistoryState::Expanding | HistoryState::Backfilling => {
                    planned.push(
                        self.describe_expand(driver, m, Some(row), Vec::new())
                            .await?,
                    );
                    return Ok(planned);
                }
                HistoryState::Expanded => {
                    let pending =
                        plan::plan_up(&self.migrations, history, engine, self.options.plan, to)?;
                    if let Some(first) = pending.first() {
                        return Err(self.phase_error(
                            m,
                            row,
                            format!(
                                "`cairn up` applies no later migration over an expanded one ({} pending, the first {} {}): {}",
                                pending.len(),
                                first.version,
                                first.name,
                                next_command(row.state, m.version)
                            ),
                        ));
                    }
                    return Ok(planned);
                }
                state => {
                    return Err(self.phase_error(
                        m,
                        row,
                        format!(
                            "`cairn up` applies nothing while it is {}: {}",
                            state.as_str(),
                            next_command(state, m.version)
                        ),
                    ))
                }
            }
        }
        let chosen = plan::plan_up(&self.migrations, history, engine, self.options.plan, to)?;
        for m in chosen {
            if is_online(m) {
                let setup = std::mem::take(&mut setup);
                planned.push(self.describe_expand(driver, m, None, setup).await?);
                break;
            }
            let one = self.describe(driver, vec![m], Direction::Up, std::mem::take(&mut setup))?;
            planned.extend(one);
        }
        Ok(planned)
    }

    /// `plan_down` when a migration with operations is involved.
    pub(super) async fn plan_down_online(
        &self,
        driver: &mut dyn Driver,
        history: &[HistoryRow],
        target: DownTarget,
    ) -> Result<Vec<PlannedMigration>> {
        let engine = driver.dialect().engine();
        if let Some(row) = self.in_flight(history, engine) {
            let m = self.source_for(row, engine)?;
            self.refuse_problems_of(history, row.version, engine)?;
            return match row.state {
                HistoryState::Uncontracting => {
                    Ok(vec![self.describe_uncontract(driver, m, row).await?])
                }
                HistoryState::Contracting => Err(self.phase_error(
                    m,
                    row,
                    format!(
                        "`cairn down` cannot roll back a migration that is contracting: {}, then `cairn down`",
                        next_command(row.state, m.version)
                    ),
                )),
                _ => Ok(vec![self.describe_abort(driver, m, row).await?]),
            };
        }
        let chosen = plan::plan_down(&self.migrations, history, engine, target)?;
        let mut planned = Vec::new();
        for m in chosen {
            if is_online(m) {
                let row = history
                    .iter()
                    .find(|row| row.version == m.version)
                    .cloned()
                    .ok_or(Error::UnknownTarget { version: m.version })?;
                planned.push(self.describe_uncontract(driver, m, &row).await?);
                break;
            }
            planned.extend(self.describe(driver, vec![m], Direction::Down, Vec::new())?);
        }
        Ok(planned)
    }
}

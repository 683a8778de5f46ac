//! Statement packets (issue 14): a migration that runs outside a transaction,
//! on a driver that states [`Capabilities::statement_packets`] (MySQL and
//! MariaDB), goes to the server in two round trips instead of one per
//! statement and per history write.
//!
//! The first packet holds the session settings, the claim (the `running`
//! row), then each statement followed by the progress write that records it;
//! the second, Cairn's transaction with the final row and the log entry. The
//! server runs a packet in order and stops at the first statement that
//! fails, so the history it holds always says exactly which statements
//! completed: each progress write follows its statement in the same stream,
//! whatever prefix of the packet the server ran before an error, a kill or a
//! lost connection. The last statement's progress write is left out: the
//! final row, written next, implies it, and a run that dies before writing it
//! leaves that statement in doubt, which is what a run that dies between a
//! statement and its progress write leaves too (see [`crate::recovery`]).
//!
//! What stays as before: a statement that times out on a lock is retried
//! with backoff (the packet is sent again from it); the statement in doubt of
//! `--resume` runs alone, so that its error can confirm it completed; a
//! driver that cannot count a statement's results (MySQL `CALL`, a `SELECT`)
//! sends it in a round trip of its own, inside [`Driver::execute_packet`].
//!
//! [`Capabilities::statement_packets`]: crate::driver::Capabilities::statement_packets

use super::apply::StepError;
use super::{Migrator, Prepared};
use crate::driver::{
    Driver, DriverError, DriverErrorKind, LockKind, PacketFailure, PacketStep, SessionSettings,
    Workload,
};
use crate::error::{Error, Result};
use crate::history::{HistoryRow, HistorySql};
use crate::migration::Direction;

/// What a packet sends before the migration's statements: the settings and
/// the claim, when the caller has not sent them already.
#[derive(Debug, Default)]
pub(super) struct Lead {
    /// The session settings of the migration.
    pub(super) settings: Option<SessionSettings>,
    /// The claim: the `running` row, committed before any statement runs.
    pub(super) claim: Option<String>,
}

impl Lead {
    fn is_empty(&self) -> bool {
        self.settings.is_none() && self.claim.is_none()
    }
}

/// What one statement of a packet is, to read a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Claim,
    /// Statement `.0` of the migration.
    Statement(usize),
    /// The progress write after statement `.0`.
    Progress(usize),
}

/// Whether the migrator sends statements in packets on `driver`.
pub(super) fn enabled(driver: &dyn Driver) -> bool {
    let capabilities = driver.capabilities();
    capabilities.statement_packets && capabilities.lock == LockKind::Session
}

/// Sets `row`'s progress to `done` statements of `step`.
pub(super) fn set_done(row: &mut HistoryRow, step: &Prepared<'_>, done: usize) {
    row.statements_done = Some(done as i64);
    row.statements_checksum = (done > 0).then(|| {
        crate::checksum::statements_checksum(step.statements[..done].iter().map(|s| s.sql.as_str()))
    });
}

impl Migrator {
    /// Runs the statements of `step` from `from` on in packets, after what
    /// `lead` holds, recording progress in `row` as [`Migrator::execute_statements`]
    /// does; with `omit_last`, the last statement's progress write is left to
    /// the final row. On return `row` counts the statements known completed.
    #[allow(clippy::too_many_arguments)] // one call site; the parts are the run's context
    pub(super) async fn execute_packed(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        sql: &HistorySql,
        row: &mut HistoryRow,
        from: usize,
        in_doubt: bool,
        mut lead: Lead,
        omit_last: bool,
    ) -> std::result::Result<Option<String>, StepError> {
        let engine = driver.dialect().engine();
        let count = step.statements.len();
        let mut next = from;
        let mut recovered = None;
        if in_doubt && from < count {
            // The statement in doubt runs alone: its error may confirm it completed.
            if !lead.is_empty() {
                self.send(
                    driver,
                    step,
                    sql,
                    row,
                    from,
                    std::mem::take(&mut lead),
                    false,
                )
                .await?;
            }
            recovered = self
                .execute_statements(driver, step, from, from + 1, true, Some((sql, &mut *row)))
                .await?;
            next = from + 1;
        }
        if next == count && lead.is_empty() {
            return Ok(recovered);
        }
        let mut attempt = 0;
        loop {
            let failure = self
                .send(
                    driver,
                    step,
                    sql,
                    row,
                    next,
                    std::mem::take(&mut lead),
                    omit_last,
                )
                .await;
            match failure {
                Ok(()) => {
                    set_done(row, step, count);
                    return Ok(recovered);
                }
                // Outside a transaction a statement that timed out on a lock did nothing: retry it.
                Err(StepError::Statement(index, e))
                    if e.kind == DriverErrorKind::LockTimeout
                        && attempt < self.options.lock_retries =>
                {
                    if index > next {
                        attempt = 0;
                    }
                    self.backoff(attempt).await;
                    attempt += 1;
                    next = index;
                }
                Err(StepError::Statement(index, e)) => {
                    let e = self.gave_up(engine, step, e, attempt);
                    return Err(StepError::Statement(index, e));
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// Sends one packet: `lead`, then the statements from `next` with their
    /// progress writes. On failure `row` counts the statements the packet
    /// confirmed, and the error says which step failed.
    #[allow(clippy::too_many_arguments)] // private; the parts are the run's context
    async fn send(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        sql: &HistorySql,
        row: &mut HistoryRow,
        next: usize,
        lead: Lead,
        omit_last: bool,
    ) -> std::result::Result<(), StepError> {
        let engine = driver.dialect().engine();
        let count = step.statements.len();
        let mut statements: Vec<String> = Vec::new();
        let mut roles = Vec::new();
        if let Some(claim) = lead.claim {
            statements.push(claim);
            roles.push(Role::Claim);
        }
        let mut progress = row.clone();
        for index in next..count {
            statements.push(step.statements[index].sql.clone());
            roles.push(Role::Statement(index));
            if !(omit_last && index + 1 == count) {
                set_done(&mut progress, step, index + 1);
                statements.push(sql.update(&progress));
                roles.push(Role::Progress(index));
            }
        }
        let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
        driver.set_workload(Workload::User);
        let outcome = driver.execute_packet(lead.settings.as_ref(), &refs).await;
        driver.set_workload(Workload::Bookkeeping);
        let Err(PacketFailure {
            at,
            error,
            last_sent,
        }) = outcome
        else {
            return Ok(());
        };
        // The connection was lost with more of the packet sent after the
        // step that failed: the server may have run any of it, and only the
        // history it holds says how far it got.
        let failed = match at {
            PacketStep::Settings => None,
            PacketStep::Statement(index) => Some(index),
        };
        let lost = error.kind == DriverErrorKind::Connection;
        if let Some(last) = last_sent.filter(|&last| lost && failed.is_none_or(|f| last > f)) {
            let before = failed.unwrap_or(0).min(roles.len());
            let confirmed = roles[..before]
                .iter()
                .filter(|r| matches!(r, Role::Statement(_)))
                .count()
                + next;
            let sent = roles[..=last.min(roles.len().saturating_sub(1))]
                .iter()
                .rev()
                .find_map(|r| match r {
                    Role::Statement(i) => Some(*i + 1),
                    _ => None,
                })
                .unwrap_or(confirmed);
            set_done(row, step, confirmed);
            let advice = match step.direction {
                Direction::Up => crate::recovery::resume_in_doubt_advice(),
                Direction::Down => crate::recovery::rollback_advice(),
            };
            return Err(StepError::Failed(Error::driver(
                engine,
                format!(
                    "{} of migration {} ({}): the connection was lost while the server ran statements {} to {sent} of {count}, sent in one packet, each followed by the history write that records it; {confirmed} statement(s) are known completed, and the server may have run more of the packet before it noticed: the history on the server records exactly how far it got, and the statement after the last one it records is in doubt. On a new connection, `cairn status` shows it; {advice}",
                    step.direction,
                    step.migration.version,
                    step.migration.name,
                    (confirmed + 1).min(sent),
                ),
                error,
            )));
        }
        let Some(index) = failed else {
            return Err(StepError::Failed(Error::driver(
                engine,
                "setting lock and statement timeouts",
                error,
            )));
        };
        let Some(role) = roles.get(index).copied() else {
            return Err(StepError::Failed(Error::driver(
                engine,
                format!(
                    "running migration {} ({})",
                    step.migration.version, step.migration.name
                ),
                bad_index(driver.driver_name(), index, roles.len(), error),
            )));
        };
        match role {
            Role::Claim => Err(StepError::Failed(Error::driver(
                engine,
                "claiming the migration in the history",
                error,
            ))),
            Role::Statement(statement) => {
                set_done(row, step, statement);
                Err(StepError::Statement(statement, error))
            }
            Role::Progress(statement) => {
                set_done(row, step, statement);
                Err(StepError::Progress(statement, error))
            }
        }
    }
}

impl Migrator {
    /// Records `step` as done with `finish` in Cairn's transaction, sent as
    /// one packet. When that fails short of a lost connection, the
    /// transaction is rolled back, the last statement's progress (left to
    /// the final row) is written from `progress`, and `finish` is recorded
    /// again as on every other driver, with its retries.
    pub(super) async fn finish_packed(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        sql: &HistorySql,
        progress: &HistoryRow,
        finish: &[String],
    ) -> Result<()> {
        let engine = driver.dialect().engine();
        let Some((begin, commit)) = sql.dialect().packet_transaction() else {
            return self
                .in_transaction(driver, finish, "recording the migration in the history")
                .await;
        };
        let mut statements = vec![begin];
        statements.extend(finish.iter().map(String::as_str));
        statements.push(commit);
        let Err(PacketFailure { error, .. }) = driver.execute_packet(None, &statements).await
        else {
            return Ok(());
        };
        let count = step.statements.len();
        if error.kind == DriverErrorKind::Connection {
            return Err(Error::driver(
                engine,
                format!(
                    "recording {} of migration {} ({}) in the history after its {count} statement(s) completed: the connection was lost, so whether the final row was committed is unknown; on a new connection `cairn status` tells: if it shows the migration still running, statement {count} is in doubt and `cairn up --resume` confirms it",
                    step.direction, step.migration.version, step.migration.name
                ),
                error,
            ));
        }
        tracing::info!(%error, "recording the migration in one packet failed; recording it again step by step");
        let _ = driver.rollback().await;
        driver.execute(&sql.update(progress)).await.map_err(|e| {
            Error::driver(
                engine,
                format!(
                    "recording progress after statement {count} of {count} of migration {} (the statement completed, but the history still counts {} done, so the next run sees statement {count} as in doubt)",
                    step.migration.version,
                    count - 1
                ),
                e,
            )
        })?;
        self.in_transaction(driver, finish, "recording the migration in the history")
            .await
    }
}

/// The error for a packet failure at an index outside the packet.
fn bad_index(driver: &str, index: usize, count: usize, error: DriverError) -> DriverError {
    DriverError::new(
        error.kind,
        format!(
            "driver `{driver}` failed a packet of {count} statement(s) but named statement index {index}, outside the packet, so which statement failed is unknown (a bug in the driver's Driver::execute_packet); the history on the server says how far the migration got (`cairn status`); the driver's error: {}",
            error.message
        ),
    )
}

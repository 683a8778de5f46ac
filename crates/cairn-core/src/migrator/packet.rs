//! Statement packets (issue 14): a migration that runs outside a transaction,
//! on a driver that states [`Capabilities::statement_packets`] (MySQL and
//! MariaDB), goes to the server in one round trip per statement and one
//! more, instead of one per statement and one per history write.
//!
//! The first packet holds the session settings, the claim (the `running`
//! row) and the first statement; each next one the progress write of the
//! statement before and the next statement; the last, Cairn's transaction
//! with the final row and the log entry. The server runs a packet in order
//! and stops at the first statement that fails, so the history it holds
//! always says exactly which statements completed. Every packet ends with a
//! statement because a server sends a packet's replies only at its end: so
//! the outcome of a statement is known before its progress is written, and a
//! lost connection leaves at most one history write and one statement in
//! doubt, which the error names (`cairn status` then tells which). The last
//! statement's progress write is left out: the final row, written next,
//! implies it, and a run that dies before writing it leaves that statement in
//! doubt, which is what a run that dies between a statement and its progress
//! write leaves too (see [`crate::recovery`]). A migration of n statements
//! takes n + 1 round trips instead of 2n + 3.
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
    /// What gives back a claim committed before this packet (with the
    /// migration before, see [`Claim`]) when the settings fail and no
    /// statement runs.
    pub(super) undo: Option<String>,
}

/// A migration's claim (its `running` row), written in the final
/// transaction of the migration before it in the same run, so that the two
/// history writes take one durable commit instead of two (issue 14). Only
/// where that transaction is sent as one packet, and only for a claim that
/// can be given back exactly ([`Claim::undo`]): a run stopped (Ctrl-C)
/// between the two migrations, or whose settings fail before the first
/// statement, undoes it, so the history then says what it said before.
#[derive(Clone, Debug)]
pub(super) struct Claim {
    /// The row as claimed: `running`, no statement done.
    pub(super) row: HistoryRow,
    /// The statements that write it.
    pub(super) statements: Vec<String>,
    /// The statement that gives it back: deletes the row of an up, writes
    /// back the applied row of a rollback.
    pub(super) undo: String,
}

impl Lead {
    fn is_empty(&self) -> bool {
        self.settings.is_none() && self.claim.is_none()
    }
}

impl Migrator {
    /// The claim of `next`, to be written with the final row of the
    /// migration before it, or `None` where it could not be given back
    /// exactly: a repeatable applied again (its previous row gives way to the
    /// claim) and a rollback of a migration whose applied row is unknown.
    pub(super) fn carried_claim(&self, next: &Prepared<'_>, sql: &HistorySql) -> Option<Claim> {
        let engine = sql.dialect().engine();
        let version = next.migration.version;
        let (row, write, undo) = match next.direction {
            Direction::Up if version.is_repeatable() => return None,
            Direction::Up => {
                let row = self.claim_row(next, engine);
                let write = sql.insert(&row);
                (row, write, sql.delete(version))
            }
            Direction::Down => {
                let applied = next.applied_row.as_ref()?;
                let row = self.claim_row(next, engine);
                let write = sql.update(&row);
                (row, write, sql.update(applied))
            }
        };
        Some(Claim {
            row,
            statements: vec![write],
            undo,
        })
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
    ///
    /// Each packet ends with a statement of the migration: the first holds
    /// `lead` and statement `from`, each next one the progress write of the
    /// statement before and the statement itself. A server sends a packet's
    /// replies only at its end, so ending every packet with a statement
    /// means a statement's outcome is always known before its progress is
    /// written, and after a lost connection at most one history write and
    /// one statement are in doubt, which the error names.
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
                    std::mem::take(&mut lead),
                    None,
                    None,
                )
                .await?;
            }
            recovered = self
                .execute_statements(driver, step, from, from + 1, true, Some((sql, &mut *row)))
                .await?;
            next = from + 1;
        }
        if next == count && !lead.is_empty() {
            self.send(
                driver,
                step,
                sql,
                row,
                std::mem::take(&mut lead),
                None,
                None,
            )
            .await?;
        }
        // The progress write of the statement before `index`, not yet sent.
        let mut pending = None;
        let mut attempt = 0;
        let mut index = next;
        while index < count {
            let outcome = self
                .send(
                    driver,
                    step,
                    sql,
                    row,
                    std::mem::take(&mut lead),
                    pending.take(),
                    Some(index),
                )
                .await;
            match outcome {
                Ok(()) => {
                    attempt = 0;
                    index += 1;
                    pending = Some(index);
                }
                // Outside a transaction a statement that timed out on a lock did nothing: retry it.
                Err(StepError::Statement(failed, e))
                    if e.kind == DriverErrorKind::LockTimeout
                        && attempt < self.options.lock_retries =>
                {
                    self.backoff(attempt).await;
                    attempt += 1;
                    index = failed;
                }
                Err(StepError::Statement(failed, e)) => {
                    let e = self.gave_up(engine, step, e, attempt);
                    return Err(StepError::Statement(failed, e));
                }
                Err(other) => return Err(other),
            }
        }
        if let Some(done) = pending.filter(|_| !omit_last) {
            self.send(driver, step, sql, row, Lead::default(), Some(done), None)
                .await?;
        }
        set_done(row, step, count);
        Ok(recovered)
    }

    /// Sends one packet: `lead`, then the progress write that counts
    /// `progress` statements, then statement `statement`. On failure `row`
    /// counts the statements known completed, and the error says which step
    /// failed.
    #[allow(clippy::too_many_arguments)] // private; the parts are the run's context
    async fn send(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        sql: &HistorySql,
        row: &mut HistoryRow,
        mut lead: Lead,
        progress: Option<usize>,
        statement: Option<usize>,
    ) -> std::result::Result<(), StepError> {
        let engine = driver.dialect().engine();
        let mut statements: Vec<String> = Vec::new();
        let mut roles = Vec::new();
        if let Some(claim) = lead.claim.take() {
            statements.push(claim);
            roles.push(Role::Claim);
        }
        if let Some(done) = progress {
            let mut written = row.clone();
            set_done(&mut written, step, done);
            statements.push(sql.update(&written));
            roles.push(Role::Progress(done - 1));
        }
        if let Some(index) = statement {
            statements.push(step.statements[index].sql.clone());
            roles.push(Role::Statement(index));
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
            if let Some(done) = progress {
                set_done(row, step, done);
            }
            return Ok(());
        };
        let failed = match at {
            PacketStep::Settings => None,
            PacketStep::Statement(index) => Some(index),
        };
        // What completed before the failed step.
        let known = roles[..failed.unwrap_or(0).min(roles.len())]
            .iter()
            .rev()
            .find_map(|r| match r {
                Role::Progress(i) => Some(i + 1),
                _ => None,
            });
        if let Some(done) = known {
            set_done(row, step, done);
        }
        let lost = error.kind == DriverErrorKind::Connection;
        // The connection was lost with later steps of the packet sent: the
        // server may have run them, and only the history it holds says.
        if let Some(last) = last_sent.filter(|&last| lost && failed.is_none_or(|f| last > f)) {
            let in_flight: Vec<Role> = roles
                .get(failed.unwrap_or(0)..=last.min(roles.len().saturating_sub(1)))
                .unwrap_or_default()
                .to_vec();
            return Err(StepError::Failed(
                self.lost_in_packet(engine, step, &in_flight, error),
            ));
        }
        let Some(index) = failed else {
            // No statement ran: a claim committed with the migration before goes back.
            let undone = match &lead.undo {
                Some(undo) => match driver.execute(undo).await {
                    Ok(_) => " (nothing of the migration ran, and its claim in the history was given back)",
                    Err(_) => " (nothing of the migration ran, but its claim in the history could not be given back: `cairn status` shows it running with statement 1 in doubt; `cairn up --resume` runs it)",
                },
                None => "",
            };
            return Err(StepError::Failed(Error::driver(
                engine,
                format!("setting lock and statement timeouts{undone}"),
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
            Role::Statement(statement) => Err(StepError::Statement(statement, error)),
            Role::Progress(statement) => Err(StepError::Progress(statement, error)),
        }
    }

    /// The error for a connection lost while the steps `in_flight` of one
    /// packet (a history write, then a statement) were with the server.
    fn lost_in_packet(
        &self,
        engine: crate::engine::Engine,
        step: &Prepared<'_>,
        in_flight: &[Role],
        error: DriverError,
    ) -> Error {
        let count = step.statements.len();
        let version = step.migration.version;
        let named = |i: usize| {
            let statement = &step.statements[i];
            format!(
                "statement {} ({}: `{}`)",
                i + 1,
                step.script.location(statement.line),
                crate::recovery::first_line(&statement.sql)
            )
        };
        let statement = in_flight.iter().find_map(|r| match r {
            Role::Statement(i) => Some(*i),
            _ => None,
        });
        let advice = match step.direction {
            Direction::Up => crate::recovery::resume_in_doubt_advice(),
            Direction::Down => crate::recovery::rollback_advice(),
        };
        let context = match (in_flight.first(), statement) {
            (Some(Role::Progress(done)), Some(next)) => {
                let skip = match step.direction {
                    Direction::Up => format!(
                        "if it is statement {}, run `cairn up --resume --skip-in-doubt`, which records it as completed without running it again",
                        done + 1
                    ),
                    Direction::Down => crate::recovery::rollback_advice().to_owned(),
                };
                format!(
                    "recording progress after statement {} of {count} of migration {version} ({}: `{}`): the statement completed, but the connection was lost before Cairn saw that history write's outcome, and {} was sent with it; on a new connection `cairn status` shows which statement is in doubt: {skip}; if it is statement {}, it may or may not have completed: {advice}",
                    done + 1,
                    step.script.location(step.statements[*done].line),
                    crate::recovery::first_line(&step.statements[*done].sql),
                    named(next),
                    next + 1,
                )
            }
            (_, Some(next)) => {
                let (untouched, command) = match step.direction {
                    Direction::Up => ("pending", "`cairn up` applies it"),
                    Direction::Down => ("applied", "the same command rolls it back"),
                };
                format!(
                    "{} of migration {version} ({}): the connection was lost while the server wrote the `running` row and ran {} sent with it; on a new connection `cairn status` tells which: if the migration is {untouched}, nothing of it ran and {command}; if it is running, {} is in doubt: {advice}",
                    step.direction,
                    step.migration.name,
                    named(next),
                    named(next),
                )
            }
            _ => format!(
                "{} of migration {version} ({}): the connection was lost while the server wrote to the history; on a new connection `cairn status` shows what it recorded",
                step.direction, step.migration.name
            ),
        };
        Error::driver(engine, context, error)
    }
}

impl Migrator {
    /// Records `step` as done with `finish` in Cairn's transaction, sent as
    /// one packet, with the claim of the next migration when `next` holds one
    /// (see [`Claim`]); returns whether that claim was committed. When the
    /// packet fails short of a lost connection, the transaction is rolled
    /// back, the last statement's progress (left to the final row) is written
    /// from `progress`, and `finish` is recorded again as on every other
    /// driver, with its retries, and without the next claim.
    pub(super) async fn finish_packed(
        &self,
        driver: &mut dyn Driver,
        step: &Prepared<'_>,
        sql: &HistorySql,
        progress: &HistoryRow,
        finish: &[String],
        next: Option<&Claim>,
    ) -> Result<bool> {
        let engine = driver.dialect().engine();
        let Some((begin, commit)) = sql.dialect().packet_transaction() else {
            self.in_transaction(driver, finish, "recording the migration in the history")
                .await?;
            return Ok(false);
        };
        let mut statements = vec![begin];
        statements.extend(finish.iter().map(String::as_str));
        if let Some(claim) = next {
            statements.extend(claim.statements.iter().map(String::as_str));
        }
        statements.push(commit);
        let Err(PacketFailure { error, .. }) = driver.execute_packet(None, &statements).await
        else {
            return Ok(next.is_some());
        };
        let count = step.statements.len();
        if error.kind == DriverErrorKind::Connection {
            let claimed = match next {
                Some(claim) => format!(
                    "; the same transaction claimed migration {} ({}), none of whose statements was sent: if `cairn status` shows it running, `cairn up --resume` runs it from its first statement",
                    claim.row.version, claim.row.name
                ),
                None => String::new(),
            };
            return Err(Error::driver(
                engine,
                format!(
                    "recording {} of migration {} ({}) in the history after its {count} statement(s) completed: the connection was lost, so whether the final row was committed is unknown; on a new connection `cairn status` tells: if it shows the migration still running, statement {count} is in doubt and `cairn up --resume` confirms it{claimed}",
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
            .await?;
        Ok(false)
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::super::recording::{Call, RecordingDriver};
    use super::super::{Migrator, MigratorOptions};
    use crate::driver::{Capabilities, DriverErrorKind, LockKind};
    use crate::history::HistoryState;
    use crate::migration::{Directives, Layout, Migration, Script, Scripts};

    fn migration() -> Migration {
        let script = |file: &str, text: &str| Script {
            path: PathBuf::from(format!("migrations/1_m1/{file}")),
            first_line: 1,
            text: text.to_owned(),
            directives: Directives::default(),
        };
        Migration {
            version: 1.into(),
            name: "m1".to_owned(),
            layout: Layout::Cairn,
            location: PathBuf::from("migrations/1_m1"),
            up: Scripts {
                plain: Some(script(
                    "up.sql",
                    "CREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\nCREATE TABLE c (id INT);\n",
                )),
                overrides: BTreeMap::new(),
            },
            down: Scripts {
                plain: Some(script("down.sql", "DROP TABLE c;\nDROP TABLE b;\nDROP TABLE a;\n")),
                overrides: BTreeMap::new(),
            },
            declaration: None,
        }
    }

    /// A driver without transactional DDL that takes packets (through the
    /// trait's default `execute_packet`, which records each statement).
    fn driver() -> RecordingDriver {
        RecordingDriver::with_capabilities(
            Capabilities::new(false, LockKind::Session)
                .with_run_lock()
                .with_statement_packets(),
        )
    }

    fn progress_writes(driver: &RecordingDriver) -> Vec<String> {
        driver
            .calls
            .iter()
            .filter_map(|c| match c {
                Call::Execute(sql)
                    if sql.contains("statements_done = ") && sql.contains("'running'") =>
                {
                    let done = sql.split("statements_done = ").nth(1)?;
                    Some(done.split(',').next()?.to_owned())
                }
                _ => None,
            })
            .collect()
    }

    /// On a dialect without a packet transaction (the fake's, SQLite's) the
    /// finish is recorded as on every driver, so every statement's progress
    /// is written; the MariaDB tests cover the finish packet, which leaves
    /// the last one to the final row.
    #[tokio::test]
    async fn packets_record_each_statement_and_send_the_settings_first() {
        let migrator = Migrator::new(vec![migration()], MigratorOptions::default());
        let mut driver = driver();
        migrator.up(&mut driver, None).await.expect("up");
        assert_eq!(progress_writes(&driver), ["1", "2", "3"]);
        assert_eq!(driver.cell(1, "state").as_deref(), Some("applied"));
        assert_eq!(driver.cell(1, "statements_done"), None);
        // The settings go with the packet: applied once, before the claim.
        let settings = driver
            .calls
            .iter()
            .position(|c| *c == Call::ApplySettings)
            .expect("settings");
        let claim = driver
            .calls
            .iter()
            .position(|c| matches!(c, Call::Execute(sql) if sql.starts_with("INSERT INTO \"cairn_history\"")))
            .expect("claim");
        assert!(settings < claim, "{:?}", driver.calls);
    }

    #[tokio::test]
    async fn a_statement_failing_in_a_packet_is_recorded_after_the_ones_before_it() {
        let migrator = Migrator::new(vec![migration()], MigratorOptions::default());
        let mut driver = driver();
        driver.fail_user_statement(2);
        let failure = migrator.up(&mut driver, None).await.expect_err("failed");
        assert!(
            failure.error.to_string().contains("at statement 2 of 3"),
            "{}",
            failure.error
        );
        assert_eq!(driver.cell(1, "state").as_deref(), Some("failed"));
        assert_eq!(driver.cell(1, "statements_done").as_deref(), Some("1"));
        assert_eq!(driver.applied(), ["CREATE TABLE a (id INT)"]);
        // `--resume` continues from statement 2.
        migrator.up_resume(&mut driver, None).await.expect("resume");
        assert_eq!(driver.cell(1, "state").as_deref(), Some("applied"));
        assert_eq!(driver.applied_count("CREATE TABLE"), 3);
    }

    #[tokio::test]
    async fn a_lock_timeout_in_a_packet_retries_from_that_statement() {
        let migrator = Migrator::new(
            vec![migration()],
            MigratorOptions {
                retry_backoff: std::time::Duration::from_millis(1),
                ..MigratorOptions::default()
            },
        );
        let mut driver = driver();
        driver.fail_matching("TABLE b", DriverErrorKind::LockTimeout, 2);
        migrator.up(&mut driver, None).await.expect("up");
        assert_eq!(driver.applied_count("TABLE a"), 1);
        assert_eq!(driver.applied_count("TABLE b"), 1);
        assert_eq!(driver.applied_count("TABLE c"), 1);
        assert_eq!(
            driver.cell(1, "state").as_deref(),
            Some(HistoryState::Applied.as_str())
        );
    }

    /// Three one-table migrations, versions 1 to 3.
    fn three() -> Vec<Migration> {
        (1..=3)
            .map(|v: i64| {
                let mut m = migration();
                m.version = v.into();
                m.name = format!("m{v}");
                m.up.plain.as_mut().expect("up").text = format!("CREATE TABLE t{v} (id INT);\n");
                m.down.plain.as_mut().expect("down").text = format!("DROP TABLE t{v};\n");
                m
            })
            .collect()
    }

    /// A driver as [`driver`], whose dialect sends Cairn's transaction as
    /// one packet (`BEGIN` … `COMMIT`), as MySQL's does.
    fn mysql_like() -> RecordingDriver {
        driver().with_dialect(std::sync::Arc::new(
            super::super::online_tests::TestOnline::with_packets(),
        ))
    }

    /// The statements of the transaction that recorded `version` applied.
    fn finish_of(driver: &RecordingDriver, version: i64) -> Vec<String> {
        let calls: Vec<&str> = driver
            .calls
            .iter()
            .filter_map(|c| match c {
                Call::Execute(sql) => Some(sql.as_str()),
                _ => None,
            })
            .collect();
        let applied = "'applied'";
        let end = calls
            .iter()
            .position(|sql| {
                sql.contains(applied) && sql.ends_with(&format!("WHERE version = {version}"))
            })
            .unwrap_or_else(|| panic!("no final row for {version}: {calls:#?}"));
        let begin = calls[..end]
            .iter()
            .rposition(|sql| *sql == "BEGIN")
            .expect("BEGIN");
        let commit = end
            + calls[end..]
                .iter()
                .position(|sql| *sql == "COMMIT")
                .expect("COMMIT");
        calls[begin + 1..commit]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// The claim of each migration but the first goes in the final
    /// transaction of the one before: one durable commit fewer each.
    #[tokio::test]
    async fn the_next_claim_rides_in_the_final_transaction() {
        let migrator = Migrator::new(three(), MigratorOptions::default());
        let mut driver = mysql_like();
        migrator.up(&mut driver, None).await.expect("up");
        for version in 1..=3 {
            assert_eq!(driver.cell(version, "state").as_deref(), Some("applied"));
        }
        let first = finish_of(&driver, 1);
        assert_eq!(first.len(), 3, "{first:#?}");
        assert!(
            first[1].starts_with("INSERT INTO \"cairn_history_log\""),
            "{first:#?}"
        );
        assert!(
            first[2].starts_with("INSERT INTO \"cairn_history\""),
            "{first:#?}"
        );
        assert!(
            first[2].contains("'running'") && first[2].contains("VALUES (2,"),
            "{first:#?}"
        );
        // The last has no next to claim.
        assert_eq!(finish_of(&driver, 3).len(), 2);
        // Each claim written once, the first alone and the others with a final row.
        let alone = driver
            .calls
            .iter()
            .filter(|c| matches!(c, Call::Execute(sql) if sql.starts_with("INSERT INTO \"cairn_history\"")))
            .count();
        assert_eq!(alone, 3);
        assert_eq!(driver.applied_count("CREATE TABLE"), 3);
    }

    /// Stopped while the final transaction that claimed the next migration
    /// was with the server: the claim is given back, so the history says
    /// what a run stopped between two migrations says.
    #[tokio::test]
    async fn a_stop_after_the_claim_was_carried_gives_it_back() {
        let stop = crate::backfill::StopSignal::new();
        let mut migrator = Migrator::new(three(), MigratorOptions::default());
        migrator.set_stop_signal(stop.clone());
        let mut driver = mysql_like();
        driver.stop_on("COMMIT", stop);
        let failure = migrator.up(&mut driver, None).await.expect_err("stopped");
        assert!(
            matches!(failure.error, crate::error::Error::Stopped { version, .. } if version == 2),
            "{}",
            failure.error
        );
        assert_eq!(driver.cell(1, "state").as_deref(), Some("applied"));
        assert_eq!(driver.cell(2, "state"), None, "the claim of 2 stayed");
        assert_eq!(driver.applied(), ["CREATE TABLE t1 (id INT)"]);
    }

    /// A rollback of several migrations carries each next claim too, and a
    /// stop gives it back as the applied row it was.
    #[tokio::test]
    async fn rollbacks_carry_the_next_claim_and_give_it_back_on_a_stop() {
        let migrator = Migrator::new(three(), MigratorOptions::default());
        let mut driver = mysql_like();
        migrator.up(&mut driver, None).await.expect("up");
        let before: Vec<_> = [
            "state",
            "applied_at",
            "checksum",
            "error",
            "statements_done",
        ]
        .iter()
        .map(|column| driver.cell(2, column))
        .collect();
        let stop = crate::backfill::StopSignal::new();
        let mut stopping = Migrator::new(three(), MigratorOptions::default());
        stopping.set_stop_signal(stop.clone());
        driver.stop_on("COMMIT", stop);
        stopping
            .down(&mut driver, crate::plan::DownTarget::All)
            .await
            .expect_err("stopped");
        assert_eq!(driver.cell(3, "state"), None, "3 was rolled back");
        let after: Vec<_> = [
            "state",
            "applied_at",
            "checksum",
            "error",
            "statements_done",
        ]
        .iter()
        .map(|column| driver.cell(2, column))
        .collect();
        assert_eq!(after, before, "the claim of 2 was given back as it was");
        migrator
            .down(&mut driver, crate::plan::DownTarget::All)
            .await
            .expect("down");
        assert_eq!(driver.cell(1, "state"), None);
        assert_eq!(driver.applied_count("DROP TABLE"), 3);
    }

    #[tokio::test]
    async fn a_rollback_in_packets_is_claimed_and_recorded() {
        let migrator = Migrator::new(vec![migration()], MigratorOptions::default());
        let mut driver = driver();
        migrator.up(&mut driver, None).await.expect("up");
        driver.fail_user_statement(2);
        migrator
            .down(&mut driver, crate::plan::DownTarget::All)
            .await
            .expect_err("the rollback failed");
        assert_eq!(driver.cell(1, "state").as_deref(), Some("failed"));
        assert_eq!(driver.cell(1, "statements_done").as_deref(), Some("1"));
    }
}

//! `cairn up --resume`: continuing a migration that failed or was
//! interrupted outside a transaction, and backfills a stopped run left
//! (see [`crate::recovery`] for what a row left by such a run means).

use std::time::Instant;

use super::{elapsed_ms, Applied, Migrator, RunReport};
use crate::clock::UtcTime;
use crate::driver::Driver;
use crate::error::{Error, Result};
use crate::history::{HistoryRow, HistoryState};
use crate::migration::{Direction, Version};
use crate::plan::{self, Problem};

impl Migrator {
    /// Resumes every migration that failed or was interrupted (`--resume`),
    /// after refusing, with nothing changed, when there is none, when
    /// `skip_in_doubt` is asked for a row without a statement in doubt, or
    /// when the history has another problem.
    pub(super) async fn resume_failed(
        &self,
        driver: &mut dyn Driver,
        history: &[HistoryRow],
        skip_in_doubt: bool,
        report: &mut RunReport,
    ) -> Result<()> {
        let engine = driver.dialect().engine();
        // A `running` row under the migration lock (every engine has
        // one) was left by a run that died (kill -9, a lost
        // connection): resume it like a failed one.
        let failed: Vec<&HistoryRow> = history
            .iter()
            .filter(|row| matches!(row.state, HistoryState::Failed | HistoryState::Running))
            .collect();
        if failed.is_empty() {
            return Err(Error::NothingToResume);
        }
        if skip_in_doubt {
            if let Some(row) = failed
                .iter()
                .find(|row| !crate::recovery::has_statement_in_doubt(row))
            {
                return Err(Error::NoStatementInDoubt {
                    version: row.version,
                    name: row.name.clone(),
                    statement: row.statements_done.unwrap_or(0) + 1,
                });
            }
        }
        // Refuse before changing anything if something else is wrong.
        let resumed: Vec<Version> = failed.iter().map(|row| row.version).collect();
        let others: Vec<Problem> =
            plan::problems(&self.migrations, history, engine, self.options.plan)
                .into_iter()
                .filter(|p| {
                    !(resumed.contains(&p.version())
                        && matches!(p, Problem::Failed { .. } | Problem::Running { .. }))
                })
                .collect();
        if !others.is_empty() {
            return Err(Error::Validation(crate::error::Problems(others)));
        }
        for row in failed {
            let applied = self.resume(driver, row, skip_in_doubt).await?;
            report.migrations.push(applied);
        }
        Ok(())
    }

    /// Continues, from their checkpoints, the backfills of migrations (up to
    /// `to`) that a crash or Ctrl-C left `backfilling`, unless something else
    /// is wrong. Returns whether there were any.
    pub(super) async fn resume_backfilling(
        &self,
        driver: &mut dyn Driver,
        history: &[HistoryRow],
        to: Option<Version>,
        report: &mut RunReport,
    ) -> Result<bool> {
        let engine = driver.dialect().engine();
        let backfilling: Vec<&HistoryRow> = history
            .iter()
            .filter(|row| row.state == HistoryState::Backfilling)
            // A migration with operations backfills within its expand (online.rs).
            .filter(|row| !self.is_online_version(row.version, engine))
            .filter(|row| to.is_none_or(|to| row.version <= to))
            .collect();
        if backfilling.is_empty() {
            return Ok(false);
        }
        let problems = plan::problems(&self.migrations, history, engine, self.options.plan);
        if !problems.is_empty() {
            return Err(Error::Validation(crate::error::Problems(problems)));
        }
        for row in backfilling {
            let applied = self.resume_backfills(driver, row).await?;
            report.migrations.push(applied);
        }
        Ok(true)
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
        let engine = driver.dialect().engine();
        let version = row.version;
        if crate::recovery::is_rollback(row) {
            return Err(Error::RollbackNotResumable {
                version,
                name: row.name.clone(),
            });
        }
        let migration = plan::applicable(&self.migrations, engine)
            .get(&version)
            .copied()
            .ok_or_else(|| Error::ResumeMissing {
                version,
                name: row.name.clone(),
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
            .continue_outside_transaction(
                driver,
                &step,
                running,
                done,
                in_doubt,
                started,
                super::packet::Lead::default(),
            )
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
            phase: None,
        })
    }

    /// Resumes the backfills of a migration whose row is `backfilling`: a run
    /// that was stopped or died (under the lock, no other run is at it).
    async fn resume_backfills(&self, driver: &mut dyn Driver, row: &HistoryRow) -> Result<Applied> {
        let engine = driver.dialect().engine();
        let migration = plan::applicable(&self.migrations, engine)
            .get(&row.version)
            .copied()
            .ok_or_else(|| Error::BackfillingMissing {
                version: row.version,
                name: row.name.clone(),
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
            phase: None,
        })
    }
}

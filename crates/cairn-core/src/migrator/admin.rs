//! Changing the history without running migrations: `baseline` and `repair`.

use super::{Migrator, RepairAction};
use crate::clock::UtcTime;
use crate::driver::Driver;
use crate::error::{Error, Result};
use crate::history::{HistoryKind, HistoryRow, HistoryState, LogAction, LogEntry};
use crate::migration::Version;
use crate::plan::{self, PlanOptions, Problem};

impl Migrator {
    /// Records a baseline at `version`: migrations up to it count as applied.
    /// Refuses when the history already has rows.
    pub async fn baseline(&self, driver: &mut dyn Driver, version: Version) -> Result<HistoryRow> {
        if version <= 0 {
            return Err(Error::BaselineVersion { version });
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
        let engine = driver.dialect().engine();
        let sql = this.sql(driver);
        this.ensure_tables(driver).await?;
        this.ensure_version_text(driver, [version]).await?;
        let history = this.history(driver).await?;
        if let Some(first) = history.first() {
            return Err(Error::BaselineOverHistory {
                engine,
                rows: history.len(),
                first: first.version,
            });
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
            kind: HistoryKind::Baseline,
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
        let engine = driver.dialect().engine();
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
}

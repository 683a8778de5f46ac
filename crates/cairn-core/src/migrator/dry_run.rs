//! `--dry-run`: what `up` or `down` would send, without sending it.

use super::{Migrator, PlannedMigration, PlannedStatement};
use crate::driver::Driver;
use crate::error::Result;
use crate::history::HistoryState;
use crate::migration::{Direction, Migration, Version};
use crate::plan::{self, DownTarget};

impl Migrator {
    /// What `up` would run, without running it (`--dry-run`).
    pub async fn plan_up(
        &self,
        driver: &mut dyn Driver,
        to: Option<Version>,
    ) -> Result<Vec<PlannedMigration>> {
        let history = self.history(driver).await?;
        let engine = driver.dialect().engine();
        if self.involves_online(&history, engine, super::Request::Up(to)) {
            let setup = self.setup_statements(driver).await?;
            return self.plan_up_online(driver, &history, to, setup).await;
        }
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
        let engine = driver.dialect().engine();
        if self.involves_online(&history, engine, super::Request::Down(target)) {
            return self.plan_down_online(driver, &history, target).await;
        }
        let chosen = plan::plan_down(&self.migrations, &history, engine, target)?;
        self.describe(driver, chosen, Direction::Down, Vec::new())
    }

    pub(super) fn describe(
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
                let row = self.row(
                    &prepared,
                    driver.dialect().engine(),
                    HistoryState::Applied,
                    0,
                );
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
                    phase: None,
                    statements: prepared
                        .statements
                        .iter()
                        .map(|s| PlannedStatement {
                            location: prepared.script.location(s.line).to_string(),
                            sql: s.sql.clone(),
                        })
                        .collect(),
                    history,
                })
            })
            .collect()
    }
}

//! `cairn adopt --from <tool>`: the locked run around [`crate::adopt`].
//!
//! lock → read the foreign table → read Cairn's history → map and verify
//! ([`adopt::plan`]) → unless a dry run, create Cairn's tables if needed and
//! write every new row with its `adopt` log row in one transaction → unlock.
//! The foreign table is only read.

use super::Migrator;
use crate::adopt::{
    self, AdoptAction, AdoptError, AdoptReport, ForeignTable, PlanInput, Tool, ToolOptions,
};
use crate::clock::UtcTime;
use crate::driver::Driver;
use crate::error::Result;
use crate::history::{LogAction, LogEntry};

/// What `cairn adopt` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdoptRequest {
    /// The tool whose history is imported.
    pub tool: Tool,
    /// `--table`: its table when renamed (`name` or `schema.name`).
    pub table: Option<String>,
    /// `--dry-run`: say what would be recorded, change nothing.
    pub dry_run: bool,
    /// `--alembic-versions`: Alembic's versions directory, where its
    /// revision files are (`None`: found from the current directory).
    pub alembic_versions: Option<std::path::PathBuf>,
}

impl Migrator {
    /// The tool's configuration that changes its checksums and its table:
    /// for sqlx, the `sqlx.toml` beside the migrations directory (in the
    /// crate's root, where sqlx reads it).
    fn tool_options(&self, request: &AdoptRequest) -> Result<ToolOptions> {
        let tool = request.tool;
        let mut options = ToolOptions {
            alembic_versions: request.alembic_versions.clone(),
            ..ToolOptions::default()
        };
        if tool != Tool::Sqlx {
            return Ok(options);
        }
        let Some(dir) = self.migrations.first().and_then(|m| m.location.parent()) else {
            return Ok(options);
        };
        let path = dir.parent().unwrap_or(dir).join("sqlx.toml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(options);
        };
        let invalid = |message| AdoptError::Config {
            tool,
            path: path.clone(),
            message,
        };
        options.ignored_chars =
            crate::tools::sqlx::history::ignored_chars(&text).map_err(invalid)?;
        options.table = crate::tools::sqlx::history::table_name(&text).map_err(invalid)?;
        Ok(options)
    }

    /// Imports `request.tool`'s history into Cairn's (see [`crate::adopt`]).
    /// Versions Cairn's history already has are left as they are, so a second
    /// run records nothing.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Adopt`] when the table is missing, not the tool's, or
    /// a row has no file or a checksum that does not match; nothing is
    /// changed then. Lock and driver errors as for every run.
    pub async fn adopt(
        &self,
        driver: &mut dyn Driver,
        request: &AdoptRequest,
    ) -> Result<AdoptReport> {
        self.lock(driver).await?;
        let result = self.adopt_locked(driver, request).await;
        self.unlock(driver, result).await
    }

    async fn adopt_locked(
        &self,
        driver: &mut dyn Driver,
        request: &AdoptRequest,
    ) -> Result<AdoptReport> {
        let tool = request.tool;
        let engine = driver.dialect().engine();
        let options = self.tool_options(request)?;
        // `--table` wins over the table the tool's configuration names.
        let table = adopt::locate(
            tool,
            driver,
            ForeignTable::new(tool, request.table.as_deref().or(options.table.as_deref())),
        )
        .await?;
        let mut foreign = adopt::read(tool, driver, &table, &options).await?;
        if tool == Tool::Prisma {
            crate::tools::prisma::history::match_folders(&mut foreign, &self.migrations);
        }
        if tool == Tool::Flyway {
            crate::tools::flyway::history::settle_repeatables(
                &mut foreign,
                &self.migrations,
                &mut |path| std::fs::read(path),
            )
            .map_err(|(path, cause)| AdoptError::ReadFile { tool, path, cause })?;
        }
        let cairn = self.history(driver).await?;
        let input = PlanInput {
            tool,
            table: &table,
            engine,
            migrations: &self.migrations,
            cairn: &cairn,
            options: &options,
        };
        let entries = adopt::plan(&input, &foreign, &mut |path| std::fs::read(path))?;
        let new: Vec<_> = entries
            .iter()
            .filter(|entry| entry.action == AdoptAction::Record)
            .collect();
        let mut recorded = 0;
        if !request.dry_run && !new.is_empty() {
            self.ensure_tables(driver).await?;
            // Flyway's dotted versions need the history's `version_text`
            // column, added in place under the lock the first time.
            self.ensure_version_text(driver, new.iter().map(|entry| entry.version))
                .await?;
            let sql = self.sql(driver);
            let now = UtcTime::now().rfc3339();
            let actor = &self.options.actor;
            let mut statements = Vec::with_capacity(new.len() * 2);
            for entry in &new {
                let row = adopt::history_row(tool, entry, &now, actor);
                let detail = adopt::log_detail(tool, &table, entry);
                statements.push(sql.insert(&row));
                statements.push(sql.log(&LogEntry {
                    version: entry.version,
                    name: &entry.name,
                    action: LogAction::Adopt,
                    success: true,
                    at: &now,
                    duration_ms: 0,
                    actor,
                    detail: Some(&detail),
                }));
            }
            self.in_transaction(driver, &statements, "recording the adopted history")
                .await?;
            recorded = new.len();
        }
        Ok(AdoptReport {
            tool,
            table: table.to_string(),
            engine,
            dry_run: request.dry_run,
            entries,
            skipped: foreign.skipped,
            recorded,
        })
    }
}

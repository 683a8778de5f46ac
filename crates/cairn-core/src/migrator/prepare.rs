//! Preparing a migration to run: its script split into statements, its
//! session settings, whether it runs in a transaction, its history rows.

use super::Migrator;
use crate::clock::UtcTime;
use crate::driver::{Driver, SessionSettings};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::history::{HistoryKind, HistoryRow, HistoryState, LogAction, LogEntry};
use crate::migration::{Direction, Migration, Script};
use crate::split::{self, Statement};

/// A migration prepared for running: its statements split, its settings known.
pub(super) struct Prepared<'a> {
    pub(super) migration: &'a Migration,
    pub(super) direction: Direction,
    pub(super) script: &'a Script,
    pub(super) statements: Vec<Statement>,
    pub(super) transactional: bool,
    pub(super) settings: SessionSettings,
    /// For a rollback: the history row as it was, restored if the rollback
    /// changes nothing (a lock timeout at its first statement).
    pub(super) applied_row: Option<HistoryRow>,
}

impl Migrator {
    /// [`Migrator::prepare`] for a rollback, remembering its history row.
    pub(super) fn prepare_down<'m>(
        &self,
        migration: &'m Migration,
        history: &[HistoryRow],
        driver: &dyn Driver,
    ) -> Result<Prepared<'m>> {
        let mut step = self.prepare(migration, Direction::Down, driver)?;
        step.applied_row = history
            .iter()
            .find(|row| row.version == migration.version)
            .cloned();
        Ok(step)
    }

    pub(super) fn prepare<'m>(
        &self,
        migration: &'m Migration,
        direction: Direction,
        driver: &dyn Driver,
    ) -> Result<Prepared<'m>> {
        let engine = driver.dialect().engine();
        let script = migration
            .script(direction, engine)
            .ok_or_else(|| Error::NoDownScript {
                version: migration.version,
                name: migration.name.clone(),
                engine,
                declared_irreversible: migration.is_irreversible(engine),
                expected: migration.down_hint(engine),
            })?;
        let statements =
            split::split_with(&script.text, &driver.dialect().split_rules()).map_err(|e| {
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
        let transactional = driver.capabilities().transactional_ddl && !directives.no_transaction;
        if transactional {
            refuse_transaction_control(migration, direction, engine, script, &statements)?;
        }
        Ok(Prepared {
            migration,
            direction,
            script,
            statements,
            transactional,
            settings: SessionSettings {
                lock_timeout: Some(
                    directives
                        .lock_timeout
                        .unwrap_or(self.options.statement_lock_timeout),
                ),
                statement_timeout: directives.statement_timeout,
            },
            applied_row: None,
        })
    }

    pub(super) fn row(
        &self,
        step: &Prepared<'_>,
        engine: Engine,
        state: HistoryState,
        execution_ms: i64,
    ) -> HistoryRow {
        self.migration_row(step.migration, engine, state, execution_ms)
    }

    pub(super) fn migration_row(
        &self,
        m: &Migration,
        engine: Engine,
        state: HistoryState,
        execution_ms: i64,
    ) -> HistoryRow {
        HistoryRow {
            version: m.version,
            name: m.name.clone(),
            kind: HistoryKind::Sql,
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

    pub(super) fn log_entry<'e>(
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
}

/// Refuses a script run in Cairn's transaction that starts or ends one itself
/// (see [`split::transaction_control`]).
fn refuse_transaction_control(
    migration: &Migration,
    direction: Direction,
    engine: Engine,
    script: &Script,
    statements: &[Statement],
) -> Result<()> {
    for statement in statements {
        if let Some(keywords) = split::transaction_control(&statement.sql) {
            return Err(Error::TransactionControl {
                location: script.location(statement.line),
                statement: keywords,
                direction,
                version: migration.version,
                name: migration.name.clone(),
                engine,
            });
        }
    }
    Ok(())
}

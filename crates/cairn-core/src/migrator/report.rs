//! What a run reports: the migrations it touched, what a dry run would do,
//! what `repair` changed, the status of a database.

use serde::Serialize;

use crate::engine::Engine;
use crate::error::Error;
use crate::migration::{Direction, Version};
use crate::plan::{Problem, StatusEntry};

/// What happened to one migration during a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Version.
    pub version: Version,
    /// Name.
    pub name: String,
    /// Which way it ran.
    pub direction: Direction,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
    /// Statements run.
    pub statements: usize,
    /// Whether it ran inside a transaction.
    pub transactional: bool,
    /// `true` when another runner had applied it first, so this run skipped it.
    pub skipped: bool,
    /// Rows its backfills changed in this run (`None` without backfills).
    pub backfilled: Option<i64>,
    /// What `--resume` decided about the statement an interrupted run left
    /// in doubt (counted as completed, or recorded without running it).
    pub recovered: Option<String>,
    /// The zero-downtime phase this run took the migration through
    /// (`expand`, `contract`, `abort`, `uncontract`); `None` for a plain migration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<crate::operation::Phase>,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// Every migration it touched, in order.
    pub migrations: Vec<Applied>,
    /// The migration with operations the run left expanded (or in another
    /// phase), where `up` stops: what each application version may use and
    /// what to run next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<ExpandedMigration>,
}

/// A run that failed, with what it did before the failure.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct RunFailure {
    /// What completed before the error.
    pub report: RunReport,
    /// The error (its message is this failure's message, so it is not also a `source`).
    pub error: Error,
}

impl From<Error> for RunFailure {
    fn from(error: Error) -> Self {
        RunFailure {
            report: RunReport::default(),
            error,
        }
    }
}

/// One statement as a dry run shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedStatement {
    /// `path:line`.
    pub location: String,
    /// The SQL.
    pub sql: String,
}

/// One migration as a dry run shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedMigration {
    /// Version.
    pub version: Version,
    /// Name.
    pub name: String,
    /// Which way.
    pub direction: Direction,
    /// Whether it would run in a transaction.
    pub transactional: bool,
    /// The zero-downtime phase it would take the migration through; `None`
    /// for a plain migration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<crate::operation::Phase>,
    /// Its statements.
    pub statements: Vec<PlannedStatement>,
    /// The bookkeeping statements Cairn would add: on a database without
    /// history tables, their creation first (in the first migration only),
    /// then the history row and the log row.
    pub history: Vec<String>,
}

/// What `repair` changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RepairAction {
    /// Version.
    pub version: Version,
    /// Name.
    pub name: String,
    /// What was done, in words.
    pub action: String,
}

/// Status of a database, for `cairn status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// The engine.
    pub engine: Engine,
    /// Every migration on disk or in the history.
    pub migrations: Vec<StatusEntry>,
    /// Problems found.
    pub problems: Vec<Problem>,
    /// Migrations in a zero-downtime phase (expanding, backfilling, expanded,
    /// contracting, aborting, uncontracting), with what each application
    /// version may use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expanded: Vec<ExpandedMigration>,
}

/// A migration between expand and contract, as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExpandedMigration {
    /// Its version.
    pub version: Version,
    /// Its name.
    pub name: String,
    /// Its history state.
    pub state: crate::history::HistoryState,
    /// What each application version may use.
    pub versions: crate::operation::Versions,
    /// What to run next (`cairn contract 20260101090500`).
    pub next: String,
}

//! What a history row left by a failed or interrupted run means, and what to do.
//!
//! A migration that runs outside a transaction (MySQL/MariaDB always, any
//! engine with `-- cairn:no-transaction`) commits a `running` row first and
//! counts its completed statements in `statements_done` after each one. So
//! when a run dies (kill -9, a lost connection, a crash) with the row still
//! `running` and `statements_done = n`, statements 1..=n completed and
//! statement n+1 is the only one that **may or may not have completed**: the
//! server may have finished it after the client was gone. Nothing else is in
//! doubt, and no extra write per statement is needed to know that.
//!
//! `cairn up --resume` runs the in-doubt statement again. If the database
//! answers with an error that says its effect is already there
//! ([`crate::Driver::confirms_completed`]: the table, column or index exists,
//! the dropped object is gone), the statement counts as completed and the run
//! goes on; `--skip-in-doubt` records it as completed without running it.
//! Only the in-doubt statement is ever treated this way.
//!
//! The advice texts live here, so that `cairn status`, the errors of a run and
//! docs/failures.md say the same thing.

use serde::Serialize;

use crate::engine::Engine;
use crate::history::{HistoryRow, HistoryState, RowError};
use crate::migration::{Direction, Migration};
use crate::split;

/// The statement of a half-applied migration that may or may not have completed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InDoubt {
    /// Its 1-based number in the script.
    pub index: usize,
    /// Statements in the script.
    pub count: usize,
    /// `path:line`.
    pub location: String,
    /// The first line of its SQL.
    pub sql: String,
}

impl std::fmt::Display for InDoubt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "statement {} of {} ({}: `{}`)",
            self.index, self.count, self.location, self.sql
        )
    }
}

/// The first line of `sql`, shortened to 80 characters.
pub fn first_line(sql: &str) -> String {
    let line = sql.trim().lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

/// Whether `row` records a rollback, under way or failed.
pub fn is_rollback(row: &HistoryRow) -> bool {
    row.error.as_ref().is_some_and(RowError::is_rollback)
}

/// Whether the statement after `row.statements_done` may have completed:
/// the row is `running` (its run died), or failed with the in-doubt mark.
pub fn has_statement_in_doubt(row: &HistoryRow) -> bool {
    match row.state {
        HistoryState::Running => true,
        HistoryState::Failed => row.error.as_ref().is_some_and(RowError::is_in_doubt),
        _ => false,
    }
}

/// The statement of `migration` that `row` leaves in doubt, if any (`None`
/// also when every statement completed, or the script cannot be read).
pub fn in_doubt(
    row: &HistoryRow,
    migration: Option<&Migration>,
    engine: Engine,
) -> Option<InDoubt> {
    if !has_statement_in_doubt(row) {
        return None;
    }
    let direction = if is_rollback(row) {
        Direction::Down
    } else {
        Direction::Up
    };
    let script = migration?.script(direction, engine)?;
    let statements = split::split(&script.text, engine).ok()?;
    let index = usize::try_from(row.statements_done.unwrap_or(0)).ok()?;
    let statement = statements.get(index)?;
    Some(InDoubt {
        index: index + 1,
        count: statements.len(),
        location: script.location(statement.line).to_string(),
        sql: first_line(&statement.sql),
    })
}

/// What to run when an up stopped with `in_doubt` in doubt.
pub fn resume_in_doubt_advice() -> &'static str {
    "run `cairn up --resume`: it runs that statement again and counts it as completed if the database answers that its effect is already there (the table, column or index exists, or what it drops is gone); if the statement did complete but cannot run twice (an INSERT or UPDATE, say), run `cairn up --resume --skip-in-doubt` instead, which records it as completed without running it; or bring the database back to its state before the migration by hand and run `cairn repair`"
}

/// What to run when an up failed at a statement that certainly did not complete.
pub fn resume_failed_advice(done: i64) -> String {
    format!("fix the failing statement (leave the {done} before it unchanged) and run `cairn up --resume`, or bring the database back to its state before the migration by hand and run `cairn repair`")
}

/// What to run when the in-doubt statement failed again on `--resume`.
pub fn in_doubt_failed_advice() -> &'static str {
    "check whether that statement took effect in the earlier run: if it did, run `cairn up --resume --skip-in-doubt` (records it as completed without running it); if it did not, fix it and run `cairn up --resume`"
}

/// What to run when a rollback stopped part way.
pub fn rollback_advice() -> &'static str {
    "`--resume` does not continue a rollback: finish it by hand (run the rest of the down script), then run `cairn repair`, which removes the row so the migration counts as not applied"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_is_trimmed_and_short() {
        assert_eq!(
            first_line("\n  CREATE TABLE t (\n id INT)"),
            "CREATE TABLE t ("
        );
        let long = "x".repeat(100);
        assert_eq!(first_line(&long).chars().count(), 81);
    }
}

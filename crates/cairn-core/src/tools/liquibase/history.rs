//! How `cairn adopt --from liquibase` reads the history table this tool wrote.
//!
//! `databasechangelog (id, author, filename, dateexecuted, orderexecuted,
//! exectype, md5sum, ...)` (upper case on MySQL and SQLite, lower case on
//! PostgreSQL): one row per changeset run, keyed by `(id, author, filename)`,
//! with no integer version. Until Cairn reads Liquibase changesets as
//! migrations (each with a version of its own), there is nothing to map the
//! rows onto, so adopting is refused with that reason after the table is
//! found; the rows are decoded here so that the refusal can say how many.

use crate::adopt::{self, BadValue, ForeignHistory, Skipped};
use crate::dialect::Dialect;
use crate::driver::Rows;

/// Liquibase's default table, as PostgreSQL folds it (pass
/// `--table DATABASECHANGELOG` on MySQL and SQLite).
pub const TABLE: &str = "databasechangelog";

/// The query, the columns it needs and a hint when they are missing.
pub(crate) fn select(dialect: &dyn Dialect, table: &str) -> (String, &'static str, &'static str) {
    (
        adopt::select(
            dialect,
            table,
            &["ID", "AUTHOR", "FILENAME", "EXECTYPE", "MD5SUM"],
            None,
        ),
        "ID, AUTHOR, FILENAME, EXECTYPE, MD5SUM",
        "is it Liquibase's?",
    )
}

/// Every row is kept as skipped (see the module's documentation).
pub(crate) fn decode(rows: Rows) -> Result<ForeignHistory, BadValue> {
    let mut history = ForeignHistory::default();
    for (index, row) in rows.iter().enumerate() {
        let position = adopt::positional(index);
        let id = adopt::required(row, 0, &position, "ID", "a changeset id")?;
        let author = adopt::value(row, 1).unwrap_or_default();
        history.skipped.push(Skipped {
            key: format!("{author}:{id}"),
            reason: "Liquibase changesets are not Cairn migrations yet".to_owned(),
        });
    }
    Ok(history)
}

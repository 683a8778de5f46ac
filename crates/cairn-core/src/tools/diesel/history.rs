//! How `cairn adopt --from diesel` reads the history table this tool wrote.
//!
//! `__diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY, run_on
//! TIMESTAMP)`: one row per applied migration, the version being the folder
//! name's text before the first `_` with `-` removed
//! (`2015-12-19-180527_x` → `20151219180527`). No checksum, no failed state.

use crate::adopt::{self, BadValue, ForeignHistory, ForeignRow};
use crate::dialect::Dialect;
use crate::driver::Rows;

/// diesel's table (not configurable).
pub const TABLE: &str = "__diesel_schema_migrations";

/// The query, the columns it needs and a hint when they are missing.
pub(crate) fn select(dialect: &dyn Dialect, table: &str) -> (String, &'static str, &'static str) {
    (
        adopt::select(dialect, table, &["version", "run_on"], Some("version")),
        "version, run_on",
        "is it diesel's?",
    )
}

/// One row per migration.
pub(crate) fn decode(rows: Rows) -> Result<ForeignHistory, BadValue> {
    let mut history = ForeignHistory::default();
    for (index, row) in rows.iter().enumerate() {
        let position = adopt::positional(index);
        let text = adopt::required(row, 0, &position, "version", "a digit string")?;
        let key = text.trim().to_owned();
        let digits: String = key.chars().filter(|c| *c != '-').collect();
        let version = adopt::version(&digits, &key, "version")?;
        let mut foreign = ForeignRow::applied(key, version);
        foreign.applied_at = adopt::value(row, 1).and_then(adopt::timestamp);
        history.rows.push(foreign);
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_lose_their_dashes() {
        let history = decode(vec![vec![
            Some("20151219180527".into()),
            Some("2026-01-02 03:04:05".into()),
        ]])
        .unwrap();
        assert_eq!(
            history.rows[0].target,
            crate::adopt::Target::Version("20151219180527".parse().unwrap())
        );
        assert_eq!(
            history.rows[0].applied_at.as_deref(),
            Some("2026-01-02T03:04:05.000Z")
        );
        assert!(decode(vec![vec![Some("next".into()), None]]).is_err());
    }
}

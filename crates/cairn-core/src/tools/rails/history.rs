//! How `cairn adopt --from rails` reads the history table this tool wrote.
//!
//! `schema_migrations (version varchar PRIMARY KEY)` beside
//! `ar_internal_metadata`: the set of applied versions (the numeric prefix of
//! `db/migrate/<version>_<name>.rb`). Rails migrations are Ruby code Cairn
//! cannot run, so each version becomes a Cairn **baseline**, and new
//! migrations continue in Cairn. No checksum, no failed state. dbmate writes a
//! table of the same shape without `ar_internal_metadata`, golang-migrate one
//! with a `dirty` column: both are refused for `--from rails`.

use crate::adopt::{self, BadValue, ForeignHistory, ForeignRow, RowKind};
use crate::dialect::Dialect;
use crate::driver::Rows;

/// Rails' default table (`schema_migrations_table_name` renames it).
pub const TABLE: &str = "schema_migrations";

/// The query, the columns it needs and a hint when they are missing.
pub(crate) fn select(dialect: &dyn Dialect, table: &str) -> (String, &'static str, &'static str) {
    (
        adopt::select(dialect, table, &["version"], Some("version")),
        "version",
        "is it Rails'? pass --table with the prefixed or suffixed name",
    )
}

/// One row per applied version.
pub(crate) fn decode(rows: Rows) -> Result<ForeignHistory, BadValue> {
    let mut history = ForeignHistory::default();
    for (index, row) in rows.iter().enumerate() {
        let position = adopt::positional(index);
        let text = adopt::required(row, 0, &position, "version", "a digit string")?;
        let key = text.trim().to_owned();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadValue {
                row: position,
                column: "version",
                value: text.to_owned(),
                expected: "a digit string",
            });
        }
        let version = adopt::version(&key, &key, "version")?;
        let mut foreign = ForeignRow::applied(key, version);
        foreign.kind = RowKind::Code;
        history.rows.push(foreign);
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_code_baselines() {
        let history = decode(vec![vec![Some("20240131120000".into())]]).unwrap();
        assert_eq!(history.rows[0].kind, RowKind::Code);
        assert!(decode(vec![vec![Some("v1".into())]]).is_err());
    }
}

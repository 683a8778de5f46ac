//! How `cairn adopt --from dbmate` reads the history table this tool wrote.
//!
//! `schema_migrations (version varchar PRIMARY KEY)`: one row per applied
//! migration, the version as the digit string of its file name (leading zeros
//! kept, so `0001` is Cairn's version 1). No checksum, no failed state (each
//! section runs in a transaction unless `transaction:false`). Because
//! golang-migrate and Rails use the same table name, a `schema_migrations`
//! with a `dirty` column, or with `ar_internal_metadata` beside it, is refused.

use crate::adopt::{self, BadValue, ForeignHistory, ForeignRow};
use crate::dialect::Dialect;
use crate::driver::Rows;

/// dbmate's default table (`--migrations-table` renames it).
pub const TABLE: &str = "schema_migrations";

/// The query, the columns it needs and a hint when they are missing.
pub(crate) fn select(dialect: &dyn Dialect, table: &str) -> (String, &'static str, &'static str) {
    (
        adopt::select(dialect, table, &["version"], Some("version")),
        "version",
        "is it dbmate's? pass --table with the name given to --migrations-table",
    )
}

/// One row per migration.
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
        history.rows.push(ForeignRow::applied(key, version));
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_strings_keep_their_zeros_in_the_key() {
        let history = decode(vec![vec![Some("0001".into())]]).unwrap();
        assert_eq!(history.rows[0].key, "0001");
        assert_eq!(
            history.rows[0].target,
            crate::adopt::Target::Version("1".parse().unwrap())
        );
        assert!(decode(vec![vec![Some("1a".into())]]).is_err());
    }
}

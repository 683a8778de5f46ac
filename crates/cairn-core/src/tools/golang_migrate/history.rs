//! How `cairn adopt --from golang-migrate` reads the history table this tool wrote.
//!
//! `schema_migrations (version bigint, dirty boolean)` holds **one row**: the
//! current version. Every up file at or below it is applied (golang-migrate
//! applies strictly in order); `dirty = true` means the migration at that
//! version failed part way, and becomes a Cairn `failed` row that needs
//! `cairn repair`. Version `-1` (golang-migrate's "nil version") or no row
//! means nothing is applied. No checksum is kept.

use crate::adopt::{self, BadValue, ForeignHistory, ForeignRow, ForeignState, Skipped, Target};
use crate::dialect::Dialect;
use crate::driver::Rows;

/// golang-migrate's default table (`x-migrations-table` renames it).
pub const TABLE: &str = "schema_migrations";

/// The query, the columns it needs and a hint when they are missing.
pub(crate) fn select(dialect: &dyn Dialect, table: &str) -> (String, &'static str, &'static str) {
    (
        adopt::select(dialect, table, &["version", "dirty"], None),
        "version, dirty",
        "a `schema_migrations` without `dirty` is dbmate's or Rails': pass --from dbmate",
    )
}

/// The one row (several rows are refused: golang-migrate always keeps one).
pub(crate) fn decode(rows: Rows) -> Result<ForeignHistory, BadValue> {
    let mut history = ForeignHistory::default();
    if let Some(second) = rows.get(1) {
        return Err(BadValue {
            row: "#2".to_owned(),
            column: "version",
            value: adopt::value(second, 0).unwrap_or("NULL").to_owned(),
            expected: "no second row: only the current version, in one row",
        });
    }
    for row in &rows {
        let text = adopt::required(row, 0, "#1", "version", "an integer version")?;
        let key = text.trim().to_owned();
        if key == "-1" {
            history.skipped.push(Skipped {
                key,
                reason: "golang-migrate's nil version: nothing applied".to_owned(),
            });
            continue;
        }
        let version = adopt::version(text, &key, "version")?;
        let dirty = adopt::boolean(
            adopt::required(row, 1, &key, "dirty", "a boolean")?,
            &key,
            "dirty",
        )?;
        let mut foreign = ForeignRow::applied(key, version);
        foreign.target = Target::UpTo(version);
        if dirty {
            foreign.state = ForeignState::Failed("dirty = true".to_owned());
        }
        history.rows.push(foreign);
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_covers_every_version_up_to_it() {
        let history = decode(vec![vec![Some("3".into()), Some("f".into())]]).unwrap();
        assert_eq!(history.rows[0].target, Target::UpTo("3".parse().unwrap()));
        assert_eq!(history.rows[0].state, ForeignState::Applied);
        let dirty = decode(vec![vec![Some("3".into()), Some("1".into())]]).unwrap();
        assert_eq!(
            dirty.rows[0].state,
            ForeignState::Failed("dirty = true".into())
        );
        let nil = decode(vec![vec![Some("-1".into()), Some("f".into())]]).unwrap();
        assert!(nil.rows.is_empty());
        assert!(decode(vec![
            vec![Some("1".into()), Some("f".into())],
            vec![Some("2".into()), Some("f".into())]
        ])
        .is_err());
    }
}

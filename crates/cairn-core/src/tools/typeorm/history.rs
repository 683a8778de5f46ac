//! How `cairn adopt --from typeorm` reads the history table this tool wrote.
//!
//! `migrations (id, timestamp, name)`: one row per applied migration, the
//! `timestamp` being the last 13 digits of the class name (a JavaScript
//! millisecond timestamp). TypeORM migrations are code Cairn cannot run, so
//! each row becomes a Cairn **baseline** at its timestamp: every version up to
//! the last one counts as applied, and new migrations continue in Cairn (with
//! versions above it; `cairn new`'s `YYYYMMDDHHMMSS` versions are). No
//! checksum, no failed state.

use crate::adopt::{self, BadValue, ForeignHistory, ForeignRow, RowKind};
use crate::dialect::Dialect;
use crate::driver::Rows;

/// TypeORM's default table (`migrationsTableName` renames it).
pub const TABLE: &str = "migrations";

/// The query, the columns it needs and a hint when they are missing.
pub(crate) fn select(dialect: &dyn Dialect, table: &str) -> (String, &'static str, &'static str) {
    (
        adopt::select(
            dialect,
            table,
            &["id", "timestamp", "name"],
            Some("timestamp"),
        ),
        "id, timestamp, name",
        "`migrations` is a common name: is it TypeORM's? pass --table with migrationsTableName",
    )
}

/// One row per migration.
pub(crate) fn decode(rows: Rows) -> Result<ForeignHistory, BadValue> {
    let mut history = ForeignHistory::default();
    for (index, row) in rows.iter().enumerate() {
        let position = adopt::positional(index);
        let name = adopt::required(row, 2, &position, "name", "the migration's class name")?;
        let stamp = adopt::required(row, 1, name, "timestamp", "a millisecond timestamp")?;
        let stamp = adopt::integer(stamp, name, "timestamp")?.to_string();
        let version = adopt::version(&stamp, name, "timestamp")?;
        let mut foreign = ForeignRow::applied(name.to_owned(), version);
        foreign.name = Some(name.to_owned());
        foreign.kind = RowKind::Code;
        history.rows.push(foreign);
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_code_at_their_timestamp() {
        let history = decode(vec![vec![
            Some("1".into()),
            Some("1700000000000".into()),
            Some("CreateUsers1700000000000".into()),
        ]])
        .unwrap();
        assert_eq!(history.rows[0].kind, RowKind::Code);
        assert_eq!(
            history.rows[0].target,
            crate::adopt::Target::Version("1700000000000".parse().unwrap())
        );
        assert!(decode(vec![vec![
            Some("1".into()),
            Some("soon".into()),
            Some("X".into())
        ]])
        .is_err());
    }
}

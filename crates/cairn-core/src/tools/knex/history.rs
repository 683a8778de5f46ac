//! How `cairn adopt --from knex` reads the history table this tool wrote.
//!
//! `knex_migrations (id, name, batch, migration_time)`: one row per applied
//! migration, `name` being the file name with its extension
//! (`20240131120000_create_users.js`); its leading digits are the Cairn
//! version. Knex migrations are code Cairn cannot run, so each row becomes a
//! Cairn **baseline**: every version up to the last counts as applied and new
//! migrations continue in Cairn. No checksum, no failed state; a held
//! `knex_migrations_lock` is not consulted (Cairn takes its own lock).

use crate::adopt::{self, BadValue, ForeignHistory, ForeignRow, RowKind};
use crate::dialect::Dialect;
use crate::driver::Rows;

/// Knex's default table (`tableName` renames it).
pub const TABLE: &str = "knex_migrations";

/// The query, the columns it needs and a hint when they are missing.
pub(crate) fn select(dialect: &dyn Dialect, table: &str) -> (String, &'static str, &'static str) {
    (
        adopt::select(
            dialect,
            table,
            &["id", "name", "batch", "migration_time"],
            Some("id"),
        ),
        "id, name, batch, migration_time",
        "is it Knex's? pass --table with the tableName of knexfile's migrations",
    )
}

/// One row per migration.
pub(crate) fn decode(rows: Rows) -> Result<ForeignHistory, BadValue> {
    let mut history = ForeignHistory::default();
    for (index, row) in rows.iter().enumerate() {
        let position = adopt::positional(index);
        let name = adopt::required(row, 1, &position, "name", "a migration file name")?;
        let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return Err(BadValue {
                row: position,
                column: "name",
                value: name.to_owned(),
                expected: "a file name starting with its timestamp (`20240131120000_x.js`)",
            });
        }
        let version = adopt::version(&digits, name, "name")?;
        let mut foreign = ForeignRow::applied(name.to_owned(), version);
        let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
        foreign.name = Some(
            stem.split_once('_')
                .map_or(stem, |(_, rest)| rest)
                .to_owned(),
        );
        foreign.applied_at = adopt::value(row, 3).and_then(adopt::timestamp);
        foreign.kind = RowKind::Code;
        history.rows.push(foreign);
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_name_gives_the_version() {
        let history = decode(vec![vec![
            Some("1".into()),
            Some("20240131120000_create_users.js".into()),
            Some("1".into()),
            Some("2024-01-31 12:00:01".into()),
        ]])
        .unwrap();
        assert_eq!(
            history.rows[0].target,
            crate::adopt::Target::Version("20240131120000".parse().unwrap())
        );
        assert_eq!(history.rows[0].name.as_deref(), Some("create_users"));
        assert!(decode(vec![vec![
            Some("1".into()),
            Some("init.js".into()),
            None,
            None
        ]])
        .is_err());
    }
}

//! The SQL of a backfill on one engine: the checkpoint table, the key
//! conditions of keyset pagination, and the batch statements.
//!
//! Keyset pagination: a batch is "the next `n` rows after the last key, up
//! to the key that was the largest when the backfill started", in primary-key
//! order. The lower bound comes from the checkpoint, so every batch starts
//! with an index seek and costs the same wherever it is in the table, unlike
//! `OFFSET` paging, which re-reads every row before the page. Composite keys
//! compare as tuples: PostgreSQL's row comparison `(a, b) > (1, 2)` uses the
//! index directly; on MySQL and SQLite the same order is written out as
//! `a > 1 OR (a = 1 AND b > 2)`, which their planners turn into a range scan.
//!
//! Key values travel as text (the driver returns text) and come back as
//! literals: bare integers for integer columns, string literals otherwise,
//! which every engine converts to the column's type for the comparison. Those
//! values were read from a user's table, so they go through
//! [`Bookkeeping::string_literal`], which renders them exactly under any session setting
//! (a backslash in a key cannot end its literal early on PostgreSQL with
//! `standard_conforming_strings = off`, nor be doubled on MySQL with
//! `NO_BACKSLASH_ESCAPES`), and never drops a NUL, so a bound selects exactly
//! the rows it was read from.

use std::sync::Arc;

use crate::dialect::{Bookkeeping, Dialect};
use crate::migration::Version;

/// A table name as written in `migration.toml` (`table` or `schema.table`), quoted.
pub fn quote_table<D: Bookkeeping + ?Sized>(dialect: &D, table: &str) -> String {
    table
        .split('.')
        .map(|part| dialect.quote_ident(part))
        .collect::<Vec<_>>()
        .join(".")
}

/// The primary key of a backfilled table: its columns in key order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// Column names in key order.
    pub columns: Vec<String>,
    /// For each column, whether it holds integers (rendered as bare literals).
    pub integer: Vec<bool>,
}

impl Key {
    /// A key from `(name, type)` pairs as the engine reports them.
    pub fn from_columns(columns: Vec<(String, String)>) -> Key {
        let integer = columns.iter().map(|(_, ty)| is_integer_type(ty)).collect();
        Key {
            columns: columns.into_iter().map(|(name, _)| name).collect(),
            integer,
        }
    }
}

fn is_integer_type(ty: &str) -> bool {
    let ty = ty.to_ascii_lowercase();
    ty.contains("int") || ty == "serial" || ty == "bigserial"
}

/// The SQL of the backfills on one product, for one table.
#[derive(Clone, Debug)]
pub struct BatchSql {
    dialect: Arc<dyn Dialect>,
    table: String,
    key: Key,
    quoted_key: Vec<String>,
}

impl BatchSql {
    /// Statements for `table` (as written in `migration.toml`) paged by `key`.
    pub fn new(dialect: &dyn Dialect, table: &str, key: Key) -> Self {
        let quoted_key = key.columns.iter().map(|c| dialect.quote_ident(c)).collect();
        BatchSql {
            dialect: dialect.shared(),
            table: quote_table(dialect, table),
            key,
            quoted_key,
        }
    }

    /// The key.
    pub fn key(&self) -> &Key {
        &self.key
    }

    fn literal(&self, index: usize, value: &str) -> String {
        if self.key.integer[index] && value.parse::<i64>().is_ok() {
            value.to_owned()
        } else {
            self.dialect.string_literal(value)
        }
    }

    fn compare(&self, values: &[String], strict: &str, last: &str) -> String {
        let literals: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| self.literal(i, v))
            .collect();
        if self.quoted_key.len() == 1 {
            return format!("{} {last} {}", self.quoted_key[0], literals[0]);
        }
        if self.dialect.compares_row_values() {
            return format!(
                "({}) {last} ({})",
                self.quoted_key.join(", "),
                literals.join(", ")
            );
        }
        // (a, b, c) > (x, y, z)  ⇔  a > x OR (a = x AND b > y) OR (a = x AND b = y AND c > z)
        let n = self.quoted_key.len();
        let mut terms = Vec::with_capacity(n);
        for i in 0..n {
            let mut parts: Vec<String> = (0..i)
                .map(|j| format!("{} = {}", self.quoted_key[j], literals[j]))
                .collect();
            let op = if i + 1 == n { last } else { strict };
            parts.push(format!("{} {op} {}", self.quoted_key[i], literals[i]));
            terms.push(format!("({})", parts.join(" AND ")));
        }
        format!("({})", terms.join(" OR "))
    }

    /// `key > values`.
    pub fn after(&self, values: &[String]) -> String {
        self.compare(values, ">", ">")
    }

    /// `key <= values`.
    pub fn up_to(&self, values: &[String]) -> String {
        self.compare(values, "<", "<=")
    }

    /// `key = values`.
    pub fn equals(&self, values: &[String]) -> String {
        self.quoted_key
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = {}", self.literal(i, &values[i])))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    fn order(&self, descending: bool) -> String {
        self.quoted_key
            .iter()
            .map(|c| {
                if descending {
                    format!("{c} DESC")
                } else {
                    c.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn conditions(
        &self,
        after: Option<&[String]>,
        up_to: &[String],
        filter: Option<&str>,
    ) -> String {
        let mut parts = Vec::with_capacity(3);
        if let Some(after) = after {
            parts.push(self.after(after));
        }
        parts.push(self.up_to(up_to));
        if let Some(filter) = filter {
            parts.push(format!("({filter})"));
        }
        parts.join(" AND ")
    }

    /// The largest key now: the bound of the work.
    pub fn max_key(&self) -> String {
        format!(
            "SELECT {} FROM {} ORDER BY {} LIMIT 1",
            self.quoted_key.join(", "),
            self.table,
            self.order(true)
        )
    }

    /// How many rows the backfill will visit.
    pub fn count(&self, max: &[String], filter: Option<&str>) -> String {
        format!(
            "SELECT COUNT(*) FROM {} WHERE {}",
            self.table,
            self.conditions(None, max, filter)
        )
    }

    /// The key (and `columns`) of the next batch's rows, at most `limit` of them.
    pub fn next_batch(
        &self,
        after: Option<&[String]>,
        max: &[String],
        filter: Option<&str>,
        columns: &[String],
        limit: u64,
    ) -> String {
        let mut select = self.quoted_key.clone();
        select.extend(columns.iter().map(|c| self.dialect.quote_ident(c)));
        format!(
            "SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT {limit}",
            select.join(", "),
            self.table,
            self.conditions(after, max, filter),
            self.order(false)
        )
    }

    /// For a one-column key: the next batch's last key and its number of
    /// rows, in one row (`NULL, 0` when none is left) — the keys themselves
    /// never leave the server.
    pub fn next_bound(
        &self,
        after: Option<&[String]>,
        max: &[String],
        filter: Option<&str>,
        limit: u64,
    ) -> Option<String> {
        let [key] = self.quoted_key.as_slice() else {
            return None;
        };
        Some(format!(
            "SELECT MAX({key}), COUNT(*) FROM (SELECT {key} FROM {} WHERE {} ORDER BY {key} LIMIT {limit}) b",
            self.table,
            self.conditions(after, max, filter),
        ))
    }

    /// Applies `set` to the rows of one batch: after `after`, up to `upper`.
    pub fn update_batch(
        &self,
        set: &str,
        after: Option<&[String]>,
        upper: &[String],
        filter: Option<&str>,
    ) -> String {
        format!(
            "UPDATE {} SET {set} WHERE {}",
            self.table,
            self.conditions(after, upper, filter)
        )
    }

    /// Applies `set` to the one row with key `key`.
    pub fn update_row(&self, set: &str, key: &[String], filter: Option<&str>) -> String {
        let mut condition = self.equals(key);
        if let Some(filter) = filter {
            condition = format!("{condition} AND ({filter})");
        }
        format!("UPDATE {} SET {set} WHERE {condition}", self.table)
    }

    /// Writes `values` (column, new value) to the row with key `key`.
    pub fn write_row(&self, key: &[String], values: &[(String, Option<String>)]) -> String {
        let set: Vec<String> = values
            .iter()
            .map(|(column, value)| {
                format!(
                    "{} = {}",
                    self.dialect.quote_ident(column),
                    value
                        .as_deref()
                        .map_or_else(|| "NULL".to_owned(), |v| self.dialect.string_literal(v))
                )
            })
            .collect();
        format!(
            "UPDATE {} SET {} WHERE {}",
            self.table,
            set.join(", "),
            self.equals(key)
        )
    }

    /// Checks `set` and `filter` without changing a row: the engine parses
    /// the statement and resolves every column and function.
    pub fn probe_update(&self, set: &str, filter: Option<&str>) -> String {
        let filter = filter.map_or_else(String::new, |f| format!(" AND ({f})"));
        format!("UPDATE {} SET {set} WHERE 1 = 0{filter}", self.table)
    }

    /// Checks that `columns` and `filter` can be read, without reading a row.
    pub fn probe_select(&self, columns: &[String], filter: Option<&str>) -> String {
        let mut select = self.quoted_key.clone();
        select.extend(columns.iter().map(|c| self.dialect.quote_ident(c)));
        let filter = filter.map_or_else(String::new, |f| format!(" AND ({f})"));
        format!(
            "SELECT {} FROM {} WHERE 1 = 0{filter}",
            select.join(", "),
            self.table
        )
    }
}

/// The query for a table's primary key columns and their types, in key order
/// ([`Bookkeeping::primary_key_query`]).
pub fn primary_key_query(dialect: &dyn Dialect, table: &str) -> String {
    dialect.primary_key_query(table)
}

/// The checkpoint table: one row per backfill of a migration.
#[derive(Clone, Debug)]
pub struct CheckpointSql {
    dialect: Arc<dyn Dialect>,
    table: String,
}

/// The columns of the checkpoint table, in the order [`CheckpointSql::select`] returns them.
const CHECKPOINT_COLUMNS: &str = "version, step, table_name, state, key_columns, max_key, last_key, rows_total, rows_done, rows_changed, rows_rejected, batches, batch_size, longest_batch_ms, started_at, updated_at, error";

/// Progress of one backfill, as stored in its checkpoint row.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Checkpoint {
    /// The migration's version.
    pub version: Version,
    /// Which backfill of the migration (0-based, in file order).
    pub step: i64,
    /// The table.
    pub table: String,
    /// Where the backfill stands; stored as `running`, `stopped` (Ctrl-C),
    /// `failed` or `done`.
    pub state: super::CheckpointState,
    /// The primary key's columns.
    pub key_columns: Vec<String>,
    /// The largest key when the backfill started (`None`: the table was empty).
    pub max_key: Option<Vec<String>>,
    /// The key of the last row of the last committed batch.
    pub last_key: Option<Vec<String>>,
    /// Rows to visit, counted when it started.
    pub rows_total: i64,
    /// Rows visited in committed batches.
    pub rows_done: i64,
    /// Rows the batches changed.
    pub rows_changed: i64,
    /// Rows a Rust data migration rejected (left unchanged).
    pub rows_rejected: i64,
    /// Batches committed.
    pub batches: i64,
    /// The current batch size.
    pub batch_size: i64,
    /// The longest batch transaction so far, in milliseconds.
    pub longest_batch_ms: i64,
    /// When it started (RFC 3339 UTC).
    pub started_at: String,
    /// When the last batch committed.
    pub updated_at: String,
    /// The last error, if a batch failed.
    pub error: Option<String>,
}

fn json(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}

fn opt_literal(dialect: &dyn Dialect, value: Option<String>) -> String {
    value.map_or_else(|| "NULL".to_owned(), |v| dialect.string_literal(&v))
}

impl CheckpointSql {
    /// The checkpoint table `table` (quoted, qualified) in `dialect`; the
    /// history's is [`HistorySql::checkpoints`](crate::history::HistorySql::checkpoints).
    pub fn new(dialect: &dyn Dialect, table: String) -> Self {
        CheckpointSql {
            dialect: dialect.shared(),
            table,
        }
    }

    /// The quoted, qualified table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table if it does not exist.
    pub fn create(&self) -> String {
        let types = self.dialect.column_types();
        let (bigint, text, suffix) = (types.integer, types.text, types.table_options);
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\
             version {bigint} NOT NULL, \
             step {bigint} NOT NULL, \
             table_name VARCHAR(255) NOT NULL, \
             state VARCHAR(16) NOT NULL, \
             key_columns {text} NOT NULL, \
             max_key {text}, \
             last_key {text}, \
             rows_total {bigint} NOT NULL, \
             rows_done {bigint} NOT NULL, \
             rows_changed {bigint} NOT NULL, \
             rows_rejected {bigint} NOT NULL, \
             batches {bigint} NOT NULL, \
             batch_size {bigint} NOT NULL, \
             longest_batch_ms {bigint} NOT NULL, \
             started_at VARCHAR(32) NOT NULL, \
             updated_at VARCHAR(32) NOT NULL, \
             error {text}, \
             PRIMARY KEY (version, step)){suffix}",
            self.table
        )
    }

    /// Every checkpoint, or those of one migration.
    pub fn select(&self, version: Option<Version>) -> String {
        let filter = version.map_or_else(String::new, |v| format!(" WHERE version = {v}"));
        format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM {}{filter} ORDER BY version, step",
            self.table
        )
    }

    fn values(&self, c: &Checkpoint) -> Vec<String> {
        let e = self.dialect.as_ref();
        vec![
            c.version.to_string(),
            c.step.to_string(),
            e.string_literal(&c.table),
            e.string_literal(c.state.as_str()),
            e.string_literal(&json(&c.key_columns)),
            opt_literal(e, c.max_key.as_deref().map(json)),
            opt_literal(e, c.last_key.as_deref().map(json)),
            c.rows_total.to_string(),
            c.rows_done.to_string(),
            c.rows_changed.to_string(),
            c.rows_rejected.to_string(),
            c.batches.to_string(),
            c.batch_size.to_string(),
            c.longest_batch_ms.to_string(),
            e.string_literal(&c.started_at),
            e.string_literal(&c.updated_at),
            opt_literal(e, c.error.clone()),
        ]
    }

    /// Inserts a new checkpoint.
    pub fn insert(&self, c: &Checkpoint) -> String {
        format!(
            "INSERT INTO {} ({CHECKPOINT_COLUMNS}) VALUES ({})",
            self.table,
            self.values(c).join(", ")
        )
    }

    /// Writes `c` over its row.
    pub fn update(&self, c: &Checkpoint) -> String {
        let assignments: Vec<String> = CHECKPOINT_COLUMNS
            .split(", ")
            .zip(self.values(c))
            .skip(2)
            .map(|(column, value)| format!("{column} = {value}"))
            .collect();
        format!(
            "UPDATE {} SET {} WHERE version = {} AND step = {}",
            self.table,
            assignments.join(", "),
            c.version,
            c.step
        )
    }

    /// Deletes the checkpoints of a migration (when it is rolled back).
    pub fn delete(&self, version: Version) -> String {
        format!("DELETE FROM {} WHERE version = {version}", self.table)
    }

    /// Decodes rows of [`CheckpointSql::select`].
    pub fn decode(&self, rows: crate::driver::Rows) -> Result<Vec<Checkpoint>, String> {
        rows.into_iter().map(decode_row).collect()
    }
}

fn decode_row(row: Vec<Option<String>>) -> Result<Checkpoint, String> {
    if row.len() != 17 {
        return Err(format!("expected 17 columns, found {}", row.len()));
    }
    let text = |i: usize| row[i].clone().unwrap_or_default();
    let int = |i: usize| -> Result<i64, String> {
        text(i)
            .parse::<i64>()
            .map_err(|_| format!("column {} is not an integer: {:?}", i + 1, row[i]))
    };
    let keys = |i: usize| -> Result<Option<Vec<String>>, String> {
        row[i]
            .as_deref()
            .map(|s| {
                serde_json::from_str::<Vec<String>>(s).map_err(|e| format!("bad key {s:?}: {e}"))
            })
            .transpose()
    };
    Ok(Checkpoint {
        version: Version::from(int(0)?),
        step: int(1)?,
        table: text(2),
        state: text(3).parse().map_err(|e| format!("column 4: {e}"))?,
        key_columns: keys(4)?.unwrap_or_default(),
        max_key: keys(5)?,
        last_key: keys(6)?,
        rows_total: int(7)?,
        rows_done: int(8)?,
        rows_changed: int(9)?,
        rows_rejected: int(10)?,
        batches: int(11)?,
        batch_size: int(12)?,
        longest_batch_ms: int(13)?,
        started_at: text(14),
        updated_at: text(15),
        error: row[16].clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::for_engine;
    use crate::engine::Engine;

    fn key(engine: Engine, columns: &[(&str, &str)]) -> BatchSql {
        BatchSql::new(
            for_engine(engine),
            "t",
            Key::from_columns(
                columns
                    .iter()
                    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                    .collect(),
            ),
        )
    }

    fn v(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn single_integer_keys_are_bare_literals() {
        let sql = key(Engine::Postgres, &[("id", "bigint")]);
        assert_eq!(
            sql.next_batch(Some(&v(&["10"])), &v(&["99"]), Some("x IS NULL"), &[], 3),
            "SELECT \"id\" FROM \"t\" WHERE \"id\" > 10 AND \"id\" <= 99 AND (x IS NULL) ORDER BY \"id\" LIMIT 3"
        );
        assert_eq!(sql.up_to(&v(&["7"])), "\"id\" <= 7");
        assert_eq!(
            sql.update_batch("x = 1", None, &v(&["42"]), None),
            "UPDATE \"t\" SET x = 1 WHERE \"id\" <= 42"
        );
    }

    #[test]
    fn composite_keys_are_row_comparisons_on_postgres_and_expanded_elsewhere() {
        let pg = key(Engine::Postgres, &[("a", "integer"), ("b", "text")]);
        assert_eq!(pg.after(&v(&["1", "x'y"])), "(\"a\", \"b\") > (1, 'x''y')");
        let my = key(Engine::Mysql, &[("a", "int"), ("b", "varchar")]);
        assert_eq!(
            my.after(&v(&["1", "x"])),
            "((`a` > 1) OR (`a` = 1 AND `b` > 'x'))"
        );
        assert_eq!(
            my.up_to(&v(&["1", "x"])),
            "((`a` < 1) OR (`a` = 1 AND `b` <= 'x'))"
        );
        let lite = key(
            Engine::Sqlite,
            &[("a", "INTEGER"), ("b", "INTEGER"), ("c", "TEXT")],
        );
        assert_eq!(
            lite.after(&v(&["1", "2", "z"])),
            "((\"a\" > 1) OR (\"a\" = 1 AND \"b\" > 2) OR (\"a\" = 1 AND \"b\" = 2 AND \"c\" > 'z'))"
        );
        assert_eq!(
            lite.equals(&v(&["1", "2", "z"])),
            "\"a\" = 1 AND \"b\" = 2 AND \"c\" = 'z'"
        );
    }

    /// Issue 9: keys and written values from a user's table are literals
    /// that no session setting can end early.
    #[test]
    fn literal_keys_and_values_with_backslashes_are_setting_independent() {
        let pg = key(Engine::Postgres, &[("a", "text"), ("b", "text")]);
        assert_eq!(
            pg.after(&v(&["x\\", "y'; DROP TABLE t; --"])),
            "(\"a\", \"b\") > (E'x\\\\', 'y''; DROP TABLE t; --')"
        );
        assert_eq!(
            pg.write_row(&v(&["k", "1"]), &[("street".to_owned(), Some("1 Main St\\".to_owned())), ("city".to_owned(), None)]),
            "UPDATE \"t\" SET \"street\" = E'1 Main St\\\\', \"city\" = NULL WHERE \"a\" = 'k' AND \"b\" = '1'"
        );
        let my = key(Engine::Mysql, &[("b", "varchar")]);
        assert_eq!(my.equals(&v(&["a\\b"])), "`b` = _utf8mb4 X'615c62'");
        assert_eq!(my.after(&v(&["a\0"])), "`b` > _utf8mb4 X'6100'");
        let lite = key(Engine::Sqlite, &[("b", "TEXT")]);
        assert_eq!(
            lite.up_to(&v(&["a\\\0"])),
            "\"b\" <= ('a\\' || char(0) || '')"
        );
    }

    #[test]
    fn a_non_numeric_value_of_an_integer_column_is_quoted() {
        let sql = key(Engine::Mysql, &[("id", "int")]);
        assert_eq!(
            sql.after(&v(&["1; DROP TABLE t"])),
            "`id` > '1; DROP TABLE t'"
        );
    }

    #[test]
    fn checkpoints_round_trip_through_their_row() {
        let sql = CheckpointSql::new(
            for_engine(Engine::Sqlite),
            "\"cairn_history_backfill\"".to_owned(),
        );
        let c = Checkpoint {
            version: crate::migration::Version::from(5),
            step: 0,
            table: "users".to_owned(),
            state: super::super::CheckpointState::Running,
            key_columns: v(&["id"]),
            max_key: Some(v(&["100"])),
            last_key: None,
            rows_total: 100,
            rows_done: 0,
            rows_changed: 0,
            rows_rejected: 0,
            batches: 0,
            batch_size: 10,
            longest_batch_ms: 0,
            started_at: "2026-11-25T00:00:00.000Z".to_owned(),
            updated_at: "2026-11-25T00:00:00.000Z".to_owned(),
            error: Some("it's".to_owned()),
        };
        let row: Vec<Option<String>> = vec![
            Some("5".into()),
            Some("0".into()),
            Some("users".into()),
            Some("running".into()),
            Some("[\"id\"]".into()),
            Some("[\"100\"]".into()),
            None,
            Some("100".into()),
            Some("0".into()),
            Some("0".into()),
            Some("0".into()),
            Some("0".into()),
            Some("10".into()),
            Some("0".into()),
            Some(c.started_at.clone()),
            Some(c.updated_at.clone()),
            Some("it's".into()),
        ];
        assert_eq!(sql.decode(vec![row]).unwrap(), vec![c.clone()]);
        assert!(sql.insert(&c).contains("'[\"100\"]', NULL, 100"));
        assert!(sql
            .update(&c)
            .ends_with("error = 'it''s' WHERE version = 5 AND step = 0"));
    }

    /// The SQL of a backfill, per engine, reviewed like code.
    #[test]
    fn backfill_sql_snapshots() {
        for engine in Engine::ALL {
            let dialect = for_engine(engine);
            let batch = BatchSql::new(
                dialect,
                "app.users",
                Key::from_columns(vec![
                    ("tenant".to_owned(), "bigint".to_owned()),
                    ("email".to_owned(), "text".to_owned()),
                ]),
            );
            let after = v(&["7", "a\\b"]);
            let max = v(&["9", "z"]);
            let checkpoints = crate::history::HistorySql::new(
                dialect,
                &crate::history::HistoryTable {
                    schema: Some("ops".to_owned()),
                    name: "cairn_history".to_owned(),
                },
            )
            .checkpoints();
            let all = [
                primary_key_query(dialect, "app.users"),
                batch.max_key(),
                batch.count(&max, Some("email IS NOT NULL")),
                batch.next_batch(Some(&after), &max, None, &v(&["name"]), 100),
                batch.update_batch("email = lower(email)", Some(&after), &max, None),
                batch.write_row(&after, &[("name".to_owned(), Some("it's".to_owned()))]),
                checkpoints.create(),
                checkpoints.select(Some(crate::migration::Version::from(5))),
                checkpoints.delete(crate::migration::Version::from(5)),
            ];
            insta::assert_snapshot!(format!("backfill_sql_{engine}"), all.join(";\n\n"));
        }
    }
}

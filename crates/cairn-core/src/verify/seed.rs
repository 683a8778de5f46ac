//! Generated rows for `cairn verify --seed-data`, and the check that a
//! migration's down and up again keep the rows of the tables that survive it.
//!
//! [`Seeder::seed`] inserts a few rows into every table of a [`Snapshot`]:
//! parents before children (following foreign keys), a value of the column's
//! type in every column that is not generated, foreign key columns copied from
//! a row just inserted into the referenced table, and values distinct from row
//! to row (a counter runs through the whole verification) so that unique
//! constraints hold. Integers count *down* from 999,999,999 (smaller types
//! from their own ceiling), so they never meet the ids a sequence or
//! `AUTO_INCREMENT` hands out to rows a migration inserts. A table that cannot
//! be seeded (a check constraint the values break, a `NOT NULL` column of a
//! type without a generator, a foreign key into a table that could not be
//! seeded) is skipped and named in the [`SeedReport`], never a failure.
//!
//! The values are the same on every engine where they can be; what a product
//! writes differently (booleans, a row of defaults, identity overrides, any
//! value in an untyped SQLite column) the dialect says
//! ([`crate::dialect::Schema`]'s `seed_*` methods). Reading and comparing the
//! rows afterwards is [`super::rows`]' job (re-exported here).
//!
//! The library never prints; everything comes back as values.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::dialect::Dialect;
use crate::driver::Driver;
use crate::error::Error;
use crate::history::{quote_ident, string_literal};
use crate::schema::{dialect_of, Column, Snapshot, Table};

pub use super::rows::{
    compare_kept_rows, compare_rows, project, read_rows, subtract, surviving, RowsFinding,
};

/// Rows [`Seeder::seed`] inserts into each table per call.
pub const ROWS_PER_TABLE: usize = 3;

/// Inserts generated rows; keeps the counter that makes values distinct.
#[derive(Clone, Debug, Default)]
pub struct Seeder {
    counter: u64,
}

/// What one [`Seeder::seed`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SeedReport {
    /// Rows inserted, by table.
    pub inserted: BTreeMap<String, usize>,
    /// Tables left without rows, and why.
    pub skipped: Vec<Skipped>,
}

/// A table [`Seeder::seed`] could not fill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The table.
    pub table: String,
    /// Why, in words.
    pub reason: String,
}

/// One row as generated: column name → SQL literal.
type Literals = BTreeMap<String, String>;

impl Seeder {
    /// A seeder whose counter starts at 1.
    pub fn new() -> Self {
        Seeder::default()
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Inserts [`ROWS_PER_TABLE`] rows into every table of `snapshot` (the
    /// schema the driver's database has now). Errors of the inserts are
    /// reported as skipped tables; only a lost connection is an error.
    pub async fn seed(
        &mut self,
        driver: &mut dyn Driver,
        snapshot: &Snapshot,
    ) -> Result<SeedReport, Error> {
        let dialect = dialect_of(driver);
        let engine = dialect.engine();
        let mut report = SeedReport::default();
        let mut seeded: BTreeMap<String, Vec<Literals>> = BTreeMap::new();
        for name in insert_order(snapshot) {
            let table = &snapshot.tables[&name];
            let rows = match self.rows(&*dialect, snapshot, &name, table, &seeded) {
                Ok(rows) => rows,
                Err(reason) => {
                    report.skipped.push(Skipped {
                        table: name.clone(),
                        reason,
                    });
                    continue;
                }
            };
            let sql = insert_sql(&*dialect, &name, table, &rows);
            match driver.execute(&sql).await {
                Ok(_) => {
                    report.inserted.insert(name.clone(), rows.len());
                    seeded.insert(name, rows);
                }
                Err(e) if e.kind == crate::DriverErrorKind::Connection => {
                    return Err(Error::driver(
                        engine,
                        format!("cannot insert seed rows into `{name}`"),
                        e,
                    ));
                }
                Err(e) => report.skipped.push(Skipped {
                    table: name,
                    reason: format!("the database refused the generated rows: {e}"),
                }),
            }
        }
        Ok(report)
    }

    /// The rows to insert into `table`, or why there are none.
    fn rows(
        &mut self,
        dialect: &dyn Dialect,
        snapshot: &Snapshot,
        name: &str,
        table: &Table,
        seeded: &BTreeMap<String, Vec<Literals>>,
    ) -> Result<Vec<Literals>, String> {
        // Columns a foreign key fills, with the key that fills them.
        let mut by_key: BTreeMap<&str, &crate::schema::ForeignKey> = BTreeMap::new();
        for fk in table.foreign_keys.values() {
            for column in &fk.columns {
                by_key.entry(column.as_str()).or_insert(fk);
            }
        }
        let mut rows = Vec::new();
        for i in 0..ROWS_PER_TABLE {
            let n = self.next();
            let mut row = Literals::new();
            for (column_name, column) in &table.columns {
                if column.generated.is_some() || by_key.contains_key(column_name.as_str()) {
                    continue;
                }
                match value(dialect, snapshot, column, n) {
                    Some(literal) => {
                        row.insert(column_name.clone(), literal);
                    }
                    None if column.nullable => {
                        row.insert(column_name.clone(), "NULL".to_owned());
                    }
                    None if column.default.is_some() => {}
                    None => {
                        return Err(format!(
                            "no value can be generated for its NOT NULL column `{column_name}` of type `{}`",
                            column.data_type
                        ))
                    }
                }
            }
            for fk in table.foreign_keys.values() {
                let referenced = if fk.referenced_columns.is_empty() {
                    snapshot
                        .tables
                        .get(&fk.referenced_table)
                        .and_then(|t| t.primary_key.as_ref())
                        .map(|pk| pk.columns.clone())
                        .unwrap_or_default()
                } else {
                    fk.referenced_columns.clone()
                };
                let parent: Option<&Literals> = if fk.referenced_table == name {
                    Some(&row)
                } else {
                    seeded
                        .get(&fk.referenced_table)
                        .and_then(|rows| rows.get(i % rows.len().max(1)))
                };
                let values: Option<Vec<String>> = parent.and_then(|parent| {
                    referenced
                        .iter()
                        .map(|c| parent.get(c).cloned())
                        .collect::<Option<Vec<_>>>()
                        .filter(|v| v.len() == fk.columns.len() && !v.is_empty())
                });
                let nullable = fk
                    .columns
                    .iter()
                    .all(|c| table.columns.get(c).is_some_and(|c| c.nullable));
                for (k, column) in fk.columns.iter().enumerate() {
                    if row.contains_key(column)
                        || !by_key
                            .get(column.as_str())
                            .is_some_and(|owner| std::ptr::eq(*owner, fk))
                    {
                        continue;
                    }
                    let literal = match &values {
                        Some(values) => values[k].clone(),
                        None if nullable => "NULL".to_owned(),
                        None => {
                            return Err(format!(
                                "its foreign key ({}) references `{}`, which has no seeded row",
                                fk.columns.join(", "),
                                fk.referenced_table
                            ))
                        }
                    };
                    row.insert(column.clone(), literal);
                }
            }
            rows.push(row);
        }
        Ok(rows)
    }
}

/// Tables with the tables their foreign keys reference first; by name where
/// there is no order (and for the tables of a cycle).
fn insert_order(snapshot: &Snapshot) -> Vec<String> {
    let mut left: BTreeSet<&String> = snapshot.tables.keys().collect();
    let mut out = Vec::new();
    while !left.is_empty() {
        let ready: Vec<&String> =
            left.iter()
                .copied()
                .filter(|name| {
                    snapshot.tables[*name].foreign_keys.values().all(|fk| {
                        fk.referenced_table == **name || !left.contains(&fk.referenced_table)
                    })
                })
                .collect();
        let next = if ready.is_empty() {
            left.iter().copied().take(1).collect()
        } else {
            ready
        };
        for name in next {
            left.remove(name);
            out.push(name.clone());
        }
    }
    out
}

fn insert_sql(dialect: &dyn Dialect, name: &str, table: &Table, rows: &[Literals]) -> String {
    let engine = dialect.engine();
    let columns: Vec<&String> = table
        .column_order
        .iter()
        .filter(|c| rows.first().is_some_and(|r| r.contains_key(*c)))
        .collect();
    let table_name = crate::schema::quote_key(engine, name);
    if columns.is_empty() {
        return dialect.seed_insert_defaults(&table_name);
    }
    let mut sql = format!(
        "INSERT INTO {table_name} ({})",
        columns
            .iter()
            .map(|c| quote_ident(engine, c))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let always_identity = table
        .columns
        .values()
        .any(|c| c.identity.as_deref() == Some("always"));
    if let Some(overriding) = dialect
        .seed_overriding_identity()
        .filter(|_| always_identity)
    {
        sql.push_str(overriding);
    }
    sql.push_str(" VALUES ");
    let values: Vec<String> = rows
        .iter()
        .map(|row| {
            let literals: Vec<&str> = columns
                .iter()
                .map(|c| row.get(*c).map_or("NULL", String::as_str))
                .collect();
            format!("({})", literals.join(", "))
        })
        .collect();
    sql.push_str(&values.join(", "));
    sql
}

/// The type's name before any `(`, and the numbers inside.
fn type_parts(data_type: &str) -> (String, Vec<u64>) {
    let lower = data_type.to_ascii_lowercase();
    match lower.split_once('(') {
        Some((base, rest)) => {
            let inside = rest.split(')').next().unwrap_or("");
            let numbers = inside
                .split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect();
            let after = rest.split_once(')').map_or("", |(_, a)| a);
            (format!("{}{after}", base.trim()), numbers)
        }
        None => (lower, Vec::new()),
    }
}

/// The quoted labels of a MySQL `enum('a','b')` / `set(...)` type.
fn quoted_labels(data_type: &str) -> Vec<String> {
    let mut labels = Vec::new();
    let mut current: Option<String> = None;
    let mut chars = data_type.chars().peekable();
    while let Some(c) = chars.next() {
        match (&mut current, c) {
            (None, '\'') => current = Some(String::new()),
            (Some(label), '\'') if chars.peek() == Some(&'\'') => {
                chars.next();
                label.push('\'');
            }
            (Some(_), '\'') => labels.extend(current.take()),
            (Some(label), c) => label.push(c),
            (None, _) => {}
        }
    }
    labels
}

/// A SQL literal of the column's type for row `n`, or `None` when Cairn has
/// no generator for the type.
fn value(dialect: &dyn Dialect, snapshot: &Snapshot, column: &Column, n: u64) -> Option<String> {
    let engine = dialect.engine();
    let data_type = column.data_type.to_ascii_lowercase();
    if let Some(labels) = snapshot.enums.get(&data_type) {
        let label = labels.get(usize::try_from(n).ok()? % labels.len().max(1))?;
        return Some(string_literal(engine, label));
    }
    if data_type.ends_with("[]") {
        return Some("'{}'".to_owned());
    }
    let (base, numbers) = type_parts(&data_type);
    let base = base.trim_end_matches(" unsigned").trim();
    let text = |width: Option<u64>| {
        let mut s = text(n);
        if let Some(width) = width.and_then(|w| usize::try_from(w).ok()) {
            if width > 0 && s.len() > width {
                s = s[s.len() - width..].to_owned();
            }
        }
        string_literal(engine, &s)
    };
    let date = || date(n);
    let time = || format!("{:02}:{:02}:{:02}", (n / 3600) % 24, (n / 60) % 60, n % 60);
    let hex = hex(n);
    let boolean = |b: bool| dialect.seed_boolean(b);
    let literal = match base {
        "tinyint" if numbers.first() == Some(&1) => boolean(n.is_multiple_of(2)),
        "bool" | "boolean" => boolean(n.is_multiple_of(2)),
        "tinyint" | "int1" => (100 - n % 100).to_string(),
        "smallint" | "int2" | "smallserial" => (30_000 - n % 30_000).to_string(),
        "int" | "integer" | "int4" | "mediumint" | "serial" | "bigint" | "int8" | "bigserial"
        | "int3" => (1_000_000_000 - n % 1_000_000_000).to_string(),
        "numeric" | "decimal" | "dec" | "fixed" | "number" => {
            let digits = match numbers.as_slice() {
                [p, s, ..] => p.saturating_sub(*s),
                [p] => *p,
                [] => 9,
            };
            let ceiling = 10u64.checked_pow(u32::try_from(digits.min(9)).ok()?)?;
            (if ceiling > 1 { n % ceiling } else { 0 }).to_string()
        }
        "real" | "float" | "float4" | "float8" | "double" | "double precision" | "money" => {
            n.to_string()
        }
        "char" | "character" | "nchar" | "varchar" | "character varying" | "nvarchar"
        | "varchar2" | "bpchar" => text(numbers.first().copied()),
        "text" | "tinytext" | "mediumtext" | "longtext" | "clob" | "string" | "citext" | "name" => {
            text(None)
        }
        "date" => string_literal(engine, &date()),
        "datetime"
        | "timestamp"
        | "timestamp without time zone"
        | "timestamptz"
        | "timestamp with time zone" => string_literal(engine, &format!("{} {}", date(), time())),
        "time" | "time without time zone" | "time with time zone" | "timetz" => {
            string_literal(engine, &time())
        }
        "year" => (2000 + n % 100).to_string(),
        "uuid" => format!("'00000000-0000-4000-8000-{n:012}'"),
        "json" | "jsonb" => string_literal(engine, &format!("{{\"n\": {n}}}")),
        // `\x...` is bytea's hex input; as a literal it must not depend on
        // standard_conforming_strings.
        "bytea" => string_literal(engine, &format!("\\x{hex}")),
        "blob" | "tinyblob" | "mediumblob" | "longblob" | "binary" | "varbinary" => {
            format!("x'{hex}'")
        }
        "interval" => string_literal(engine, &format!("{n} seconds")),
        "inet" | "cidr" => {
            string_literal(engine, &format!("10.{}.{}.0/24", n / 256 % 256, n % 256))
        }
        "enum" | "set" => {
            let labels = quoted_labels(&data_type);
            let label = labels.get(usize::try_from(n).ok()? % labels.len().max(1))?;
            string_literal(engine, label)
        }
        _ => return dialect.seed_any_type(&data_type, n),
    };
    Some(literal)
}

/// The text of row `n` (`s7`), before any width is applied.
pub(crate) fn text(n: u64) -> String {
    format!("s{n}")
}

/// A date for row `n`, `YYYY-MM-DD`, distinct for the first 10,080 rows.
pub(crate) fn date(n: u64) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        2000 + (n / 336) % 30,
        (n / 28) % 12 + 1,
        n % 28 + 1
    )
}

/// The bytes of [`text`] in hexadecimal, for binary types.
pub(crate) fn hex(n: u64) -> String {
    text(n).bytes().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::for_engine;
    use crate::engine::Engine;
    use crate::schema::{ForeignKey, PrimaryKey};

    fn column(data_type: &str, nullable: bool) -> Column {
        Column {
            data_type: data_type.to_owned(),
            nullable,
            ..Column::default()
        }
    }

    #[test]
    fn values_follow_the_type() {
        let s = Snapshot::new(Engine::Postgres);
        let table: &[(&str, Engine, Option<&str>)] = &[
            ("integer", Engine::Postgres, Some("999999993")),
            ("smallint", Engine::Postgres, Some("29993")),
            ("character varying(2)", Engine::Postgres, Some("'s7'")),
            ("varchar(1)", Engine::Mysql, Some("'7'")),
            ("numeric(4,2)", Engine::Postgres, Some("7")),
            ("boolean", Engine::Postgres, Some("false")),
            ("tinyint(1)", Engine::Mysql, Some("0")),
            ("date", Engine::Postgres, Some("'2000-01-08'")),
            ("enum('a','b''c')", Engine::Mysql, Some("'b''c'")),
            ("int(10) unsigned", Engine::Mysql, Some("999999993")),
            ("geometry", Engine::Postgres, None),
            ("", Engine::Sqlite, Some("999999993")),
        ];
        for (data_type, engine, expected) in table {
            assert_eq!(
                value(for_engine(*engine), &s, &column(data_type, true), 7).as_deref(),
                *expected,
                "{data_type}"
            );
        }
    }

    #[test]
    fn parents_come_before_children() {
        let mut s = Snapshot::new(Engine::Sqlite);
        let mut child = Table::default();
        child.foreign_keys.insert(
            "fk".to_owned(),
            ForeignKey {
                columns: vec!["p".to_owned()],
                referenced_table: "parent".to_owned(),
                ..ForeignKey::default()
            },
        );
        s.tables.insert("a_child".to_owned(), child);
        s.tables.insert("parent".to_owned(), Table::default());
        assert_eq!(insert_order(&s), ["parent", "a_child"]);
    }

    #[test]
    fn child_rows_copy_the_parent_key() {
        let mut s = Snapshot::new(Engine::Postgres);
        let mut parent = Table::default();
        parent
            .columns
            .insert("id".to_owned(), column("integer", false));
        parent.column_order.push("id".to_owned());
        parent.primary_key = Some(PrimaryKey {
            name: None,
            columns: vec!["id".to_owned()],
        });
        let mut child = Table::default();
        for c in ["id", "parent_id"] {
            child.columns.insert(c.to_owned(), column("integer", false));
            child.column_order.push(c.to_owned());
        }
        child.foreign_keys.insert(
            "fk".to_owned(),
            ForeignKey {
                columns: vec!["parent_id".to_owned()],
                referenced_table: "parent".to_owned(),
                referenced_columns: vec!["id".to_owned()],
                ..ForeignKey::default()
            },
        );
        s.tables.insert("parent".to_owned(), parent);
        s.tables.insert("child".to_owned(), child);
        let mut seeder = Seeder::new();
        let parent_rows = seeder
            .rows(
                for_engine(Engine::Postgres),
                &s,
                "parent",
                &s.tables["parent"],
                &BTreeMap::new(),
            )
            .expect("parent rows");
        let mut seeded = BTreeMap::new();
        seeded.insert("parent".to_owned(), parent_rows.clone());
        let child_rows = seeder
            .rows(
                for_engine(Engine::Postgres),
                &s,
                "child",
                &s.tables["child"],
                &seeded,
            )
            .expect("child rows");
        for (child, parent) in child_rows.iter().zip(&parent_rows) {
            assert_eq!(child["parent_id"], parent["id"]);
            assert_ne!(child["id"], parent["id"]);
        }
        let err = seeder
            .rows(
                for_engine(Engine::Postgres),
                &s,
                "child",
                &s.tables["child"],
                &BTreeMap::new(),
            )
            .unwrap_err();
        assert!(err.contains("references `parent`"), "{err}");
    }

    #[test]
    fn untyped_values_are_sqlite_only() {
        let s = Snapshot::new(Engine::Sqlite);
        let value_of =
            |engine, data_type: &str| value(for_engine(engine), &s, &column(data_type, true), 7);
        assert_eq!(
            value_of(Engine::Sqlite, "my_int").as_deref(),
            Some("999999993")
        );
        assert_eq!(
            value_of(Engine::Sqlite, "varchar_ish").as_deref(),
            Some("'s7'")
        );
        assert_eq!(
            value_of(Engine::Sqlite, "my_blob").as_deref(),
            Some("x'7337'")
        );
        assert_eq!(
            value_of(Engine::Sqlite, "my_datetime").as_deref(),
            Some("'2000-01-08'")
        );
        assert_eq!(value_of(Engine::Sqlite, "boolish").as_deref(), Some("1"));
        assert_eq!(value_of(Engine::Sqlite, "whatever").as_deref(), Some("7"));
        assert_eq!(value_of(Engine::Postgres, "whatever"), None);
        assert_eq!(value_of(Engine::Mysql, "whatever"), None);
        assert_eq!(value_of(Engine::Mysql, "boolean").as_deref(), Some("0"));
        assert_eq!(value_of(Engine::Sqlite, "boolean").as_deref(), Some("0"));
    }

    #[test]
    fn insert_statements_per_family() {
        let mut empty = Table::default();
        let one = vec![Literals::new()];
        assert_eq!(
            insert_sql(for_engine(Engine::Mysql), "t", &empty, &one),
            "INSERT INTO `t` () VALUES ()"
        );
        assert_eq!(
            insert_sql(for_engine(Engine::Postgres), "app.t", &empty, &one),
            "INSERT INTO \"app\".\"t\" DEFAULT VALUES"
        );
        assert_eq!(
            insert_sql(for_engine(Engine::Sqlite), "t", &empty, &one),
            "INSERT INTO \"t\" DEFAULT VALUES"
        );
        empty.column_order.push("id".to_owned());
        empty.columns.insert(
            "id".to_owned(),
            Column {
                identity: Some("always".to_owned()),
                ..column("integer", false)
            },
        );
        let row = vec![Literals::from([("id".to_owned(), "7".to_owned())])];
        assert_eq!(
            insert_sql(for_engine(Engine::Postgres), "t", &empty, &row),
            "INSERT INTO \"t\" (\"id\") OVERRIDING SYSTEM VALUE VALUES (7)"
        );
        assert_eq!(
            insert_sql(for_engine(Engine::Mysql), "t", &empty, &row),
            "INSERT INTO `t` (`id`) VALUES (7)"
        );
    }
}

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
//! [`read_rows`] and [`compare_rows`] compare a table's rows as a multiset of
//! text values, so a finding can say how many rows went and show one.
//!
//! The library never prints; everything comes back as values.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::driver::{Driver, Rows};
use crate::engine::Engine;
use crate::error::Error;
use crate::history::{quote_ident, string_literal};
use crate::schema::{Column, Snapshot, Table};

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

/// One row as read back: every value as text.
type Row = Vec<Option<String>>;

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
        let engine = driver.dialect().engine();
        let mut report = SeedReport::default();
        let mut seeded: BTreeMap<String, Vec<Literals>> = BTreeMap::new();
        for name in insert_order(snapshot) {
            let table = &snapshot.tables[&name];
            let rows = match self.rows(engine, snapshot, &name, table, &seeded) {
                Ok(rows) => rows,
                Err(reason) => {
                    report.skipped.push(Skipped {
                        table: name.clone(),
                        reason,
                    });
                    continue;
                }
            };
            let sql = insert_sql(engine, &name, table, &rows);
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
        engine: Engine,
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
                match value(engine, snapshot, column, n) {
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

fn insert_sql(engine: Engine, name: &str, table: &Table, rows: &[Literals]) -> String {
    let columns: Vec<&String> = table
        .column_order
        .iter()
        .filter(|c| rows.first().is_some_and(|r| r.contains_key(*c)))
        .collect();
    let table_name = crate::schema::quote_key(engine, name);
    if columns.is_empty() {
        let one = match engine {
            Engine::Mysql => format!("INSERT INTO {table_name} () VALUES ()"),
            _ => format!("INSERT INTO {table_name} DEFAULT VALUES"),
        };
        return one;
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
    if engine == Engine::Postgres && always_identity {
        sql.push_str(" OVERRIDING SYSTEM VALUE");
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
fn value(engine: Engine, snapshot: &Snapshot, column: &Column, n: u64) -> Option<String> {
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
        let mut s = format!("s{n}");
        if let Some(width) = width.and_then(|w| usize::try_from(w).ok()) {
            if width > 0 && s.len() > width {
                s = s[s.len() - width..].to_owned();
            }
        }
        string_literal(engine, &s)
    };
    let date = || {
        format!(
            "{:04}-{:02}-{:02}",
            2000 + (n / 336) % 30,
            (n / 28) % 12 + 1,
            n % 28 + 1
        )
    };
    let time = || format!("{:02}:{:02}:{:02}", (n / 3600) % 24, (n / 60) % 60, n % 60);
    let hex: String = format!("s{n}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    let boolean = |b: bool| match engine {
        Engine::Postgres => b.to_string(),
        _ => u8::from(b).to_string(),
    };
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
        _ if engine == Engine::Sqlite => sqlite_value(&data_type, n, &hex, text(None), date()),
        _ => return None,
    };
    Some(literal)
}

/// SQLite accepts any value in any column: pick one by the type's affinity.
fn sqlite_value(data_type: &str, n: u64, hex: &str, text: String, date: String) -> String {
    if data_type.contains("int") || data_type.is_empty() {
        (1_000_000_000 - n % 1_000_000_000).to_string()
    } else if ["char", "clob", "text"]
        .iter()
        .any(|t| data_type.contains(t))
    {
        text
    } else if data_type.contains("blob") {
        format!("x'{hex}'")
    } else if data_type.contains("date") || data_type.contains("time") {
        format!("'{date}'")
    } else if data_type.contains("bool") {
        (n % 2).to_string()
    } else {
        n.to_string()
    }
}

/// A table's rows, `columns` of each, as text, sorted (a multiset).
pub async fn read_rows(
    driver: &mut dyn Driver,
    table: &str,
    columns: &[String],
) -> Result<Rows, Error> {
    let engine = driver.dialect().engine();
    if columns.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {} FROM {}",
        columns
            .iter()
            .map(|c| quote_ident(engine, c))
            .collect::<Vec<_>>()
            .join(", "),
        crate::schema::quote_key(engine, table)
    );
    let mut rows = driver
        .query(&sql)
        .await
        .map_err(|e| Error::driver(engine, format!("cannot read the rows of `{table}`"), e))?;
    rows.sort();
    Ok(rows)
}

/// Rows of a surviving table that down and up again did not give back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowsFinding {
    /// The table.
    pub table: String,
    /// The columns compared (those the table had before the migration).
    pub columns: Vec<String>,
    /// Rows after the first up (and the seed rows).
    pub rows_before: usize,
    /// Rows after down and up again.
    pub rows_after: usize,
    /// Rows that are no longer there (lost, or changed).
    pub missing: usize,
    /// Rows there now that were not before (changed, or new).
    pub unexpected: usize,
    /// The finding as a sentence.
    pub message: String,
}

/// Compares the rows of `table` before and after (both sorted, as
/// [`read_rows`] gives them); `None` when they are the same multiset.
pub fn compare_rows(
    table: &str,
    columns: &[String],
    before: &Rows,
    after: &Rows,
) -> Option<RowsFinding> {
    compare_kept_rows(table, columns, before, &Vec::new(), after)
}

/// Like [`compare_rows`], but `made` (sorted) are rows the migration's up
/// script itself inserted or changed (read before and after it: what up
/// added to the table). Those are not expected back as they were, since up
/// makes them again, maybe with other values (`CURRENT_TIMESTAMP`): they are
/// left out of `before`, and as many rows of `after` as up made may be new.
pub fn compare_kept_rows(
    table: &str,
    columns: &[String],
    before: &Rows,
    made: &Rows,
    after: &Rows,
) -> Option<RowsFinding> {
    let expected = subtract(before, made);
    let (missing, _) = multiset_difference(&expected, after);
    let (_, appeared) = multiset_difference(before, after);
    let unexpected: Vec<&Row> = appeared.into_iter().skip(made.len()).collect();
    if missing.is_empty() && unexpected.is_empty() {
        return None;
    }
    let before = &expected;
    let show = |row: &Row| {
        let cells: Vec<String> = columns
            .iter()
            .zip(row)
            .map(|(c, v)| format!("{c}={}", v.as_deref().unwrap_or("NULL")))
            .collect();
        format!("({})", cells.join(", "))
    };
    let mut message = format!("table `{table}`: ");
    if unexpected.is_empty() {
        let _ = write!(
            message,
            "{} of {} rows lost by down and up again, e.g. {}",
            missing.len(),
            before.len(),
            missing.first().map(|r| show(r)).unwrap_or_default()
        );
    } else if missing.is_empty() {
        let _ = write!(
            message,
            "{} rows appeared after down and up again ({} before), e.g. {}",
            unexpected.len(),
            before.len(),
            unexpected.first().map(|r| show(r)).unwrap_or_default()
        );
    } else {
        let _ = write!(
            message,
            "{} of {} rows changed or lost by down and up again ({} after), e.g. {} is now {}",
            missing.len(),
            before.len(),
            after.len(),
            missing.first().map(|r| show(r)).unwrap_or_default(),
            unexpected.first().map(|r| show(r)).unwrap_or_default()
        );
    }
    Some(RowsFinding {
        table: table.to_owned(),
        columns: columns.to_vec(),
        rows_before: before.len(),
        rows_after: after.len(),
        missing: missing.len(),
        unexpected: unexpected.len(),
        message,
    })
}

/// The rows of `rows` that are not in `remove`, counting duplicates; both
/// sorted, and so is the result.
pub fn subtract(rows: &Rows, remove: &Rows) -> Rows {
    multiset_difference(rows, remove)
        .0
        .into_iter()
        .cloned()
        .collect()
}

/// `rows` (sorted, of `all` columns) reduced to the columns `keep`, sorted again.
pub fn project(rows: &Rows, all: &[String], keep: &[String]) -> Rows {
    let at: Vec<usize> = keep
        .iter()
        .filter_map(|c| all.iter().position(|a| a == c))
        .collect();
    let mut out: Rows = rows
        .iter()
        .map(|row| at.iter().map(|&i| row.get(i).cloned().flatten()).collect())
        .collect();
    out.sort();
    out
}

/// The rows only in `before` and only in `after`, counting duplicates; both sorted.
fn multiset_difference<'a>(before: &'a Rows, after: &'a Rows) -> (Vec<&'a Row>, Vec<&'a Row>) {
    let (mut i, mut j) = (0, 0);
    let (mut missing, mut unexpected) = (Vec::new(), Vec::new());
    while i < before.len() || j < after.len() {
        match (before.get(i), after.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                missing.push(a);
                i += 1;
            }
            (Some(_), Some(b)) => {
                unexpected.push(b);
                j += 1;
            }
            (Some(a), None) => {
                missing.push(a);
                i += 1;
            }
            (None, Some(b)) => {
                unexpected.push(b);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (missing, unexpected)
}

/// The tables that exist before and after a migration's up, each with the
/// columns it had before and still has: whose rows down and up again must keep.
pub fn surviving(before_up: &Snapshot, after_up: &Snapshot) -> Vec<(String, Vec<String>)> {
    before_up
        .tables
        .iter()
        .filter_map(|(name, before)| {
            let after = after_up.tables.get(name)?;
            let columns: Vec<String> = before
                .column_order
                .iter()
                .filter(|c| after.columns.contains_key(*c))
                .cloned()
                .collect();
            (!columns.is_empty()).then(|| (name.clone(), columns))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
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
                value(*engine, &s, &column(data_type, true), 7).as_deref(),
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
                Engine::Postgres,
                &s,
                "parent",
                &s.tables["parent"],
                &BTreeMap::new(),
            )
            .expect("parent rows");
        let mut seeded = BTreeMap::new();
        seeded.insert("parent".to_owned(), parent_rows.clone());
        let child_rows = seeder
            .rows(Engine::Postgres, &s, "child", &s.tables["child"], &seeded)
            .expect("child rows");
        for (child, parent) in child_rows.iter().zip(&parent_rows) {
            assert_eq!(child["parent_id"], parent["id"]);
            assert_ne!(child["id"], parent["id"]);
        }
        let err = seeder
            .rows(
                Engine::Postgres,
                &s,
                "child",
                &s.tables["child"],
                &BTreeMap::new(),
            )
            .unwrap_err();
        assert!(err.contains("references `parent`"), "{err}");
    }

    #[test]
    fn verify_rows_made_by_up_are_not_expected_back() {
        let row = |a: &str, b: &str| vec![Some(a.to_owned()), Some(b.to_owned())];
        let columns = vec!["id".to_owned(), "at".to_owned()];
        // Seeded row 9 and row 1, which up inserted with its clock.
        let before_up = vec![row("9", "s")];
        let after_up = vec![row("1", "10:00:00.1"), row("9", "s")];
        let made = subtract(&after_up, &before_up);
        assert_eq!(made, vec![row("1", "10:00:00.1")]);
        let again = vec![row("1", "10:00:00.2"), row("9", "s")];
        assert_eq!(
            compare_kept_rows("settings", &columns, &after_up, &made, &again),
            None
        );
        // Without knowing what up made, the new timestamp is a changed row.
        assert!(compare_rows("settings", &columns, &after_up, &again).is_some());
        // A seeded row lost is still found, and one extra row beyond what up makes.
        let lost = compare_kept_rows("settings", &columns, &after_up, &made, &vec![row("1", "x")])
            .expect("lost");
        assert_eq!((lost.missing, lost.unexpected, lost.rows_before), (1, 0, 1));
        let extra = vec![row("1", "x"), row("2", "y"), row("9", "s")];
        let more = compare_kept_rows("settings", &columns, &after_up, &made, &extra).expect("more");
        assert_eq!((more.missing, more.unexpected), (0, 1));
        assert_eq!(
            project(
                &vec![row("2", "b"), row("1", "a")],
                &columns,
                &["at".to_owned()]
            ),
            vec![vec![Some("a".to_owned())], vec![Some("b".to_owned())]]
        );
    }

    #[test]
    fn lost_and_changed_rows_are_described() {
        let row = |a: &str, b: Option<&str>| vec![Some(a.to_owned()), b.map(str::to_owned)];
        let columns = vec!["id".to_owned(), "a".to_owned()];
        let before = vec![row("1", Some("x")), row("2", Some("y"))];
        assert_eq!(compare_rows("t", &columns, &before, &before), None);
        let lost = compare_rows("t", &columns, &before, &vec![]).expect("lost");
        assert_eq!((lost.missing, lost.unexpected), (2, 0));
        assert_eq!(
            lost.message,
            "table `t`: 2 of 2 rows lost by down and up again, e.g. (id=1, a=x)"
        );
        let changed = compare_rows(
            "t",
            &columns,
            &before,
            &vec![row("1", None), row("2", Some("y"))],
        )
        .expect("changed");
        assert_eq!((changed.missing, changed.unexpected), (1, 1));
        assert!(
            changed
                .message
                .contains("(id=1, a=x) is now (id=1, a=NULL)"),
            "{}",
            changed.message
        );
    }
}

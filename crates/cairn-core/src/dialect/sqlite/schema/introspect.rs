//! SQLite introspection: `sqlite_master` and the table-valued pragma
//! functions (`pragma_table_xinfo`, `pragma_index_list`, `pragma_index_xinfo`,
//! `pragma_foreign_key_list`) for the `main` schema, without `sqlite_%` internals.
//!
//! SQLite keeps no catalog for some things, so they are read from the stored
//! `CREATE` text: check constraints, a column's `COLLATE`, a partial index's
//! predicate, expression index keys, and a trigger's timing and events. It keeps no names for unique
//! constraints and foreign keys either; they are keyed by what they say
//! (`unique (a, b)`, `(a_id) references a (id)`). A foreign key's
//! `CONSTRAINT name`, read from the `CREATE TABLE` text, is kept in
//! [`ForeignKey::name`], so a renamed one is a difference. A generated column's
//! expression is read from its definition in the `CREATE TABLE` text.

use crate::driver::Driver;
use crate::engine::Engine;
use crate::error::Error;
use crate::schema::{
    normalize_default, normalize_sql, query, Column, ForeignKey, Index, PrimaryKey, Row, Snapshot,
    Trigger, View,
};

const TABLES: &str = "m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";

/// Reads the schema, Cairn's own tables included.
pub(super) async fn introspect(driver: &mut dyn Driver) -> Result<Snapshot, Error> {
    let mut snapshot = Snapshot::new(Engine::Sqlite);
    let columns = format!(
        "SELECT m.name, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk, p.hidden \
         FROM sqlite_master m, pragma_table_xinfo(m.name) p WHERE {TABLES} ORDER BY m.name, p.cid"
    );
    let mut keys: Vec<(String, i64, String)> = Vec::new();
    for row in query(driver, "columns", &columns).await? {
        let row = Row(&row);
        let table_name = row.text(0);
        let table = snapshot.tables.entry(table_name.clone()).or_default();
        let name = row.text(1);
        if row.int(5) > 0 {
            keys.push((table_name, row.int(5), name.clone()));
        }
        let generated = match row.int(6) {
            2 => Some("virtual".to_owned()),
            3 => Some("stored".to_owned()),
            _ => None,
        };
        table.column_order.push(name.clone());
        table.columns.insert(
            name,
            Column {
                data_type: row.text(2).to_lowercase(),
                nullable: !row.flag(3),
                default: normalize_default(row.opt(4)),
                generated,
                ..Column::default()
            },
        );
    }
    keys.sort();
    for (table, _, column) in keys {
        if let Some(table) = snapshot.tables.get_mut(&table) {
            table
                .primary_key
                .get_or_insert_with(|| PrimaryKey {
                    name: None,
                    columns: Vec::new(),
                })
                .columns
                .push(column);
        }
    }

    let definitions = format!(
        "SELECT m.name, m.sql FROM sqlite_master m WHERE {TABLES} AND m.sql IS NOT NULL ORDER BY m.name"
    );
    let mut table_sql = std::collections::BTreeMap::new();
    for row in query(driver, "table definitions", &definitions).await? {
        let row = Row(&row);
        table_sql.insert(row.text(0), row.text(1));
        if let Some(table) = snapshot.tables.get_mut(&row.text(0)) {
            let sql = row.text(1);
            for (name, expression) in checks(&sql) {
                let key = name.unwrap_or_else(|| expression.clone());
                table.checks.insert(key, expression);
            }
            for (name, collation) in column_collations(&sql) {
                if let Some(column) = table.columns.get_mut(&name) {
                    column.collation = Some(collation);
                }
            }
            for (name, expression) in generated_expressions(&sql) {
                if let Some(column) = table.columns.get_mut(&name) {
                    if let Some(kind) = column.generated.take() {
                        column.generated = Some(format!("{expression} {kind}"));
                    }
                }
            }
        }
    }

    let index_sql: std::collections::BTreeMap<String, String> = query(
        driver,
        "index definitions",
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    )
    .await?
    .iter()
    .map(|row| (Row(row).text(0), Row(row).text(1)))
    .collect();
    let indexes = format!(
        "SELECT m.name, il.name, il.\"unique\", il.origin, x.seqno, x.name, x.\"desc\" \
         FROM sqlite_master m, pragma_index_list(m.name) il, pragma_index_xinfo(il.name) x \
         WHERE {TABLES} AND x.key = 1 ORDER BY m.name, il.name, x.seqno"
    );
    for row in query(driver, "indexes", &indexes).await? {
        let row = Row(&row);
        let Some(table) = snapshot.tables.get_mut(&row.text(0)) else {
            continue;
        };
        let name = row.text(1);
        let sql = index_sql.get(&name).map(String::as_str).unwrap_or("");
        let (keys, predicate) = index_parts(sql);
        let position = usize::try_from(row.int(4)).unwrap_or(0);
        let mut column = match row.opt(5) {
            Some(column) => column,
            // An expression key: its text from the CREATE INDEX statement.
            None => keys.get(position).cloned().unwrap_or_default(),
        };
        if row.flag(6) && !column.to_lowercase().ends_with(" desc") {
            column.push_str(" desc");
        }
        match row.text(3).as_str() {
            "pk" => {}
            "u" => {
                // The key is only known once all its columns are read: collect
                // under the index name, rekeyed below.
                table
                    .unique_constraints
                    .entry(format!("\u{0}{name}"))
                    .or_default()
                    .push(column);
            }
            _ => table
                .indexes
                .entry(name)
                .or_insert_with(|| Index {
                    unique: row.flag(2),
                    predicate,
                    ..Index::default()
                })
                .columns
                .push(column),
        }
    }
    for table in snapshot.tables.values_mut() {
        table.unique_constraints = std::mem::take(&mut table.unique_constraints)
            .into_values()
            .map(|columns| (format!("unique ({})", columns.join(", ")), columns))
            .collect();
    }

    let foreign_keys = format!(
        "SELECT m.name, fk.id, fk.\"table\", fk.\"from\", fk.\"to\", fk.on_delete, fk.on_update \
         FROM sqlite_master m, pragma_foreign_key_list(m.name) fk WHERE {TABLES} \
         ORDER BY m.name, fk.id, fk.seq"
    );
    let mut fks: std::collections::BTreeMap<(String, i64), ForeignKey> = Default::default();
    for row in query(driver, "foreign keys", &foreign_keys).await? {
        let row = Row(&row);
        let fk = fks
            .entry((row.text(0), row.int(1)))
            .or_insert_with(|| ForeignKey {
                referenced_table: row.text(2),
                on_delete: row.text(5).to_uppercase(),
                on_update: row.text(6).to_uppercase(),
                ..ForeignKey::default()
            });
        fk.columns.push(row.text(3));
        fk.referenced_columns.extend(row.opt(4));
    }
    for ((table, _), mut fk) in fks {
        let names = table_sql
            .get(&table)
            .map(|sql| foreign_key_names(sql))
            .unwrap_or_default();
        fk.name = names
            .into_iter()
            .find(|(columns, _)| {
                columns.len() == fk.columns.len()
                    && columns
                        .iter()
                        .zip(&fk.columns)
                        .all(|(a, b)| a.eq_ignore_ascii_case(b))
            })
            .map(|(_, name)| name);
        if let Some(table) = snapshot.tables.get_mut(&table) {
            let key = format!(
                "({}) references {} ({})",
                fk.columns.join(", "),
                fk.referenced_table,
                fk.referenced_columns.join(", ")
            );
            table.foreign_keys.insert(key, fk);
        }
    }

    let others = "SELECT type, name, tbl_name, sql FROM sqlite_master \
         WHERE type IN ('view', 'trigger') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
    for row in query(driver, "views and triggers", others).await? {
        let row = Row(&row);
        let sql = normalize_sql(&row.text(3));
        if row.text(0) == "view" {
            snapshot.views.insert(
                row.text(1),
                View {
                    materialized: false,
                    definition: sql,
                },
            );
        } else {
            let (timing, events) = trigger_header(&sql);
            snapshot.triggers.insert(
                row.text(1),
                Trigger {
                    name: row.text(1),
                    table: row.text(2),
                    timing,
                    events,
                    definition: sql,
                },
            );
        }
    }
    Ok(snapshot)
}

/// The characters of `sql` outside quoted strings and identifiers, each with
/// its byte offset and parenthesis depth.
fn unquoted(sql: &str) -> Vec<(usize, char, usize)> {
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    for (i, c) in sql.char_indices() {
        match quote {
            Some(q) if c == q || (q == '[' && c == ']') => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' | '`' | '[' => quote = Some(c),
                '(' => {
                    out.push((i, c, depth));
                    depth += 1;
                }
                ')' => {
                    depth = depth.saturating_sub(1);
                    out.push((i, c, depth));
                }
                _ => out.push((i, c, depth)),
            },
        }
    }
    out
}

/// Where each unquoted, whole-word `keyword` starts (case-insensitive).
fn keyword_positions(sql: &str, keyword: &str) -> Vec<usize> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let chars = unquoted(sql);
    let mut out = Vec::new();
    for (n, &(i, c, _)) in chars.iter().enumerate() {
        if !word(c)
            || n.checked_sub(1)
                .is_some_and(|p| chars[p].0 + chars[p].1.len_utf8() == i && word(chars[p].1))
        {
            continue;
        }
        let end = i + keyword.len();
        if sql.len() >= end
            && sql.is_char_boundary(end)
            && sql[i..end].eq_ignore_ascii_case(keyword)
            && !sql[end..].chars().next().is_some_and(word)
        {
            out.push(i);
        }
    }
    out
}

/// The byte range inside the parentheses that open at or after `from`.
fn parenthesised(sql: &str, from: usize) -> Option<(usize, usize)> {
    let chars = unquoted(sql);
    let (open, _, depth) = *chars.iter().find(|&&(i, c, _)| i >= from && c == '(')?;
    let &(close, _, _) = chars
        .iter()
        .find(|&&(i, c, d)| i > open && c == ')' && d == depth)?;
    Some((open + 1, close))
}

/// The check constraints of a `CREATE TABLE` statement: (name, expression).
fn checks(sql: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    for at in keyword_positions(sql, "check") {
        let Some((start, end)) = parenthesised(sql, at) else {
            continue;
        };
        if !sql[at + 5..start - 1].trim().is_empty() {
            continue;
        }
        let expression = normalize_sql(&sql[start..end]);
        let before: Vec<&str> = sql[..at].split_whitespace().rev().take(2).collect();
        let name = match before.as_slice() {
            [name, constraint] if constraint.eq_ignore_ascii_case("constraint") => {
                Some(unquote(name))
            }
            _ => None,
        };
        out.push((name, expression));
    }
    out
}

/// The column and constraint definitions of a `CREATE TABLE` statement:
/// the text between its top-level commas.
fn definition_segments(sql: &str) -> Vec<&str> {
    let Some((start, end)) = parenthesised(sql, 0) else {
        return Vec::new();
    };
    let chars = unquoted(sql);
    let inside = chars
        .iter()
        .find(|&&(i, _, _)| i + 1 == start)
        .map_or(1, |&(_, _, depth)| depth + 1);
    let mut segments = Vec::new();
    let mut from = start;
    for &(i, c, depth) in &chars {
        if i > start && i < end && c == ',' && depth == inside {
            segments.push(&sql[from..i]);
            from = i + 1;
        }
    }
    segments.push(&sql[from..end]);
    segments
}

/// The columns of a `CREATE TABLE` statement declared with a `COLLATE`
/// other than the default `BINARY`: (column, collation in lower case). Only
/// a `COLLATE` outside parentheses belongs to the column (one inside a
/// `CHECK` or `DEFAULT` expression does not); table constraints name no
/// column first and are skipped by the caller, which keeps only columns
/// the table has.
fn column_collations(sql: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for segment in definition_segments(sql) {
        let Some(column) = first_identifier(segment) else {
            continue;
        };
        let top_level: Vec<usize> = unquoted(segment)
            .iter()
            .filter(|&&(_, _, depth)| depth == 0)
            .map(|&(i, _, _)| i)
            .collect();
        for at in keyword_positions(segment, "collate") {
            if !top_level.contains(&at) {
                continue;
            }
            if let Some((collation, _)) = split_identifier(&segment[at + "collate".len()..]) {
                let collation = collation.to_lowercase();
                if collation != "binary" {
                    out.push((column.clone(), collation));
                }
            }
        }
    }
    out
}

/// The named foreign keys of a `CREATE TABLE` statement: (referencing
/// columns, constraint name), from `CONSTRAINT name FOREIGN KEY (a, b)` and
/// from a column's `CONSTRAINT name REFERENCES ...`.
fn foreign_key_names(sql: &str) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    for segment in definition_segments(sql) {
        for at in keyword_positions(segment, "constraint") {
            let Some((name, rest)) = split_identifier(&segment[at + "constraint".len()..]) else {
                continue;
            };
            let rest = rest.trim_start();
            let starts = |word: &str| {
                rest.get(..word.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(word))
                    && !rest[word.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
            };
            if starts("foreign") {
                let Some((open, close)) = parenthesised(rest, 0) else {
                    continue;
                };
                let columns = rest[open..close]
                    .split(',')
                    .map(|c| unquote(c.trim()))
                    .collect();
                out.push((columns, name));
            } else if starts("references") {
                if let Some(column) = first_identifier(segment) {
                    out.push((vec![column], name));
                }
            }
        }
    }
    out
}

/// The identifier `text` starts with (after spaces), unquoted, and the text after it.
fn split_identifier(text: &str) -> Option<(String, &str)> {
    let text = text.trim_start();
    let close = match text.chars().next()? {
        '"' => '"',
        '`' => '`',
        '[' => ']',
        _ => {
            let end = text
                .find(|c: char| c.is_whitespace() || c == '(' || c == ',')
                .unwrap_or(text.len());
            return (end > 0).then(|| (text[..end].to_owned(), &text[end..]));
        }
    };
    let mut name = String::new();
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == close {
            if close != ']' && chars.peek().is_some_and(|&(_, n)| n == close) {
                chars.next();
                name.push(c);
                continue;
            }
            return Some((name, &text[i + c.len_utf8()..]));
        }
        name.push(c);
    }
    None
}

/// The column definitions of a `CREATE TABLE` statement that hold an
/// `AS (expression)` (generated columns): (column name, expression).
fn generated_expressions(sql: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for segment in definition_segments(sql) {
        let Some(&at) = keyword_positions(segment, "as").first() else {
            continue;
        };
        let Some((open, close)) = parenthesised(segment, at) else {
            continue;
        };
        if !segment[at + 2..open - 1].trim().is_empty() {
            continue;
        }
        let Some(name) = first_identifier(segment) else {
            continue;
        };
        out.push((name, normalize_sql(&segment[open..close])));
    }
    out
}

/// The first identifier of a column definition, unquoted.
fn first_identifier(segment: &str) -> Option<String> {
    let text = segment.trim_start();
    let (open, close) = match text.chars().next()? {
        '"' => ('"', '"'),
        '`' => ('`', '`'),
        '[' => ('[', ']'),
        _ => {
            let end = text
                .find(|c: char| c.is_whitespace() || c == '(')
                .unwrap_or(text.len());
            return Some(text[..end].to_owned());
        }
    };
    let rest = &text[open.len_utf8()..];
    let mut name = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == close {
            if close != ']' && chars.peek() == Some(&close) {
                chars.next();
                name.push(c);
                continue;
            }
            return Some(name);
        }
        name.push(c);
    }
    None
}

fn unquote(name: &str) -> String {
    let trimmed = name.trim_matches(|c| matches!(c, '"' | '`' | '[' | ']'));
    trimmed.to_owned()
}

/// The key texts and the predicate of a `CREATE INDEX` statement.
fn index_parts(sql: &str) -> (Vec<String>, Option<String>) {
    let Some(on) = keyword_positions(sql, "on").first().copied() else {
        return (Vec::new(), None);
    };
    let Some((start, end)) = parenthesised(sql, on) else {
        return (Vec::new(), None);
    };
    let chars = unquoted(sql);
    let inside = chars
        .iter()
        .find(|&&(i, _, _)| i + 1 == start)
        .map_or(1, |&(_, _, depth)| depth + 1);
    let mut keys = Vec::new();
    let mut from = start;
    for &(i, c, depth) in &chars {
        if i > start && i < end && c == ',' && depth == inside {
            keys.push(normalize_sql(&sql[from..i]));
            from = i + 1;
        }
    }
    keys.push(normalize_sql(&sql[from..end]));
    let rest = sql[end + 1..].trim();
    let predicate = rest
        .get(..5)
        .filter(|w| w.eq_ignore_ascii_case("where"))
        .map(|_| normalize_sql(&rest[5..]));
    (keys, predicate)
}

/// The timing and events of a `CREATE TRIGGER` statement (SQLite's default timing is `BEFORE`).
fn trigger_header(sql: &str) -> (String, Vec<String>) {
    let header_end = keyword_positions(sql, "on")
        .first()
        .copied()
        .unwrap_or(sql.len());
    let header = sql[..header_end].to_uppercase();
    let words: Vec<&str> = header.split_whitespace().collect();
    let timing = if words.contains(&"INSTEAD") {
        "INSTEAD OF"
    } else if words.contains(&"AFTER") {
        "AFTER"
    } else {
        "BEFORE"
    };
    let events = ["INSERT", "UPDATE", "DELETE"]
        .into_iter()
        .filter(|e| words.contains(e))
        .map(str::to_owned)
        .collect();
    (timing.to_owned(), events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_read_from_create_table() {
        let sql = "CREATE TABLE t (a INT CHECK (a > 0), b TEXT, CONSTRAINT b_len CHECK(length(b) < 10), c TEXT DEFAULT 'check (x)')";
        assert_eq!(
            checks(sql),
            vec![
                (None, "a > 0".to_owned()),
                (Some("b_len".to_owned()), "length(b) < 10".to_owned())
            ]
        );
    }

    #[test]
    fn generated_expressions_are_read_from_create_table() {
        let sql = "CREATE TABLE t (id INTEGER, \"b c\" INT GENERATED ALWAYS AS (id * 2) STORED, \
                   d TEXT AS (upper(x || ',')) , e TEXT DEFAULT 'as (no)', CHECK (id > 0))";
        assert_eq!(
            generated_expressions(sql),
            vec![
                ("b c".to_owned(), "id * 2".to_owned()),
                ("d".to_owned(), "upper(x || ',')".to_owned())
            ]
        );
    }

    #[test]
    fn column_collations_are_read_from_create_table() {
        let sql = "CREATE TABLE t (id INTEGER, email TEXT COLLATE NOCASE NOT NULL, \
                   \"Name\" TEXT COLLATE \"rtrim\", b TEXT COLLATE BINARY, \
                   c TEXT CHECK (c COLLATE nocase <> 'x'), UNIQUE (email COLLATE nocase))";
        assert_eq!(
            column_collations(sql),
            vec![
                ("email".to_owned(), "nocase".to_owned()),
                ("Name".to_owned(), "rtrim".to_owned()),
            ]
        );
    }

    #[test]
    fn foreign_key_names_are_read_from_create_table() {
        let sql = "CREATE TABLE c (id INTEGER, p_id INTEGER CONSTRAINT c_p REFERENCES p (id), \
                   q INTEGER REFERENCES q, a INT, b INT, \
                   CONSTRAINT \"c ab\" FOREIGN KEY (a, \"b\") REFERENCES r (x, y), \
                   FOREIGN KEY (q) REFERENCES q)";
        assert_eq!(
            foreign_key_names(sql),
            vec![
                (vec!["p_id".to_owned()], "c_p".to_owned()),
                (vec!["a".to_owned(), "b".to_owned()], "c ab".to_owned()),
            ]
        );
    }

    #[test]
    fn index_keys_and_predicate() {
        let (keys, predicate) =
            index_parts("CREATE INDEX i ON t (lower(a), b DESC) WHERE b IS NOT NULL AND (a > 1)");
        assert_eq!(keys, vec!["lower(a)", "b DESC"]);
        assert_eq!(predicate.as_deref(), Some("b IS NOT NULL AND (a > 1)"));
        assert_eq!(index_parts("CREATE INDEX i ON t(a)").1, None);
    }

    #[test]
    fn trigger_timing_and_events() {
        assert_eq!(
            trigger_header("CREATE TRIGGER t AFTER UPDATE OF a ON x BEGIN SELECT 1; END"),
            ("AFTER".to_owned(), vec!["UPDATE".to_owned()])
        );
        assert_eq!(
            trigger_header("CREATE TRIGGER t INSERT ON x BEGIN SELECT 1; END").0,
            "BEFORE"
        );
    }
}

//! A [`Snapshot`] written back as SQL for its own engine: the DDL that
//! rebuilds the schema on an empty database (`cairn schema dump --format sql`).
//!
//! The promise is a **round trip**: applying the output to an empty database
//! of the same engine and introspecting it gives the same snapshot. So the
//! text is built only from what the snapshot holds, in an order every engine
//! accepts: types, sequences and functions first, then tables (with their
//! primary key, unique constraints and checks), indexes, foreign keys (after
//! every table, so cycles work), views (a view after the views it names),
//! triggers. What a snapshot does not hold (table options, storage, grants,
//! comments, SQLite `AUTOINCREMENT`/`WITHOUT ROWID`, MySQL routines) is not
//! written either; `docs/verify.md` lists it.
//!
//! This file is the neutral driver of the rendering: the order and shape of
//! the dump. What a product writes differently (where indexes and foreign
//! keys go, identity, defaults, views, triggers) it asks the dialect
//! ([`crate::dialect::Schema`]'s `ddl_*` methods).
//!
//! Identifiers are quoted only where they need it (not lowercase letters,
//! digits and `_`, or a reserved word), so the dump reads like hand-written SQL.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::history::quote_ident;

use super::{split_order, Column, Index, Snapshot, Table};

/// Words that must be quoted as identifiers on at least one engine.
const RESERVED: &[&str] = &[
    "all",
    "alter",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "begin",
    "between",
    "both",
    "by",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "cross",
    "current_date",
    "current_time",
    "current_timestamp",
    "current_user",
    "database",
    "default",
    "delete",
    "desc",
    "distinct",
    "do",
    "drop",
    "else",
    "end",
    "except",
    "exists",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "in",
    "index",
    "inner",
    "insert",
    "intersect",
    "interval",
    "into",
    "is",
    "join",
    "key",
    "keys",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "placing",
    "primary",
    "range",
    "references",
    "returning",
    "right",
    "row",
    "rows",
    "select",
    "session_user",
    "set",
    "some",
    "table",
    "then",
    "to",
    "trailing",
    "trigger",
    "true",
    "union",
    "unique",
    "update",
    "user",
    "using",
    "values",
    "view",
    "when",
    "where",
    "window",
    "with",
];

/// `name` as an identifier in `engine`'s SQL, quoted only when it must be.
pub fn ident(engine: Engine, name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&name);
    if plain {
        name.to_owned()
    } else {
        quote_ident(engine, name)
    }
}

/// A snapshot key as a name: `app.users` is `users` in schema `app` when
/// the dialect keys objects by schema (PostgreSQL) and `app` is one of the
/// snapshot's schemas (or `public`), each part quoted only where it must be;
/// any other key is one identifier.
fn qualified(d: &dyn Dialect, schemas: &BTreeSet<String>, key: &str) -> String {
    let e = d.engine();
    match key.split_once('.') {
        Some((schema, name))
            if d.keys_have_schemas() && (schemas.contains(schema) || schema == "public") =>
        {
            format!("{}.{}", ident(e, schema), ident(e, name))
        }
        _ => ident(e, key),
    }
}

fn idents(engine: Engine, names: &[String]) -> String {
    names
        .iter()
        .map(|n| ident(engine, n))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Snapshot {
    /// The DDL that rebuilds this schema on an empty database of the same
    /// engine, one statement per `;`, in dependency order (see the module doc).
    pub fn to_sql(&self) -> String {
        self.to_sql_for(crate::dialect::for_engine(self.engine))
    }

    /// [`Snapshot::to_sql`] in the words of `dialect` (a product of the
    /// snapshot's engine family).
    pub fn to_sql_for(&self, d: &dyn Dialect) -> String {
        let e = d.engine();
        let q = |key: &str| qualified(d, &self.schemas, key);
        let mut out = format!("-- {e} schema, written by `cairn schema dump --format sql`\n");
        for name in &self.schemas {
            let _ = writeln!(out, "\nCREATE SCHEMA {};", ident(e, name));
        }
        for (name, schema) in &self.extensions {
            // IF NOT EXISTS: a managed database may come with it installed.
            let _ = writeln!(
                out,
                "\nCREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {};",
                ident(e, name),
                ident(e, schema)
            );
        }
        for (name, labels) in &self.enums {
            let _ = writeln!(
                out,
                "\nCREATE TYPE {} AS ENUM ({});",
                q(name),
                super::enum_labels(e, labels)
            );
        }
        for (name, s) in &self.sequences {
            let _ = writeln!(
                out,
                "\nCREATE SEQUENCE {} AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {}{};",
                q(name),
                s.data_type,
                s.increment,
                s.min,
                s.max,
                s.start,
                if s.cycle { " CYCLE" } else { " NO CYCLE" }
            );
        }
        if !self.functions.is_empty() {
            // Like pg_dump: a SQL function's body may name tables created below.
            out.push_str("\nSET check_function_bodies = false;\n");
        }
        for definition in self.functions.values() {
            let _ = writeln!(out, "\n{};", definition.trim_end().trim_end_matches(';'));
        }
        for (name, table) in &self.tables {
            out.push('\n');
            out.push_str(&create_table(d, &self.schemas, name, table));
        }
        // Each group after the tables is set off by a blank line.
        let mut group = String::new();
        for (name, s) in &self.sequences {
            if let Some((table, column)) = s.owned_by.as_deref().and_then(|o| o.rsplit_once('.')) {
                let _ = writeln!(
                    group,
                    "ALTER SEQUENCE {} OWNED BY {}.{};",
                    q(name),
                    q(table),
                    ident(e, column)
                );
            }
        }
        flush(&mut out, &mut group);
        for (table_name, table) in &self.tables {
            for (name, index) in &table.indexes {
                if index_in_table(d, table, name, index).is_none() {
                    group.push_str(&create_index(d, &q(table_name), table, name, index));
                }
            }
        }
        flush(&mut out, &mut group);
        if !d.ddl_foreign_keys_in_table() {
            for (table_name, table) in &self.tables {
                for (name, fk) in &table.foreign_keys {
                    let _ = writeln!(
                        group,
                        "ALTER TABLE {} ADD CONSTRAINT {} {};",
                        q(table_name),
                        ident(e, name),
                        foreign_key(d, &self.schemas, fk)
                    );
                }
            }
        }
        flush(&mut out, &mut group);
        for name in view_order(self) {
            let _ = writeln!(out, "\n{};", d.ddl_view(&q(&name), &self.views[&name]));
        }
        for trigger in self.triggers.values() {
            let _ = writeln!(out, "\n{};", d.ddl_trigger(trigger));
        }
        out
    }
}

/// Appends a non-empty group of statements after a blank line.
fn flush(out: &mut String, group: &mut String) {
    if !group.is_empty() {
        out.push('\n');
        out.push_str(group);
        group.clear();
    }
}

/// The line of `CREATE TABLE` that declares `index`, where the dialect
/// writes indexes inside the table.
fn index_in_table(d: &dyn Dialect, table: &Table, name: &str, index: &Index) -> Option<String> {
    let columns = key_columns(d, table, &index.columns, &[]);
    d.ddl_index_in_table(&ident(d.engine(), name), index, &columns)
}

fn create_table(d: &dyn Dialect, schemas: &BTreeSet<String>, name: &str, table: &Table) -> String {
    let e = d.engine();
    let mut lines: Vec<String> = table
        .column_order
        .iter()
        .filter_map(|c| table.columns.get(c).map(|col| column(d, c, col)))
        .collect();
    if let Some(pk) = &table.primary_key {
        let columns = key_columns(d, table, &pk.columns, &[]);
        let name = pk.name.as_deref().map(|n| ident(e, n));
        lines.push(d.ddl_primary_key(name.as_deref(), &columns));
    }
    for (name, columns) in &table.unique_constraints {
        let columns = key_columns(d, table, columns, &[]);
        lines.push(d.ddl_unique(&ident(e, name), &columns));
    }
    for (name, index) in &table.indexes {
        lines.extend(index_in_table(d, table, name, index));
    }
    for (name, check) in &table.checks {
        lines.push(d.ddl_check(&ident(e, name), name, check));
    }
    if d.ddl_foreign_keys_in_table() {
        for fk in table.foreign_keys.values() {
            lines.push(match &fk.name {
                Some(name) => format!(
                    "CONSTRAINT {} {}",
                    ident(e, name),
                    foreign_key(d, schemas, fk)
                ),
                None => foreign_key(d, schemas, fk),
            });
        }
    }
    format!(
        "CREATE TABLE {} (\n    {}\n);\n",
        qualified(d, schemas, name),
        lines.join(",\n    ")
    )
}

fn column(d: &dyn Dialect, name: &str, c: &Column) -> String {
    let mut out = ident(d.engine(), name);
    if !c.data_type.is_empty() {
        let _ = write!(out, " {}", c.data_type);
    }
    if let Some(collation) = &c.collation {
        out.push_str(&d.ddl_collation(collation));
    }
    if let Some(generated) = &c.generated {
        let (expression, kind) = match generated.rsplit_once(' ') {
            Some((expression, kind)) if matches!(kind, "stored" | "virtual") => (expression, kind),
            // SQLite without an expression read: only the kind.
            _ => ("", generated.as_str()),
        };
        let _ = write!(
            out,
            " GENERATED ALWAYS AS ({expression}) {}",
            kind.to_uppercase()
        );
    }
    if let Some(default) = &c.default {
        out.push_str(&d.ddl_default(default));
    }
    if let Some(identity) = c.identity.as_deref().and_then(|kind| d.ddl_identity(kind)) {
        out.push_str(&identity);
    }
    if !c.nullable {
        out.push_str(" NOT NULL");
    } else if d.ddl_explicit_null() && c.generated.is_none() {
        out.push_str(" NULL");
    }
    if let Some(extra) = &c.extra {
        let _ = write!(out, " {extra}");
    }
    out
}

/// The key columns or expressions of a primary key, constraint or index,
/// each with its `options` (collation, operator class) where it has one.
fn key_columns(d: &dyn Dialect, table: &Table, keys: &[String], options: &[String]) -> String {
    keys.iter()
        .enumerate()
        .map(|(i, key)| {
            let (expression, order) = split_order(key);
            let mut order = order.to_uppercase();
            if let Some(option) = options.get(i).filter(|o| !o.is_empty()) {
                order = format!(" {}{order}", option.replacen("collate ", "COLLATE ", 1));
            }
            if table.columns.contains_key(expression) {
                return format!("{}{order}", ident(d.engine(), expression));
            }
            d.ddl_key_expression(table, expression, &order)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `CREATE INDEX` on `table_name` (already qualified and quoted).
fn create_index(
    d: &dyn Dialect,
    table_name: &str,
    table: &Table,
    name: &str,
    index: &Index,
) -> String {
    let mut out = format!(
        "CREATE {}INDEX {} ON {table_name}",
        if index.unique { "UNIQUE " } else { "" },
        ident(d.engine(), name),
    );
    if let Some(method) = &index.method {
        let _ = write!(out, " USING {method}");
    }
    let _ = write!(
        out,
        " ({})",
        key_columns(d, table, &index.columns, &index.key_options)
    );
    if let Some(predicate) = &index.predicate {
        let _ = write!(out, " WHERE {predicate}");
    }
    out.push_str(";\n");
    out
}

fn foreign_key(d: &dyn Dialect, schemas: &BTreeSet<String>, fk: &super::ForeignKey) -> String {
    let e = d.engine();
    let mut out = format!(
        "FOREIGN KEY ({}) REFERENCES {}",
        idents(e, &fk.columns),
        qualified(d, schemas, &fk.referenced_table)
    );
    if !fk.referenced_columns.is_empty() {
        let _ = write!(out, " ({})", idents(e, &fk.referenced_columns));
    }
    let _ = write!(
        out,
        " ON DELETE {} ON UPDATE {}",
        fk.on_delete, fk.on_update
    );
    out
}

/// The views in an order where each comes after the views its definition
/// names (by whole word); by name otherwise.
fn view_order(snapshot: &Snapshot) -> Vec<String> {
    let mut left: BTreeSet<&String> = snapshot.views.keys().collect();
    let mut out = Vec::new();
    while !left.is_empty() {
        let ready: Vec<&String> = left
            .iter()
            .copied()
            .filter(|name| {
                let definition = &snapshot.views[*name].definition;
                !left
                    .iter()
                    .any(|other| other != name && names_word(definition, other))
            })
            .collect();
        // A cycle (or a false match): take the rest by name.
        let next = if ready.is_empty() {
            left.iter().copied().collect()
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

/// Whether `word` occurs in `text` as a whole identifier.
fn names_word(text: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(is_word)
            && !text[at + word.len()..].chars().next().is_some_and(is_word)
    })
}

#[cfg(test)]
mod tests {
    use super::super::{ForeignKey, PrimaryKey, View};
    use super::*;

    fn table(columns: &[(&str, &str, bool)]) -> Table {
        let mut t = Table::default();
        for (name, data_type, nullable) in columns {
            t.column_order.push((*name).to_owned());
            t.columns.insert(
                (*name).to_owned(),
                Column {
                    data_type: (*data_type).to_owned(),
                    nullable: *nullable,
                    ..Column::default()
                },
            );
        }
        t
    }

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(ident(Engine::Postgres, "users"), "users");
        assert_eq!(ident(Engine::Postgres, "user"), "\"user\"");
        assert_eq!(ident(Engine::Mysql, "Order Items"), "`Order Items`");
        assert_eq!(ident(Engine::Sqlite, "2fa"), "\"2fa\"");
    }

    #[test]
    fn postgres_tables_indexes_and_foreign_keys() {
        let mut s = Snapshot::new(Engine::Postgres);
        let mut users = table(&[("id", "integer", false), ("email", "text", true)]);
        users.primary_key = Some(PrimaryKey {
            name: Some("users_pkey".to_owned()),
            columns: vec!["id".to_owned()],
        });
        users.columns.get_mut("id").unwrap().identity = Some("by default".to_owned());
        users.indexes.insert(
            "users_lower_email".to_owned(),
            Index {
                columns: vec!["lower(email)".to_owned(), "id desc".to_owned()],
                unique: true,
                predicate: Some("email IS NOT NULL".to_owned()),
                method: None,
                key_options: Vec::new(),
            },
        );
        users.checks.insert(
            "email_len".to_owned(),
            "CHECK (length(email) < 100)".to_owned(),
        );
        let mut orders = table(&[("user_id", "integer", false)]);
        orders.foreign_keys.insert(
            "orders_user_fk".to_owned(),
            ForeignKey {
                columns: vec!["user_id".to_owned()],
                referenced_table: "users".to_owned(),
                referenced_columns: vec!["id".to_owned()],
                on_delete: "CASCADE".to_owned(),
                on_update: "NO ACTION".to_owned(),
                name: None,
            },
        );
        s.tables.insert("users".to_owned(), users);
        s.tables.insert("orders".to_owned(), orders);
        s.enums
            .insert("mood".to_owned(), vec!["ok".to_owned(), "it's".to_owned()]);
        s.views.insert(
            "b".to_owned(),
            View {
                materialized: false,
                definition: "SELECT id FROM a".to_owned(),
            },
        );
        s.views.insert(
            "a".to_owned(),
            View {
                materialized: false,
                definition: "SELECT id FROM users".to_owned(),
            },
        );
        insta::assert_snapshot!(s.to_sql(), @r#"
        -- postgres schema, written by `cairn schema dump --format sql`

        CREATE TYPE mood AS ENUM ('ok', 'it''s');

        CREATE TABLE orders (
            user_id integer NOT NULL
        );

        CREATE TABLE users (
            id integer GENERATED BY DEFAULT AS IDENTITY NOT NULL,
            email text,
            CONSTRAINT users_pkey PRIMARY KEY (id),
            CONSTRAINT email_len CHECK (length(email) < 100)
        );

        CREATE UNIQUE INDEX users_lower_email ON users ((lower(email)), id DESC) WHERE email IS NOT NULL;

        ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE ON UPDATE NO ACTION;

        CREATE VIEW a AS SELECT id FROM users;

        CREATE VIEW b AS SELECT id FROM a;
        "#);
    }

    #[test]
    fn sqlite_keeps_keys_inline_and_defaults_in_parentheses() {
        let mut s = Snapshot::new(Engine::Sqlite);
        let mut t = table(&[("id", "integer", true), ("a", "text", false)]);
        t.columns.get_mut("a").unwrap().default = Some("'x'".to_owned());
        t.primary_key = Some(PrimaryKey {
            name: None,
            columns: vec!["id".to_owned()],
        });
        t.unique_constraints
            .insert("unique (a)".to_owned(), vec!["a".to_owned()]);
        t.checks.insert("a <> ''".to_owned(), "a <> ''".to_owned());
        t.foreign_keys.insert(
            "(id) references p".to_owned(),
            ForeignKey {
                columns: vec!["id".to_owned()],
                referenced_table: "p".to_owned(),
                referenced_columns: Vec::new(),
                on_delete: "NO ACTION".to_owned(),
                on_update: "NO ACTION".to_owned(),
                name: None,
            },
        );
        s.tables.insert("t".to_owned(), t);
        insta::assert_snapshot!(s.to_sql(), @r"
        -- sqlite schema, written by `cairn schema dump --format sql`

        CREATE TABLE t (
            id integer,
            a text DEFAULT ('x') NOT NULL,
            PRIMARY KEY (id),
            UNIQUE (a),
            CHECK (a <> ''),
            FOREIGN KEY (id) REFERENCES p ON DELETE NO ACTION ON UPDATE NO ACTION
        );
        ");
    }

    #[test]
    fn mysql_indexes_go_inside_the_table() {
        let mut s = Snapshot::new(Engine::Mysql);
        let mut t = table(&[("id", "int(11)", false), ("b", "varchar(100)", true)]);
        t.columns.get_mut("id").unwrap().identity = Some("auto_increment".to_owned());
        t.indexes.insert(
            "t_b".to_owned(),
            Index {
                columns: vec!["b(10) desc".to_owned()],
                unique: false,
                predicate: None,
                method: None,
                key_options: Vec::new(),
            },
        );
        s.tables.insert("t".to_owned(), t);
        let sql = s.to_sql();
        assert!(sql.contains("id int(11) AUTO_INCREMENT NOT NULL"), "{sql}");
        assert!(sql.contains("b varchar(100) NULL"), "{sql}");
        assert!(sql.contains("KEY t_b (b(10) DESC)"), "{sql}");
    }
}

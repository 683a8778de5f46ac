//! Schema introspection into one normalised [`Snapshot`], and a [`diff`]
//! between two snapshots: the ground on which `cairn verify` proves that a
//! migration's down script restores the schema its up script changed.
//!
//! **Architecture invariant**: like the rest of the core, introspection uses no
//! database client, and this module branches on no engine. Each product's
//! catalog queries live in its dialect ([`Schema::read_schema`](crate::dialect::Schema::read_schema), under
//! `dialect/<family>/schema/`), run through [`Driver::query`] (every value
//! comes back as text) and are decoded there with the helpers of this module,
//! so every driver introspects the same way. What stays here is neutral: the
//! snapshot model, [`diff`], and the order of a dump ([`Snapshot::to_sql`]).
//!
//! What a snapshot covers: on PostgreSQL every schema but the system ones
//! (`pg_catalog`, `information_schema`, `pg_toast*`, `pg_temp*`), objects of
//! the connection's current schema (`current_schema()`, normally `public`)
//! keyed by their bare name and the others qualified (`app.users`), without
//! objects an extension owns; the current database (MySQL `DATABASE()`) or
//! `main` (SQLite); never Cairn's own history tables. Objects are keyed by name in
//! `BTreeMap`s, so a snapshot, its [`Snapshot::to_text`] rendering and its JSON
//! are deterministic. Names matter: an index recreated under another name is a
//! difference. Values are normalised only as far as needed to compare two
//! snapshots of the *same engine* (types lowercased, SQL text with whitespace
//! collapsed); they are not meant to compare engines with each other.

mod ddl;
mod diff;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::dialect::{self, Dialect};
use crate::driver::{Driver, Rows};
use crate::engine::Engine;
use crate::error::Error;

pub use ddl::ident;
pub use diff::{diff, diff_with, line_diff, Change, DiffOptions, Difference, ObjectKind};

/// What [`introspect`] leaves out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntrospectOptions {
    /// The history table's name (its log is `<name>_log`, its backfill
    /// checkpoints `<name>_backfill`, the before-shapes of operation
    /// migrations `<name>_shape`); all four are excluded, and so are Cairn's
    /// defaults `cairn_history`, `cairn_history_log`, `cairn_history_backfill`
    /// and `cairn_history_shape`.
    pub history_table: String,
    /// The schema the history tables live in (PostgreSQL `history_schema`),
    /// when it is not the current one: the schema itself is not an object of
    /// the snapshot, and its history tables are excluded.
    pub history_schema: Option<String>,
}

impl Default for IntrospectOptions {
    fn default() -> Self {
        IntrospectOptions {
            history_table: "cairn_history".to_owned(),
            history_schema: None,
        }
    }
}

impl IntrospectOptions {
    /// Whether `table` (a snapshot key: bare or `schema.name`) is one of
    /// Cairn's own tables.
    pub fn is_excluded(&self, table: &str) -> bool {
        let table = match (&self.history_schema, table.split_once('.')) {
            (Some(schema), Some((prefix, name))) if prefix == schema => name,
            _ => table,
        };
        let log = format!("{}_log", self.history_table);
        let checkpoints = format!("{}_backfill", self.history_table);
        let shapes = format!("{}_shape", self.history_table);
        table == self.history_table
            || table == log
            || table == checkpoints
            || table == shapes
            || table == "cairn_history"
            || table == "cairn_history_log"
            || table == "cairn_history_backfill"
            || table == "cairn_history_shape"
    }
}

/// A normalised description of one schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// The engine it was read from.
    pub engine: Engine,
    /// Schemas other than the current one and `public` (PostgreSQL), by
    /// name: the prefix of every object they hold.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub schemas: BTreeSet<String>,
    /// Extensions (PostgreSQL, without `plpgsql`, which every database has),
    /// each with the schema it is installed in. The objects an extension
    /// owns are not in the snapshot.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, String>,
    /// Tables by name.
    pub tables: BTreeMap<String, Table>,
    /// Views (PostgreSQL: also materialised views) by name.
    pub views: BTreeMap<String, View>,
    /// Triggers by name (PostgreSQL: `table.name` when two tables share a trigger name).
    pub triggers: BTreeMap<String, Trigger>,
    /// Sequences by name (PostgreSQL; identity sequences show on their column instead).
    pub sequences: BTreeMap<String, Sequence>,
    /// Enum types by name, with their labels in order (PostgreSQL).
    pub enums: BTreeMap<String, Vec<String>>,
    /// Functions and procedures by signature (`name(argument types)`), each
    /// with its full `CREATE` text as the engine prints it (PostgreSQL
    /// `pg_get_functiondef`; not normalised, since a body's line comments
    /// depend on its line breaks). Those of extensions are left out.
    pub functions: BTreeMap<String, String>,
}

/// One table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// Columns by name.
    pub columns: BTreeMap<String, Column>,
    /// The column names in table order.
    pub column_order: Vec<String>,
    /// The primary key, if any.
    pub primary_key: Option<PrimaryKey>,
    /// Unique constraints by name (SQLite keeps no names: `unique (a, b)`),
    /// each with its columns in order. MySQL has no unique constraints apart
    /// from unique indexes, which are listed under `indexes`.
    pub unique_constraints: BTreeMap<String, Vec<String>>,
    /// Indexes that back no constraint, by name.
    pub indexes: BTreeMap<String, Index>,
    /// Foreign keys by name (SQLite keeps no names: `(a_id) references a (id)`).
    pub foreign_keys: BTreeMap<String, ForeignKey>,
    /// Check constraints by name (SQLite: by expression when unnamed), each
    /// with its normalised expression.
    pub checks: BTreeMap<String, String>,
}

/// One column.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The type as the engine reports it, lowercased (PostgreSQL `format_type`,
    /// MySQL `COLUMN_TYPE`, SQLite's declared type).
    pub data_type: String,
    /// Whether it accepts NULL.
    pub nullable: bool,
    /// The default expression; `None` for none or `NULL`.
    pub default: Option<String>,
    /// The generation expression and whether it is `stored` or `virtual`
    /// (SQLite: only the kind).
    pub generated: Option<String>,
    /// Identity: PostgreSQL `always` / `by default`, MySQL `auto_increment`.
    pub identity: Option<String>,
    /// The collation, where it differs from the table's or type's default.
    pub collation: Option<String>,
    /// Anything else the engine reports (MySQL `on update current_timestamp()`).
    pub extra: Option<String>,
}

/// A primary key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryKey {
    /// The constraint's name where the engine keeps one (not SQLite; MySQL `PRIMARY`).
    pub name: Option<String>,
    /// The columns in key order.
    pub columns: Vec<String>,
}

/// An index.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Key columns or expressions in order, each followed by ` desc` when descending.
    pub columns: Vec<String>,
    /// Whether it is unique.
    pub unique: bool,
    /// The predicate of a partial index.
    pub predicate: Option<String>,
    /// The access method where it is not the engine's default (PostgreSQL
    /// `btree`, MySQL `BTREE`), lowercased.
    pub method: Option<String>,
    /// Per key, in the order of `columns`, what PostgreSQL keeps between the
    /// key and its order: a collation other than the key's own (`collate
    /// "C"`) and an operator class other than the default (`text_pattern_ops`),
    /// `""` for none. Empty when no key has any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_options: Vec<String>,
}

/// A foreign key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    /// The referencing columns in order.
    pub columns: Vec<String>,
    /// The referenced table.
    pub referenced_table: String,
    /// The referenced columns in order (SQLite: empty when it references the primary key implicitly).
    pub referenced_columns: Vec<String>,
    /// `ON DELETE` action, uppercase (`NO ACTION`, `CASCADE`, ...).
    pub on_delete: String,
    /// `ON UPDATE` action, uppercase.
    pub on_update: String,
    /// The constraint's name where the map key is not it (SQLite, which
    /// keys foreign keys by what they say: `CONSTRAINT name` in the `CREATE
    /// TABLE` text), so a renamed constraint is a difference there too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct View {
    /// Whether it is materialised (PostgreSQL).
    pub materialized: bool,
    /// Its normalised definition (PostgreSQL `pg_get_viewdef`, MySQL
    /// `VIEW_DEFINITION` without the database qualifier, SQLite the `CREATE VIEW` text).
    pub definition: String,
}

/// A trigger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Trigger {
    /// The trigger's name.
    pub name: String,
    /// The table (or view) it fires on.
    pub table: String,
    /// `BEFORE`, `AFTER` or `INSTEAD OF`.
    pub timing: String,
    /// `INSERT`, `UPDATE`, `DELETE`, `TRUNCATE`, in that order.
    pub events: Vec<String>,
    /// The normalised definition (PostgreSQL `pg_get_triggerdef`, MySQL the
    /// action statement, SQLite the `CREATE TRIGGER` text).
    pub definition: String,
}

/// A sequence (PostgreSQL).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sequence {
    /// Its type (`bigint`, ...).
    pub data_type: String,
    /// Start value.
    pub start: String,
    /// Increment.
    pub increment: String,
    /// Minimum value.
    pub min: String,
    /// Maximum value.
    pub max: String,
    /// Whether it cycles.
    pub cycle: bool,
    /// `table.column` that owns it (a `serial` column), if any.
    pub owned_by: Option<String>,
}

/// The dialect of the driver's server: the one place schema and verify code
/// gets it, so that it switches to the driver's own dialect (detected at
/// connect) in one line.
pub fn dialect_of(driver: &dyn Driver) -> std::sync::Arc<dyn Dialect> {
    driver.dialect().shared()
}

/// Reads the schema the driver's connection is in.
pub async fn introspect(
    driver: &mut dyn Driver,
    options: &IntrospectOptions,
) -> Result<Snapshot, Error> {
    let dialect = dialect_of(driver);
    let mut snapshot = dialect.read_schema(driver).await?;
    snapshot.tables.retain(|name, _| !options.is_excluded(name));
    snapshot
        .triggers
        .retain(|_, trigger| !options.is_excluded(&trigger.table));
    snapshot.sequences.retain(|_, sequence| {
        sequence
            .owned_by
            .as_deref()
            .and_then(|owner| owner.rsplit_once('.'))
            .is_none_or(|(table, _)| !options.is_excluded(table))
    });
    if let Some(schema) = &options.history_schema {
        snapshot.schemas.remove(schema);
    }
    Ok(snapshot)
}

impl Snapshot {
    /// An empty snapshot of `engine`.
    pub fn new(engine: Engine) -> Self {
        Snapshot {
            engine,
            schemas: BTreeSet::new(),
            extensions: BTreeMap::new(),
            tables: BTreeMap::new(),
            views: BTreeMap::new(),
            triggers: BTreeMap::new(),
            sequences: BTreeMap::new(),
            enums: BTreeMap::new(),
            functions: BTreeMap::new(),
        }
    }

    /// A readable text rendering, one object per line, stable across runs.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "-- {} schema", self.engine);
        for name in &self.schemas {
            let _ = writeln!(out, "schema {name}");
        }
        for (name, schema) in &self.extensions {
            let _ = writeln!(out, "extension {name} in {schema}");
        }
        for (name, labels) in &self.enums {
            let _ = writeln!(out, "enum {name} ({})", enum_labels(self.engine, labels));
        }
        for (name, sequence) in &self.sequences {
            let _ = writeln!(out, "sequence {name} {}", sequence.describe());
        }
        for (signature, definition) in &self.functions {
            let _ = writeln!(
                out,
                "function {signature} {}",
                describe_function(definition)
            );
        }
        for (name, table) in &self.tables {
            let _ = writeln!(out, "table {name}");
            for column in &table.column_order {
                if let Some(c) = table.columns.get(column) {
                    let _ = writeln!(out, "  column {column} {}", c.describe());
                }
            }
            if let Some(pk) = &table.primary_key {
                let _ = writeln!(out, "  primary key {}", pk.describe());
            }
            for (name, columns) in &table.unique_constraints {
                let _ = writeln!(out, "  unique {name} ({})", columns.join(", "));
            }
            for (name, index) in &table.indexes {
                let _ = writeln!(out, "  index {name} {}", index.describe());
            }
            for (name, fk) in &table.foreign_keys {
                // SQLite's foreign keys have no names: their key is their own
                // description, which is not worth printing twice.
                if name.starts_with('(') {
                    let _ = writeln!(out, "  foreign key {}", fk.describe());
                } else {
                    let _ = writeln!(out, "  foreign key {name} {}", fk.describe());
                }
            }
            for (name, check) in &table.checks {
                let _ = writeln!(out, "  check {name} {check}");
            }
        }
        for (name, view) in &self.views {
            let _ = writeln!(out, "view {name} {}", view.describe());
        }
        for (name, trigger) in &self.triggers {
            let _ = writeln!(out, "trigger {name} {}", trigger.describe());
        }
        out
    }
}

/// The labels of an enum type (PostgreSQL's `CREATE TYPE ... AS ENUM`, the
/// only engine with named enum types) as literals.
fn enum_labels(engine: Engine, labels: &[String]) -> String {
    labels
        .iter()
        .map(|l| crate::literal::string_literal(engine, l))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A function's definition on one line, for text output and differences.
fn describe_function(definition: &str) -> String {
    normalize_sql(definition)
}

fn or_null(value: Option<&String>) -> String {
    value.cloned().unwrap_or_else(|| "NULL".to_owned())
}

impl Column {
    fn describe(&self) -> String {
        let mut out = self.data_type.clone();
        out.push_str(if self.nullable { " null" } else { " not null" });
        if let Some(default) = &self.default {
            let _ = write!(out, " default {default}");
        }
        if let Some(generated) = &self.generated {
            let _ = write!(out, " generated {generated}");
        }
        if let Some(identity) = &self.identity {
            let _ = write!(out, " identity {identity}");
        }
        if let Some(collation) = &self.collation {
            let _ = write!(out, " collate {collation}");
        }
        if let Some(extra) = &self.extra {
            let _ = write!(out, " {extra}");
        }
        out
    }

    fn attributes(&self) -> Vec<(&'static str, String)> {
        vec![
            ("type", self.data_type.clone()),
            (
                "nullability",
                if self.nullable { "null" } else { "not null" }.to_owned(),
            ),
            ("default", or_null(self.default.as_ref())),
            ("generated", or_null(self.generated.as_ref())),
            ("identity", or_null(self.identity.as_ref())),
            ("collation", or_null(self.collation.as_ref())),
            ("extra", or_null(self.extra.as_ref())),
        ]
    }
}

impl PrimaryKey {
    fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} ({})", self.columns.join(", ")),
            None => format!("({})", self.columns.join(", ")),
        }
    }

    fn attributes(&self) -> Vec<(&'static str, String)> {
        vec![
            ("name", or_null(self.name.as_ref())),
            ("columns", self.columns.join(", ")),
        ]
    }
}

impl Index {
    /// The keys with their options: `email collate "C" text_pattern_ops desc`.
    pub fn keys(&self) -> Vec<String> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, key)| match self.key_options.get(i) {
                Some(option) if !option.is_empty() => {
                    let (expression, order) = split_order(key);
                    format!("{expression} {option}{order}")
                }
                _ => key.clone(),
            })
            .collect()
    }

    fn describe(&self) -> String {
        let mut out = String::new();
        if self.unique {
            out.push_str("unique ");
        }
        let _ = write!(out, "({})", self.keys().join(", "));
        if let Some(method) = &self.method {
            let _ = write!(out, " using {method}");
        }
        if let Some(predicate) = &self.predicate {
            let _ = write!(out, " where {predicate}");
        }
        out
    }

    fn attributes(&self) -> Vec<(&'static str, String)> {
        vec![
            ("columns", self.keys().join(", ")),
            (
                "uniqueness",
                if self.unique { "unique" } else { "not unique" }.to_owned(),
            ),
            ("predicate", or_null(self.predicate.as_ref())),
            ("method", or_null(self.method.as_ref())),
        ]
    }
}

impl ForeignKey {
    fn describe(&self) -> String {
        let constraint = self
            .name
            .as_ref()
            .map(|name| format!("constraint {name} "))
            .unwrap_or_default();
        format!(
            "{constraint}({}) references {} ({}) on delete {} on update {}",
            self.columns.join(", "),
            self.referenced_table,
            self.referenced_columns.join(", "),
            self.on_delete,
            self.on_update
        )
    }

    fn attributes(&self) -> Vec<(&'static str, String)> {
        vec![
            ("columns", self.columns.join(", ")),
            ("referenced table", self.referenced_table.clone()),
            ("referenced columns", self.referenced_columns.join(", ")),
            ("on delete", self.on_delete.clone()),
            ("on update", self.on_update.clone()),
            ("name", or_null(self.name.as_ref())),
        ]
    }
}

impl View {
    fn describe(&self) -> String {
        if self.materialized {
            format!("materialized as {}", self.definition)
        } else {
            format!("as {}", self.definition)
        }
    }

    fn attributes(&self) -> Vec<(&'static str, String)> {
        vec![
            ("materialized", self.materialized.to_string()),
            ("definition", self.definition.clone()),
        ]
    }
}

impl Trigger {
    fn describe(&self) -> String {
        format!(
            "{} {} on {}: {}",
            self.timing,
            self.events.join(" or "),
            self.table,
            self.definition
        )
    }

    fn attributes(&self) -> Vec<(&'static str, String)> {
        vec![
            ("name", self.name.clone()),
            ("table", self.table.clone()),
            ("timing", self.timing.clone()),
            ("events", self.events.join(" or ")),
            ("definition", self.definition.clone()),
        ]
    }
}

impl Sequence {
    fn describe(&self) -> String {
        let mut out = format!(
            "{} start {} increment {} min {} max {}{}",
            self.data_type,
            self.start,
            self.increment,
            self.min,
            self.max,
            if self.cycle { " cycle" } else { "" }
        );
        if let Some(owner) = &self.owned_by {
            let _ = write!(out, " owned by {owner}");
        }
        out
    }

    fn attributes(&self) -> Vec<(&'static str, String)> {
        vec![
            ("type", self.data_type.clone()),
            ("start", self.start.clone()),
            ("increment", self.increment.clone()),
            ("min", self.min.clone()),
            ("max", self.max.clone()),
            ("cycle", self.cycle.to_string()),
            ("owner", or_null(self.owned_by.as_ref())),
        ]
    }
}

/// Runs one introspection query, naming what it read in the error.
pub(crate) async fn query(driver: &mut dyn Driver, what: &str, sql: &str) -> Result<Rows, Error> {
    let engine = driver.dialect().engine();
    driver
        .query(sql)
        .await
        .map_err(|cause| Error::driver(engine, format!("cannot introspect {what}"), cause))
}

/// One row of a catalog query, read by column index.
pub(crate) struct Row<'a>(pub(crate) &'a [Option<String>]);

impl Row<'_> {
    /// The value, or `""` for NULL or a missing column.
    pub(crate) fn text(&self, i: usize) -> String {
        self.opt(i).unwrap_or_default()
    }

    /// The value; `None` for NULL.
    pub(crate) fn opt(&self, i: usize) -> Option<String> {
        self.0.get(i).cloned().flatten()
    }

    /// The value; `None` for NULL or an empty string.
    pub(crate) fn non_empty(&self, i: usize) -> Option<String> {
        self.opt(i).filter(|v| !v.is_empty())
    }

    /// A boolean in any engine's text form (`t`, `true`, `1`, `YES`).
    pub(crate) fn flag(&self, i: usize) -> bool {
        matches!(
            self.text(i).to_ascii_lowercase().as_str(),
            "t" | "true" | "1" | "yes" | "y"
        )
    }

    /// An integer; 0 when it is not one.
    pub(crate) fn int(&self, i: usize) -> i64 {
        self.text(i).trim().parse().unwrap_or(0)
    }
}

/// Collapses whitespace outside quotes to single spaces, trims, and drops a
/// trailing `;`, so that SQL text compares equal however it was laid out.
pub fn normalize_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut pending_space = false;
    for c in sql.chars() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => pending_space = true,
            None => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                if matches!(c, '\'' | '"' | '`') {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    let trimmed = out.trim_end_matches(';').trim_end();
    trimmed.to_owned()
}

/// A table's snapshot key quoted as a name: on PostgreSQL `app.users` is
/// `"app"."users"` (a key has a schema prefix only outside the current
/// schema, so a table of the current schema whose name holds a `.` is not
/// supported here); elsewhere one quoted identifier.
pub fn quote_key(engine: Engine, key: &str) -> String {
    match key.split_once('.') {
        Some((schema, name)) if dialect::for_engine(engine).keys_have_schemas() => format!(
            "{}.{}",
            crate::history::quote_ident(engine, schema),
            crate::history::quote_ident(engine, name)
        ),
        _ => crate::history::quote_ident(engine, key),
    }
}

/// Splits an index key into its expression and its ordering suffix
/// (` desc`, ` nulls first`, ...), as the introspection wrote it.
pub(crate) fn split_order(key: &str) -> (&str, &str) {
    let lower = key.to_ascii_lowercase();
    for suffix in [" desc nulls last", " nulls first", " nulls last", " desc"] {
        if lower.ends_with(suffix) {
            let at = key.len() - suffix.len();
            return (&key[..at], &key[at..]);
        }
    }
    (key, "")
}

/// A default as compared: `NULL` (any case) is no default.
pub(crate) fn normalize_default(default: Option<String>) -> Option<String> {
    default
        .map(|d| normalize_sql(&d))
        .filter(|d| !d.is_empty() && !d.eq_ignore_ascii_case("null"))
}

#[cfg(test)]
mod tests;

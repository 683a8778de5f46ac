//! Zero-downtime operations on the mysql family (MySQL, MariaDB), one file
//! per operation; what several share is here (catalog guards, the
//! algorithm clauses, column definitions) and in `triggers.rs`.
//!
//! Three rules hold for every statement written here:
//!
//! - Every `ALTER TABLE` names its algorithm: `ALGORITHM=INSTANT` where it
//!   applies, else `ALGORITHM=INPLACE, LOCK=NONE`, so that the server refuses
//!   (error 1845/1846) instead of silently copying the table under a lock.
//! - Every step is guarded by the catalog (`information_schema`) or is
//!   idempotent by itself, since MySQL's DDL commits implicitly and a phase
//!   killed half-way is continued by running it again.
//! - Sync triggers are `BEFORE INSERT` / `BEFORE UPDATE` triggers assigning
//!   `SET NEW.x = ...`, never an `UPDATE` of the same table (error 1442).
//!   Several triggers per timing and event coexist (MySQL 5.7.2+, MariaDB
//!   10.2.3+), so the user's own triggers stay.
//!
//! MySQL and MariaDB differ in when NOT NULL is checked: MySQL before BEFORE
//! triggers run (error 1364 when a writer omits a NOT NULL column without
//! default), MariaDB after (MDEV-8605; pinned by the test
//! `mariadb_checks_not_null_after_before_triggers`). So on MySQL a NOT NULL
//! column that one application version no longer writes is relaxed to NULL
//! while both versions run, and restored at contract, abort and un-contract.

use super::MysqlDialect;
use crate::backfill::{Action, Backfill, BatchOptions};
use crate::dialect::{Bookkeeping, Dialect, Flavour, Online};
use crate::engine::Engine;
use crate::operation::{Context, Kind, Operation, Phases, Step};
use crate::schema::{Column, Table};

mod add_column;
mod drop_column;
mod foreign_key;
mod indexes;
mod raw_sql;
mod rename_column;
mod rename_table;
mod set_not_null;
mod triggers;

impl Online for MysqlDialect {
    fn compile_operation(
        &self,
        operation: &Operation,
        ctx: &Context<'_>,
    ) -> Result<Phases, String> {
        let sql = Sql { dialect: self };
        let location = operation.location.to_string();
        match &operation.kind {
            Kind::RenameColumn { table, column, to } => {
                let before = before(ctx, table)?;
                let spec = rename_column::Dual::rename(before, table, column, to)?;
                rename_column::phases(&sql, ctx, &spec, &location)
            }
            Kind::ChangeColumnType {
                table,
                column,
                to,
                data_type,
                up,
                down,
            } => {
                let before = before(ctx, table)?;
                let spec = rename_column::Dual::change_type(
                    before,
                    table,
                    column,
                    to,
                    data_type,
                    up.for_engine(Engine::Mysql),
                    down.for_engine(Engine::Mysql),
                )?;
                rename_column::phases(&sql, ctx, &spec, &location)
            }
            Kind::AddColumn {
                table,
                column,
                data_type,
                not_null,
                default,
                up,
            } => {
                let before = before(ctx, table)?;
                let spec = add_column::Spec {
                    before,
                    table,
                    column,
                    data_type,
                    not_null: *not_null,
                    default: default.as_deref(),
                    up: up.as_ref().map(|e| e.for_engine(Engine::Mysql)),
                };
                add_column::phases(&sql, ctx, &spec, &location)
            }
            Kind::DropColumn {
                table,
                column,
                down,
            } => {
                let before = before(ctx, table)?;
                let down = down.as_ref().map(|e| e.for_engine(Engine::Mysql));
                drop_column::phases(&sql, ctx, before, table, column, down, &location)
            }
            Kind::SetNotNull { table, column, up } => {
                let before = before(ctx, table)?;
                let up = up.for_engine(Engine::Mysql);
                set_not_null::phases(&sql, ctx, before, table, column, up, &location)
            }
            Kind::RenameTable { table, to } => {
                rename_table::phases(&sql, ctx, ctx.before, table, to)
            }
            Kind::CreateIndex {
                table,
                name,
                columns,
                unique,
            } => {
                let before = before(ctx, table)?;
                indexes::create(&sql, before, table, name, columns, *unique)
            }
            Kind::DropIndex { table, name } => {
                let before = before(ctx, table)?;
                indexes::drop(&sql, before, table, name)
            }
            Kind::RawSql { up, down, contract } => raw_sql::phases(
                up.for_engine(Engine::Mysql),
                down.as_ref().map(|e| e.for_engine(Engine::Mysql)),
                contract.as_ref().map(|e| e.for_engine(Engine::Mysql)),
            ),
            Kind::AddCheck { .. } => Err(
                "MySQL and MariaDB add a CHECK constraint only with ALGORITHM=COPY, which \
                 blocks writes while the table is copied; add it in a plain up.sql in a \
                 maintenance window, or enforce the rule in the application (MySQL 8 also \
                 accepts `CHECK (...) NOT ENFORCED`, through raw_sql)"
                    .to_owned(),
            ),
            Kind::AddForeignKey {
                table,
                name,
                columns,
                references,
                referenced_columns,
                on_delete,
            } => {
                let before = before(ctx, table)?;
                foreign_key::add_foreign_key(
                    &sql,
                    &foreign_key::Spec {
                        before,
                        table,
                        name,
                        columns,
                        references,
                        referenced_columns,
                        on_delete: on_delete.as_deref(),
                    },
                )
            }
            Kind::AddUnique {
                table,
                name,
                columns,
            } => {
                let before = before(ctx, table)?;
                indexes::create(&sql, before, table, name, columns, true)
            }
        }
    }
}

/// The table the operation changes, as introspected before expand.
fn before<'a>(ctx: &Context<'a>, table: &str) -> Result<&'a Table, String> {
    ctx.before.ok_or_else(|| {
        format!("table `{table}` does not exist in the current database; create it first")
    })
}

/// The column `column` of `before`, or an error naming the table's columns.
fn column<'a>(before: &'a Table, table: &str, column: &str) -> Result<&'a Column, String> {
    before.columns.get(column).ok_or_else(|| {
        format!(
            "column `{column}` does not exist in table `{table}` (its columns: {})",
            before.column_order.join(", ")
        )
    })
}

/// An error when a generated column of `before` reads `column`, which could
/// then not be dropped.
fn no_generated_reader(before: &Table, table: &str, column: &str) -> Result<(), String> {
    let dialect = MysqlDialect::DEFAULT;
    let sql = Sql { dialect: &dialect };
    for (name, other) in &before.columns {
        let reads = other
            .generated
            .as_deref()
            .is_some_and(|g| !triggers::qualify(&sql, g, &[column]).reads.is_empty());
        if name != column && reads {
            return Err(format!(
                "generated column `{name}` of `{table}` reads `{column}`; drop it (drop_column) \
                 in an earlier migration and add it again afterwards"
            ));
        }
    }
    Ok(())
}

/// An error unless `before` has a primary key, which the backfill pages by.
fn needs_primary_key(before: &Table, table: &str) -> Result<(), String> {
    match &before.primary_key {
        Some(_) => Ok(()),
        None => Err(format!(
            "table `{table}` has no primary key, which the backfill pages through; add one first"
        )),
    }
}

/// A keyset backfill `UPDATE table SET set WHERE filter`.
fn backfill(table: &str, set: String, filter: String, location: &str) -> Backfill {
    Backfill {
        table: table.to_owned(),
        action: Action::Sql {
            set,
            filter: Some(filter),
            overrides: Default::default(),
        },
        batch: BatchOptions::default(),
        location: location.to_owned(),
    }
}

/// The SQL pieces every operation file writes, for one server.
struct Sql<'a> {
    dialect: &'a MysqlDialect,
}

/// The algorithm clause of DDL that rebuilds nothing the application waits for.
const INPLACE: &str = "ALGORITHM=INPLACE, LOCK=NONE";

impl Sql<'_> {
    /// An identifier, quoted where it needs it.
    fn id(&self, name: &str) -> String {
        crate::schema::ident(Engine::Mysql, name)
    }

    /// A string literal.
    fn lit(&self, value: &str) -> String {
        self.dialect.string_literal(value)
    }

    fn is_mariadb(&self) -> bool {
        self.dialect.flavour() == Flavour::MariaDb
    }

    /// Whether the server is at least `version` of its flavour (an unknown
    /// version is taken as new: the supported floor is MySQL 8.0 / MariaDB 10.11).
    fn at_least(&self, mysql: (u32, u32, u32), mariadb: (u32, u32, u32)) -> bool {
        let floor = if self.is_mariadb() { mariadb } else { mysql };
        self.dialect
            .server_version()
            .is_none_or(|v| v.numbers >= floor)
    }

    /// Whether NOT NULL is checked before BEFORE triggers run (MySQL), so a
    /// NOT NULL column a writer omits must be relaxed while triggers fill it.
    fn not_null_before_triggers(&self) -> bool {
        !self.is_mariadb()
    }

    /// `ADD COLUMN` (as the last column) is instant on MySQL 8.0.12+ and MariaDB 10.3.2+.
    fn add_column_algorithm(&self) -> &'static str {
        if self.at_least((8, 0, 12), (10, 3, 2)) {
            "ALGORITHM=INSTANT"
        } else {
            INPLACE
        }
    }

    /// `DROP COLUMN` is instant on MySQL 8.0.29+ and MariaDB 10.4+.
    fn drop_column_algorithm(&self) -> &'static str {
        if self.at_least((8, 0, 29), (10, 4, 0)) {
            "ALGORITHM=INSTANT"
        } else {
            INPLACE
        }
    }

    /// `ALTER TABLE t <clauses>, <algorithm>`.
    fn alter(&self, table: &str, clauses: &str, algorithm: &str) -> String {
        format!("ALTER TABLE {} {clauses}, {algorithm}", self.id(table))
    }

    /// `WHERE` conditions of `information_schema.COLUMNS` for one column.
    fn column_row(&self, table: &str, column: &str) -> String {
        format!(
            "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {} AND COLUMN_NAME = {}",
            self.lit(table),
            self.lit(column)
        )
    }

    /// A row when `column` exists.
    fn column_exists(&self, table: &str, column: &str) -> String {
        format!(
            "SELECT 1 FROM information_schema.COLUMNS WHERE {}",
            self.column_row(table, column)
        )
    }

    /// A row when `column` does not exist.
    fn column_absent(&self, table: &str, column: &str) -> String {
        absent(&self.column_exists(table, column))
    }

    /// A row when `column` exists and satisfies `condition` (over `COLUMNS`).
    fn column_is(&self, table: &str, column: &str, condition: &str) -> String {
        format!("{} AND {condition}", self.column_exists(table, column))
    }

    /// A row when trigger `name` exists.
    fn trigger_exists(&self, name: &str) -> String {
        format!(
            "SELECT 1 FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() \
             AND TRIGGER_NAME = {}",
            self.lit(name)
        )
    }

    /// A row when `name` is a relation of `kind` (`BASE TABLE`, `VIEW`).
    fn relation_is(&self, name: &str, kind: &str) -> String {
        format!(
            "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = {} AND TABLE_TYPE = {}",
            self.lit(name),
            self.lit(kind)
        )
    }

    /// A row when index `name` of `table` exists.
    fn index_exists(&self, table: &str, name: &str) -> String {
        format!(
            "SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = {} AND INDEX_NAME = {}",
            self.lit(table),
            self.lit(name)
        )
    }

    /// A row when index `name` of `table` exists and has `column` as a key.
    fn index_has_column(&self, table: &str, name: &str, column: &str) -> String {
        format!(
            "{} AND COLUMN_NAME = {}",
            self.index_exists(table, name),
            self.lit(column)
        )
    }

    /// A row when foreign key `name` of `table` exists and has `column`.
    fn foreign_key_has_column(&self, table: &str, name: &str, column: &str) -> String {
        format!(
            "SELECT 1 FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = {} AND CONSTRAINT_NAME = {} AND COLUMN_NAME = {} \
             AND REFERENCED_TABLE_NAME IS NOT NULL",
            self.lit(table),
            self.lit(name),
            self.lit(column)
        )
    }

    /// A row when foreign key `name` of `table` exists.
    fn foreign_key_exists(&self, table: &str, name: &str) -> String {
        format!(
            "SELECT 1 FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = {} AND CONSTRAINT_NAME = {}",
            self.lit(table),
            self.lit(name)
        )
    }

    /// A column's definition after its name, as `MODIFY`/`ADD` restate it:
    /// type, collation, nullability, default (when `with_default`) and the
    /// rest (`ON UPDATE ...`). The comment is added by [`Sql::with_comment`].
    fn definition(
        &self,
        column: &Column,
        data_type: &str,
        nullable: bool,
        with_default: bool,
    ) -> String {
        let mut out = data_type.to_owned();
        if let Some(collation) = &column.collation {
            out.push_str(" COLLATE ");
            out.push_str(collation);
        }
        out.push_str(if nullable { " NULL" } else { " NOT NULL" });
        if with_default {
            if let Some(default) = &column.default {
                out.push_str(" DEFAULT ");
                out.push_str(&self.default_sql(default));
            }
        }
        if let Some(extra) = &column.extra {
            out.push(' ');
            out.push_str(extra);
        }
        out
    }

    /// A default as introspected, as SQL: MariaDB reports it as an
    /// expression (`'x'`, `0`, `current_timestamp()`); MySQL 8 reports a
    /// literal unquoted, so there anything that is not a number, a quoted
    /// literal nor `CURRENT_TIMESTAMP` is quoted, and a function call is
    /// parenthesised (MySQL 8.0.13+ expression defaults).
    fn default_sql(&self, default: &str) -> String {
        let plain = default.starts_with('\'')
            || default.parse::<f64>().is_ok()
            || default
                .to_ascii_lowercase()
                .starts_with("current_timestamp");
        if self.is_mariadb() || plain {
            default.to_owned()
        } else if default.contains('(') {
            format!("({default})")
        } else {
            self.lit(default)
        }
    }

    /// Whether a default as introspected is a literal (not `CURRENT_TIMESTAMP`
    /// or another expression evaluated per row).
    fn is_literal_default(&self, default: &str) -> bool {
        let lower = default.to_ascii_lowercase();
        default.starts_with('\'')
            || default.parse::<f64>().is_ok()
            || (!self.is_mariadb()
                && !default.contains('(')
                && !lower.starts_with("current_timestamp"))
    }

    /// `ALTER TABLE t <head> COMMENT '<comment>'<tail>`, where the comment is
    /// the first non-empty one of the columns `from` (in that order) as the
    /// catalog holds it when the step runs: the schema model keeps no
    /// comments, so a restated column keeps its own (or takes the one of the
    /// column it replaces) through a prepared statement built on the server.
    ///
    /// With `default_sql`, ` DEFAULT <its value>` follows `head`: an SQL
    /// expression evaluated when the statement is built, quoted into it.
    fn with_comment(
        &self,
        table: &str,
        head: &str,
        default_sql: Option<&str>,
        tail: &str,
        from: &[&str],
    ) -> Vec<String> {
        let names = from
            .iter()
            .map(|c| self.lit(c))
            .collect::<Vec<_>>()
            .join(", ");
        let comment = format!(
            "' COMMENT ', QUOTE(COALESCE((SELECT COLUMN_COMMENT FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {} AND COLUMN_NAME IN ({names}) \
             AND COLUMN_COMMENT <> '' ORDER BY FIELD(COLUMN_NAME, {names}) LIMIT 1), ''))",
            self.lit(table)
        );
        vec![
            format!(
                "SET @cairn_ddl = CONCAT({}, {}{comment}, {})",
                self.lit(&format!("ALTER TABLE {} {head}", self.id(table))),
                default_sql
                    .map(|d| format!("' DEFAULT ', QUOTE({d}), "))
                    .unwrap_or_default(),
                self.lit(tail)
            ),
            "PREPARE cairn_ddl FROM @cairn_ddl".to_owned(),
            "EXECUTE cairn_ddl".to_owned(),
            "DEALLOCATE PREPARE cairn_ddl".to_owned(),
        ]
    }

    /// `statement` (an `ALTER TABLE ... ADD FOREIGN KEY`) run with
    /// `foreign_key_checks` off, the only way MySQL adds a foreign key in
    /// place (else it copies the table). Decision: the key is added without
    /// validating, which is safe here because the column it is added on is
    /// kept equal by the sync triggers to a column the same key already
    /// checks (rename_column, change_column_type carry existing keys only).
    /// MariaDB scopes the setting to the statement (`SET STATEMENT ... FOR`);
    /// MySQL sets it for the session around the statement.
    fn without_foreign_key_checks(&self, statement: &str) -> Vec<String> {
        if self.is_mariadb() {
            vec![format!(
                "SET STATEMENT foreign_key_checks = 0 FOR {statement}"
            )]
        } else {
            vec![
                "SET SESSION foreign_key_checks = 0".to_owned(),
                statement.to_owned(),
                "SET SESSION foreign_key_checks = 1".to_owned(),
            ]
        }
    }

    /// ` ON <event> <action>`, or nothing for the server's default action
    /// (MariaDB reports an unspecified action as `RESTRICT`, MySQL as `NO
    /// ACTION`; writing it out would read back as the other).
    fn referential_action(&self, event: &str, action: &str) -> String {
        let default = if self.is_mariadb() {
            "RESTRICT"
        } else {
            "NO ACTION"
        };
        if action.eq_ignore_ascii_case(default) {
            String::new()
        } else {
            format!(" ON {event} {action}")
        }
    }

    /// The step restating `column` of `table` as `how` says (`MODIFY
    /// COLUMN`, in place, keeping the first comment of `comment_from`),
    /// skipped when the column already has that nullability, presence of a
    /// default, `ON UPDATE` and position.
    fn restate(
        &self,
        table: &str,
        column: &str,
        how: &Restated<'_>,
        comment_from: &[&str],
    ) -> Step {
        let Restated {
            shape,
            nullable,
            with_default,
            ref position,
            ref computed_default,
        } = *how;
        let default = with_default && (shape.default.is_some() || computed_default.is_some());
        let head = format!(
            "MODIFY COLUMN {} {}",
            self.id(column),
            self.definition(shape, &shape.data_type, nullable, with_default)
        );
        // MariaDB reports "no default" of a nullable column as the text `NULL`.
        let mut guard = format!(
            "IS_NULLABLE = {} AND (COLUMN_DEFAULT IS NOT NULL AND COLUMN_DEFAULT <> 'NULL') = {default}",
            if nullable { "'YES'" } else { "'NO'" },
        );
        if shape.extra.is_none() {
            guard.push_str(" AND EXTRA NOT LIKE '%on update%'");
        }
        let mut tail = format!(", {INPLACE}");
        if let Some((clause, ordinal)) = position {
            tail = format!(" {clause}{tail}");
            guard.push_str(&format!(" AND ORDINAL_POSITION = {ordinal}"));
        }
        let computed = computed_default
            .as_deref()
            .filter(|_| with_default)
            .map(|value| format!("(SELECT {value})"));
        let statements = self.with_comment(table, &head, computed.as_deref(), &tail, comment_from);
        Step {
            what: format!(
                "restate column {table}.{column} as {}{}",
                if nullable { "NULL" } else { "NOT NULL" },
                if default { " with its default" } else { "" }
            ),
            statements,
            ..Step::default()
        }
        .done_if(self.column_is(table, column, &guard))
        .locking()
    }

    /// The step adding `column` of `table` as `shape` says, nullable, with
    /// its default when `with_default`, without `ON UPDATE`; skipped when it exists.
    fn add_column(&self, table: &str, column: &str, shape: &Column, with_default: bool) -> Step {
        let bare = Column {
            extra: None,
            ..shape.clone()
        };
        Step::new(
            format!("add column {table}.{column}, nullable"),
            self.alter(
                table,
                &format!(
                    "ADD COLUMN {} {}",
                    self.id(column),
                    self.definition(&bare, &shape.data_type, true, with_default)
                ),
                self.add_column_algorithm(),
            ),
        )
        .done_if(self.column_exists(table, column))
        .locking()
    }

    /// A step giving `column` (of `data_type`) a placeholder default when it
    /// is NOT NULL without one (instant), so that writers omitting it do not
    /// fail in the moment between the drop of the triggers that filled it
    /// and the drop of the column itself; skipped when the column is gone,
    /// nullable or has a default. `None` for a type without an obvious
    /// placeholder (ENUM, SET, spatial): that moment stays.
    fn omittable(&self, table: &str, column: &str, data_type: &str) -> Option<Step> {
        let t = data_type.to_ascii_lowercase();
        let word = t.split(['(', ' ']).next().unwrap_or_default();
        let text = |literal: &str| {
            if self.is_mariadb() {
                literal.to_owned()
            } else {
                format!("({literal})")
            }
        };
        let zero = match word {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "decimal"
            | "numeric" | "float" | "double" | "real" | "bit" | "bool" | "boolean" => {
                "0".to_owned()
            }
            "char" | "varchar" | "binary" | "varbinary" => "''".to_owned(),
            "tinytext" | "text" | "mediumtext" | "longtext" | "tinyblob" | "blob"
            | "mediumblob" | "longblob" | "json" => text("''"),
            "date" => "'1970-01-01'".to_owned(),
            "datetime" | "timestamp" => "'1970-01-01 00:00:01'".to_owned(),
            "time" => "'00:00:00'".to_owned(),
            "year" => "1970".to_owned(),
            _ => return None,
        };
        Some(
            Step::new(
                format!("let writers omit {table}.{column} until it is dropped (default {zero})"),
                self.alter(
                    table,
                    &format!("ALTER COLUMN {} SET DEFAULT {zero}", self.id(column)),
                    "ALGORITHM=INSTANT",
                ),
            )
            .done_if(absent(&self.column_is(
                table,
                column,
                "IS_NULLABLE = 'NO' AND COLUMN_DEFAULT IS NULL",
            )))
            .locking(),
        )
    }

    /// A step that fails, before anything changes, when objects outside the
    /// table depend on `column` and would break when contract drops it (the
    /// introspected table cannot show them): another table's foreign key
    /// referencing it, a view reading it, or a trigger of the user's naming
    /// it in `NEW.`/`OLD.`. It changes nothing, so it needs no guard.
    fn no_dependents(&self, table: &str, column: &str) -> Step {
        let (t, c) = (self.lit(table), self.lit(column));
        let quoted = |name: &str| format!("`{}`", name.replace('`', "``"));
        let in_view = self.lit(&format!(
            "%{}.{}%",
            quoted(table).replace('%', "\\%").replace('_', "\\_"),
            quoted(column).replace('%', "\\%").replace('_', "\\_")
        ));
        let pattern = self.lit(&format!(
            "(NEW|OLD)[.]`?{}`?([^A-Za-z0-9_$]|$)",
            regex_escape(column)
        ));
        Step {
            what: format!(
                "check that nothing outside {table} depends on {table}.{column} (foreign keys of \
                 other tables, views, your triggers): change or drop what the row names in an \
                 earlier migration, then run the phase again"
            ),
            must_be_empty: Some(format!(
                "SELECT 'foreign key', CONCAT(TABLE_NAME, '.', CONSTRAINT_NAME) \
                 FROM information_schema.KEY_COLUMN_USAGE WHERE REFERENCED_TABLE_SCHEMA = DATABASE() \
                 AND REFERENCED_TABLE_NAME = {t} AND REFERENCED_COLUMN_NAME = {c} AND TABLE_NAME <> {t} \
                 UNION ALL SELECT 'view', TABLE_NAME FROM information_schema.VIEWS \
                 WHERE TABLE_SCHEMA = DATABASE() AND VIEW_DEFINITION LIKE {in_view} \
                 UNION ALL SELECT 'trigger', TRIGGER_NAME FROM information_schema.TRIGGERS \
                 WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = {t} \
                 AND TRIGGER_NAME NOT LIKE 'cairn\\_%' AND ACTION_STATEMENT REGEXP {pattern}"
            )),
            ..Step::default()
        }
    }

    /// `FIRST` or `AFTER <previous>`: where `column` stands in `before`.
    fn position(&self, before: &Table, column: &str) -> String {
        let at = before
            .column_order
            .iter()
            .position(|c| c == column)
            .unwrap_or(before.column_order.len());
        match at.checked_sub(1).map(|i| &before.column_order[i]) {
            Some(previous) => format!("AFTER {}", self.id(previous)),
            None => "FIRST".to_owned(),
        }
    }

    /// `ORDINAL_POSITION` of `column` in `before` (1-based).
    fn ordinal(&self, before: &Table, column: &str) -> usize {
        before
            .column_order
            .iter()
            .position(|c| c == column)
            .map_or(before.column_order.len(), |i| i + 1)
    }
}

/// How [`Sql::restate`] restates a column.
struct Restated<'a> {
    /// Type, collation, default, `ON UPDATE`.
    shape: &'a Column,
    /// NULL or NOT NULL.
    nullable: bool,
    /// Whether the default of `shape` is kept.
    with_default: bool,
    /// `FIRST`/`AFTER c` and the `ORDINAL_POSITION` it gives, when it moves.
    position: Option<(String, usize)>,
    /// A default computed on the server when the step runs (an expression
    /// whose value becomes a literal default), in place of `shape`'s.
    computed_default: Option<String>,
}

/// `text` with the characters a regular expression gives a meaning escaped.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if "\\.+*?()|[]{}^$".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A row when `query` returns none.
fn absent(query: &str) -> String {
    format!("SELECT 1 FROM DUAL WHERE NOT EXISTS ({query})")
}

#[cfg(test)]
mod tests;

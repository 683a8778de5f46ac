//! Zero-downtime operations on the sqlite family, one file per operation;
//! what several share is in `triggers.rs` (the sync triggers), `rebuild.rs`
//! (the 12-step table rebuild), `duplicate.rs` (a column beside another,
//! kept equal both ways) and `names.rs` (column names inside SQL text).
//!
//! "Zero downtime" on SQLite means that no write transaction of Cairn's
//! lasts longer than the application's busy timeout; the steps that rewrite
//! the table (a rebuild, `DROP COLUMN`) set [`crate::operation::Step::rows_of`]
//! so that the row count is announced before they run.

use super::SqliteDialect;
use crate::dialect::Online;
use crate::engine::Engine;
use crate::history::string_literal;
use crate::operation::{Context, Kind, Operation, Phases};
use crate::schema::{ident, Column, Table};

mod add_check;
mod add_column;
mod add_foreign_key;
mod change_column_type;
mod create_index;
mod drop_column;
mod drop_index;
mod duplicate;
mod names;
mod raw_sql;
mod rebuild;
mod rename_column;
mod rename_table;
mod set_not_null;
mod triggers;

impl Online for SqliteDialect {
    fn compile_operation(
        &self,
        operation: &Operation,
        ctx: &Context<'_>,
    ) -> Result<Phases, String> {
        let location = operation.location.to_string();
        match &operation.kind {
            Kind::RenameColumn { table, column, to } => {
                rename_column::compile(ctx, table, column, to, location)
            }
            Kind::ChangeColumnType {
                table,
                column,
                to,
                data_type,
                up,
                down,
            } => change_column_type::compile(
                ctx,
                change_column_type::Change {
                    table,
                    column,
                    to,
                    data_type,
                    up: up.for_engine(Engine::Sqlite),
                    down: down.for_engine(Engine::Sqlite),
                },
                location,
            ),
            Kind::AddColumn {
                table,
                column,
                data_type,
                not_null,
                default,
                up,
            } => add_column::compile(
                ctx,
                add_column::Add {
                    table,
                    column,
                    data_type,
                    not_null: *not_null,
                    default: default.as_deref(),
                    up: up.as_ref().map(|up| up.for_engine(Engine::Sqlite)),
                },
                location,
            ),
            Kind::DropColumn {
                table,
                column,
                down,
            } => drop_column::compile(
                ctx,
                table,
                column,
                down.as_ref().map(|down| down.for_engine(Engine::Sqlite)),
                location,
            ),
            Kind::SetNotNull { table, column, up } => {
                set_not_null::compile(ctx, table, column, up.for_engine(Engine::Sqlite), location)
            }
            Kind::RenameTable { table, to } => rename_table::compile(ctx, table, to),
            Kind::CreateIndex {
                table,
                name,
                columns,
                unique,
            } => create_index::compile(ctx, table, name, columns, *unique),
            Kind::AddUnique {
                table,
                name,
                columns,
            } => create_index::compile(ctx, table, name, columns, true),
            Kind::DropIndex { table, name } => drop_index::compile(ctx, table, name),
            Kind::AddCheck { table, name, check } => {
                add_check::compile(ctx, table, name, check.for_engine(Engine::Sqlite))
            }
            Kind::AddForeignKey {
                table,
                name,
                columns,
                references,
                referenced_columns,
                on_delete,
            } => add_foreign_key::compile(
                ctx,
                add_foreign_key::Add {
                    table,
                    name,
                    columns,
                    references,
                    referenced_columns,
                    on_delete: on_delete.as_deref(),
                },
            ),
            Kind::RawSql { up, down, contract } => Ok(raw_sql::compile(
                up.for_engine(Engine::Sqlite),
                down.as_ref().map(|e| e.for_engine(Engine::Sqlite)),
                contract.as_ref().map(|e| e.for_engine(Engine::Sqlite)),
            )),
        }
    }
}

/// How an operation's backfill pages on SQLite: as everywhere, with a short
/// pause between batches, since SQLite has one writer and the application's
/// writers wait for it in their busy handler, which polls by sleeping: back
/// to back, the batches would take the lock again before a waiting writer
/// wakes, and the application would wait for the whole backfill.
fn batch() -> crate::backfill::BatchOptions {
    crate::backfill::BatchOptions {
        pause: std::time::Duration::from_millis(10),
        ..crate::backfill::BatchOptions::default()
    }
}

/// `name` as an SQLite identifier, quoted where it must be.
fn name(name: &str) -> String {
    ident(Engine::Sqlite, name)
}

/// `text` as an SQLite string literal.
fn literal(text: &str) -> String {
    string_literal(Engine::Sqlite, text)
}

/// A query returning a row when `table` has column `column`.
fn column_exists(table: &str, column: &str) -> String {
    format!(
        "SELECT 1 FROM pragma_table_info({}) WHERE name = {} COLLATE NOCASE",
        literal(table),
        literal(column)
    )
}

/// A query returning a row when `table` has no column `column`.
fn column_absent(table: &str, column: &str) -> String {
    format!(
        "SELECT 1 WHERE NOT EXISTS ({})",
        column_exists(table, column)
    )
}

/// The table an operation changes, as it was before expand.
fn table<'a>(ctx: &Context<'a>, table: &str) -> Result<&'a Table, String> {
    ctx.before
        .ok_or_else(|| format!("table `{table}` does not exist: check its name"))
}

/// Column `column` of `table`, which must exist and be a plain column.
fn column<'a>(before: &'a Table, table: &str, column: &str) -> Result<&'a Column, String> {
    let found = before.columns.get(column).ok_or_else(|| {
        format!(
            "column `{table}.{column}` does not exist (the table has {}): check its name",
            before.column_order.join(", ")
        )
    })?;
    if found.generated.is_some() {
        return Err(format!(
            "column `{table}.{column}` is generated: change it with `raw_sql`"
        ));
    }
    Ok(found)
}

/// A column that must not exist yet.
fn absent(before: &Table, table: &str, column: &str) -> Result<(), String> {
    match before
        .columns
        .keys()
        .find(|c| c.eq_ignore_ascii_case(column))
    {
        Some(existing) => Err(format!(
            "column `{table}.{existing}` exists already: choose another name"
        )),
        None => Ok(()),
    }
}

/// The primary key, which the triggers and the backfill find rows by.
fn key<'a>(before: &'a Table, table: &str) -> Result<&'a [String], String> {
    match &before.primary_key {
        Some(pk) if !pk.columns.is_empty() => Ok(&pk.columns),
        _ => Err(format!(
            "table `{table}` has no primary key, which the sync triggers and the backfill \
             find rows by: add one first"
        )),
    }
}

/// Refuses a change of a primary key column.
fn not_in_key(key: &[String], table: &str, column: &str, doing: &str) -> Result<(), String> {
    if key.iter().any(|k| k.eq_ignore_ascii_case(column)) {
        return Err(format!(
            "column `{table}.{column}` is part of the primary key, which cannot be {doing} \
             online on sqlite: use `raw_sql`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Location;
    use crate::operation::Step;
    use crate::schema::{Index, PrimaryKey};

    fn users() -> Table {
        let mut t = Table::default();
        for (c, data_type, nullable) in [
            ("id", "integer", false),
            ("name", "text", false),
            ("email", "text", true),
        ] {
            t.column_order.push(c.to_owned());
            t.columns.insert(
                c.to_owned(),
                Column {
                    data_type: data_type.to_owned(),
                    nullable,
                    ..Column::default()
                },
            );
        }
        t.primary_key = Some(PrimaryKey {
            name: None,
            columns: vec!["id".to_owned()],
        });
        t.unique_constraints
            .insert("unique (email)".to_owned(), vec!["email".to_owned()]);
        t.indexes.insert(
            "users_name".to_owned(),
            Index {
                columns: vec!["name".to_owned()],
                ..Index::default()
            },
        );
        t
    }

    fn render(phases: &Phases) -> String {
        let mut out = String::new();
        let steps = |out: &mut String, phase: &str, steps: &[Step]| {
            out.push_str(&format!("== {phase}\n"));
            for step in steps {
                out.push_str(&format!("-- {}\n", step.what));
                if let Some(guard) = &step.done_if {
                    out.push_str(&format!("--   done if: {guard}\n"));
                }
                for statement in &step.statements {
                    out.push_str(&format!("{statement};\n"));
                }
            }
        };
        steps(&mut out, "expand", &phases.expand);
        for b in &phases.backfill {
            out.push_str(&format!(
                "== backfill {:?}\n",
                b.action.sql_for(Engine::Sqlite)
            ));
        }
        steps(&mut out, "contract", &phases.contract);
        steps(&mut out, "abort", &phases.abort);
        steps(&mut out, "uncontract", &phases.uncontract);
        out
    }

    #[test]
    fn rename_column_sql() {
        let table = users();
        let operation = Operation {
            kind: Kind::RenameColumn {
                table: "users".to_owned(),
                column: "name".to_owned(),
                to: "full_name".to_owned(),
            },
            location: Location::new("migration.toml", 2),
            batch: Default::default(),
        };
        let ctx = Context {
            version: crate::migration::Version::from(20260101090500),
            index: 0,
            before: Some(&table),
        };
        let phases = SqliteDialect::DEFAULT
            .compile_operation(&operation, &ctx)
            .expect("compiles");
        insta::assert_snapshot!("rename_column_sql_sqlite", render(&phases));
    }
}

//! Zero-downtime operations on the postgres family, one file per operation.
//!
//! What they share: [`Target`] (the table the operation changes, its quoted
//! name and its shape before expand), the catalog guards that make every
//! step idempotent (`guards.rs`), the sync triggers (`triggers.rs`), the
//! two-column machinery of rename and type change (`dual.rs`, which also
//! carries indexes and constraints from one column to the other), NOT NULL
//! without a long lock (`not_null.rs`) and the rewriting of column names in
//! SQL text (`sql.rs`).
//!
//! PostgreSQL facts the steps rely on: `ADD COLUMN` without a default and
//! `DROP COLUMN` change only the catalog; BEFORE row triggers run before NOT
//! NULL and CHECK are checked; `NOT VALID` constraints are validated later
//! under SHARE UPDATE EXCLUSIVE, which lets writes go on; `SET NOT NULL`
//! skips its scan on top of a validated `CHECK (c IS NOT NULL)` (PG 12+);
//! `CREATE INDEX CONCURRENTLY` cannot run in a transaction and leaves an
//! INVALID index when it fails, which the retried step drops first.
//! Every step that takes a lock the application's queries would queue
//! behind is `.locking()`; index builds `CONCURRENTLY` are not (their lock
//! does not conflict with reads or writes).

use super::PostgresDialect;
use crate::dialect::{Bookkeeping, Dialect, Online};
use crate::engine::Engine;
use crate::operation::{Context, Kind, Operation, Phases};
use crate::schema::{Column, Table};

mod add_check;
mod add_column;
mod add_foreign_key;
mod add_unique;
mod change_column_type;
mod create_index;
mod drop_column;
mod drop_index;
mod dual;
mod guards;
mod indexes;
mod not_null;
mod raw_sql;
mod rename_column;
mod rename_table;
mod set_not_null;
mod sql;
mod triggers;

impl Online for PostgresDialect {
    fn compile_operation(
        &self,
        operation: &Operation,
        ctx: &Context<'_>,
    ) -> Result<Phases, String> {
        let location = operation.location.to_string();
        match &operation.kind {
            Kind::RenameColumn { table, column, to } => {
                rename_column::compile(&Target::new(table, ctx)?, column, to, &location)
            }
            Kind::ChangeColumnType {
                table,
                column,
                to,
                data_type,
                up,
                down,
            } => change_column_type::compile(
                &Target::new(table, ctx)?,
                column,
                to,
                data_type,
                (
                    up.for_engine(Engine::Postgres),
                    down.for_engine(Engine::Postgres),
                ),
                &location,
            ),
            Kind::AddColumn {
                table,
                column,
                data_type,
                not_null,
                default,
                up,
            } => add_column::compile(
                &Target::new(table, ctx)?,
                &add_column::Spec {
                    column,
                    data_type,
                    not_null: *not_null,
                    default: default.as_deref(),
                    up: up.as_ref().map(|e| e.for_engine(Engine::Postgres)),
                },
                &location,
            ),
            Kind::DropColumn {
                table,
                column,
                down,
            } => drop_column::compile(
                &Target::new(table, ctx)?,
                column,
                down.as_ref().map(|e| e.for_engine(Engine::Postgres)),
                &location,
            ),
            Kind::SetNotNull { table, column, up } => set_not_null::compile(
                &Target::new(table, ctx)?,
                column,
                up.for_engine(Engine::Postgres),
                &location,
            ),
            Kind::RenameTable { table, to } => rename_table::compile(
                &Target::new(table, ctx)?,
                to,
                // PostgreSQL 15+: the view checks the querying role's
                // privileges and row-level security, as the table does.
                self.server_version().is_some_and(|v| v.at_least(15, 0)),
            ),
            Kind::CreateIndex {
                table,
                name,
                columns,
                unique,
            } => create_index::compile(&Target::new(table, ctx)?, name, columns, *unique),
            Kind::DropIndex { table, name } => drop_index::compile(&Target::new(table, ctx)?, name),
            Kind::AddForeignKey {
                table,
                name,
                columns,
                references,
                referenced_columns,
                on_delete,
            } => add_foreign_key::compile(
                &Target::new(table, ctx)?,
                &add_foreign_key::Spec {
                    name,
                    columns,
                    references,
                    referenced_columns,
                    on_delete: on_delete.as_deref(),
                },
            ),
            Kind::AddCheck { table, name, check } => add_check::compile(
                &Target::new(table, ctx)?,
                name,
                check.for_engine(Engine::Postgres),
            ),
            Kind::AddUnique {
                table,
                name,
                columns,
            } => add_unique::compile(&Target::new(table, ctx)?, name, columns),
            Kind::RawSql { up, down, contract } => Ok(raw_sql::compile(
                up.for_engine(Engine::Postgres),
                down.as_ref().map(|e| e.for_engine(Engine::Postgres)),
                contract.as_ref().map(|e| e.for_engine(Engine::Postgres)),
            )),
            #[allow(unreachable_patterns)] // `Kind` is non_exhaustive for other crates only
            other => Err(format!(
                "`{}` is not supported online on PostgreSQL yet; write it as a `raw_sql` operation",
                other.name()
            )),
        }
    }
}

/// `name` quoted as a PostgreSQL identifier.
fn q(name: &str) -> String {
    PostgresDialect::DEFAULT.quote_ident(name)
}

/// `value` as a PostgreSQL string literal.
fn lit(value: &str) -> String {
    PostgresDialect::DEFAULT.string_literal(value)
}

/// The table an operation changes.
pub(super) struct Target<'a> {
    /// Its snapshot key as the operation names it (`users`, `app.users`).
    key: &'a str,
    /// Its schema, when the key names one.
    schema: Option<&'a str>,
    /// Its quoted, qualified name.
    sql: String,
    /// `to_regclass('<sql>')`: its oid, or NULL when it does not exist.
    regclass: String,
    /// Its shape before expand.
    table: &'a Table,
    /// The operation's context (version, index).
    ctx: &'a Context<'a>,
}

impl<'a> Target<'a> {
    /// The table `key` of `ctx.before`, or why there is none.
    fn new(key: &'a str, ctx: &'a Context<'a>) -> Result<Self, String> {
        let table = ctx.before.ok_or_else(|| {
            format!(
                "table `{key}` does not exist; check its name (a table outside the current schema is \
                 written `schema.table`)"
            )
        })?;
        let (schema, name) = match key.split_once('.') {
            Some((schema, name)) => (Some(schema), name),
            None => (None, key),
        };
        let sql = PostgresDialect::DEFAULT.qualify(schema, name);
        Ok(Target {
            key,
            schema,
            regclass: format!("to_regclass({})", lit(&sql)),
            sql,
            table,
            ctx,
        })
    }

    /// Its name without the schema.
    fn name(&self) -> &'a str {
        self.key.rsplit_once('.').map_or(self.key, |(_, name)| name)
    }

    /// `object` (an index, a function) qualified with the table's schema.
    fn qualified(&self, object: &str) -> String {
        PostgresDialect::DEFAULT.qualify(self.schema, object)
    }

    /// `to_regclass` of `object` in the table's schema.
    fn regclass_of(&self, object: &str) -> String {
        format!("to_regclass({})", lit(&self.qualified(object)))
    }

    /// Cairn's name for an object of this operation.
    fn object(&self, purpose: &str) -> String {
        self.ctx.object_name(purpose)
    }

    /// Column `name`, or why it cannot be used.
    fn column(&self, name: &str) -> Result<&'a Column, String> {
        self.table.columns.get(name).ok_or_else(|| {
            format!(
                "column `{name}` does not exist in table `{}` (its columns: {})",
                self.key,
                self.table.column_order.join(", ")
            )
        })
    }

    /// Refuses `name` when the table has such a column already.
    fn column_is_new(&self, name: &str) -> Result<(), String> {
        if self.table.columns.contains_key(name) {
            return Err(format!(
                "column `{name}` already exists in table `{}`; choose another name",
                self.key
            ));
        }
        Ok(())
    }

    /// Refuses a table without a primary key, which the backfill pages through.
    fn has_primary_key(&self, why: &str) -> Result<(), String> {
        if self.table.primary_key.is_none() {
            return Err(format!(
                "table `{}` has no primary key, which the backfill of {why} pages through; add one first",
                self.key
            ));
        }
        Ok(())
    }

    /// `ALTER TABLE <table> <rest>`.
    fn alter(&self, rest: &str) -> String {
        format!("ALTER TABLE {} {rest}", self.sql)
    }
}

/// `FOREIGN KEY (<columns>) REFERENCES ...` like `fk`, from `columns`
/// (quoted, joined).
fn foreign_key(fk: &crate::schema::ForeignKey, columns: &str) -> String {
    let mut out = format!(
        "FOREIGN KEY ({columns}) REFERENCES {}",
        crate::schema::quote_key(Engine::Postgres, &fk.referenced_table)
    );
    if !fk.referenced_columns.is_empty() {
        let referenced: Vec<String> = fk.referenced_columns.iter().map(|c| q(c)).collect();
        out.push_str(&format!(" ({})", referenced.join(", ")));
    }
    out.push_str(&format!(
        " ON DELETE {} ON UPDATE {}",
        fk.on_delete, fk.on_update
    ));
    out
}

/// The SQL backfill `UPDATE table SET <set> WHERE <filter>` of an operation.
fn backfill(
    table: &Target,
    set: String,
    filter: String,
    location: &str,
) -> crate::backfill::Backfill {
    crate::backfill::Backfill {
        table: table.key.to_owned(),
        action: crate::backfill::Action::Sql {
            set,
            filter: Some(filter),
            overrides: Default::default(),
        },
        batch: crate::backfill::BatchOptions::default(),
        location: location.to_owned(),
    }
}

/// The phases as text, for snapshot tests of the SQL.
#[cfg(test)]
fn render(phases: &Phases) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let steps = [
        ("expand", &phases.expand),
        ("contract", &phases.contract),
        ("abort", &phases.abort),
        ("uncontract", &phases.uncontract),
    ];
    for (phase, steps) in steps {
        let _ = writeln!(out, "== {phase}");
        for step in steps {
            let mut flags = Vec::new();
            if step.transaction {
                flags.push("transaction");
            }
            if step.lock_timeout {
                flags.push("lock timeout");
            }
            let _ = writeln!(out, "-- {} [{}]", step.what, flags.join(", "));
            if let Some(guard) = &step.done_if {
                let _ = writeln!(out, "   done if: {guard}");
            }
            for statement in &step.statements {
                let _ = writeln!(out, "{statement};");
            }
        }
    }
    for (phase, backfills) in [
        ("backfill", &phases.backfill),
        ("uncontract backfill", &phases.uncontract_backfill),
    ] {
        for backfill in backfills {
            let (set, filter) = backfill.action.sql_for(Engine::Postgres);
            let _ = writeln!(
                out,
                "== {phase}: UPDATE {} SET {} WHERE {}",
                backfill.table,
                set.unwrap_or_default(),
                filter.unwrap_or_default()
            );
        }
    }
    let _ = writeln!(
        out,
        "== versions: old {:?}, new {:?}",
        phases.versions.old, phases.versions.new
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Location;
    use crate::operation::Expr;
    use crate::schema::PrimaryKey;

    /// `app.people (id bigint primary key, first text, last text not null)`.
    fn people() -> Table {
        let mut table = Table::default();
        for (name, data_type, nullable) in [
            ("id", "bigint", false),
            ("first", "text", true),
            ("last", "text", false),
        ] {
            table.columns.insert(
                name.to_owned(),
                Column {
                    data_type: data_type.to_owned(),
                    nullable,
                    ..Column::default()
                },
            );
            table.column_order.push(name.to_owned());
        }
        table.primary_key = Some(PrimaryKey {
            name: Some("people_pkey".to_owned()),
            columns: vec!["id".to_owned()],
        });
        table
    }

    fn phases(kind: Kind) -> String {
        let table = people();
        let ctx = Context {
            version: crate::migration::Version::from(20260101090500),
            index: 1,
            before: Some(&table),
        };
        let operation = Operation {
            kind,
            location: Location::new("migration.toml", 7),
            batch: Default::default(),
        };
        let phases = PostgresDialect::DEFAULT
            .compile_operation(&operation, &ctx)
            .unwrap_or_else(|e| panic!("{e}"));
        render(&phases)
    }

    /// The SQL of each phase of the other operations, reviewed like code.
    #[test]
    fn the_sql_of_each_operation() {
        let t = || "app.people".to_owned();
        let kinds = [
            Kind::AddColumn {
                table: t(),
                column: "display".to_owned(),
                data_type: "varchar(200)".to_owned(),
                not_null: true,
                default: Some("''".to_owned()),
                up: Some(Expr::new("first || ' ' || last")),
            },
            Kind::DropColumn {
                table: t(),
                column: "last".to_owned(),
                down: Some(Expr::new("'?'")),
            },
            Kind::SetNotNull {
                table: t(),
                column: "first".to_owned(),
                up: Expr::new("'?'"),
            },
            Kind::ChangeColumnType {
                table: t(),
                column: "id".to_owned(),
                to: "id2".to_owned(),
                data_type: "numeric".to_owned(),
                up: Expr::new("id"),
                down: Expr::new("id2::bigint"),
            },
            Kind::RenameTable {
                table: t(),
                to: "persons".to_owned(),
            },
            Kind::CreateIndex {
                table: t(),
                name: "people_last".to_owned(),
                columns: vec!["last".to_owned()],
                unique: false,
            },
            Kind::AddUnique {
                table: t(),
                name: "people_first_last".to_owned(),
                columns: vec!["first".to_owned(), "last".to_owned()],
            },
        ];
        let mut out = String::new();
        for kind in kinds {
            let name = kind.name();
            out.push_str(&format!("##### {name}\n{}", phases(kind)));
        }
        insta::assert_snapshot!(out);
    }
}

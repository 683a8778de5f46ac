//! From a migration's operations to its phases on one engine: the checks
//! that need no engine (the table exists, the column exists, the table has
//! a primary key where a backfill pages through it), then the dialect's
//! [`crate::dialect::Online::compile_operation`] for each operation, then
//! the phases of the whole migration in the order the life cycle runs them.

use std::collections::BTreeMap;

use super::{Context, Kind, Operation, Phases, Step, Versions};
use crate::backfill::Backfill;
use crate::dialect::Dialect;
use crate::error::Error;
use crate::migration::Version;
use crate::schema::{Column, Index, Table};

/// The phases of a whole migration on one engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compiled {
    /// Each operation's phases, in file order.
    pub operations: Vec<Phases>,
}

impl Compiled {
    /// The expand steps: each operation's, in file order.
    pub fn expand(&self) -> Vec<&Step> {
        self.operations.iter().flat_map(|p| &p.expand).collect()
    }

    /// The backfills after expand, in file order.
    pub fn backfill(&self) -> Vec<&Backfill> {
        self.operations.iter().flat_map(|p| &p.backfill).collect()
    }

    /// The contract steps, in file order.
    pub fn contract(&self) -> Vec<&Step> {
        self.operations.iter().flat_map(|p| &p.contract).collect()
    }

    /// The abort steps: the last operation's first, so each undoes its expand
    /// on the shape it left.
    pub fn abort(&self) -> Vec<&Step> {
        self.operations
            .iter()
            .rev()
            .flat_map(|p| &p.abort)
            .collect()
    }

    /// The un-contract steps, last operation first.
    pub fn uncontract(&self) -> Vec<&Step> {
        self.operations
            .iter()
            .rev()
            .flat_map(|p| &p.uncontract)
            .collect()
    }

    /// The backfills after un-contract, in file order.
    pub fn uncontract_backfill(&self) -> Vec<&Backfill> {
        self.operations
            .iter()
            .flat_map(|p| &p.uncontract_backfill)
            .collect()
    }

    /// What each application version may use during `expanded`.
    pub fn versions(&self) -> Versions {
        let mut all = Versions::default();
        for phases in &self.operations {
            all.old.extend(phases.versions.old.iter().cloned());
            all.new.extend(phases.versions.new.iter().cloned());
        }
        all
    }

    /// Whether any operation is `raw_sql`, which Cairn cannot check.
    pub fn unchecked(&self) -> bool {
        self.operations.iter().any(|p| p.unchecked)
    }
}

/// The tables the migrator must introspect before expand, in file order
/// and each once: every table an operation changes, `rename_table`'s new
/// name (which must not exist) and `add_foreign_key`'s referenced table.
pub fn tables_needed(operations: &[Operation]) -> Vec<String> {
    let mut tables: Vec<String> = Vec::new();
    for operation in operations {
        let extra = match &operation.kind {
            Kind::RenameTable { to, .. } => Some(to.as_str()),
            Kind::AddForeignKey { references, .. } => Some(references.as_str()),
            _ => None,
        };
        for table in operation.kind.table().into_iter().chain(extra) {
            if !tables.iter().any(|t| t == table) {
                tables.push(table.to_owned());
            }
        }
    }
    tables
}

/// Compiles `operations` of migration `version` for `dialect`; `before`
/// holds, by name, the tables they change as they were before expand
/// (at least every table of [`tables_needed`] that exists: a table missing
/// from it does not exist, except `add_foreign_key`'s referenced table,
/// whose columns are checked only when it is there).
///
/// Every operation is checked against `before` first (the table and
/// columns exist, new names are free, a primary key where a backfill pages
/// through the table), then each is compiled by the dialect.
///
/// # Errors
///
/// [`Error::Operation`] naming `migration.toml:<line>`, the operation, the
/// engine, and what to do.
pub fn compile(
    operations: &[Operation],
    version: Version,
    before: &BTreeMap<String, Table>,
    dialect: &dyn Dialect,
) -> Result<Compiled, Error> {
    let engine = dialect.engine();
    let fail = |operation: &Operation, message: String| Error::Operation {
        location: operation.location.clone(),
        kind: operation.kind.name(),
        engine,
        message,
    };
    // Later operations see the shape the earlier ones' expand leaves.
    let mut shape = before.clone();
    for operation in operations {
        check(&operation.kind, &shape).map_err(|message| fail(operation, message))?;
        expand_shape(&operation.kind, &mut shape);
    }
    let mut compiled = Compiled::default();
    for (index, operation) in operations.iter().enumerate() {
        let ctx = Context {
            version,
            index,
            before: operation.kind.table().and_then(|t| before.get(t)),
        };
        let mut phases = dialect
            .compile_operation(operation, &ctx)
            .map_err(|message| fail(operation, message))?;
        // The operation's batch keys replace the engine's batch options.
        for backfill in phases
            .backfill
            .iter_mut()
            .chain(phases.uncontract_backfill.iter_mut())
        {
            backfill.batch = operation.batch.apply_to(backfill.batch);
        }
        compiled.operations.push(phases);
    }
    Ok(compiled)
}

/// Whether the operation fills a column by the keyset backfill (at expand or
/// at un-contract), which pages through the table by its primary key.
fn backfills(kind: &Kind) -> bool {
    match kind {
        Kind::RenameColumn { .. } | Kind::ChangeColumnType { .. } | Kind::SetNotNull { .. } => true,
        Kind::AddColumn { up, default, .. } => up.is_some() || default.is_some(),
        Kind::DropColumn { down, .. } => down.is_some(),
        _ => false,
    }
}

/// The checks of one operation that need no engine, against the shape the
/// operations before it leave.
fn check(kind: &Kind, shape: &BTreeMap<String, Table>) -> Result<(), String> {
    let Some(name) = kind.table() else {
        return Ok(());
    };
    let table = existing_table(name, shape)?;
    if backfills(kind) && table.primary_key.is_none() {
        return Err(format!(
            "table `{name}` has no primary key, which the backfill of this operation pages \
             through: add a primary key in an earlier migration"
        ));
    }
    match kind {
        Kind::RenameColumn { column, to, .. } | Kind::ChangeColumnType { column, to, .. } => {
            existing_column(name, table, column, "column")?;
            free_column(name, table, to, "to")
        }
        Kind::AddColumn { column, .. } => free_column(name, table, column, "column"),
        Kind::DropColumn { column, .. } | Kind::SetNotNull { column, .. } => {
            existing_column(name, table, column, "column")
        }
        Kind::RenameTable { to, .. } => match shape.get(to) {
            Some(_) => Err(format!(
                "table `{to}` exists already: choose another `to`, or drop `{to}` in an earlier \
                 migration"
            )),
            None => Ok(()),
        },
        Kind::CreateIndex {
            name: index,
            columns,
            ..
        } => {
            free_index(name, table, index)?;
            existing_columns(name, table, columns, "columns")
        }
        Kind::DropIndex { name: index, .. } => {
            if table.indexes.contains_key(index) {
                Ok(())
            } else if table.unique_constraints.contains_key(index) {
                Err(format!(
                    "`{index}` on `{name}` is a unique constraint, not an index: a later \
                     version of Cairn may drop constraints; for now use `raw_sql`"
                ))
            } else {
                Err(format!(
                    "index `{index}` does not exist on `{name}` ({}): check `name`",
                    names("indexes", table.indexes.keys())
                ))
            }
        }
        Kind::AddForeignKey {
            name: constraint,
            columns,
            references,
            referenced_columns,
            ..
        } => {
            free_index(name, table, constraint)?;
            existing_columns(name, table, columns, "columns")?;
            // A referenced table missing from `before` may not have been
            // introspected: the engine refuses it if it does not exist.
            match shape.get(references) {
                Some(referenced) => existing_columns(
                    references,
                    referenced,
                    referenced_columns,
                    "referenced_columns",
                ),
                None => Ok(()),
            }
        }
        Kind::AddCheck {
            name: constraint, ..
        } => free_index(name, table, constraint),
        Kind::AddUnique {
            name: constraint,
            columns,
            ..
        } => {
            free_index(name, table, constraint)?;
            existing_columns(name, table, columns, "columns")
        }
        _ => Ok(()),
    }
}

/// What the shape looks like after the operation's expand, for the checks
/// of the operations after it: both names of a renamed column or table
/// exist, and nothing is dropped before contract.
fn expand_shape(kind: &Kind, shape: &mut BTreeMap<String, Table>) {
    let Some(name) = kind.table() else {
        return;
    };
    if let Kind::RenameTable { to, .. } = kind {
        if let Some(table) = shape.get(name).cloned() {
            shape.insert(to.clone(), table);
        }
        return;
    }
    let Some(table) = shape.get_mut(name) else {
        return;
    };
    let added = match kind {
        Kind::RenameColumn { column, to, .. } | Kind::ChangeColumnType { column, to, .. } => {
            table.columns.get(column).cloned().map(|c| (to.clone(), c))
        }
        Kind::AddColumn { column, .. } => Some((column.clone(), Column::default())),
        _ => None,
    };
    if let Some((column, shape)) = added {
        table.column_order.push(column.clone());
        table.columns.insert(column, shape);
    }
    match kind {
        Kind::CreateIndex {
            name: index,
            columns,
            unique,
            ..
        } => {
            table.indexes.insert(
                index.clone(),
                Index {
                    columns: columns.clone(),
                    unique: *unique,
                    ..Index::default()
                },
            );
        }
        Kind::AddUnique {
            name: constraint,
            columns,
            ..
        } => {
            table
                .unique_constraints
                .insert(constraint.clone(), columns.clone());
        }
        Kind::AddCheck {
            name: constraint,
            check,
            ..
        } => {
            table.checks.insert(constraint.clone(), check.sql.clone());
        }
        _ => {}
    }
}

fn existing_table<'t>(name: &str, shape: &'t BTreeMap<String, Table>) -> Result<&'t Table, String> {
    shape.get(name).ok_or_else(|| {
        let hint = similar(name, shape.keys())
            .map(|other| format!(" (did you mean `{other}`?)"))
            .unwrap_or_default();
        format!(
            "table `{name}` does not exist{hint}: check `table`, or create the table in an \
             earlier migration"
        )
    })
}

fn existing_column(table_name: &str, table: &Table, column: &str, key: &str) -> Result<(), String> {
    if table.columns.contains_key(column) {
        return Ok(());
    }
    let hint = similar(column, table.columns.keys())
        .map(|other| format!("did you mean `{other}`? "))
        .unwrap_or_default();
    Err(format!(
        "column `{table_name}.{column}` does not exist ({hint}{}): check `{key}`",
        names("columns", table.column_order.iter())
    ))
}

fn existing_columns(
    table_name: &str,
    table: &Table,
    columns: &[String],
    key: &str,
) -> Result<(), String> {
    columns
        .iter()
        .try_for_each(|column| existing_column(table_name, table, column, key))
}

fn free_column(table_name: &str, table: &Table, column: &str, key: &str) -> Result<(), String> {
    if table.columns.contains_key(column) {
        Err(format!(
            "column `{table_name}.{column}` exists already: choose another `{key}`, or drop the \
             column in an earlier migration"
        ))
    } else {
        Ok(())
    }
}

/// An index or constraint name not yet used on the table.
fn free_index(table_name: &str, table: &Table, name: &str) -> Result<(), String> {
    let what = if table.indexes.contains_key(name) {
        "an index"
    } else if table.unique_constraints.contains_key(name) {
        "a unique constraint"
    } else if table.foreign_keys.contains_key(name) {
        "a foreign key"
    } else if table.checks.contains_key(name) {
        "a check constraint"
    } else if table.primary_key.as_ref().and_then(|pk| pk.name.as_deref()) == Some(name) {
        "the primary key"
    } else {
        return Ok(());
    };
    Err(format!(
        "`{name}` is already {what} of `{table_name}`: choose another `name`"
    ))
}

/// A name differing only in case, for a hint.
fn similar<'n>(name: &str, names: impl Iterator<Item = &'n String>) -> Option<&'n String> {
    names
        .into_iter()
        .find(|other| other.eq_ignore_ascii_case(name))
}

/// `columns: a, b` (or `no columns`), for messages.
fn names<'n>(what: &str, names: impl Iterator<Item = &'n String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        format!("no {what}")
    } else {
        format!("{what}: {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests;

//! `add_foreign_key` and `add_unique`, each one online step.
//!
//! Decision for foreign keys: MySQL and MariaDB add a foreign key in place
//! (`ALGORITHM=INPLACE, LOCK=NONE`) only with `foreign_key_checks=0`, which
//! also skips checking the rows already there; with checks on, the server
//! copies the table under a lock. So Cairn adds the key without validating
//! (the server enforces it for every write from then on) and validates
//! separately: the next step is a query for orphans that must return no
//! row. Orphans written before the key existed fail that step, naming it;
//! abort drops the key (and the index the server made for it).

use super::{absent, column, Sql, INPLACE};
use crate::operation::{Phases, Step};
use crate::schema::Table;

/// An `add_foreign_key` operation.
pub(super) struct Spec<'a> {
    /// The referencing table as before expand.
    pub before: &'a Table,
    /// Its name.
    pub table: &'a str,
    /// The constraint's name.
    pub name: &'a str,
    /// The referencing columns.
    pub columns: &'a [String],
    /// The referenced table.
    pub references: &'a str,
    /// The referenced columns.
    pub referenced_columns: &'a [String],
    /// `ON DELETE`, as written.
    pub on_delete: Option<&'a str>,
}

/// The phases of `add_foreign_key`.
pub(super) fn add_foreign_key(sql: &Sql<'_>, spec: &Spec<'_>) -> Result<Phases, String> {
    let Spec {
        before,
        table,
        name,
        columns,
        references,
        referenced_columns,
        on_delete,
    } = *spec;
    if before.foreign_keys.contains_key(name) {
        return Err(format!(
            "foreign key `{name}` already exists on `{table}`; choose another name"
        ));
    }
    if columns.is_empty() || columns.len() != referenced_columns.len() {
        return Err(format!(
            "`columns` ({}) and `referenced_columns` ({}) must name as many columns, at least one",
            columns.len(),
            referenced_columns.len()
        ));
    }
    for c in columns {
        column(before, table, c)?;
    }
    let list = |cs: &[String]| cs.iter().map(|c| sql.id(c)).collect::<Vec<_>>().join(", ");
    let clauses = format!(
        "ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}){}",
        sql.id(name),
        list(columns),
        sql.id(references),
        list(referenced_columns),
        on_delete
            .map(|a| format!(" ON DELETE {a}"))
            .unwrap_or_default()
    );
    let add = Step {
        what: format!("add foreign key {name} of {table}, not validated"),
        statements: sql.without_foreign_key_checks(&sql.alter(table, &clauses, INPLACE)),
        ..Step::default()
    }
    .done_if(sql.foreign_key_exists(table, name))
    .locking();
    let present = columns
        .iter()
        .map(|c| format!("c.{} IS NOT NULL", sql.id(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let matches = columns
        .iter()
        .zip(referenced_columns)
        .map(|(c, r)| format!("p.{} = c.{}", sql.id(r), sql.id(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let validate = Step {
        what: format!(
            "validate foreign key {name} of {table}: rows of {table} whose ({}) has no match \
             in {references}; fix or delete them, then run the phase again",
            columns.join(", ")
        ),
        must_be_empty: Some(format!(
            "SELECT {} FROM {} c WHERE {present} AND NOT EXISTS (SELECT 1 FROM {} p WHERE {matches}) LIMIT 1",
            columns
                .iter()
                .map(|c| format!("c.{}", sql.id(c)))
                .collect::<Vec<_>>()
                .join(", "),
            sql.id(table),
            sql.id(references)
        )),
        ..Step::default()
    };
    let drop_key = Step::new(
        format!("drop foreign key {name} of {table}"),
        sql.alter(
            table,
            &format!("DROP FOREIGN KEY {}", sql.id(name)),
            INPLACE,
        ),
    )
    .done_if(absent(&sql.foreign_key_exists(table, name)))
    .locking();
    let mut abort = vec![drop_key];
    if !before.indexes.contains_key(name) {
        // The index the server adds for the key when none fits, named after it.
        abort.push(super::indexes::remove(sql, table, name));
    }
    Ok(Phases {
        expand: vec![add, validate],
        abort,
        ..Phases::default()
    })
}

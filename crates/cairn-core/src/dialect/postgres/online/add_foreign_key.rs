//! `add_foreign_key`: added `NOT VALID` at expand (a short SHARE ROW
//! EXCLUSIVE lock on both tables, no scan), validated at contract; see
//! `add_check.rs`.

use super::{q, Target};
use crate::operation::Phases;
use crate::schema::quote_key;
use crate::Engine;

/// What `add_foreign_key` says.
pub(super) struct Spec<'a> {
    /// The constraint's name.
    pub name: &'a str,
    /// The referencing columns.
    pub columns: &'a [String],
    /// The referenced table.
    pub references: &'a str,
    /// The referenced columns.
    pub referenced_columns: &'a [String],
    /// `ON DELETE` action.
    pub on_delete: Option<&'a str>,
}

/// The phases of adding foreign key `spec.name`.
pub(super) fn compile(table: &Target, spec: &Spec<'_>) -> Result<Phases, String> {
    if table.table.foreign_keys.contains_key(spec.name) {
        return Err(format!(
            "a foreign key `{}` exists already on `{}`; choose another name",
            spec.name, table.key
        ));
    }
    if spec.columns.is_empty() || spec.columns.len() != spec.referenced_columns.len() {
        return Err(format!(
            "foreign key `{}` has {} column(s) and {} referenced column(s): give as many of each, at least one",
            spec.name,
            spec.columns.len(),
            spec.referenced_columns.len()
        ));
    }
    for column in spec.columns {
        table.column(column)?;
    }
    let list = |columns: &[String]| columns.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
    let mut definition = format!(
        "FOREIGN KEY ({}) REFERENCES {} ({})",
        list(spec.columns),
        quote_key(Engine::Postgres, spec.references),
        list(spec.referenced_columns)
    );
    if let Some(action) = spec.on_delete {
        definition.push_str(&format!(" ON DELETE {action}"));
    }
    Ok(super::add_check::constraint(
        table,
        spec.name,
        &definition,
        &format!(
            "foreign key {} ({}) references {}",
            spec.name,
            spec.columns.join(", "),
            spec.references
        ),
    ))
}

//! `add_foreign_key`: SQLite cannot add a foreign key to a table that
//! exists, so expand rebuilds the table with it, and the rebuild's
//! `foreign_key_check` refuses rows without a parent; abort rebuilds it
//! without.

use super::{column, name, rebuild, table};
use crate::operation::{Context, Phases};
use crate::schema::ForeignKey;

/// What an `add_foreign_key` says.
pub(super) struct Add<'a> {
    pub table: &'a str,
    pub name: &'a str,
    pub columns: &'a [String],
    pub references: &'a str,
    pub referenced_columns: &'a [String],
    pub on_delete: Option<&'a str>,
}

/// The phases of adding foreign key `add.name`.
pub(super) fn compile(ctx: &Context<'_>, add: Add<'_>) -> Result<Phases, String> {
    let before = table(ctx, add.table)?;
    if add.columns.is_empty() {
        return Err("`columns` is empty: name the referencing columns".to_owned());
    }
    for c in add.columns {
        column(before, add.table, c)?;
    }
    if before
        .foreign_keys
        .values()
        .any(|fk| fk.name.as_deref() == Some(add.name))
    {
        return Err(format!(
            "foreign key `{}` exists already on `{}`: choose another name",
            add.name, add.table
        ));
    }
    let fk = ForeignKey {
        columns: add.columns.to_vec(),
        referenced_table: add.references.to_owned(),
        referenced_columns: add.referenced_columns.to_vec(),
        on_delete: add
            .on_delete
            .map_or("NO ACTION".to_owned(), str::to_uppercase),
        on_update: "NO ACTION".to_owned(),
        name: Some(add.name.to_owned()),
    };
    let key = format!(
        "({}) references {} ({})",
        fk.columns.join(", "),
        fk.referenced_table,
        fk.referenced_columns.join(", ")
    );
    let mut target = before.clone();
    target.foreign_keys.insert(key, fk);
    let marker = format!("CONSTRAINT {} FOREIGN KEY", name(add.name));
    Ok(rebuild::constraint_phases(
        ctx,
        add.table,
        before,
        &target,
        &marker,
        &format!("foreign key {}", add.name),
    ))
}

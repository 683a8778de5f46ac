//! `rename_table`: new code uses the new name; old code keeps the old one,
//! a view over the renamed table made writable by `INSTEAD OF` triggers
//! (views are read-only in SQLite otherwise). `ALTER TABLE RENAME` rewrites
//! the references of other tables, views and triggers.
//!
//! What the view cannot give old code: a column's default when it omits
//! the column is given by the trigger (`coalesce(NEW.c, default)`, so an
//! explicit NULL there becomes the default too), and `last_insert_rowid()`,
//! `changes()` and `RETURNING` do not see writes made through a view.

use super::{key, literal, name, table};
use crate::operation::{Context, Phases, Step, Versions};
use crate::schema::Table;

/// The phases of renaming `table` to `to`.
pub(super) fn compile(ctx: &Context<'_>, table_name: &str, to: &str) -> Result<Phases, String> {
    let before = table(ctx, table_name)?;
    if to.eq_ignore_ascii_case(table_name) {
        return Err(format!("`to` is `{table_name}` already: give the new name"));
    }
    let key = key(before, table_name)?;
    let (old, new) = (name(table_name), name(to));
    let view_exists = format!(
        "SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = {} COLLATE NOCASE",
        literal(table_name)
    );
    let view = view_statements(ctx, before, table_name, to, key);
    let mut expand = vec![
        "PRAGMA legacy_alter_table = OFF".to_owned(),
        format!("ALTER TABLE {old} RENAME TO {new}"),
    ];
    expand.extend(view.iter().cloned());
    let step = |what: String, statements: Vec<String>, done_if: &str| Step {
        what,
        statements,
        transaction: true,
        done_if: Some(done_if.to_owned()),
        lock_timeout: true,
        ..Step::default()
    };
    let table_back = format!(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = {} COLLATE NOCASE",
        literal(table_name)
    );
    Ok(Phases {
        expand: vec![step(
            format!("rename table {table_name} to {to}, and a writable view {table_name} over it"),
            expand,
            &view_exists,
        )],
        contract: vec![Step::new(
            format!("drop view {table_name} (and its triggers)"),
            format!("DROP VIEW IF EXISTS {old}"),
        )
        .locking()],
        abort: vec![step(
            format!("drop view {table_name}, rename table {to} back to {table_name}"),
            vec![
                format!("DROP VIEW IF EXISTS {old}"),
                "PRAGMA legacy_alter_table = OFF".to_owned(),
                format!("ALTER TABLE {new} RENAME TO {old}"),
            ],
            &table_back,
        )],
        uncontract: vec![step(
            format!("a writable view {table_name} over {to} again"),
            view,
            &view_exists,
        )],
        versions: Versions {
            old: vec![table_name.to_owned()],
            new: vec![to.to_owned()],
        },
        ..Phases::default()
    })
}

/// The view under the old name and its three `INSTEAD OF` triggers.
fn view_statements(
    ctx: &Context<'_>,
    before: &Table,
    table_name: &str,
    to: &str,
    key: &[String],
) -> Vec<String> {
    let (old, new) = (name(table_name), name(to));
    let columns: Vec<String> = before.column_order.iter().map(|c| name(c)).collect();
    let values: Vec<String> = before
        .column_order
        .iter()
        .map(|c| match &before.columns[c].default {
            Some(default) => format!("coalesce(NEW.{}, ({default}))", name(c)),
            None => format!("NEW.{}", name(c)),
        })
        .collect();
    let sets: Vec<String> = columns.iter().map(|c| format!("{c} = NEW.{c}")).collect();
    let this_row = key
        .iter()
        .map(|k| format!("{0} = OLD.{0}", name(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let trigger = |purpose: &str| name(&ctx.object_name(purpose));
    vec![
        format!(
            "CREATE VIEW IF NOT EXISTS {old} AS SELECT {} FROM {new}",
            columns.join(", ")
        ),
        format!(
            "CREATE TRIGGER IF NOT EXISTS {} INSTEAD OF INSERT ON {old} BEGIN \
             INSERT INTO {new} ({}) VALUES ({}); END",
            trigger("insert"),
            columns.join(", "),
            values.join(", ")
        ),
        format!(
            "CREATE TRIGGER IF NOT EXISTS {} INSTEAD OF UPDATE ON {old} BEGIN \
             UPDATE {new} SET {} WHERE {this_row}; END",
            trigger("update"),
            sets.join(", ")
        ),
        format!(
            "CREATE TRIGGER IF NOT EXISTS {} INSTEAD OF DELETE ON {old} BEGIN \
             DELETE FROM {new} WHERE {this_row}; END",
            trigger("delete")
        ),
    ]
}

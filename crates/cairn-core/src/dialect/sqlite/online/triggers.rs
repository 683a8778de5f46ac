//! The triggers that keep two application versions' columns equal.
//!
//! SQLite triggers cannot assign `NEW.x`, so each is an `AFTER` trigger that
//! updates its row again by the primary key (also right for `WITHOUT ROWID`
//! tables). The value expressions (`up`, `down`) are written over the
//! table's unqualified columns and evaluated in that `UPDATE`, where they
//! read the row as the statement left it, so they need no `NEW.` rewriting.
//! Every trigger is a no-op when fired again: its `WHEN` and the `UPDATE`'s
//! `WHERE` skip a row that already holds the value, so it is correct with
//! `PRAGMA recursive_triggers` on or off, and the other direction's trigger,
//! fired by this one's `UPDATE`, finds nothing to do.

use super::name;
use crate::operation::{Context, Step};

/// A pair of columns kept equal both ways (`rename_column`,
/// `change_column_type`): `new = up(row)`, `old = down(row)`.
pub(super) struct Pair<'a> {
    /// The table.
    pub table: &'a str,
    /// Its primary key columns.
    pub key: &'a [String],
    /// The column the old application version uses.
    pub old: &'a str,
    /// The column the new application version uses.
    pub new: &'a str,
    /// The new column's value from the row.
    pub up: &'a str,
    /// The old column's value from the row.
    pub down: &'a str,
}

/// The names of the triggers of [`pair`].
pub(super) fn pair_names(ctx: &Context<'_>) -> Vec<String> {
    ["insert", "old", "new"]
        .iter()
        .map(|purpose| ctx.object_name(purpose))
        .collect()
}

/// The key condition `k = NEW.k AND ...`.
fn this_row(key: &[String]) -> String {
    key.iter()
        .map(|k| format!("{0} = NEW.{0}", name(k)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// One step per trigger of the pair (ZERO-DOWNTIME.md §4): on INSERT, a row
/// that names the new column is a new writer's (old = down); else one that
/// names the old column is an old writer's (new = up). On UPDATE, only the
/// old column changed → new = up, only the new one → old = down, each unless
/// the other already holds that value.
pub(super) fn pair(ctx: &Context<'_>, p: &Pair<'_>) -> Vec<Step> {
    let (t, o, n) = (name(p.table), name(p.old), name(p.new));
    let row = this_row(p.key);
    let [insert, old, new] = <[String; 3]>::try_from(pair_names(ctx)).unwrap_or_default();
    let (up, down) = (p.up, p.down);
    let bodies = [
        (
            &insert,
            format!(
                "AFTER INSERT ON {t} WHEN NEW.{n} IS NOT NULL OR NEW.{o} IS NOT NULL BEGIN \
                 UPDATE {t} SET {o} = ({down}) WHERE {row} AND {n} IS NOT NULL AND {o} IS NOT ({down}); \
                 UPDATE {t} SET {n} = ({up}) WHERE {row} AND {n} IS NULL AND {o} IS NOT NULL; END"
            ),
            format!("old writers' inserts fill {}.{}, new writers' {}", p.table, p.new, p.old),
        ),
        (
            &old,
            format!(
                "AFTER UPDATE OF {o} ON {t} WHEN NEW.{o} IS NOT OLD.{o} AND NEW.{n} IS OLD.{n} BEGIN \
                 UPDATE {t} SET {n} = ({up}) WHERE {row} AND {o} IS NOT ({down}); END"
            ),
            format!("updates of {0}.{1} copied to {0}.{2}", p.table, p.old, p.new),
        ),
        (
            &new,
            format!(
                "AFTER UPDATE OF {n} ON {t} WHEN NEW.{n} IS NOT OLD.{n} AND NEW.{o} IS OLD.{o} BEGIN \
                 UPDATE {t} SET {o} = ({down}) WHERE {row} AND {n} IS NOT ({up}); END"
            ),
            format!("updates of {0}.{1} copied to {0}.{2}", p.table, p.new, p.old),
        ),
    ];
    bodies
        .into_iter()
        .map(|(trigger, body, what)| create(trigger, &body, what))
        .collect()
}

/// When the fill trigger of [`fill`] fires on UPDATE.
pub(super) enum OnUpdate {
    /// Never (`drop_column`: new code no longer writes the column).
    Never,
    /// When the statement left the column as it was (`add_column` with
    /// `up`: the value follows the columns it is computed from).
    Unchanged,
    /// When the statement set it to NULL (`set_not_null`).
    Null,
}

/// The triggers of a column filled from the row (`add_column` with `up`,
/// `drop_column` with `down`, `set_not_null`): on INSERT when the column is
/// NULL, and on UPDATE as `on_update` says.
pub(super) fn fill(
    ctx: &Context<'_>,
    table: &str,
    key: &[String],
    column: &str,
    value: &str,
    on_update: OnUpdate,
) -> Vec<Step> {
    let (t, c) = (name(table), name(column));
    let row = this_row(key);
    let mut steps = vec![create(
        &ctx.object_name("insert"),
        &format!(
            "AFTER INSERT ON {t} WHEN NEW.{c} IS NULL BEGIN \
             UPDATE {t} SET {c} = ({value}) WHERE {row} AND {c} IS NULL; END"
        ),
        format!("inserts without {table}.{column} fill it"),
    )];
    let update = match on_update {
        OnUpdate::Never => None,
        OnUpdate::Unchanged => Some((
            format!("NEW.{c} IS OLD.{c}"),
            format!("{c} IS NOT ({value})"),
            "updates that leave",
        )),
        OnUpdate::Null => Some((
            format!("NEW.{c} IS NULL"),
            format!("{c} IS NULL"),
            "updates that set NULL in",
        )),
    };
    if let Some((when, unless, what)) = update {
        steps.push(create(
            &ctx.object_name("update"),
            &format!(
                "AFTER UPDATE ON {t} WHEN {when} BEGIN \
                 UPDATE {t} SET {c} = ({value}) WHERE {row} AND {unless}; END"
            ),
            format!("{what} {table}.{column} fill it"),
        ));
    }
    steps
}

/// The names of the triggers of [`fill`].
pub(super) fn fill_names(ctx: &Context<'_>) -> Vec<String> {
    vec![ctx.object_name("insert"), ctx.object_name("update")]
}

fn create(trigger: &str, body: &str, what: String) -> Step {
    Step::new(
        format!("create trigger {trigger}: {what}"),
        format!("CREATE TRIGGER IF NOT EXISTS {} {body}", name(trigger)),
    )
    .locking()
}

/// `DROP TRIGGER IF EXISTS` for each of `names`.
pub(super) fn drop(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|t| format!("DROP TRIGGER IF EXISTS {}", name(t)))
        .collect()
}

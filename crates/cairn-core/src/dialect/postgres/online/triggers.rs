//! Cairn's sync triggers on PostgreSQL: one PL/pgSQL function per operation
//! and one `BEFORE INSERT OR UPDATE ... FOR EACH ROW` trigger calling it,
//! both named `cairn_<version>_<index>_<purpose>`.
//!
//! BEFORE row triggers run before PostgreSQL checks NOT NULL and CHECK
//! constraints, so a trigger that fills a NOT NULL old column for a new
//! writer makes the insert succeed without relaxing the constraint.
//!
//! Two kinds:
//! - [`sync`]: two columns kept equal in both directions (rename, type
//!   change), the direction read from what the statement changed
//!   (ZERO-DOWNTIME.md §4). An INSERT that gives the new column is a new
//!   writer's (the new column has no default while expanded, and old code
//!   does not know it), even when the old column got its default; one that
//!   leaves the new column NULL is an old writer's. An UPDATE that changed
//!   one column only recomputes the other, *unless* the other already
//!   holds that value's image: so the backfill's `SET new = up(old)` never
//!   rewrites `old` as `down(new)`, which may lose information, and the
//!   un-contract backfill symmetrically.
//! - [`fill`]: one column computed from the row for writers that do not know
//!   it (add_column's `up`, drop_column's `down`): on INSERT when it is NULL,
//!   on UPDATE when the statement left it alone and it still held the value
//!   computed from the old row (a value a new writer chose is kept).
//! - [`replace_null`]: set_not_null's `up` for a NULL any writer leaves.

use super::Target;
use crate::operation::Step;

/// The tag of the dollar-quoted function bodies.
const BODY: &str = "$cairn$";

/// A two-way sync between `old` and `new`; `up` and `down` read the row as
/// `NEW.<column>`.
pub(super) struct Sync<'a> {
    /// The old column.
    pub old: &'a str,
    /// The new column.
    pub new: &'a str,
    /// The new column's value from the row's old shape.
    pub up: String,
    /// The old column's value from the row's new shape.
    pub down: String,
}

/// The step that creates the function and trigger `name` for `sync`.
pub(super) fn sync(table: &Target, name: &str, sync: &Sync<'_>) -> Step {
    let (o, n) = (super::q(sync.old), super::q(sync.new));
    let (up, down) = (&sync.up, &sync.down);
    let body = format!(
        "BEGIN\n\
         \x20 IF TG_OP = 'INSERT' THEN\n\
         \x20   IF NEW.{n} IS NOT NULL THEN\n\
         \x20     IF NEW.{o} IS NULL OR NEW.{n} IS DISTINCT FROM ({up}) THEN NEW.{o} := {down}; END IF;\n\
         \x20   ELSIF NEW.{o} IS NOT NULL THEN\n\
         \x20     NEW.{n} := {up};\n\
         \x20   END IF;\n\
         \x20 ELSIF NEW.{o} IS DISTINCT FROM OLD.{o} AND NEW.{n} IS NOT DISTINCT FROM OLD.{n} THEN\n\
         \x20   IF NEW.{o} IS DISTINCT FROM ({down}) THEN NEW.{n} := {up}; END IF;\n\
         \x20 ELSIF NEW.{n} IS DISTINCT FROM OLD.{n} AND NEW.{o} IS NOT DISTINCT FROM OLD.{o} THEN\n\
         \x20   IF NEW.{n} IS DISTINCT FROM ({up}) THEN NEW.{o} := {down}; END IF;\n\
         \x20 END IF;\n\
         \x20 RETURN NEW;\n\
         END"
    );
    create(
        table,
        name,
        &body,
        &format!("UPDATE OF {o}, {n}"),
        &format!(
            "sync {}.{} and {}.{} both ways",
            table.key, sync.old, table.key, sync.new
        ),
    )
}

/// The step that creates the function and trigger `name` computing
/// `column` as `value_new` (over `NEW`) for writers that leave it out;
/// `value_old` is the same expression over `OLD`.
pub(super) fn fill(
    table: &Target,
    name: &str,
    column: &str,
    value_new: &str,
    value_old: &str,
) -> Step {
    let c = super::q(column);
    let body = format!(
        "BEGIN\n\
         \x20 IF TG_OP = 'INSERT' THEN\n\
         \x20   IF NEW.{c} IS NULL THEN NEW.{c} := {value_new}; END IF;\n\
         \x20 ELSIF NEW.{c} IS NOT DISTINCT FROM OLD.{c} \
                   AND (OLD.{c} IS NULL OR OLD.{c} IS NOT DISTINCT FROM ({value_old})) THEN\n\
         \x20   NEW.{c} := {value_new};\n\
         \x20 END IF;\n\
         \x20 RETURN NEW;\n\
         END"
    );
    create(
        table,
        name,
        &body,
        "UPDATE",
        &format!("fill {}.{column} for writers that leave it out", table.key),
    )
}

/// The step that creates the function and trigger `name` replacing a NULL
/// in `column` by `value_new` (over `NEW`) on every write.
pub(super) fn replace_null(table: &Target, name: &str, column: &str, value_new: &str) -> Step {
    let c = super::q(column);
    let body = format!(
        "BEGIN\n\
         \x20 IF NEW.{c} IS NULL THEN NEW.{c} := {value_new}; END IF;\n\
         \x20 RETURN NEW;\n\
         END"
    );
    create(
        table,
        name,
        &body,
        &format!("UPDATE OF {c}"),
        &format!("replace NULL in {}.{column} on every write", table.key),
    )
}

fn create(table: &Target, name: &str, body: &str, update: &str, what: &str) -> Step {
    let function = table.qualified(name);
    Step {
        what: format!("{what} (function and trigger {name})"),
        statements: vec![
            format!(
                "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS {BODY}\n{body}\n{BODY}"
            ),
            format!(
                "CREATE TRIGGER {} BEFORE INSERT OR {update} ON {} FOR EACH ROW EXECUTE FUNCTION {function}()",
                super::q(name),
                table.sql
            ),
        ],
        ..Step::default()
    }
    .done_if(super::guards::trigger_exists(table, name))
    .in_transaction()
    .locking()
}

/// The statements that drop trigger `name` and its function, each `IF EXISTS`.
pub(super) fn drop(table: &Target, name: &str) -> Vec<String> {
    vec![
        format!("DROP TRIGGER IF EXISTS {} ON {}", super::q(name), table.sql),
        format!("DROP FUNCTION IF EXISTS {}()", table.qualified(name)),
    ]
}

/// A step that drops trigger `name` and its function.
pub(super) fn drop_step(table: &Target, name: &str) -> Step {
    Step {
        what: format!("drop trigger and function {name} on {}", table.key),
        statements: drop(table, name),
        ..Step::default()
    }
    .done_if(super::guards::trigger_missing(table, name))
    .in_transaction()
    .locking()
}

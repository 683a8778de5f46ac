//! The catalog queries that make each step idempotent ([`Step::done_if`]):
//! each returns a row when the step's effect is already there.
//!
//! Tables are found by `to_regclass`, which gives NULL (so no row) for a
//! table that does not exist rather than an error.
//!
//! [`Step::done_if`]: crate::operation::Step::done_if

use super::Target;

/// The `pg_attribute` row of `column`, with `extra` conditions.
fn attribute(table: &Target, column: &str, extra: &str) -> String {
    format!(
        "SELECT 1 FROM pg_attribute WHERE attrelid = {} AND attname = {} \
         AND attnum > 0 AND NOT attisdropped{extra}",
        table.regclass,
        super::lit(column)
    )
}

/// A row when `column` exists.
pub(super) fn column_exists(table: &Target, column: &str) -> String {
    attribute(table, column, "")
}

/// A row when `column` does not exist.
pub(super) fn column_missing(table: &Target, column: &str) -> String {
    format!(
        "SELECT 1 WHERE NOT EXISTS ({})",
        column_exists(table, column)
    )
}

/// A row when `column` is NOT NULL (or is gone).
pub(super) fn not_null_or_missing(table: &Target, column: &str) -> String {
    format!(
        "SELECT 1 WHERE NOT EXISTS ({})",
        attribute(table, column, " AND NOT attnotnull")
    )
}

/// A row when `column` accepts NULL (or is gone).
pub(super) fn nullable_or_missing(table: &Target, column: &str) -> String {
    format!(
        "SELECT 1 WHERE NOT EXISTS ({})",
        attribute(table, column, " AND attnotnull")
    )
}

/// A row when trigger `name` exists on the table.
pub(super) fn trigger_exists(table: &Target, name: &str) -> String {
    format!(
        "SELECT 1 FROM pg_trigger WHERE tgrelid = {} AND tgname = {}",
        table.regclass,
        super::lit(name)
    )
}

/// A row when trigger `name` does not exist on the table.
pub(super) fn trigger_missing(table: &Target, name: &str) -> String {
    format!(
        "SELECT 1 WHERE NOT EXISTS ({})",
        trigger_exists(table, name)
    )
}

/// A row when neither trigger `name` nor `column` exists.
pub(super) fn trigger_and_column_gone(table: &Target, name: &str, column: &str) -> String {
    format!(
        "SELECT 1 WHERE NOT EXISTS ({}) AND NOT EXISTS ({})",
        trigger_exists(table, name),
        column_exists(table, column)
    )
}

/// A row when index `name` (in the table's schema) exists and is valid.
pub(super) fn valid_index_exists(table: &Target, name: &str) -> String {
    format!(
        "SELECT 1 FROM pg_index WHERE indexrelid = {} AND indisvalid",
        table.regclass_of(name)
    )
}

/// A row when index `name` does not exist.
pub(super) fn index_missing(table: &Target, name: &str) -> String {
    format!("SELECT 1 WHERE {} IS NULL", table.regclass_of(name))
}

/// The `pg_constraint` row of constraint `name` on the table.
fn constraint(table: &Target, name: &str, extra: &str) -> String {
    format!(
        "SELECT 1 FROM pg_constraint WHERE conrelid = {} AND conname = {}{extra}",
        table.regclass,
        super::lit(name)
    )
}

/// A row when constraint `name` exists on the table.
pub(super) fn constraint_exists(table: &Target, name: &str) -> String {
    constraint(table, name, "")
}

/// A row when constraint `name` does not exist on the table.
pub(super) fn constraint_missing(table: &Target, name: &str) -> String {
    format!(
        "SELECT 1 WHERE NOT EXISTS ({})",
        constraint(table, name, "")
    )
}

/// A row when constraint `name` is validated (or does not exist).
pub(super) fn constraint_validated_or_missing(table: &Target, name: &str) -> String {
    format!(
        "SELECT 1 WHERE NOT EXISTS ({})",
        constraint(table, name, " AND NOT convalidated")
    )
}

/// A row when the relation `name` (a table or view, as a quoted, possibly
/// qualified name) exists.
pub(super) fn relation_exists(quoted: &str) -> String {
    format!(
        "SELECT 1 WHERE to_regclass({}) IS NOT NULL",
        super::lit(quoted)
    )
}

/// A row when the relation `name` does not exist.
pub(super) fn relation_missing(quoted: &str) -> String {
    format!("SELECT 1 WHERE to_regclass({}) IS NULL", super::lit(quoted))
}

/// The default of `column`, as PostgreSQL prints it, compared with `extra`.
fn default_of(table: &Target, column: &str, extra: &str) -> String {
    format!(
        "SELECT 1 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum \
         WHERE d.adrelid = {} AND a.attname = {}{extra}",
        table.regclass,
        super::lit(column)
    )
}

/// A row when `column`'s default is `default` (as introspected).
pub(super) fn default_is(table: &Target, column: &str, default: &str) -> String {
    default_of(
        table,
        column,
        &format!(
            " AND pg_get_expr(d.adbin, d.adrelid) = {}",
            super::lit(default)
        ),
    )
}

/// A row when `column` has no default (or is gone).
pub(super) fn no_default(table: &Target, column: &str) -> String {
    format!(
        "SELECT 1 WHERE NOT EXISTS ({})",
        default_of(table, column, "")
    )
}

/// A row when no sequence is owned by `column` (a `serial`'s), or it is gone.
pub(super) fn no_sequence_owned_by(table: &Target, column: &str) -> String {
    format!(
        "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM pg_depend d \
         JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
         JOIN pg_class c ON c.oid = d.objid AND c.relkind = 'S' \
         WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass \
           AND d.deptype = 'a' AND d.refobjid = {} AND a.attname = {})",
        table.regclass,
        super::lit(column)
    )
}

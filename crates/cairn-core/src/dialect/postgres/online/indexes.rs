//! Index builds without blocking writes: `CREATE INDEX CONCURRENTLY`,
//! outside a transaction, after `DROP INDEX CONCURRENTLY IF EXISTS` of what
//! a killed or failed build left (an INVALID index under the same name);
//! skipped once a valid index of that name exists. Not `.locking()`: the
//! SHARE UPDATE EXCLUSIVE lock it takes lets reads and writes go on, and a
//! short lock timeout would only make it fail while it waits for older
//! transactions to end.

use super::{guards, q, sql, Target};
use crate::operation::Step;
use crate::schema::{split_order, Index};

/// The step that builds index `name` with `definition` (a `CREATE INDEX
/// CONCURRENTLY`).
pub(super) fn build(table: &Target, name: &str, definition: String, what: String) -> Step {
    Step {
        what,
        statements: vec![
            format!(
                "DROP INDEX CONCURRENTLY IF EXISTS {}",
                table.qualified(name)
            ),
            definition,
        ],
        done_if: Some(guards::valid_index_exists(table, name)),
        ..Step::default()
    }
}

/// The step that drops index `name` without blocking writes.
pub(super) fn drop(table: &Target, name: &str) -> Step {
    Step::new(
        format!("drop index {name} (concurrently)"),
        format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}",
            table.qualified(name)
        ),
    )
    .done_if(guards::index_missing(table, name))
}

/// `CREATE INDEX CONCURRENTLY name` like `index` as introspected, each key
/// and the predicate passed through `map` (which renames a column).
pub(super) fn definition(
    table: &Target,
    name: &str,
    index: &Index,
    map: impl Fn(&str) -> String,
) -> String {
    let keys = index
        .columns
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let (expression, order) = split_order(key);
            let expression = map(expression);
            let mut out = if sql::is_one_name(&expression) {
                expression
            } else {
                format!("({expression})")
            };
            if let Some(option) = index.key_options.get(i).filter(|o| !o.is_empty()) {
                out.push(' ');
                out.push_str(&option.replacen("collate ", "COLLATE ", 1));
            }
            out.push_str(&order.to_uppercase());
            out
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = format!(
        "CREATE {}INDEX CONCURRENTLY {} ON {}",
        if index.unique { "UNIQUE " } else { "" },
        q(name),
        table.sql
    );
    if let Some(method) = &index.method {
        out.push_str(&format!(" USING {method}"));
    }
    out.push_str(&format!(" ({keys})"));
    if let Some(predicate) = &index.predicate {
        out.push_str(&format!(" WHERE {}", map(predicate)));
    }
    out
}

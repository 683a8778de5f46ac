//! The table rebuild of SQLite's documented procedure for the changes
//! `ALTER TABLE` cannot make (lang_altertable.html, "Making Other Kinds Of
//! Table Schema Changes"): a NOT NULL, default, check or foreign key
//! changed, a column moved. Written once here and used by every operation.
//!
//! The steps: a check that the table holds nothing a rebuild would lose;
//! `PRAGMA foreign_keys = OFF` (outside any transaction: inside one it is a
//! no-op, so `DROP TABLE` would fire the children's `ON DELETE`); one
//! transaction that creates the new table under a Cairn name, copies the
//! rows, drops the old table, renames the new one, recreates the indexes and
//! runs `foreign_key_check` on it; `PRAGMA foreign_keys = ON`.
//!
//! The rename runs under `legacy_alter_table = ON`, so that views naming
//! the table (which `DROP TABLE` leaves behind) do not make it fail and
//! other tables' foreign keys keep the name they say.
//!
//! The new table is written from the [`Table`] model, which holds no
//! triggers and no table options: a table with triggers other than the
//! operation's own, `AUTOINCREMENT`, `WITHOUT ROWID` or `STRICT` is refused
//! by the first step, before anything changed.

use super::{literal, name};
use crate::engine::Engine;
use crate::operation::{Context, Step};
use crate::schema::{Snapshot, Table};

/// One rebuild of `table` into `target`.
pub(super) struct Rebuild<'a> {
    /// The table rebuilt.
    pub table: &'a str,
    /// Its shape afterwards, indexes included.
    pub target: &'a Table,
    /// Its shape when the rebuild runs. A column or index that is in
    /// neither this nor `target` would be lost (another operation of the
    /// migration changed the table, or someone outside Cairn did), so the
    /// rebuild refuses to run.
    pub source: &'a Table,
    /// For each column of `target`, in its order, the value copied: an
    /// expression over the current row's columns.
    pub sources: Vec<String>,
    /// Statements run first, in the rebuild's transaction (dropping the
    /// operation's triggers, say).
    pub first: Vec<String>,
    /// Statements run last, in the rebuild's transaction (creating the
    /// operation's triggers, so that no write lands between the new table
    /// and its triggers).
    pub then: Vec<String>,
    /// Returns a row when the table has the target shape already.
    pub done_if: String,
    /// What it is for, as the steps say it.
    pub why: &'a str,
}

/// The steps of a rebuild (see the module doc).
pub(super) fn steps(ctx: &Context<'_>, r: Rebuild<'_>) -> Vec<Step> {
    let t = name(r.table);
    let temporary = ctx.object_name("rebuild");
    let mut statements = r.first;
    statements.push(format!("DROP TABLE IF EXISTS {}", name(&temporary)));
    statements.push("PRAGMA legacy_alter_table = ON".to_owned());
    let (create, indexes) = table_sql(&temporary, r.table, r.target);
    statements.push(create);
    let columns: Vec<String> = r.target.column_order.iter().map(|c| name(c)).collect();
    statements.push(format!(
        "INSERT INTO {} ({}) SELECT {} FROM {t}",
        name(&temporary),
        columns.join(", "),
        r.sources.join(", ")
    ));
    statements.push(format!("DROP TABLE {t}"));
    statements.push(format!("ALTER TABLE {} RENAME TO {t}", name(&temporary)));
    statements.push("PRAGMA legacy_alter_table = OFF".to_owned());
    statements.extend(indexes);
    statements.extend(r.then);
    let own = ctx.object_name("");
    let blockers = format!(
        "SELECT 'trigger ' || name || ' on {table} would be dropped by the table rebuild: drop it \
         before this migration and create it again after' FROM sqlite_master \
         WHERE type = 'trigger' AND tbl_name = {lit} COLLATE NOCASE AND substr(name, 1, {len}) <> {own} \
         UNION ALL SELECT 'table {table} has AUTOINCREMENT, WITHOUT ROWID or STRICT, which the table \
         rebuild would lose: change it with raw_sql' FROM sqlite_master \
         WHERE type = 'table' AND name = {lit} COLLATE NOCASE AND (lower(sql) LIKE '%autoincrement%' \
         OR lower(rtrim(sql)) LIKE '%rowid' OR lower(rtrim(sql)) LIKE '%strict') \
         UNION ALL SELECT 'column ' || name || ' of {table} would be lost by the table rebuild, \
         which was compiled without it: run this operation in a migration of its own' \
         FROM pragma_table_info({lit}) WHERE lower(name) NOT IN ({columns}) \
         UNION ALL SELECT 'index ' || name || ' of {table} would be lost by the table rebuild, \
         which was compiled without it: run this operation in a migration of its own' \
         FROM sqlite_master WHERE type = 'index' AND tbl_name = {lit} COLLATE NOCASE \
         AND sql IS NOT NULL AND lower(name) NOT IN ({indexes})",
        columns = known(r.source.columns.keys().chain(r.target.columns.keys())),
        indexes = known(r.source.indexes.keys().chain(r.target.indexes.keys())),
        table = r.table.replace('\'', "''"),
        lit = literal(r.table),
        len = own.len(),
        own = literal(&own),
    );
    vec![
        Step {
            what: format!("check that table {} can be rebuilt ({})", r.table, r.why),
            done_if: Some(r.done_if.clone()),
            must_be_empty: Some(blockers),
            ..Step::default()
        },
        Step::new(
            "foreign keys off for the table rebuild",
            "PRAGMA foreign_keys = OFF",
        ),
        Step {
            what: format!("rebuild table {} ({})", r.table, r.why),
            statements,
            transaction: true,
            done_if: Some(r.done_if),
            lock_timeout: true,
            rows_of: Some(format!("SELECT count(*) FROM {t}")),
            must_be_empty: Some(format!(
                "SELECT * FROM pragma_foreign_key_check({})",
                literal(r.table)
            )),
        },
        Step::new(
            "foreign keys on after the table rebuild",
            "PRAGMA foreign_keys = ON",
        ),
    ]
}

/// `names` as a list of lowercase literals for `IN (...)`.
fn known<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let mut names: Vec<String> = names.map(|n| literal(&n.to_lowercase())).collect();
    names.sort();
    names.dedup();
    // SQLite accepts an empty list: `x NOT IN ()` is true.
    names.join(", ")
}

/// A query returning a row when the `CREATE TABLE` text of `table` holds
/// `text` (compared in lower case).
pub(super) fn definition_has(table: &str, text: &str) -> String {
    format!(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = {} COLLATE NOCASE \
         AND instr(lower(sql), {}) > 0",
        literal(table),
        literal(&text.to_lowercase())
    )
}

/// The phases of a constraint added by a rebuild at expand (`add_check`,
/// `add_foreign_key`: SQLite cannot add one to a table that exists), whose
/// copy validates it, and removed by a rebuild at abort. `marker` is the
/// text of `CREATE TABLE` that shows the constraint is there.
pub(super) fn constraint_phases(
    ctx: &Context<'_>,
    table: &str,
    before: &Table,
    target: &Table,
    marker: &str,
    what: &str,
) -> crate::operation::Phases {
    let present = definition_has(table, marker);
    let copy = |t: &Table| t.column_order.iter().map(|c| name(c)).collect();
    crate::operation::Phases {
        expand: steps(
            ctx,
            Rebuild {
                source: before,
                table,
                target,
                sources: copy(target),
                first: Vec::new(),
                then: Vec::new(),
                done_if: present.clone(),
                why: &format!("add {what}, checked against every row as they are copied"),
            },
        ),
        abort: steps(
            ctx,
            Rebuild {
                source: target,
                table,
                target: before,
                sources: copy(before),
                first: Vec::new(),
                then: Vec::new(),
                done_if: format!("SELECT 1 WHERE NOT EXISTS ({present})"),
                why: &format!("without {what}"),
            },
        ),
        ..Default::default()
    }
}

/// `CREATE TABLE temporary` with the shape of `target`, and the `CREATE
/// INDEX` statements of its indexes on `table` (run after the rename).
fn table_sql(temporary: &str, table: &str, target: &Table) -> (String, Vec<String>) {
    let dialect = crate::dialect::for_engine(Engine::Sqlite);
    let render = |key: &str, shape: Table| {
        let mut snapshot = Snapshot::new(Engine::Sqlite);
        snapshot.tables.insert(key.to_owned(), shape);
        let text = snapshot.to_sql_for(dialect);
        let body = text
            .split_once('\n')
            .map_or("", |(_, rest)| rest)
            .to_owned();
        body.split(";\n")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let mut bare = target.clone();
    bare.indexes.clear();
    let create = render(temporary, bare).remove(0);
    let indexes = render(table, target.clone()).split_off(1);
    (create, indexes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, Index};

    #[test]
    fn the_table_and_its_indexes_are_written_from_the_model() {
        let mut t = Table::default();
        for (c, nullable) in [("id", false), ("Name", true)] {
            t.column_order.push(c.to_owned());
            t.columns.insert(
                c.to_owned(),
                Column {
                    data_type: "integer".to_owned(),
                    nullable,
                    ..Column::default()
                },
            );
        }
        t.indexes.insert(
            "t_name".to_owned(),
            Index {
                columns: vec!["Name".to_owned()],
                ..Index::default()
            },
        );
        let (create, indexes) = table_sql("cairn_1_0_rebuild", "t", &t);
        assert_eq!(
            create,
            "CREATE TABLE cairn_1_0_rebuild (\n    id integer NOT NULL,\n    \"Name\" integer\n)"
        );
        assert_eq!(indexes, ["CREATE INDEX t_name ON t (\"Name\")"]);
    }
}

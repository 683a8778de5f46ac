//! The shape `rename_column` and `change_column_type` share: a new column
//! beside the old one, kept equal both ways by triggers, that takes the old
//! one's place at contract.
//!
//! - expand: when the old column is NOT NULL without a default, relax it by
//!   a rebuild (SQLite checks NOT NULL before `AFTER` triggers run, so a new
//!   writer's insert that omits it would fail); add the new column (nullable,
//!   no default, so that NULL means "not written"); its copies of the
//!   indexes and unique constraints that involve the old column, under
//!   Cairn names; the triggers.
//! - contract: the new column takes the old one's place, constraints and
//!   index names. When the old column was not relaxed and keeps its type,
//!   without a rebuild: in one transaction, copy the new values to the old
//!   column, drop the triggers, the copied indexes and the new column, and
//!   `RENAME COLUMN` the old one (SQLite rewrites its indexes, constraints,
//!   triggers and views). Otherwise a rebuild into that shape.
//! - abort: drop the triggers, the copied indexes and the new column; a
//!   rebuild into the table as it was when the old column was relaxed.
//! - uncontract: the expanded shape again, with the triggers created in the
//!   same transaction (the new application version keeps writing): in place
//!   when contract was (the inverse `RENAME COLUMN`, the new column added and
//!   filled), else a rebuild that fills the old column by `down` as it
//!   copies. A rebuild is refused, before anything changed, for a table with
//!   triggers of its own, `AUTOINCREMENT`, `WITHOUT ROWID` or `STRICT`, and
//!   a contract by rebuild for a column other tables' foreign keys name.

use super::{column_absent, column_exists, literal, name, names, rebuild, triggers};
use crate::backfill::{Action, Backfill};
use crate::operation::{Context, Phases, Step, Versions};
use crate::schema::{Column, Index, Table};

/// A column duplicated under a new name (and maybe a new type).
pub(super) struct Duplicate<'a> {
    /// The operation's context.
    pub ctx: &'a Context<'a>,
    /// The table, as before expand.
    pub before: &'a Table,
    /// Its name.
    pub table: &'a str,
    /// Its primary key.
    pub key: &'a [String],
    /// The old column.
    pub old: &'a str,
    /// The new column.
    pub new: &'a str,
    /// The new column's type (the old one's for a rename).
    pub data_type: String,
    /// The new value from the row.
    pub up: String,
    /// The old value from the row.
    pub down: String,
    /// `migration.toml:<line>`, for the backfills.
    pub location: String,
}

impl Duplicate<'_> {
    fn old_column(&self) -> &Column {
        &self.before.columns[self.old]
    }

    /// Whether expand relaxes the old column's NOT NULL.
    fn relaxed(&self) -> bool {
        let old = self.old_column();
        !old.nullable && old.default.is_none()
    }

    /// Whether contract can rename the old column in place of the new one
    /// (a rename of a column that was not relaxed: same type, same values).
    fn in_place(&self) -> bool {
        !self.relaxed()
            && self
                .data_type
                .eq_ignore_ascii_case(&self.old_column().data_type)
            && self.up == name(self.old)
            && self.down == name(self.new)
    }

    /// The new column while expanded: the new type, the old collation,
    /// nullable, no default.
    fn new_column(&self) -> Column {
        Column {
            data_type: self.data_type.clone(),
            nullable: true,
            collation: self.old_column().collation.clone(),
            ..Column::default()
        }
    }

    /// The copies on the new column of the indexes and unique constraints
    /// that involve the old one, under Cairn names.
    fn carried(&self) -> Vec<(String, Index)> {
        let rename = |keys: &[String]| -> Vec<String> {
            keys.iter()
                .map(|k| names::rename_key(k, self.old, self.new))
                .collect()
        };
        let mut carried = Vec::new();
        for index in self.before.indexes.values() {
            let involved = index.columns.iter().any(|k| names::mentions(k, self.old))
                || index
                    .predicate
                    .as_deref()
                    .is_some_and(|p| names::mentions(p, self.old));
            if involved {
                carried.push(Index {
                    columns: rename(&index.columns),
                    predicate: index
                        .predicate
                        .as_deref()
                        .map(|p| names::rename(p, self.old, self.new)),
                    ..index.clone()
                });
            }
        }
        for columns in self.before.unique_constraints.values() {
            if columns.iter().any(|c| c.eq_ignore_ascii_case(self.old)) {
                carried.push(Index {
                    columns: rename(columns),
                    unique: true,
                    ..Index::default()
                });
            }
        }
        carried
            .into_iter()
            .enumerate()
            .map(|(i, index)| (self.ctx.object_name(&format!("index{i}")), index))
            .collect()
    }

    /// The table with the old column relaxed, as expand leaves it before
    /// adding the new column.
    fn relaxed_table(&self) -> Table {
        let mut table = self.before.clone();
        if let Some(old) = table.columns.get_mut(self.old) {
            old.nullable = true;
        }
        table
    }

    /// The table while expanded.
    fn expanded_table(&self) -> Table {
        let mut table = if self.relaxed() {
            self.relaxed_table()
        } else {
            self.before.clone()
        };
        table.columns.insert(self.new.to_owned(), self.new_column());
        table.column_order.push(self.new.to_owned());
        table.indexes.extend(self.carried());
        table
    }

    /// The table after contract: the new column in the old one's place,
    /// with its constraints, default and indexes.
    fn final_table(&self) -> Table {
        let (old, new) = (self.old, self.new);
        let rename = |keys: &[String]| -> Vec<String> {
            keys.iter()
                .map(|k| names::rename_key(k, old, new))
                .collect()
        };
        let b = self.before;
        let mut table = b.clone();
        table.column_order = b
            .column_order
            .iter()
            .map(|c| if c == old { new.to_owned() } else { c.clone() })
            .collect();
        table.columns.remove(old);
        table.columns.insert(
            new.to_owned(),
            Column {
                data_type: self.data_type.clone(),
                ..self.old_column().clone()
            },
        );
        for index in table.indexes.values_mut() {
            index.columns = rename(&index.columns);
            index.predicate = index
                .predicate
                .as_deref()
                .map(|p| names::rename(p, old, new));
        }
        table.unique_constraints = b
            .unique_constraints
            .values()
            .map(|columns| {
                let columns = rename(columns);
                (format!("unique ({})", columns.join(", ")), columns)
            })
            .collect();
        table.checks = b
            .checks
            .iter()
            .map(|(key, check)| {
                let renamed = names::rename(check, old, new);
                let key = if key == check {
                    renamed.clone()
                } else {
                    key.clone()
                };
                (key, renamed)
            })
            .collect();
        for fk in table.foreign_keys.values_mut() {
            fk.columns = rename(&fk.columns);
        }
        table
    }

    fn backfill(&self, set: String, filter: String) -> Backfill {
        Backfill {
            table: self.table.to_owned(),
            action: Action::Sql {
                set,
                filter: Some(filter),
                overrides: Default::default(),
            },
            batch: super::batch(),
            location: self.location.clone(),
        }
    }

    fn sync_triggers(&self) -> Vec<Step> {
        triggers::pair(
            self.ctx,
            &triggers::Pair {
                table: self.table,
                key: self.key,
                old: self.old,
                new: self.new,
                up: &self.up,
                down: &self.down,
            },
        )
    }

    /// The phases.
    pub(super) fn phases(&self) -> Phases {
        let (t, o, n) = (name(self.table), name(self.old), name(self.new));
        let (table, old, new) = (self.table, self.old, self.new);
        let trigger_names = triggers::pair_names(self.ctx);
        let carried = self.carried();
        let drop_carried: Vec<String> = carried
            .iter()
            .map(|(index, _)| format!("DROP INDEX IF EXISTS {}", name(index)))
            .collect();
        let old_nullable = format!("{} AND \"notnull\" = 0", column_exists(table, old));

        let mut expand = Vec::new();
        if !self.in_place() {
            expand.push(Step {
                what: format!("check that no other table references {table}.{old}"),
                done_if: Some(column_exists(table, new)),
                must_be_empty: Some(format!(
                    "SELECT 'foreign key of ' || m.name || ' references {table}.{old}, \
                     which the table rebuild at contract cannot carry over to {table}.{new}: \
                     change it with raw_sql' FROM sqlite_master m, pragma_foreign_key_list(m.name) fk \
                     WHERE m.type = 'table' AND fk.\"table\" = {} COLLATE NOCASE \
                     AND fk.\"to\" = {} COLLATE NOCASE",
                    literal(table),
                    literal(old),
                )),
                ..Step::default()
            });
        }
        if self.relaxed() {
            let target = self.relaxed_table();
            expand.extend(rebuild::steps(
                self.ctx,
                rebuild::Rebuild {
                    source: self.before,
                    table,
                    sources: copy_by_name(&target),
                    target: &target,
                    first: Vec::new(),
                    then: Vec::new(),
                    done_if: old_nullable.clone(),
                    why: &format!("{table}.{old} accepts NULL while new writers omit it"),
                },
            ));
        }
        let new_column = self.new_column();
        let mut add = format!("ALTER TABLE {t} ADD COLUMN {n} {}", new_column.data_type);
        if let Some(collation) = &new_column.collation {
            add.push_str(&format!(" COLLATE {}", name(collation)));
        }
        expand.push(
            Step::new(format!("add column {table}.{new}"), add.clone())
                .done_if(column_exists(table, new))
                .locking(),
        );
        let expanded = self.expanded_table();
        expand.extend(
            carried
                .iter()
                .map(|(index, shape)| create_index(table, &expanded, index, shape)),
        );
        expand.extend(self.sync_triggers());

        let final_table = self.final_table();
        let contracted = column_absent(table, old);
        let mut first = triggers::drop(&trigger_names);
        let contract = if !self.in_place() {
            rebuild::steps(
                self.ctx,
                rebuild::Rebuild {
                    source: &expanded,
                    table,
                    sources: copy_by_name(&final_table),
                    target: &final_table,
                    first,
                    then: Vec::new(),
                    done_if: contracted.clone(),
                    why: &format!("{table}.{new} takes the place of {table}.{old}"),
                },
            )
        } else {
            first.push("PRAGMA legacy_alter_table = OFF".to_owned());
            first.push(format!("UPDATE {t} SET {o} = {n} WHERE {o} IS NOT {n}"));
            first.extend(drop_carried.iter().cloned());
            first.push(format!("ALTER TABLE {t} DROP COLUMN {n}"));
            first.push(format!("ALTER TABLE {t} RENAME COLUMN {o} TO {n}"));
            vec![Step {
                what: format!("{table}.{new} takes the place of {table}.{old}"),
                statements: first,
                transaction: true,
                done_if: Some(contracted),
                lock_timeout: true,
                rows_of: Some(format!("SELECT count(*) FROM {t}")),
                must_be_empty: None,
            }]
        };

        let mut abort = vec![Step {
            what: format!("drop the triggers that sync {table}.{old} and {table}.{new}"),
            statements: triggers::drop(&trigger_names),
            ..Step::default()
        }
        .locking()];
        if self.relaxed() {
            abort.extend(rebuild::steps(
                self.ctx,
                rebuild::Rebuild {
                    source: &expanded,
                    table,
                    sources: copy_by_name(self.before),
                    target: self.before,
                    first: triggers::drop(&trigger_names),
                    then: Vec::new(),
                    done_if: format!(
                        "{} AND NOT EXISTS ({old_nullable})",
                        column_absent(table, new)
                    ),
                    why: &format!("{table}.{old} NOT NULL again, without {table}.{new}"),
                },
            ));
        } else {
            let mut statements = drop_carried;
            statements.push(format!("ALTER TABLE {t} DROP COLUMN {n}"));
            abort.push(Step {
                what: format!("drop column {table}.{new} and its indexes"),
                statements,
                transaction: true,
                done_if: Some(column_absent(table, new)),
                lock_timeout: true,
                rows_of: Some(format!("SELECT count(*) FROM {t}")),
                must_be_empty: None,
            });
        }

        let sources = expanded
            .column_order
            .iter()
            .map(|c| {
                if c == old {
                    format!("({})", self.down)
                } else {
                    name(c)
                }
            })
            .collect();
        let triggers_sql: Vec<String> = self
            .sync_triggers()
            .into_iter()
            .flat_map(|step| step.statements)
            .collect();
        let uncontract = if self.in_place() {
            // The inverse of the in-place contract, in one transaction: the
            // new application version never sees the new column empty, nor
            // writes it without the triggers.
            let mut statements = vec![
                "PRAGMA legacy_alter_table = OFF".to_owned(),
                format!("ALTER TABLE {t} RENAME COLUMN {n} TO {o}"),
                add.clone(),
                format!("UPDATE {t} SET {n} = {o}"),
            ];
            statements.extend(carried.iter().map(|(index, shape)| {
                create_index(table, &expanded, index, shape)
                    .statements
                    .remove(0)
            }));
            statements.extend(triggers_sql);
            vec![Step {
                what: format!("{table}.{old} back for the old application version"),
                statements,
                transaction: true,
                done_if: Some(column_exists(table, old)),
                lock_timeout: true,
                rows_of: Some(format!("SELECT count(*) FROM {t}")),
                must_be_empty: None,
            }]
        } else {
            rebuild::steps(
                self.ctx,
                rebuild::Rebuild {
                    source: &final_table,
                    table,
                    sources,
                    target: &expanded,
                    first: Vec::new(),
                    then: triggers_sql,
                    done_if: column_exists(table, old),
                    why: &format!("{table}.{old} back for the old application version"),
                },
            )
        };

        Phases {
            expand,
            backfill: vec![self.backfill(
                format!("{n} = ({})", self.up),
                format!("{n} IS NULL AND {o} IS NOT NULL"),
            )],
            contract,
            abort,
            uncontract,
            uncontract_backfill: vec![self.backfill(
                format!("{o} = ({})", self.down),
                format!("{o} IS NULL AND {n} IS NOT NULL"),
            )],
            versions: Versions {
                old: vec![format!("{table}.{old}")],
                new: vec![format!("{table}.{new}")],
            },
            unchecked: false,
        }
    }
}

/// Each column of `target` copied from the column of the same name.
pub(super) fn copy_by_name(target: &Table) -> Vec<String> {
    target.column_order.iter().map(|c| name(c)).collect()
}

/// `CREATE INDEX IF NOT EXISTS` of a Cairn index, guarded by its name.
pub(super) fn create_index(table: &str, shape: &Table, index_name: &str, index: &Index) -> Step {
    let keys: Vec<String> = index
        .columns
        .iter()
        .map(|k| {
            let (key, order) = match k.strip_suffix(" desc") {
                Some(key) => (key, " DESC"),
                None => (k.as_str(), ""),
            };
            if shape.columns.contains_key(key) {
                format!("{}{order}", name(key))
            } else {
                format!("{key}{order}")
            }
        })
        .collect();
    let mut sql = format!(
        "CREATE {}INDEX IF NOT EXISTS {} ON {} ({})",
        if index.unique { "UNIQUE " } else { "" },
        name(index_name),
        name(table),
        keys.join(", ")
    );
    if let Some(predicate) = &index.predicate {
        sql.push_str(&format!(" WHERE {predicate}"));
    }
    Step::new(format!("create index {index_name} on {table}"), sql)
        .done_if(format!(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = {}",
            literal(index_name)
        ))
        .locking()
}

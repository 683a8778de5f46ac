//! `rename_column`, and `change_column_type`, which is the same dual-column
//! change with `up`/`down` expressions and a new type: the old column `o`
//! and the new column `n` both exist under their final names while
//! `expanded`, kept equal by two-way triggers.
//!
//! What each phase leaves (every step guarded, so each phase can be run
//! again from any point, and abort runs from any shape expand or
//! un-contract left):
//!
//! - expand: `n` added nullable, without default (instant); on MySQL `o`
//!   relaxed to NULL when it is NOT NULL (NOT NULL is checked there before
//!   triggers run, and new writers omit `o`); the two triggers; each index
//!   on `o` recreated on `n` as `cairn_<v>_<i>_ix<k>`, each foreign key as
//!   `cairn_<v>_<i>_fk<k>`.
//! - contract: triggers dropped; `n` restated with `o`'s NOT NULL, default,
//!   `ON UPDATE`, comment and position; `o`'s indexes and foreign keys
//!   dropped, then `o`; the carried indexes renamed to the original names,
//!   the foreign keys re-added under them.
//! - abort: triggers, carried indexes and foreign keys dropped; the original
//!   ones back on `o`; `o` restated exactly as before; `n` dropped.
//! - un-contract: `o` re-added nullable; `n` without default (and nullable on
//!   MySQL), so old writers that omit it are told apart; triggers; indexes
//!   and foreign keys on `o` under cairn names.
//!
//! Check constraints over `o` are refused: MySQL adds a CHECK only with
//! `ALGORITHM=COPY`.

use super::triggers::{self, qualify, substitute};
use super::{absent, backfill, column, needs_primary_key, Restated, Sql, INPLACE};
use crate::operation::{Context, Phases, Step, Versions};
use crate::schema::{Column, ForeignKey, Index, Table};

/// A dual-column change, checked against the table.
pub(super) struct Dual<'a> {
    before: &'a Table,
    table: &'a str,
    old: &'a str,
    new: &'a str,
    old_column: &'a Column,
    /// The new column's type.
    new_type: String,
    /// The new column's collation (a rename keeps the old one's).
    new_collation: Option<String>,
    /// Whether `o`'s default is carried onto `n` (a rename: yes; a type
    /// change: the old default may not be a value of the new type).
    carry_default: bool,
    /// `n` from the row.
    up: String,
    /// `o` from the row.
    down: String,
}

impl<'a> Dual<'a> {
    /// `rename_column`: the same type, `up` = `down` = the other column.
    pub fn rename(
        before: &'a Table,
        table: &'a str,
        old: &'a str,
        new: &'a str,
    ) -> Result<Self, String> {
        let old_column = column(before, table, old)?;
        let sql_old = crate::schema::ident(crate::engine::Engine::Mysql, old);
        let sql_new = crate::schema::ident(crate::engine::Engine::Mysql, new);
        Dual {
            before,
            table,
            old,
            new,
            old_column,
            new_type: old_column.data_type.clone(),
            new_collation: old_column.collation.clone(),
            carry_default: true,
            up: sql_old,
            down: sql_new,
        }
        .checked()
    }

    /// `change_column_type`: `n` of `data_type`, filled by `up`, writing back by `down`.
    pub fn change_type(
        before: &'a Table,
        table: &'a str,
        old: &'a str,
        new: &'a str,
        data_type: &str,
        up: &str,
        down: &str,
    ) -> Result<Self, String> {
        let old_column = column(before, table, old)?;
        Dual {
            before,
            table,
            old,
            new,
            old_column,
            new_type: data_type.to_owned(),
            new_collation: None,
            carry_default: false,
            up: up.to_owned(),
            down: down.to_owned(),
        }
        .checked()
    }

    fn checked(self) -> Result<Self, String> {
        let (table, old, new) = (self.table, self.old, self.new);
        // Column names are case-insensitive on MySQL and MariaDB.
        if let Some(taken) = self
            .before
            .column_order
            .iter()
            .find(|c| c.eq_ignore_ascii_case(new))
        {
            return Err(format!(
                "column `{taken}` already exists in table `{table}` (MySQL compares column \
                 names without case); choose another name"
            ));
        }
        needs_primary_key(self.before, table)?;
        if self
            .before
            .primary_key
            .as_ref()
            .is_some_and(|pk| pk.columns.iter().any(|c| key_column(c) == old))
        {
            return Err(format!(
                "column `{old}` is part of the primary key of `{table}`, which cannot have \
                 two versions at once; change the key in a plain migration"
            ));
        }
        if self.old_column.generated.is_some() {
            return Err(format!(
                "column `{old}` of `{table}` is generated; drop and re-add it with add_column \
                 and drop_column instead"
            ));
        }
        if self.old_column.identity.is_some() {
            return Err(format!(
                "column `{old}` of `{table}` is AUTO_INCREMENT, which a table has once; \
                 change it in a plain migration"
            ));
        }
        super::no_generated_reader(self.before, table, old)?;
        for (name, check) in &self.before.checks {
            if check_reads(check, old) {
                return Err(format!(
                    "check constraint `{name}` of `{table}` reads `{old}`, and MySQL/MariaDB \
                     add a CHECK only with ALGORITHM=COPY (a locked copy of the table); drop \
                     the check in an earlier migration and re-add it later, or use raw_sql"
                ));
            }
        }
        for (name, index) in self.carried_indexes() {
            if let Some(method @ ("fulltext" | "spatial")) = index.method.as_deref() {
                return Err(format!(
                    "index `{name}` of `{table}` on `{old}` is {method}, which MySQL cannot \
                     build with LOCK=NONE; drop it first and re-create it after the change"
                ));
            }
            if index
                .columns
                .iter()
                .any(|c| c.contains('(') && !is_prefix_key(c))
            {
                return Err(format!(
                    "index `{name}` of `{table}` has an expression key; drop it first and \
                     re-create it after the change"
                ));
            }
        }
        Ok(self)
    }

    /// The indexes with `o` among their keys.
    fn carried_indexes(&self) -> Vec<(&'a String, &'a Index)> {
        self.before
            .indexes
            .iter()
            .filter(|(_, index)| index.columns.iter().any(|c| key_column(c) == self.old))
            .collect()
    }

    /// The foreign keys with `o` among their columns.
    fn carried_foreign_keys(&self) -> Vec<(&'a String, &'a ForeignKey)> {
        self.before
            .foreign_keys
            .iter()
            .filter(|(_, fk)| fk.columns.iter().any(|c| c == self.old))
            .collect()
    }
}

/// The column a key names: `name(10) desc` → `name`.
fn key_column(key: &str) -> &str {
    let end = key.find(['(', ' ']).unwrap_or(key.len());
    &key[..end]
}

/// Whether `key` is `column(length)` with an optional ` desc`.
fn is_prefix_key(key: &str) -> bool {
    let key = key.strip_suffix(" desc").unwrap_or(key);
    key.split_once('(').is_some_and(|(column, rest)| {
        !column.is_empty()
            && rest
                .strip_suffix(')')
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
    })
}

/// Whether the check expression `check` reads `column`.
fn check_reads(check: &str, column: &str) -> bool {
    let dialect = super::MysqlDialect::DEFAULT;
    let sql = Sql { dialect: &dialect };
    !qualify(&sql, check, &[column]).reads.is_empty()
}

/// `keys` with `from` renamed `to` (prefix lengths and order kept), as SQL.
fn keys_sql(sql: &Sql<'_>, keys: &[String], from: &str, to: &str) -> String {
    keys.iter()
        .map(|key| {
            let name = key_column(key);
            let rest = &key[name.len()..];
            let name = if name == from { to } else { name };
            format!("{}{}", sql.id(name), rest.replace(" desc", " DESC"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The phases of a dual-column change.
pub(super) fn phases(
    sql: &Sql<'_>,
    ctx: &Context<'_>,
    spec: &Dual<'_>,
    location: &str,
) -> Result<Phases, String> {
    let Dual {
        before,
        table,
        old,
        new,
        old_column,
        ..
    } = *spec;
    let o = sql.id(old);
    let n = sql.id(new);
    let mut columns: Vec<&str> = before.column_order.iter().map(String::as_str).collect();
    columns.push(new);
    let up = qualify(sql, &spec.up, &columns);
    let down = qualify(sql, &spec.down, &columns);
    let trigger_names = (ctx.object_name("ins"), ctx.object_name("upd"));
    let sync = triggers::two_way(sql, trigger_names.clone(), old, new, &up, &down);
    let indexes: Vec<(String, &String, &Index)> = spec
        .carried_indexes()
        .into_iter()
        .enumerate()
        .map(|(k, (name, index))| (ctx.object_name(&format!("ix{k}")), name, index))
        .collect();
    let foreign_keys: Vec<(String, &String, &ForeignKey)> = spec
        .carried_foreign_keys()
        .into_iter()
        .enumerate()
        .map(|(k, (name, fk))| (ctx.object_name(&format!("fk{k}")), name, fk))
        .collect();
    let new_shape = Column {
        data_type: spec.new_type.clone(),
        collation: spec.new_collation.clone(),
        default: if spec.carry_default {
            old_column.default.clone()
        } else {
            None
        },
        ..old_column.clone()
    };
    let drop_triggers = || {
        [&trigger_names.0, &trigger_names.1]
            .into_iter()
            .map(|name| triggers::drop(sql, name))
    };
    let add_index = |name: &str, index: &Index, column: &str| {
        Step::new(
            format!("create index {name} on {table} ({column})"),
            sql.alter(
                table,
                &format!(
                    "ADD {}INDEX {} ({})",
                    if index.unique { "UNIQUE " } else { "" },
                    sql.id(name),
                    keys_sql(sql, &index.columns, old, column)
                ),
                INPLACE,
            ),
        )
        .done_if(sql.index_exists(table, name))
        .locking()
    };
    let drop_index_on = |name: &str, column: &str| {
        Step::new(
            format!("drop index {name} of {table} on {column}"),
            sql.alter(table, &format!("DROP INDEX {}", sql.id(name)), INPLACE),
        )
        .done_if(absent(&sql.index_has_column(table, name, column)))
        .locking()
    };
    let add_foreign_key = |name: &str, fk: &ForeignKey, column: &str| {
        let columns = fk
            .columns
            .iter()
            .map(|c| sql.id(if c == old { column } else { c }))
            .collect::<Vec<_>>()
            .join(", ");
        let referenced = fk
            .referenced_columns
            .iter()
            .map(|c| sql.id(c))
            .collect::<Vec<_>>()
            .join(", ");
        let clauses = format!(
            "ADD CONSTRAINT {} FOREIGN KEY ({columns}) REFERENCES {} ({referenced}){}{}",
            sql.id(name),
            sql.id(&fk.referenced_table),
            sql.referential_action("DELETE", &fk.on_delete),
            sql.referential_action("UPDATE", &fk.on_update)
        );
        Step {
            what: format!("add foreign key {name} of {table} on {column}, not validated"),
            statements: sql.without_foreign_key_checks(&sql.alter(table, &clauses, INPLACE)),
            ..Step::default()
        }
        .done_if(sql.foreign_key_has_column(table, name, column))
        .locking()
    };
    let drop_foreign_key_on = |name: &str, column: &str| {
        Step::new(
            format!("drop foreign key {name} of {table} on {column}"),
            sql.alter(
                table,
                &format!("DROP FOREIGN KEY {}", sql.id(name)),
                INPLACE,
            ),
        )
        .done_if(absent(&sql.foreign_key_has_column(table, name, column)))
        .locking()
    };
    let drop_foreign_key = |name: &str| {
        Step::new(
            format!("drop foreign key {name} of {table}"),
            sql.alter(
                table,
                &format!("DROP FOREIGN KEY {}", sql.id(name)),
                INPLACE,
            ),
        )
        .done_if(absent(&sql.foreign_key_exists(table, name)))
        .locking()
    };
    let add_nullable = |column: &str, shape: &Column| sql.add_column(table, column, shape, false);
    let restate = |column: &str,
                   shape: &Column,
                   nullable: bool,
                   with_default: bool,
                   position: Option<(String, usize)>,
                   comment_from: &[&str]| {
        sql.restate(
            table,
            column,
            &Restated {
                shape,
                nullable,
                with_default,
                position,
                computed_default: None,
            },
            comment_from,
        )
    };
    let old_position = || Some((sql.position(before, old), sql.ordinal(before, old)));

    // Expand.
    let mut expand = vec![sql.no_dependents(table, old), add_nullable(new, &new_shape)];
    let relax_old = sql.not_null_before_triggers() && !old_column.nullable;
    if relax_old {
        expand.push(restate(old, old_column, true, true, None, &[old]));
    }
    expand.extend(sync.iter().map(|t| t.create(sql, table)));
    for (cairn, _, index) in &indexes {
        expand.push(add_index(cairn, index, new));
    }
    for (cairn, _, fk) in &foreign_keys {
        expand.push(add_foreign_key(cairn, fk, new));
    }

    // Contract: `n` takes `o`'s constraints and `o` loses its indexes
    // while the triggers still fill `o` for new writers; then `o` is made
    // omittable, so that no insert fails between the triggers' drop and
    // `o`'s.
    // A type change carries a literal default as `up(default)`, computed
    // by the server when contract runs.
    let computed_default = old_column
        .default
        .as_deref()
        .filter(|d| !spec.carry_default && sql.is_literal_default(d))
        .and_then(|d| {
            let e = substitute(&spec.up, &columns, |c| {
                if c == old {
                    format!("({})", sql.default_sql(d))
                } else {
                    sql.id(c)
                }
            });
            (e.reads == [old]).then_some(e.sql)
        });
    let mut contract = vec![sql.restate(
        table,
        new,
        &Restated {
            shape: &new_shape,
            nullable: old_column.nullable,
            with_default: true,
            position: old_position(),
            computed_default: computed_default.clone(),
        },
        &[new, old],
    )];
    for (cairn, original, _) in &foreign_keys {
        contract.push(drop_foreign_key_on(original, old));
        contract.push(drop_foreign_key_on(cairn, old));
    }
    for (cairn, original, _) in &indexes {
        contract.push(drop_index_on(original, old));
        contract.push(drop_index_on(cairn, old));
    }
    contract.extend(sql.omittable(table, old, &old_column.data_type));
    contract.extend(drop_triggers());
    contract.push(
        Step::new(
            format!("drop column {table}.{old}"),
            sql.alter(
                table,
                &format!("DROP COLUMN {o}"),
                sql.drop_column_algorithm(),
            ),
        )
        .done_if(sql.column_absent(table, old))
        .locking(),
    );
    for (cairn, original, _) in &indexes {
        contract.push(
            Step::new(
                format!("rename index {cairn} of {table} to {original}"),
                sql.alter(
                    table,
                    &format!("RENAME INDEX {} TO {}", sql.id(cairn), sql.id(original)),
                    INPLACE,
                ),
            )
            .done_if(absent(&sql.index_exists(table, cairn)))
            .locking(),
        );
    }
    for (cairn, original, fk) in &foreign_keys {
        contract.push(add_foreign_key(original, fk, new));
        contract.push(drop_foreign_key(cairn));
    }

    // Abort: from expand's shape (complete or not) or un-contract's; the
    // triggers go last, once `n` is omittable, just before `n`.
    let mut abort: Vec<Step> = Vec::new();
    // Foreign keys off `n` first, as they hold its indexes; back on `o`
    // once `o`'s indexes are.
    for (cairn, original, _) in &foreign_keys {
        abort.push(drop_foreign_key(cairn));
        abort.push(drop_foreign_key_on(original, new));
    }
    for (cairn, original, index) in &indexes {
        abort.push(drop_index_on(original, new));
        abort.push(add_index(original, index, old));
        abort.push(
            Step::new(
                format!("drop index {cairn} of {table}"),
                sql.alter(table, &format!("DROP INDEX {}", sql.id(cairn)), INPLACE),
            )
            .done_if(absent(&sql.index_exists(table, cairn)))
            .locking(),
        );
    }
    for (_, original, fk) in &foreign_keys {
        abort.push(add_foreign_key(original, fk, old));
    }
    abort.push(restate(
        old,
        old_column,
        old_column.nullable,
        true,
        old_position(),
        &[old, new],
    ));
    abort.extend(sql.omittable(table, new, &spec.new_type));
    abort.extend(drop_triggers());
    abort.push(
        Step::new(
            format!("drop column {table}.{new}"),
            sql.alter(
                table,
                &format!("DROP COLUMN {n}"),
                sql.drop_column_algorithm(),
            ),
        )
        .done_if(sql.column_absent(table, new))
        .locking(),
    );

    // Un-contract: back to expand's shape from contract's.
    let mut uncontract = vec![add_nullable(old, old_column)];
    let relax_new = sql.not_null_before_triggers() && !old_column.nullable;
    if new_shape.default.is_some()
        || computed_default.is_some()
        || new_shape.extra.is_some()
        || relax_new
    {
        let bare = Column {
            default: None,
            extra: None,
            ..new_shape.clone()
        };
        let nullable = relax_new || old_column.nullable;
        uncontract.push(restate(new, &bare, nullable, false, None, &[new]));
    }
    uncontract.extend(sync.iter().map(|t| t.create(sql, table)));
    for (cairn, _, index) in &indexes {
        uncontract.push(add_index(cairn, index, old));
    }
    for (cairn, _, fk) in &foreign_keys {
        uncontract.push(add_foreign_key(cairn, fk, old));
    }

    Ok(Phases {
        expand,
        backfill: vec![backfill(
            table,
            format!("{n} = ({})", spec.up),
            format!("{n} IS NULL AND {o} IS NOT NULL"),
            location,
        )],
        contract,
        abort,
        uncontract,
        uncontract_backfill: vec![backfill(
            table,
            format!("{o} = ({})", spec.down),
            format!("{o} IS NULL AND {n} IS NOT NULL"),
            location,
        )],
        versions: Versions {
            old: vec![format!("{table}.{old}")],
            new: vec![format!("{table}.{new}")],
        },
        unchecked: false,
    })
}

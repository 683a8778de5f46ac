//! `drop_column`: new writers stop writing the column; while old readers
//! still read it, a trigger fills it by `down` for new writers' rows (and
//! where a NOT NULL column has no default, it is relaxed so those inserts
//! succeed: on MySQL always, as NOT NULL is checked before triggers; on
//! MariaDB when nothing fills it). Contract drops it; un-contract re-adds
//! it and refills it by `down`.

use super::triggers::{self, qualify};
use super::{backfill, column, indexes, needs_primary_key, Restated, Sql};
use crate::operation::{Context, Phases, Step, Versions};
use crate::schema::{Column, Table};

/// The phases of `drop_column`.
pub(super) fn phases(
    sql: &Sql<'_>,
    ctx: &Context<'_>,
    before: &Table,
    table: &str,
    name: &str,
    down: Option<&str>,
    location: &str,
) -> Result<Phases, String> {
    let old = column(before, table, name)?;
    if before
        .primary_key
        .as_ref()
        .is_some_and(|pk| pk.columns.iter().any(|c| c == name))
    {
        return Err(format!(
            "column `{name}` is part of the primary key of `{table}`; change the key in a \
             plain migration first"
        ));
    }
    super::no_generated_reader(before, table, name)?;
    if let Some((fk, _)) = before
        .foreign_keys
        .iter()
        .find(|(_, fk)| fk.columns.iter().any(|c| c == name))
    {
        return Err(format!(
            "column `{name}` is in foreign key `{fk}` of `{table}`; drop the foreign key in \
             an earlier migration"
        ));
    }
    if old.nullable && old.default.is_none() && down.is_none() {
        // Nothing to refill; un-contract re-adds it empty, which old readers accept.
    } else if !old.nullable && old.default.is_none() && down.is_none() {
        return Err(format!(
            "`{name}` is NOT NULL without default, so un-contract could not refill it: add \
             `down = \"<expression over the row>\"`, its value for rows new writers add"
        ));
    }
    if down.is_some() {
        needs_primary_key(before, table)?;
    }
    let columns: Vec<&str> = before.column_order.iter().map(String::as_str).collect();
    let fill = down.map(|d| {
        triggers::fill(
            sql,
            (ctx.object_name("ins"), ctx.object_name("upd")),
            name,
            &qualify(sql, d, &columns),
        )
    });
    let names = [ctx.object_name("ins"), ctx.object_name("upd")];
    let drop_triggers = || -> Vec<Step> {
        if fill.is_some() {
            names.iter().map(|n| triggers::drop(sql, n)).collect()
        } else {
            Vec::new()
        }
    };
    let create_triggers = || -> Vec<Step> {
        fill.iter()
            .flatten()
            .map(|t| t.create(sql, table))
            .collect()
    };
    let c = sql.id(name);
    let position = Some((sql.position(before, name), sql.ordinal(before, name)));

    // New writers omit it: with `down`, its default goes (so that they
    // leave NULL for the trigger to fill); NOT NULL goes where nothing else
    // lets their inserts through.
    let relax = !old.nullable
        && (sql.not_null_before_triggers() || (down.is_none() && old.default.is_none()));
    let drop_default = down.is_some() && old.default.is_some();
    let mut expand = vec![sql.no_dependents(table, name)];
    if relax || drop_default {
        expand.push(sql.restate(
            table,
            name,
            &Restated {
                shape: old,
                nullable: old.nullable || relax,
                with_default: !drop_default,
                position: None,
                computed_default: None,
            },
            &[name],
        ));
    }
    expand.extend(create_triggers());

    // Its indexes go first, explicitly (a multi-column one entirely, where
    // a plain DROP COLUMN would shrink it), so the column drops instantly
    // and un-contract can re-create each.
    let indexed: Vec<(&String, &crate::schema::Index)> = before
        .indexes
        .iter()
        .filter(|(_, index)| {
            index
                .columns
                .iter()
                .any(|key| key.split(['(', ' ']).next() == Some(name))
        })
        .collect();
    let mut contract: Vec<Step> = sql
        .omittable(table, name, &old.data_type)
        .into_iter()
        .collect();
    contract.extend(drop_triggers());
    for (index, _) in &indexed {
        contract.push(indexes::remove(sql, table, index));
    }
    contract.push(
        Step::new(
            format!("drop column {table}.{name}"),
            sql.alter(
                table,
                &format!("DROP COLUMN {c}"),
                sql.drop_column_algorithm(),
            ),
        )
        .done_if(sql.column_absent(table, name))
        .locking(),
    );

    let mut abort = drop_triggers();
    abort.push(sql.restate(
        table,
        name,
        &Restated {
            shape: old,
            nullable: old.nullable,
            with_default: true,
            position,
            computed_default: None,
        },
        &[name],
    ));

    // Re-added nullable: with its default when there is no `down` (the
    // instant ADD fills every row with it), else empty for the backfill.
    let readd = Column {
        default: if down.is_some() {
            None
        } else {
            old.default.clone()
        },
        ..old.clone()
    };
    let mut uncontract = vec![sql.add_column(table, name, &readd, down.is_none())];
    for (index, shape) in &indexed {
        let keys = indexes::keys_sql(sql, before, shape);
        uncontract.push(indexes::add(sql, table, index, &keys, shape.unique));
    }
    uncontract.extend(create_triggers());

    Ok(Phases {
        expand,
        backfill: Vec::new(),
        contract,
        abort,
        uncontract,
        uncontract_backfill: down
            .map(|d| {
                backfill(
                    table,
                    format!("{c} = ({d})"),
                    format!("{c} IS NULL"),
                    location,
                )
            })
            .into_iter()
            .collect(),
        versions: Versions {
            old: vec![format!("{table}.{name}")],
            new: Vec::new(),
        },
        unchecked: false,
    })
}

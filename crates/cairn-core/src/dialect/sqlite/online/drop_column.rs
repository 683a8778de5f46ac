//! `drop_column`: new code no longer writes the column; `down` fills it for
//! old readers. Expand relaxes its NOT NULL when it has no default (SQLite
//! checks NOT NULL before `AFTER` triggers, so a new writer's insert would
//! fail) and adds the trigger that fills it; contract drops it, by `DROP
//! COLUMN` when nothing but plain indexes involve it, else by a rebuild that
//! leaves out it and the constraints on it.

use super::duplicate::copy_by_name;
use super::{
    column, column_absent, column_exists, key, name, names, not_in_key, rebuild, table, triggers,
};
use crate::backfill::{Action, Backfill};
use crate::operation::{Context, Phases, Step, Versions};

/// The phases of dropping `table.column`.
pub(super) fn compile(
    ctx: &Context<'_>,
    table_name: &str,
    c: &str,
    down: Option<&str>,
    location: String,
) -> Result<Phases, String> {
    let before = table(ctx, table_name)?;
    let dropped = column(before, table_name, c)?;
    let key = key(before, table_name)?;
    not_in_key(key, table_name, c, "dropped")?;
    let (t, col) = (name(table_name), name(c));
    // New writers omit the column: it must accept NULL (SQLite checks NOT
    // NULL before `AFTER` triggers), and with `down` it must have no default
    // either, or the default, not `down`, would fill new writers' rows.
    let strip_default = down.is_some() && dropped.default.is_some();
    let relaxed = (!dropped.nullable && dropped.default.is_none()) || strip_default;
    let trigger_names = triggers::fill_names(ctx);
    let down = down.map(|d| format!("({d})"));
    let fill = down
        .as_deref()
        .map(|d| triggers::fill(ctx, table_name, key, c, d, triggers::OnUpdate::Never))
        .unwrap_or_default();
    let nullable = format!(
        "{} AND \"notnull\" = 0{}",
        column_exists(table_name, c),
        if strip_default {
            " AND dflt_value IS NULL"
        } else {
            ""
        }
    );

    let mut expanded = before.clone();
    if relaxed {
        if let Some(column) = expanded.columns.get_mut(c) {
            column.nullable = true;
            if strip_default {
                column.default = None;
            }
        }
    }
    let mut expand = Vec::new();
    if relaxed {
        expand.extend(rebuild::steps(
            ctx,
            rebuild::Rebuild {
                source: before,
                table: table_name,
                sources: copy_by_name(&expanded),
                target: &expanded,
                first: Vec::new(),
                then: Vec::new(),
                done_if: nullable.clone(),
                why: &format!("{table_name}.{c} accepts NULL while new writers omit it"),
            },
        ));
    }
    expand.extend(fill.iter().cloned());

    let involved = |sql: &str| names::mentions(sql, c);
    let mut final_table = before.clone();
    final_table.columns.remove(c);
    final_table.column_order.retain(|n| n != c);
    final_table.indexes.retain(|_, i| {
        !i.columns.iter().any(|k| involved(k)) && !i.predicate.as_deref().is_some_and(involved)
    });
    let constrained = before
        .unique_constraints
        .values()
        .flatten()
        .any(|k| involved(k))
        || before.checks.values().any(|k| involved(k))
        || before
            .foreign_keys
            .values()
            .any(|fk| fk.columns.iter().any(|k| involved(k)));
    let contracted = column_absent(table_name, c);
    let contract = if constrained {
        final_table
            .unique_constraints
            .retain(|_, columns| !columns.iter().any(|k| involved(k)));
        final_table.checks.retain(|_, check| !involved(check));
        final_table
            .foreign_keys
            .retain(|_, fk| !fk.columns.iter().any(|k| involved(k)));
        rebuild::steps(
            ctx,
            rebuild::Rebuild {
                source: &expanded,
                table: table_name,
                sources: copy_by_name(&final_table),
                target: &final_table,
                first: triggers::drop(&trigger_names),
                then: Vec::new(),
                done_if: contracted.clone(),
                why: &format!("without {table_name}.{c} and its constraints"),
            },
        )
    } else {
        let mut statements = triggers::drop(&trigger_names);
        for (index_name, _) in before
            .indexes
            .iter()
            .filter(|(n, _)| !final_table.indexes.contains_key(*n))
        {
            statements.push(format!("DROP INDEX IF EXISTS {}", name(index_name)));
        }
        statements.push(format!("ALTER TABLE {t} DROP COLUMN {col}"));
        vec![Step {
            what: format!("drop column {table_name}.{c} and its indexes"),
            statements,
            transaction: true,
            done_if: Some(contracted),
            lock_timeout: true,
            rows_of: Some(format!("SELECT count(*) FROM {t}")),
            must_be_empty: None,
        }]
    };

    let mut abort = vec![Step {
        what: format!("drop the triggers that fill {table_name}.{c}"),
        statements: triggers::drop(&trigger_names),
        ..Step::default()
    }
    .locking()];
    if relaxed {
        abort.extend(rebuild::steps(
            ctx,
            rebuild::Rebuild {
                source: &expanded,
                table: table_name,
                sources: copy_by_name(before),
                target: before,
                first: Vec::new(),
                then: Vec::new(),
                done_if: format!("SELECT 1 WHERE NOT EXISTS ({nullable})"),
                why: &format!("{table_name}.{c} as it was"),
            },
        ));
    }

    let sources = expanded
        .column_order
        .iter()
        .map(|n| match (&down, n == c) {
            _ if n != c => name(n),
            (Some(d), _) if relaxed || dropped.nullable => d.clone(),
            (None, _) if relaxed || dropped.nullable => "NULL".to_owned(),
            // NOT NULL with a default: the default where `down` gives no value.
            (d, _) => format!(
                "coalesce({}, {})",
                d.as_deref().unwrap_or("NULL"),
                dropped.default.as_deref().unwrap_or("NULL")
            ),
        })
        .collect();
    let mut uncontract = rebuild::steps(
        ctx,
        rebuild::Rebuild {
            source: &final_table,
            table: table_name,
            sources,
            target: &expanded,
            first: Vec::new(),
            then: Vec::new(),
            done_if: column_exists(table_name, c),
            why: &format!("{table_name}.{c} back for the old application version"),
        },
    );
    uncontract.extend(fill);
    let uncontract_backfill = down
        .map(|d| Backfill {
            table: table_name.to_owned(),
            action: Action::Sql {
                set: format!("{col} = {d}"),
                filter: Some(format!("{col} IS NULL")),
                overrides: Default::default(),
            },
            batch: super::batch(),
            location,
        })
        .into_iter()
        .collect();

    Ok(Phases {
        expand,
        backfill: Vec::new(),
        contract,
        abort,
        uncontract,
        uncontract_backfill,
        versions: Versions {
            old: vec![format!("{table_name}.{c}")],
            new: Vec::new(),
        },
        unchecked: false,
    })
}

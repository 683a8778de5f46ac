//! `add_column` (t.c): added nullable without a default, so that adding it
//! changes only the catalog; with `up` (or, without one, the `default`) a
//! trigger fills it for old writers, who do not know it, and the backfill
//! for the rows already there. Contract sets the default, then NOT NULL
//! through a validated check, then drops the trigger.

use super::{backfill, guards, not_null, q, sql, triggers, Target};
use crate::operation::{Phases, Step, Versions};

/// What `add_column` says.
pub(super) struct Spec<'a> {
    /// The new column.
    pub column: &'a str,
    /// Its type.
    pub data_type: &'a str,
    /// NOT NULL at contract.
    pub not_null: bool,
    /// Its default at contract.
    pub default: Option<&'a str>,
    /// Its value for old rows and old writers' rows.
    pub up: Option<&'a str>,
}

/// The phases of `add_column`.
pub(super) fn compile(table: &Target, spec: &Spec<'_>, location: &str) -> Result<Phases, String> {
    table.column_is_new(spec.column)?;
    if spec.data_type.trim().is_empty() {
        return Err("`type` is empty: give the column's type, e.g. `type = \"text\"`".to_owned());
    }
    let fill = spec.up.or(spec.default);
    if spec.not_null && fill.is_none() {
        return Err(format!(
            "`not_null = true` needs `up` (the value of `{}` for the rows there and for old \
             writers' rows) or a `default`",
            spec.column
        ));
    }
    if fill.is_some() {
        table.has_primary_key("add_column")?;
    }
    let c = q(spec.column);
    let trigger = table.object("fill");
    let mut columns: Vec<String> = table.table.columns.keys().cloned().collect();
    columns.push(spec.column.to_owned());
    let create_trigger = fill.map(|up| {
        triggers::fill(
            table,
            &trigger,
            spec.column,
            &format!("({})", sql::of_row(up, "NEW", &columns)),
            &format!("({})", sql::of_row(up, "OLD", &columns)),
        )
    });
    let mut phases = Phases {
        versions: Versions {
            old: Vec::new(),
            new: vec![format!("{}.{}", table.key, spec.column)],
        },
        ..Phases::default()
    };
    phases.expand.push(
        Step::new(
            format!(
                "add column {}.{} {}, nullable",
                table.key, spec.column, spec.data_type
            ),
            table.alter(&format!("ADD COLUMN {c} {}", spec.data_type)),
        )
        .done_if(guards::column_exists(table, spec.column))
        .locking(),
    );
    phases.expand.extend(create_trigger.clone());
    if let Some(up) = fill {
        phases.backfill.push(backfill(
            table,
            format!("{c} = ({up})"),
            format!("{c} IS NULL"),
            location,
        ));
    }
    if let Some(default) = spec.default {
        phases.contract.push(
            Step::new(
                format!("default of {}.{}: {default}", table.key, spec.column),
                table.alter(&format!("ALTER COLUMN {c} SET DEFAULT {default}")),
            )
            .done_if(guards::default_is(table, spec.column, default))
            .locking(),
        );
        phases.uncontract.push(
            Step::new(
                format!("drop the default of {}.{}", table.key, spec.column),
                table.alter(&format!("ALTER COLUMN {c} DROP DEFAULT")),
            )
            .done_if(guards::no_default(table, spec.column))
            .locking(),
        );
    }
    if spec.not_null {
        phases
            .contract
            .extend(not_null::set(table, spec.column, &table.object("nn")));
        phases.uncontract.push(not_null::drop(table, spec.column));
    }
    if create_trigger.is_some() {
        phases.contract.push(triggers::drop_step(table, &trigger));
        phases.abort.push(triggers::drop_step(table, &trigger));
    }
    phases.abort.push(
        Step::new(
            format!("drop column {}.{}", table.key, spec.column),
            table.alter(&format!("DROP COLUMN IF EXISTS {c}")),
        )
        .done_if(guards::column_missing(table, spec.column))
        .locking(),
    );
    phases.uncontract.extend(create_trigger);
    Ok(phases)
}

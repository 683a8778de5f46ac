//! `set_not_null` (t.c, `up` for NULLs): while expanded, a trigger replaces
//! a NULL any writer leaves by `up`, a `CHECK (c IS NOT NULL) NOT VALID`
//! holds new rows to it, and the backfill rewrites the NULLs there. Contract
//! validates the check (writes go on), sets NOT NULL without a scan and
//! drops the check and the trigger.

use super::{backfill, guards, not_null, q, sql, triggers, Target};
use crate::operation::{Phases, Step, Versions};

/// The phases of making `table.column` NOT NULL.
pub(super) fn compile(
    table: &Target,
    column: &str,
    up: &str,
    location: &str,
) -> Result<Phases, String> {
    let shape = table.column(column)?;
    if !shape.nullable {
        return Err(format!(
            "column `{column}` of `{}` is NOT NULL already; remove the operation",
            table.key
        ));
    }
    if up.trim().is_empty() {
        return Err(format!(
            "`up` is empty: give the value that replaces NULL in `{column}`"
        ));
    }
    table.has_primary_key("set_not_null")?;
    let c = q(column);
    let trigger = table.object("fill");
    let check = table.object("nn");
    let columns: Vec<String> = table.table.columns.keys().cloned().collect();
    let create_trigger = triggers::replace_null(
        table,
        &trigger,
        column,
        &format!("({})", sql::of_row(up, "NEW", &columns)),
    );
    let drop_check = Step::new(
        format!("drop check {check}"),
        table.alter(&format!("DROP CONSTRAINT IF EXISTS {}", q(&check))),
    )
    .done_if(guards::constraint_missing(table, &check))
    .locking();
    Ok(Phases {
        expand: vec![
            create_trigger.clone(),
            not_null::set(table, column, &check).swap_remove(0),
        ],
        backfill: vec![backfill(
            table,
            format!("{c} = ({up})"),
            format!("{c} IS NULL"),
            location,
        )],
        contract: not_null::set(table, column, &check)
            .into_iter()
            .chain([triggers::drop_step(table, &trigger)])
            .collect(),
        abort: vec![triggers::drop_step(table, &trigger), drop_check],
        uncontract: vec![not_null::drop(table, column), create_trigger],
        uncontract_backfill: Vec::new(),
        versions: Versions {
            old: vec![format!("{}.{column} (may write NULL)", table.key)],
            new: vec![format!("{}.{column}", table.key)],
        },
        unchecked: false,
    })
}

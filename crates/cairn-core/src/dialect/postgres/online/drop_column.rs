//! `drop_column` (t.c): new code stops writing it; while expanded, `down`
//! (when given) fills it for old readers through a trigger, or, when it is
//! NOT NULL without a default and there is no `down`, its NOT NULL is
//! relaxed so that new writers' inserts succeed. Contract drops it (a
//! catalog change). Un-contract adds it back nullable, with its default,
//! the trigger and its plain indexes, and its backfill refills it by
//! `down`; abort restores NOT NULL through a validated check.

use super::{backfill, guards, indexes, not_null, q, sql, triggers, Target};
use crate::operation::{Phases, Step, Versions};

/// The phases of dropping `table.column`.
pub(super) fn compile(
    table: &Target,
    column: &str,
    down: Option<&str>,
    location: &str,
) -> Result<Phases, String> {
    let shape = table.column(column)?;
    if table
        .table
        .primary_key
        .as_ref()
        .is_some_and(|pk| pk.columns.iter().any(|c| c == column))
    {
        return Err(format!(
            "column `{column}` is in the primary key of `{}`; drop_column cannot drop it online: \
             give the table another primary key first",
            table.key
        ));
    }
    if down.is_some() {
        table.has_primary_key("drop_column")?;
    }
    let c = q(column);
    let trigger = table.object("fill");
    let columns: Vec<String> = table.table.columns.keys().cloned().collect();
    let create_trigger = down.map(|down| {
        triggers::fill(
            table,
            &trigger,
            column,
            &format!("({})", sql::of_row(down, "NEW", &columns)),
            &format!("({})", sql::of_row(down, "OLD", &columns)),
        )
    });
    let relax = !shape.nullable && shape.default.is_none() && down.is_none();
    let mut phases = Phases {
        versions: Versions {
            old: vec![format!("{}.{column}", table.key)],
            new: Vec::new(),
        },
        ..Phases::default()
    };
    phases.expand.extend(create_trigger.clone());
    if relax {
        phases.expand.push(not_null::drop(table, column));
    }
    if create_trigger.is_some() {
        phases.contract.push(triggers::drop_step(table, &trigger));
        phases.abort.push(triggers::drop_step(table, &trigger));
    }
    phases.contract.push(
        Step::new(
            format!("drop column {}.{column}", table.key),
            table.alter(&format!("DROP COLUMN IF EXISTS {c}")),
        )
        .done_if(guards::column_missing(table, column))
        .locking(),
    );
    if !shape.nullable {
        phases
            .abort
            .extend(not_null::set(table, column, &table.object("nn")));
    }
    let mut statements = vec![table.alter(&format!(
        "ADD COLUMN {c} {}",
        super::dual::column_type(shape)
    ))];
    if let Some(default) = &shape.default {
        statements.push(table.alter(&format!("ALTER COLUMN {c} SET DEFAULT {default}")));
    }
    phases.uncontract.push(
        Step {
            what: format!("add column {}.{column} back, nullable", table.key),
            statements,
            ..Step::default()
        }
        .done_if(guards::column_exists(table, column))
        .in_transaction()
        .locking(),
    );
    phases.uncontract.extend(create_trigger);
    for (name, index) in &table.table.indexes {
        if index
            .columns
            .iter()
            .chain(&index.predicate)
            .any(|k| sql::mentions(k, column))
        {
            phases.uncontract.push(indexes::build(
                table,
                name,
                indexes::definition(table, name, index, str::to_owned),
                format!(
                    "rebuild index {name} on {}.{column} (concurrently)",
                    table.key
                ),
            ));
        }
    }
    restore_constraints(table, column, &mut phases);
    if let Some(down) = down {
        phases.uncontract_backfill.push(backfill(
            table,
            format!("{c} = ({down})"),
            format!("{c} IS NULL"),
            location,
        ));
    }
    Ok(phases)
}

/// Un-contract adds back, under their names, the checks and foreign keys
/// that involved the column (`NOT VALID`) and builds the indexes of its
/// unique constraints; abort (after un-contract) validates them and makes
/// the indexes constraints again. From the expand shape, where the
/// constraints never went away, those abort steps find nothing to do.
fn restore_constraints(table: &Target, column: &str, phases: &mut Phases) {
    let shape = table.table;
    let mut ordinal = 0;
    for (name, columns) in &shape.unique_constraints {
        if !columns.iter().any(|c| c == column) {
            continue;
        }
        let index = table.object(&format!("uq{ordinal}"));
        ordinal += 1;
        let list: Vec<String> = columns.iter().map(|c| q(c)).collect();
        phases.uncontract.push(indexes::build(
            table,
            &index,
            format!(
                "CREATE UNIQUE INDEX CONCURRENTLY {} ON {} ({})",
                q(&index),
                table.sql,
                list.join(", ")
            ),
            format!("rebuild the index of unique constraint {name} as {index} (concurrently)"),
        ));
        phases.abort.push(
            Step::new(
                format!("unique constraint {name} on index {index}"),
                table.alter(&format!(
                    "ADD CONSTRAINT {} UNIQUE USING INDEX {}",
                    q(name),
                    q(&index)
                )),
            )
            .done_if(format!(
                "{} UNION ALL {}",
                guards::constraint_exists(table, name),
                guards::index_missing(table, &index)
            ))
            .locking(),
        );
    }
    let checks = shape
        .checks
        .iter()
        .filter(|(_, check)| sql::mentions(check, column))
        .map(|(name, check)| {
            let validated = !check.ends_with(" NOT VALID");
            (
                name,
                check.trim_end_matches(" NOT VALID").to_owned(),
                validated,
            )
        });
    let foreign_keys = shape
        .foreign_keys
        .iter()
        .filter(|(_, fk)| fk.columns.iter().any(|c| c == column))
        .map(|(name, fk)| {
            let columns: Vec<String> = fk.columns.iter().map(|c| q(c)).collect();
            (name, super::foreign_key(fk, &columns.join(", ")), true)
        });
    for (name, definition, validated) in checks.chain(foreign_keys).collect::<Vec<_>>() {
        phases.uncontract.push(
            Step::new(
                format!("add {name} back on {}, not validated yet", table.key),
                table.alter(&format!(
                    "ADD CONSTRAINT {} {definition} NOT VALID",
                    q(name)
                )),
            )
            .done_if(guards::constraint_exists(table, name))
            .locking(),
        );
        if validated {
            phases.abort.push(
                Step::new(
                    format!("validate {name} on {} (writes go on)", table.key),
                    table.alter(&format!("VALIDATE CONSTRAINT {}", q(name))),
                )
                .done_if(guards::constraint_validated_or_missing(table, name))
                .locking(),
            );
        }
    }
}

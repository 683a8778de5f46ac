//! `set_not_null`: old code may still write NULL; triggers rewrite a NULL
//! by `up` on INSERT and UPDATE, the backfill rewrites the NULLs before,
//! and contract restates the column NOT NULL (in place, with concurrent
//! writes: MySQL has no `NOT VALID` step, and the rebuild validates).

use super::triggers::{qualify, Trigger};
use super::{backfill, column, needs_primary_key, Restated, Sql};
use crate::operation::{Context, Phases, Versions};
use crate::schema::Table;

/// The phases of `set_not_null`.
pub(super) fn phases(
    sql: &Sql<'_>,
    ctx: &Context<'_>,
    before: &Table,
    table: &str,
    name: &str,
    up: &str,
    location: &str,
) -> Result<Phases, String> {
    let shape = column(before, table, name)?;
    if !shape.nullable {
        return Err(format!(
            "column `{name}` of `{table}` is NOT NULL already; remove the operation"
        ));
    }
    needs_primary_key(before, table)?;
    let columns: Vec<&str> = before.column_order.iter().map(String::as_str).collect();
    let value = qualify(sql, up, &columns);
    let c = sql.id(name);
    let body = format!(
        "IF NEW.{c} IS NULL THEN SET NEW.{c} = ({}); END IF;",
        value.sql
    );
    let names = [ctx.object_name("ins"), ctx.object_name("upd")];
    let triggers = [
        Trigger {
            name: names[0].clone(),
            event: "INSERT",
            body: body.clone(),
        },
        Trigger {
            name: names[1].clone(),
            event: "UPDATE",
            body,
        },
    ];
    let restate = |nullable| {
        sql.restate(
            table,
            name,
            &Restated {
                shape,
                nullable,
                with_default: true,
                position: None,
                computed_default: None,
            },
            &[name],
        )
    };
    let drop_triggers = || names.iter().map(|n| super::triggers::drop(sql, n));
    let create_triggers = || triggers.iter().map(|t| t.create(sql, table));

    let mut contract: Vec<_> = drop_triggers().collect();
    contract.push(restate(false));
    let mut uncontract = vec![restate(true)];
    uncontract.extend(create_triggers());
    Ok(Phases {
        expand: create_triggers().collect(),
        backfill: vec![backfill(
            table,
            format!("{c} = ({up})"),
            format!("{c} IS NULL"),
            location,
        )],
        contract,
        abort: drop_triggers().collect(),
        uncontract,
        uncontract_backfill: Vec::new(),
        versions: Versions {
            old: vec![format!("{table}.{name}")],
            new: vec![format!("{table}.{name}")],
        },
        unchecked: false,
    })
}

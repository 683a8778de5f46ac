//! `set_not_null`: old code may still write NULL; triggers rewrite it by
//! `up`, the backfill fills the rows that exist, and contract makes the
//! column NOT NULL by a rebuild (SQLite 3.51 has no `ALTER COLUMN`).

use super::duplicate::copy_by_name;
use super::{column, column_exists, key, name, rebuild, table, triggers};
use crate::backfill::{Action, Backfill};
use crate::operation::{Context, Phases, Step, Versions};

/// The phases of making `table.column` NOT NULL, NULLs replaced by `up`.
pub(super) fn compile(
    ctx: &Context<'_>,
    table_name: &str,
    c: &str,
    up: &str,
    location: String,
) -> Result<Phases, String> {
    let before = table(ctx, table_name)?;
    if !column(before, table_name, c)?.nullable {
        return Err(format!(
            "column `{table_name}.{c}` is NOT NULL already: remove the operation"
        ));
    }
    let key = key(before, table_name)?;
    let col = name(c);
    let value = format!("({up})");
    let trigger_names = triggers::fill_names(ctx);
    let fill = triggers::fill(ctx, table_name, key, c, &value, triggers::OnUpdate::Null);
    let not_null = |flag: u8| format!("{} AND \"notnull\" = {flag}", column_exists(table_name, c));

    let mut target = before.clone();
    if let Some(column) = target.columns.get_mut(c) {
        column.nullable = false;
    }
    let mut sources = copy_by_name(&target);
    for (source, n) in sources.iter_mut().zip(&target.column_order) {
        if n == c {
            *source = format!("coalesce({col}, {value})");
        }
    }
    let contract = rebuild::steps(
        ctx,
        rebuild::Rebuild {
            source: before,
            table: table_name,
            target: &target,
            sources,
            first: triggers::drop(&trigger_names),
            then: Vec::new(),
            done_if: not_null(1),
            why: &format!("{table_name}.{c} NOT NULL"),
        },
    );
    let mut uncontract = rebuild::steps(
        ctx,
        rebuild::Rebuild {
            source: &target,
            table: table_name,
            target: before,
            sources: copy_by_name(before),
            first: Vec::new(),
            then: Vec::new(),
            done_if: not_null(0),
            why: &format!("{table_name}.{c} accepts NULL again for the old application version"),
        },
    );
    uncontract.extend(fill.iter().cloned());
    Ok(Phases {
        expand: fill,
        backfill: vec![Backfill {
            table: table_name.to_owned(),
            action: Action::Sql {
                set: format!("{col} = {value}"),
                filter: Some(format!("{col} IS NULL")),
                overrides: Default::default(),
            },
            batch: super::batch(),
            location,
        }],
        contract,
        abort: vec![Step {
            what: format!("drop the triggers that fill {table_name}.{c}"),
            statements: triggers::drop(&trigger_names),
            ..Step::default()
        }
        .locking()],
        uncontract,
        uncontract_backfill: Vec::new(),
        versions: Versions::default(),
        unchecked: false,
    })
}

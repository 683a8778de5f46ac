//! `add_column`: old code does not know the column; its rows are filled by
//! `up` (or the default). Expand adds it nullable and without a default, so
//! that an `ALTER TABLE ADD COLUMN` only edits the schema, with triggers that
//! fill it; contract sets NOT NULL and the default by a rebuild (SQLite
//! 3.51 has no `ALTER COLUMN`), filling any row still NULL.

use super::duplicate::copy_by_name;
use super::{absent, column_absent, column_exists, key, name, rebuild, table, triggers};
use crate::backfill::{Action, Backfill};
use crate::operation::{Context, Phases, Step, Versions};
use crate::schema::{Column, Table};

/// What an `add_column` says.
pub(super) struct Add<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub data_type: &'a str,
    pub not_null: bool,
    pub default: Option<&'a str>,
    pub up: Option<&'a str>,
}

/// The phases of adding `add.table.add.column`.
pub(super) fn compile(ctx: &Context<'_>, add: Add<'_>, location: String) -> Result<Phases, String> {
    let (table_name, c) = (add.table, add.column);
    let before = table(ctx, table_name)?;
    absent(before, table_name, c)?;
    let key = key(before, table_name)?;
    if add.data_type.trim().is_empty() {
        return Err("`type` is empty: give the new column's type".to_owned());
    }
    // The value of old writers' rows: `up`, else the default.
    let value = add.up.or(add.default).map(|v| format!("({v})"));
    if add.not_null && value.is_none() {
        return Err(format!(
            "NOT NULL column `{table_name}.{c}` needs `up` or `default` to fill the rows that \
             exist and those old code writes: add one"
        ));
    }
    let (t, col) = (name(table_name), name(c));
    let trigger_names = triggers::fill_names(ctx);
    let data_type = add.data_type.trim().to_lowercase();

    let expanded_column = Column {
        data_type: data_type.clone(),
        nullable: true,
        ..Column::default()
    };
    let expanded = with_column(before, c, expanded_column);
    let mut expand = vec![Step::new(
        format!("add column {table_name}.{c}"),
        format!("ALTER TABLE {t} ADD COLUMN {col} {data_type}"),
    )
    .done_if(column_exists(table_name, c))
    .locking()];
    let fill = value
        .as_deref()
        .map(|v| {
            triggers::fill(
                ctx,
                table_name,
                key,
                c,
                v,
                if add.up.is_some() {
                    triggers::OnUpdate::Unchanged
                } else {
                    triggers::OnUpdate::Never
                },
            )
        })
        .unwrap_or_default();
    expand.extend(fill.iter().cloned());

    let backfill = value
        .as_ref()
        .map(|v| Backfill {
            table: table_name.to_owned(),
            action: Action::Sql {
                set: format!("{col} = {v}"),
                filter: Some(format!("{col} IS NULL")),
                overrides: Default::default(),
            },
            batch: super::batch(),
            location,
        })
        .into_iter()
        .collect();

    let drop_triggers = Step {
        what: format!("drop the triggers that fill {table_name}.{c}"),
        statements: triggers::drop(&trigger_names),
        ..Step::default()
    }
    .locking();
    let final_column = Column {
        data_type,
        nullable: !add.not_null,
        default: add.default.map(str::to_owned),
        ..Column::default()
    };
    let is_shape = |column: &Column| {
        format!(
            "{} AND \"notnull\" = {} AND dflt_value IS {}",
            column_exists(table_name, c),
            u8::from(!column.nullable),
            if column.default.is_some() {
                "NOT NULL"
            } else {
                "NULL"
            }
        )
    };
    let (contract, uncontract) = if add.not_null || add.default.is_some() {
        let final_table = with_column(before, c, final_column.clone());
        let mut sources = copy_by_name(&final_table);
        if let (Some(last), Some(v)) = (sources.last_mut(), &value) {
            *last = format!("coalesce({col}, {v})");
        }
        let contract = rebuild::steps(
            ctx,
            rebuild::Rebuild {
                source: &expanded,
                table: table_name,
                sources,
                target: &final_table,
                first: triggers::drop(&trigger_names),
                then: Vec::new(),
                done_if: is_shape(&final_column),
                why: &format!("NOT NULL and default of {table_name}.{c}"),
            },
        );
        let mut uncontract = rebuild::steps(
            ctx,
            rebuild::Rebuild {
                source: &final_table,
                table: table_name,
                sources: copy_by_name(&expanded),
                target: &expanded,
                first: Vec::new(),
                then: Vec::new(),
                done_if: is_shape(&expanded.columns[c]),
                why: &format!("{table_name}.{c} nullable again for the old application version"),
            },
        );
        uncontract.extend(fill.iter().cloned());
        (contract, uncontract)
    } else {
        (vec![drop_triggers.clone()], fill.clone())
    };

    let mut drop_column = Step::new(
        format!("drop column {table_name}.{c}"),
        format!("ALTER TABLE {t} DROP COLUMN {col}"),
    )
    .done_if(column_absent(table_name, c))
    .locking();
    drop_column.rows_of = Some(format!("SELECT count(*) FROM {t}"));
    let abort = vec![drop_triggers, drop_column];

    Ok(Phases {
        expand,
        backfill,
        contract,
        abort,
        uncontract,
        uncontract_backfill: Vec::new(),
        versions: Versions {
            old: Vec::new(),
            new: vec![format!("{table_name}.{c}")],
        },
        unchecked: false,
    })
}

/// `before` with `column` added last.
fn with_column(before: &Table, name: &str, column: Column) -> Table {
    let mut table = before.clone();
    table.columns.insert(name.to_owned(), column);
    table.column_order.push(name.to_owned());
    table
}

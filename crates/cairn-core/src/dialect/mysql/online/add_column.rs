//! `add_column`: the column is added nullable and without default (instant),
//! so old writers, who do not know it, leave it NULL; triggers fill it by
//! `up` (or by `default` when there is no `up`) for their rows, and the
//! backfill for the rows before. NOT NULL and the default arrive at contract.

use super::triggers::{self, qualify};
use super::{backfill, needs_primary_key, Restated, Sql};
use crate::operation::{Context, Phases, Step, Versions};
use crate::schema::{Column, Table};

/// An `add_column` operation.
pub(super) struct Spec<'a> {
    /// The table as before expand.
    pub before: &'a Table,
    /// Its name.
    pub table: &'a str,
    /// The new column.
    pub column: &'a str,
    /// Its type as written.
    pub data_type: &'a str,
    /// NOT NULL at contract.
    pub not_null: bool,
    /// Its default at contract, as SQL.
    pub default: Option<&'a str>,
    /// Its value for old writers' rows and old rows.
    pub up: Option<&'a str>,
}

/// The phases of `add_column`.
pub(super) fn phases(
    sql: &Sql<'_>,
    ctx: &Context<'_>,
    spec: &Spec<'_>,
    location: &str,
) -> Result<Phases, String> {
    let Spec {
        before,
        table,
        column,
        ..
    } = *spec;
    // Column names are case-insensitive on MySQL and MariaDB.
    if let Some(taken) = before
        .column_order
        .iter()
        .find(|c| c.eq_ignore_ascii_case(column))
    {
        return Err(format!(
            "column `{taken}` already exists in table `{table}` (MySQL compares column names \
             without case); choose another name"
        ));
    }
    let value = spec.up.or(spec.default);
    if spec.not_null && value.is_none() {
        return Err(format!(
            "`{column}` is NOT NULL but has neither `up` nor `default`: add `up = \"<expression \
             over the row>\"` to fill the rows old writers add"
        ));
    }
    if value.is_some() {
        needs_primary_key(before, table)?;
    }
    let shape = Column {
        data_type: spec.data_type.to_owned(),
        nullable: !spec.not_null,
        default: spec.default.map(str::to_owned),
        ..Column::default()
    };
    let mut columns: Vec<&str> = before.column_order.iter().map(String::as_str).collect();
    columns.push(column);
    let fill = value.map(|v| {
        triggers::fill(
            sql,
            (ctx.object_name("ins"), ctx.object_name("upd")),
            column,
            &qualify(sql, v, &columns),
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
    let c = sql.id(column);

    let mut expand = vec![sql.add_column(table, column, &shape, false)];
    expand.extend(create_triggers());

    let mut contract = drop_triggers();
    if spec.not_null || spec.default.is_some() {
        contract.push(sql.restate(
            table,
            column,
            &Restated {
                shape: &shape,
                nullable: !spec.not_null,
                with_default: true,
                position: None,
                computed_default: None,
            },
            &[column],
        ));
    }

    // After un-contract the column may be NOT NULL (MariaDB): old writers
    // omit it, so it takes a placeholder default before its triggers go.
    let mut abort: Vec<Step> = sql
        .omittable(table, column, spec.data_type)
        .into_iter()
        .collect();
    abort.extend(drop_triggers());
    abort.push(
        Step::new(
            format!("drop column {table}.{column}"),
            sql.alter(
                table,
                &format!("DROP COLUMN {c}"),
                sql.drop_column_algorithm(),
            ),
        )
        .done_if(sql.column_absent(table, column))
        .locking(),
    );

    // Old writers again omit the column: no default (else the trigger
    // cannot tell), and nullable where NOT NULL is checked before triggers
    // or nothing fills it.
    let mut uncontract = Vec::new();
    let nullable = !spec.not_null || sql.not_null_before_triggers() || value.is_none();
    if spec.not_null || spec.default.is_some() {
        let bare = Column {
            default: None,
            ..shape.clone()
        };
        uncontract.push(sql.restate(
            table,
            column,
            &Restated {
                shape: &bare,
                nullable,
                with_default: false,
                position: None,
                computed_default: None,
            },
            &[column],
        ));
    }
    uncontract.extend(create_triggers());

    Ok(Phases {
        expand,
        backfill: value
            .map(|v| {
                backfill(
                    table,
                    format!("{c} = ({v})"),
                    format!("{c} IS NULL"),
                    location,
                )
            })
            .into_iter()
            .collect(),
        contract,
        abort,
        uncontract,
        uncontract_backfill: Vec::new(),
        versions: Versions {
            old: Vec::new(),
            new: vec![format!("{table}.{column}")],
        },
        unchecked: false,
    })
}

//! `rename_table` (t → u): the new name is a view over the table during
//! `expanded` (`SELECT *`, `ALGORITHM=MERGE`, so it takes inserts, updates
//! and deletes, and the table's triggers fire for them); contract swaps the
//! names in one atomic `RENAME TABLE` (a view moves aside, the table takes
//! its name); un-contract puts a view under the old name; abort swaps back.

use super::{absent, Sql};
use crate::operation::{Context, Phases, Step, Versions};
use crate::schema::Table;

/// The phases of `rename_table`.
pub(super) fn phases(
    sql: &Sql<'_>,
    ctx: &Context<'_>,
    before: Option<&Table>,
    table: &str,
    to: &str,
) -> Result<Phases, String> {
    if before.is_none() {
        return Err(format!(
            "table `{table}` does not exist in the current database; create it first"
        ));
    }
    let aside = ctx.object_name("view");
    let view = |name: &str, over: &str| {
        Step::new(
            format!("create view {name} over {over}"),
            format!(
                "CREATE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW {} AS SELECT * FROM {}",
                sql.id(name),
                sql.id(over)
            ),
        )
        .done_if(sql.relation_is(name, "VIEW"))
        .locking()
    };
    // `from` is the table, `into` the view: afterwards the table is `into`.
    let swap = |from: &str, into: &str| {
        Step::new(
            format!("rename table {from} to {into}, moving view {into} aside"),
            format!(
                "RENAME TABLE {} TO {}, {} TO {}",
                sql.id(into),
                sql.id(&aside),
                sql.id(from),
                sql.id(into)
            ),
        )
        .done_if(sql.relation_is(into, "BASE TABLE"))
        .locking()
    };
    let drop_view = |name: &str| {
        Step::new(
            format!("drop view {name}"),
            format!("DROP VIEW IF EXISTS {}", sql.id(name)),
        )
        .done_if(absent(&sql.relation_is(name, "VIEW")))
        .locking()
    };
    Ok(Phases {
        expand: vec![view(to, table)],
        contract: vec![swap(table, to), drop_view(&aside), drop_view(table)],
        abort: vec![swap(to, table), drop_view(&aside), drop_view(to)],
        uncontract: vec![view(table, to)],
        versions: Versions {
            old: vec![table.to_owned()],
            new: vec![to.to_owned()],
        },
        ..Phases::default()
    })
}

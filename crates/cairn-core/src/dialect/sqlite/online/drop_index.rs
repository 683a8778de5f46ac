//! `drop_index`: at contract, so old code keeps it while it runs;
//! un-contract builds it again from the table as it was before.

use super::duplicate::create_index;
use super::{name, table};
use crate::operation::{Context, Phases, Step};

/// The phases of dropping index `index_name` of `table`.
pub(super) fn compile(
    ctx: &Context<'_>,
    table_name: &str,
    index_name: &str,
) -> Result<Phases, String> {
    let before = table(ctx, table_name)?;
    let index = before.indexes.get(index_name).ok_or_else(|| {
        format!(
            "index `{index_name}` does not exist on `{table_name}` (it has {}); a UNIQUE \
             constraint of the table is no index of its own on sqlite: drop it with `raw_sql`",
            if before.indexes.is_empty() {
                "none".to_owned()
            } else {
                before
                    .indexes
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )
    })?;
    let mut recreate = create_index(table_name, before, index_name, index);
    recreate.rows_of = Some(format!("SELECT count(*) FROM {}", name(table_name)));
    Ok(Phases {
        contract: vec![Step::new(
            format!("drop index {index_name}"),
            format!("DROP INDEX IF EXISTS {}", name(index_name)),
        )
        .locking()],
        uncontract: vec![recreate],
        ..Phases::default()
    })
}

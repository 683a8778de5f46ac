//! `drop_index`: dropped at contract (`DROP INDEX CONCURRENTLY`), so old
//! code keeps it while it runs; un-contract rebuilds it from the table as it
//! was before expand.

use super::{indexes, Target};
use crate::operation::Phases;

/// The phases of dropping index `name`.
pub(super) fn compile(table: &Target, name: &str) -> Result<Phases, String> {
    let Some(index) = table.table.indexes.get(name) else {
        let hint = if table.table.unique_constraints.contains_key(name) {
            " (it is a unique constraint: drop it with raw_sql `ALTER TABLE ... DROP CONSTRAINT`)"
        } else {
            ""
        };
        return Err(format!(
            "index `{name}` does not exist on `{}`{hint}; its indexes: {}",
            table.key,
            table
                .table
                .indexes
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    Ok(Phases {
        contract: vec![indexes::drop(table, name)],
        uncontract: vec![indexes::build(
            table,
            name,
            indexes::definition(table, name, index, str::to_owned),
            format!("rebuild index {name} on {} (concurrently)", table.key),
        )],
        ..Phases::default()
    })
}

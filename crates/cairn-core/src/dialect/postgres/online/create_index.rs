//! `create_index`: one online step at expand (`CREATE INDEX CONCURRENTLY`,
//! an INVALID index of a failed attempt dropped first, see `indexes.rs`);
//! abort drops it concurrently.

use super::{indexes, Target};
use crate::operation::Phases;
use crate::schema::Index;

/// The phases of creating index `name` on `columns`.
pub(super) fn compile(
    table: &Target,
    name: &str,
    columns: &[String],
    unique: bool,
) -> Result<Phases, String> {
    if columns.is_empty() {
        return Err(format!(
            "index `{name}` has no `columns`: name at least one"
        ));
    }
    for column in columns {
        table.column(column)?;
    }
    if table.table.indexes.contains_key(name) || table.table.unique_constraints.contains_key(name) {
        return Err(format!(
            "an index `{name}` exists already on `{}`; choose another name",
            table.key
        ));
    }
    let index = Index {
        columns: columns.iter().map(|c| super::q(c)).collect(),
        unique,
        ..Index::default()
    };
    Ok(Phases {
        expand: vec![indexes::build(
            table,
            name,
            indexes::definition(table, name, &index, str::to_owned),
            format!(
                "build {}index {name} on {} ({}) (concurrently)",
                if unique { "unique " } else { "" },
                table.key,
                columns.join(", ")
            ),
        )],
        abort: vec![indexes::drop(table, name)],
        ..Phases::default()
    })
}

//! `add_unique`: a unique index built concurrently at expand (see
//! `indexes.rs`), made a constraint at contract (`ADD CONSTRAINT ... UNIQUE
//! USING INDEX`, a catalog change). Abort drops whichever exists.

use super::{guards, indexes, q, Target};
use crate::operation::{Phases, Step};
use crate::schema::Index;

/// The phases of adding unique constraint `name` on `columns`.
pub(super) fn compile(table: &Target, name: &str, columns: &[String]) -> Result<Phases, String> {
    if columns.is_empty() {
        return Err(format!(
            "unique constraint `{name}` has no `columns`: name at least one"
        ));
    }
    for column in columns {
        table.column(column)?;
    }
    if table.table.unique_constraints.contains_key(name) || table.table.indexes.contains_key(name) {
        return Err(format!(
            "a constraint or index `{name}` exists already on `{}`; choose another name",
            table.key
        ));
    }
    let index = Index {
        columns: columns.iter().map(|c| q(c)).collect(),
        unique: true,
        ..Index::default()
    };
    let n = q(name);
    Ok(Phases {
        expand: vec![indexes::build(
            table,
            name,
            indexes::definition(table, name, &index, str::to_owned),
            format!(
                "build unique index {name} on {} ({}) (concurrently)",
                table.key,
                columns.join(", ")
            ),
        )],
        contract: vec![Step::new(
            format!("unique constraint {name} on its index"),
            table.alter(&format!("ADD CONSTRAINT {n} UNIQUE USING INDEX {n}")),
        )
        .done_if(guards::constraint_exists(table, name))
        .locking()],
        abort: vec![
            Step::new(
                format!("drop unique constraint {name}"),
                table.alter(&format!("DROP CONSTRAINT IF EXISTS {n}")),
            )
            .done_if(guards::constraint_missing(table, name))
            .locking(),
            indexes::drop(table, name),
        ],
        ..Phases::default()
    })
}

//! `create_index` (and `add_unique`, which SQLite keeps as a unique index:
//! it has no named unique constraints). SQLite builds an index in one
//! transaction, so a failed attempt leaves nothing behind; the build holds
//! the write lock for the time it takes, so its row count is announced.

use super::duplicate::create_index;
use super::{name, table};
use crate::operation::{Context, Phases, Step};
use crate::schema::Index;

/// The phases of creating index `index_name` on `table.columns`.
pub(super) fn compile(
    ctx: &Context<'_>,
    table_name: &str,
    index_name: &str,
    columns: &[String],
    unique: bool,
) -> Result<Phases, String> {
    let before = table(ctx, table_name)?;
    if columns.is_empty() {
        return Err("`columns` is empty: name the index's columns".to_owned());
    }
    for c in columns {
        if !before.columns.contains_key(c) {
            return Err(format!(
                "column `{table_name}.{c}` does not exist (the table has {}): check its name",
                before.column_order.join(", ")
            ));
        }
    }
    if before.indexes.contains_key(index_name) {
        return Err(format!(
            "index `{index_name}` exists already on `{table_name}`: choose another name"
        ));
    }
    let index = Index {
        columns: columns.to_vec(),
        unique,
        ..Index::default()
    };
    let mut create = create_index(table_name, before, index_name, &index);
    create.rows_of = Some(format!("SELECT count(*) FROM {}", name(table_name)));
    Ok(Phases {
        expand: vec![create],
        abort: vec![Step::new(
            format!("drop index {index_name}"),
            format!("DROP INDEX IF EXISTS {}", name(index_name)),
        )
        .locking()],
        ..Phases::default()
    })
}

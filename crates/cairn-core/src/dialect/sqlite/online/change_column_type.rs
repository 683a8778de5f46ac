//! `change_column_type`: old code uses the old column and type, new code
//! the new column, a [`Duplicate`] of the new type filled by `up` and
//! writing back by `down`; at contract it takes the old column's place,
//! constraints, default and index names (always by a rebuild, since SQLite
//! cannot change a column's type in place).

use super::duplicate::Duplicate;
use super::{absent, column, key, not_in_key, table};
use crate::operation::{Context, Phases};

/// What a `change_column_type` says.
pub(super) struct Change<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub to: &'a str,
    pub data_type: &'a str,
    pub up: &'a str,
    pub down: &'a str,
}

/// The phases of changing `table.column` to `to` of `data_type`.
pub(super) fn compile(
    ctx: &Context<'_>,
    change: Change<'_>,
    location: String,
) -> Result<Phases, String> {
    let before = table(ctx, change.table)?;
    column(before, change.table, change.column)?;
    absent(before, change.table, change.to)?;
    let key = key(before, change.table)?;
    not_in_key(key, change.table, change.column, "changed")?;
    if change.data_type.trim().is_empty() {
        return Err("`type` is empty: give the new column's type".to_owned());
    }
    Ok(Duplicate {
        ctx,
        before,
        table: change.table,
        key,
        old: change.column,
        new: change.to,
        data_type: change.data_type.trim().to_lowercase(),
        up: change.up.to_owned(),
        down: change.down.to_owned(),
        location,
    }
    .phases())
}

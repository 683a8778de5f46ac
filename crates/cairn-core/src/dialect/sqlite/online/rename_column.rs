//! `rename_column`: old code uses the old name, new code the new one, both
//! on the base table; the new column is a [`Duplicate`] of the same type,
//! copied both ways unchanged.

use super::duplicate::Duplicate;
use super::{absent, column, key, name, not_in_key, table};
use crate::operation::{Context, Phases};

/// The phases of renaming `table.old` to `new`.
pub(super) fn compile(
    ctx: &Context<'_>,
    table_name: &str,
    old: &str,
    new: &str,
    location: String,
) -> Result<Phases, String> {
    let before = table(ctx, table_name)?;
    let old_column = column(before, table_name, old)?;
    absent(before, table_name, new)?;
    let key = key(before, table_name)?;
    not_in_key(key, table_name, old, "renamed")?;
    Ok(Duplicate {
        ctx,
        before,
        table: table_name,
        key,
        old,
        new,
        data_type: old_column.data_type.clone(),
        up: name(old),
        down: name(new),
        location,
    }
    .phases())
}

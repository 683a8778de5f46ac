//! `add_check`: SQLite cannot add a constraint to a table that exists, nor
//! leave one unvalidated, so expand rebuilds the table with it and the copy
//! checks every row; abort rebuilds it without.

use super::{name, rebuild, table};
use crate::operation::{Context, Phases};

/// The phases of adding check `check_name` to `table`.
pub(super) fn compile(
    ctx: &Context<'_>,
    table_name: &str,
    check_name: &str,
    check: &str,
) -> Result<Phases, String> {
    let before = table(ctx, table_name)?;
    if before.checks.contains_key(check_name) {
        return Err(format!(
            "check `{check_name}` exists already on `{table_name}`: choose another name"
        ));
    }
    let mut target = before.clone();
    target
        .checks
        .insert(check_name.to_owned(), check.trim().to_owned());
    let marker = format!("CONSTRAINT {} CHECK", name(check_name));
    Ok(rebuild::constraint_phases(
        ctx,
        table_name,
        before,
        &target,
        &marker,
        &format!("check {check_name}"),
    ))
}

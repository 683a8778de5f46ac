//! `set_not_null` on PostgreSQL.

use super::Target;
use crate::operation::Phases;

/// The phases of `set_not_null`.
pub(super) fn compile(
    table: &Target,
    column: &str,
    up: &str,
    location: &str,
) -> Result<Phases, String> {
    let _ = (table, column, up, location);
    Err("`set_not_null` is not supported online on PostgreSQL yet; write it as a `raw_sql` operation".to_owned())
}

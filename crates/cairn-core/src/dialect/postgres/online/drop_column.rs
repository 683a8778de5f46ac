//! `drop_column` on PostgreSQL.

use super::Target;
use crate::operation::Phases;

/// The phases of `drop_column`.
pub(super) fn compile(
    table: &Target,
    column: &str,
    down: Option<&str>,
    location: &str,
) -> Result<Phases, String> {
    let _ = (table, column, down, location);
    Err("`drop_column` is not supported online on PostgreSQL yet; write it as a `raw_sql` operation".to_owned())
}

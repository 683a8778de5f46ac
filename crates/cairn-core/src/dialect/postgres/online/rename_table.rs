//! `rename_table` on PostgreSQL.

use super::Target;
use crate::operation::Phases;

/// The phases of `rename_table`.
pub(super) fn compile(table: &Target, to: &str) -> Result<Phases, String> {
    let _ = (table, to);
    Err("`rename_table` is not supported online on PostgreSQL yet; write it as a `raw_sql` operation".to_owned())
}

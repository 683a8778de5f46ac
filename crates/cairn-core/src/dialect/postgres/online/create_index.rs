//! `create_index` on PostgreSQL.

use super::Target;
use crate::operation::Phases;

/// The phases of `create_index`.
pub(super) fn compile(
    table: &Target,
    name: &str,
    columns: &[String],
    unique: bool,
) -> Result<Phases, String> {
    let _ = (table, name, columns, unique);
    Err("`create_index` is not supported online on PostgreSQL yet; write it as a `raw_sql` operation".to_owned())
}

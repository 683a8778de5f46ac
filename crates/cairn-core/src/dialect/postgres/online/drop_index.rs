//! `drop_index` on PostgreSQL.

use super::Target;
use crate::operation::Phases;

/// The phases of `drop_index`.
pub(super) fn compile(table: &Target, name: &str) -> Result<Phases, String> {
    let _ = (table, name);
    Err(
        "`drop_index` is not supported online on PostgreSQL yet; write it as a `raw_sql` operation"
            .to_owned(),
    )
}

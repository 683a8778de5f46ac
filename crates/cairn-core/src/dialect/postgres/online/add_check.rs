//! `add_check` on PostgreSQL.

use super::Target;
use crate::operation::Phases;

/// The phases of `add_check`.
pub(super) fn compile(table: &Target, name: &str, check: &str) -> Result<Phases, String> {
    let _ = (table, name, check);
    Err(
        "`add_check` is not supported online on PostgreSQL yet; write it as a `raw_sql` operation"
            .to_owned(),
    )
}

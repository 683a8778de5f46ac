//! `add_unique` on PostgreSQL.

use super::Target;
use crate::operation::Phases;

/// The phases of `add_unique`.
pub(super) fn compile(table: &Target, name: &str, columns: &[String]) -> Result<Phases, String> {
    let _ = (table, name, columns);
    Err(
        "`add_unique` is not supported online on PostgreSQL yet; write it as a `raw_sql` operation"
            .to_owned(),
    )
}

//! `add_foreign_key` on PostgreSQL.

use super::Target;
use crate::operation::Phases;

/// What `add_foreign_key` says.
pub(super) struct Spec<'a> {
    pub name: &'a str,
    pub columns: &'a [String],
    pub references: &'a str,
    pub referenced_columns: &'a [String],
    pub on_delete: Option<&'a str>,
}

/// The phases of `add_foreign_key`.
pub(super) fn compile(table: &Target, spec: &Spec<'_>) -> Result<Phases, String> {
    let _ = (table, spec);
    Err("not yet".to_owned())
}

//! `add_column` on PostgreSQL.

use super::Target;
use crate::operation::Phases;

/// What `add_column` says.
pub(super) struct Spec<'a> {
    pub column: &'a str,
    pub data_type: &'a str,
    pub not_null: bool,
    pub default: Option<&'a str>,
    pub up: Option<&'a str>,
}

/// The phases of `add_column`.
pub(super) fn compile(table: &Target, spec: &Spec<'_>, location: &str) -> Result<Phases, String> {
    let _ = (table, spec, location);
    Err("not yet".to_owned())
}

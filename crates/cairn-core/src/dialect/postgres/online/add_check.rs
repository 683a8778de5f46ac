//! `add_check`: added `NOT VALID` at expand (new rows are checked, the rows
//! there are not scanned), validated at contract under SHARE UPDATE
//! EXCLUSIVE, which lets writes go on.

use super::{guards, q, Target};
use crate::operation::{Phases, Step};

/// The phases of adding check `name`.
pub(super) fn compile(table: &Target, name: &str, check: &str) -> Result<Phases, String> {
    if table.table.checks.contains_key(name) {
        return Err(format!(
            "a check `{name}` exists already on `{}`; choose another name",
            table.key
        ));
    }
    if check.trim().is_empty() {
        return Err(format!(
            "check `{name}` is empty: give its condition, e.g. `check = \"price > 0\"`"
        ));
    }
    Ok(constraint(
        table,
        name,
        &format!("CHECK ({check})"),
        &format!("check {name} ({check})"),
    ))
}

/// The phases of a constraint added `NOT VALID` and validated at contract
/// (a check or a foreign key).
pub(super) fn constraint(table: &Target, name: &str, definition: &str, what: &str) -> Phases {
    let n = q(name);
    Phases {
        expand: vec![Step::new(
            format!("add {what} on {}, not validated yet", table.key),
            table.alter(&format!("ADD CONSTRAINT {n} {definition} NOT VALID")),
        )
        .done_if(guards::constraint_exists(table, name))
        .locking()],
        contract: vec![Step::new(
            format!("validate {name} on {} (writes go on)", table.key),
            table.alter(&format!("VALIDATE CONSTRAINT {n}")),
        )
        .done_if(guards::constraint_validated_or_missing(table, name))
        .locking()],
        abort: vec![Step::new(
            format!("drop constraint {name} of {}", table.key),
            table.alter(&format!("DROP CONSTRAINT IF EXISTS {n}")),
        )
        .done_if(guards::constraint_missing(table, name))
        .locking()],
        ..Phases::default()
    }
}

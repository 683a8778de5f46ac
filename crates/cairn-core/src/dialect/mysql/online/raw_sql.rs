//! `raw_sql`: the user's statements, run as written at expand (`up`),
//! contract and abort (`down`). Cairn cannot check what they do, so the
//! phases are flagged `unchecked` and no step has a guard.

use crate::operation::{Phases, Step};

/// The phases of a `raw_sql` operation.
pub(super) fn phases(up: &str, down: Option<&str>, contract: Option<&str>) -> Phases {
    let step = |what: &str, sql: &str| {
        Step::new(format!("{what} (raw_sql, unchecked: no guard)"), sql).locking()
    };
    Phases {
        expand: vec![step("run up", up)],
        contract: contract
            .map(|c| step("run contract", c))
            .into_iter()
            .collect(),
        abort: down.map(|d| step("run down", d)).into_iter().collect(),
        unchecked: true,
        ..Phases::default()
    }
}

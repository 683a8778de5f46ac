//! `raw_sql`: whatever the user wrote, run as it is. Cairn cannot tell
//! whether it ran already, so its steps have no guard and say so.

use crate::operation::{Phases, Step};

/// The phases of a `raw_sql` operation.
pub(super) fn compile(up: &str, down: Option<&str>, contract: Option<&str>) -> Phases {
    let step = |what: &str, sql: &str| {
        Step::new(
            format!("raw_sql {what} (unchecked: Cairn cannot tell whether it ran already)"),
            sql,
        )
        .locking()
    };
    Phases {
        expand: vec![step("up", up)],
        contract: contract
            .map(|sql| step("contract", sql))
            .into_iter()
            .collect(),
        abort: down.map(|sql| step("down", sql)).into_iter().collect(),
        unchecked: true,
        ..Phases::default()
    }
}

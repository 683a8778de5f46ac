//! `raw_sql`: the user's SQL as it is, expand = `up`, contract =
//! `contract`, abort = `down`. Cairn cannot tell whether it already ran, so
//! its steps have no guard and the operation is flagged unchecked.

use crate::operation::{Phases, Step};

/// The phases of `raw_sql`.
pub(super) fn compile(up: &str, down: Option<&str>, contract: Option<&str>) -> Phases {
    let step = |phase: &str, sql: &str| {
        vec![Step::new(
            format!(
                "raw SQL of {phase} (unchecked: no guard, it runs again if the phase is run again)"
            ),
            sql,
        )
        .locking()]
    };
    Phases {
        expand: step("expand (`up`)", up),
        contract: contract
            .map(|sql| step("contract", sql))
            .unwrap_or_default(),
        abort: down
            .map(|sql| step("abort (`down`)", sql))
            .unwrap_or_default(),
        unchecked: true,
        ..Phases::default()
    }
}

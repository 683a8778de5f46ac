//! `raw_sql`: the user's statements, run as written at expand (`up`),
//! contract and abort (`down`), each script split into its statements (the
//! family's splitter, `DELIMITER` understood). Cairn cannot tell whether
//! they already ran, so no step has a guard and the phases are flagged
//! `unchecked`.

use crate::engine::Engine;
use crate::operation::{Phases, Step};
use crate::split::split;

/// The phases of a `raw_sql` operation.
pub(super) fn phases(
    up: &str,
    down: Option<&str>,
    contract: Option<&str>,
) -> Result<Phases, String> {
    let step = |key: &str, phase: &str, sql: &str| -> Result<Vec<Step>, String> {
        let statements = split(sql, Engine::Mysql)
            .map_err(|e| format!("`{key}` cannot be split into statements: {e}"))?
            .into_iter()
            .map(|s| s.sql)
            .collect::<Vec<_>>();
        if statements.is_empty() {
            return Err(format!("`{key}` holds no statement; write the SQL to run"));
        }
        Ok(vec![Step {
            what: format!(
                "raw SQL of {phase} (unchecked: no guard, it runs again if the phase is run again)"
            ),
            statements,
            ..Step::default()
        }
        .locking()])
    };
    Ok(Phases {
        expand: step("up", "expand (`up`)", up)?,
        contract: contract
            .map(|sql| step("contract", "contract", sql))
            .transpose()?
            .unwrap_or_default(),
        abort: down
            .map(|sql| step("down", "abort (`down`)", sql))
            .transpose()?
            .unwrap_or_default(),
        unchecked: true,
        ..Phases::default()
    })
}

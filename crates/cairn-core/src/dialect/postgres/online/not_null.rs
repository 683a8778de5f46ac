//! NOT NULL without scanning the table under an exclusive lock: a `CHECK
//! (c IS NOT NULL) NOT VALID` (a short lock, no scan), its `VALIDATE` (a
//! scan under SHARE UPDATE EXCLUSIVE, which lets writes go on), then `SET
//! NOT NULL`, which PostgreSQL 12+ proves from the validated check without
//! a scan, and the check dropped in the same transaction.

use super::{guards, q, Target};
use crate::operation::Step;

/// The steps that make `column` NOT NULL, with check `check` (a Cairn name)
/// as the stepping stone. Each is skipped once the column is NOT NULL.
pub(super) fn set(table: &Target, column: &str, check: &str) -> Vec<Step> {
    let c = q(column);
    let done = guards::not_null_or_missing(table, column);
    vec![
        Step::new(
            format!(
                "check {}.{column} IS NOT NULL, not validated yet",
                table.key
            ),
            table.alter(&format!(
                "ADD CONSTRAINT {} CHECK ({c} IS NOT NULL) NOT VALID",
                q(check)
            )),
        )
        .done_if(format!(
            "{done} UNION ALL {}",
            guards::constraint_exists(table, check)
        ))
        .locking(),
        Step::new(
            format!(
                "validate that no row of {} has {column} NULL (writes go on)",
                table.key
            ),
            table.alter(&format!("VALIDATE CONSTRAINT {}", q(check))),
        )
        .done_if(format!(
            "{done} UNION ALL {}",
            guards::constraint_validated_or_missing(table, check)
        ))
        .locking(),
        Step {
            what: format!(
                "set {}.{column} NOT NULL (proved by the validated check, no scan)",
                table.key
            ),
            statements: vec![
                table.alter(&format!("ALTER COLUMN {c} SET NOT NULL")),
                table.alter(&format!("DROP CONSTRAINT IF EXISTS {}", q(check))),
            ],
            ..Step::default()
        }
        .done_if(format!(
            "{done} INTERSECT {}",
            guards::constraint_missing(table, check)
        ))
        .in_transaction()
        .locking(),
    ]
}

/// The step that lets `column` accept NULL again.
pub(super) fn drop(table: &Target, column: &str) -> Step {
    Step::new(
        format!("let {}.{column} accept NULL", table.key),
        table.alter(&format!("ALTER COLUMN {} DROP NOT NULL", q(column))),
    )
    .done_if(guards::nullable_or_missing(table, column))
    .locking()
}

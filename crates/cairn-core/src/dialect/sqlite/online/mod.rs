//! Zero-downtime operations on the sqlite family, one file per operation.

use super::SqliteDialect;
use crate::dialect::Online;
use crate::operation::{Context, Operation, Phases};

impl Online for SqliteDialect {
    fn compile_operation(
        &self,
        operation: &Operation,
        ctx: &Context<'_>,
    ) -> Result<Phases, String> {
        let _ = ctx;
        Err(format!(
            "`{}` is not supported online on sqlite yet",
            operation.kind.name()
        ))
    }
}

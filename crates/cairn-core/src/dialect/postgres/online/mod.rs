//! Zero-downtime operations on the postgres family, one file per operation.

use super::PostgresDialect;
use crate::dialect::Online;
use crate::operation::{Context, Operation, Phases};

impl Online for PostgresDialect {
    fn compile_operation(
        &self,
        operation: &Operation,
        ctx: &Context<'_>,
    ) -> Result<Phases, String> {
        let _ = ctx;
        Err(format!(
            "`{}` is not supported online on postgres yet",
            operation.kind.name()
        ))
    }
}

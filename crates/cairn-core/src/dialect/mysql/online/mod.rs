//! Zero-downtime operations on the mysql family, one file per operation.

use super::MysqlDialect;
use crate::dialect::Online;
use crate::operation::{Context, Operation, Phases};

impl Online for MysqlDialect {
    fn compile_operation(
        &self,
        operation: &Operation,
        ctx: &Context<'_>,
    ) -> Result<Phases, String> {
        let _ = ctx;
        Err(format!(
            "`{}` is not supported online on mysql yet",
            operation.kind.name()
        ))
    }
}

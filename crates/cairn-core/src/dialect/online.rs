//! What a product says to change a table online: each operation of
//! [`crate::operation::Kind`] compiled into its [`Phases`].
//!
//! Each family implements it in `dialect/<family>/online/`, one file per
//! operation. The default refuses every operation, naming it, so that an
//! outside dialect compiles without it and says what it lacks.

use crate::operation::{Context, Operation, Phases};

/// Compiles zero-downtime operations for one product.
pub trait Online {
    /// The phases of `operation` on this product.
    ///
    /// `Err` is a message naming what is wrong and what to do (a column that
    /// does not exist in `ctx.before`, an operation the product cannot do
    /// online); the caller adds the file, line, operation and engine.
    fn compile_operation(
        &self,
        operation: &Operation,
        ctx: &Context<'_>,
    ) -> Result<Phases, String> {
        let _ = ctx;
        Err(format!(
            "`{}` is not supported online by this dialect",
            operation.kind.name()
        ))
    }
}

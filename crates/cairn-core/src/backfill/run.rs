//! The run loop of one backfill: resolve the key, check the SQL, bound the
//! work, then batch after batch ([`super::batch`]) with the throttle
//! ([`super::throttle`]) between them, until no row is left or the stop
//! signal is given.

use std::time::{Duration, Instant};

use super::batch::{self, BatchError, Plan, Work};
use super::checkpoint::{self, CheckpointState};
use super::spec::{Action, Backfill, MAX_BATCH_SIZE};
use super::sql::{primary_key_query, BatchSql, Checkpoint, CheckpointSql, Key};
use super::throttle::{self, LagWatch};
use super::{Hooks, Progress, Rejection};
use crate::clock::UtcTime;
use crate::driver::{Driver, DriverError, DriverErrorKind, Rows};
use crate::error::{Error, Result};
use crate::migration::Version;

/// What a backfill run needs to know besides the backfill itself.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The migration's version.
    pub version: Version,
    /// The migration's name.
    pub migration: &'a str,
    /// Which backfill of the migration this is (0-based).
    pub step: usize,
    /// How many backfills the migration has.
    pub steps: usize,
    /// The checkpoint table.
    pub checkpoints: &'a CheckpointSql,
    /// Data migrations, stop signal, progress.
    pub hooks: &'a Hooks,
    /// How often a batch that timed out on a lock is retried.
    pub lock_retries: u32,
    /// The first backoff between retries; it doubles each time, jittered.
    pub retry_backoff: Duration,
    /// The longest backoff between retries.
    pub retry_backoff_max: Duration,
}

/// Runs `backfill` to the end (or to the stop signal), resuming from its
/// checkpoint if an earlier run committed one. Returns the final checkpoint
/// and the rows this run changed.
pub async fn run(
    driver: &mut dyn Driver,
    backfill: &Backfill,
    ctx: &Context<'_>,
) -> Result<(Checkpoint, i64)> {
    let engine = driver.dialect().engine();
    let fail = |key: Option<&[String]>, message: String, outcome: &str| {
        Error::Backfill(Box::new(crate::error::BackfillFailure {
            version: ctx.version,
            name: ctx.migration.to_owned(),
            engine,
            location: backfill.location.clone(),
            table: backfill.table.clone(),
            key: key.map(|k| k.join(", ")),
            message,
            outcome: outcome.to_owned(),
        }))
    };
    driver
        .execute(&ctx.checkpoints.create())
        .await
        .map_err(|e| Error::driver(engine, format!("creating {}", ctx.checkpoints.table()), e))?;
    let existing = checkpoint::read(driver, ctx).await?;
    if let Some(done) = existing
        .as_ref()
        .filter(|c| c.state == CheckpointState::Done)
    {
        return Ok((done.clone(), 0));
    }

    // The key, and a check of the SQL that changes nothing.
    let key_rows = driver
        .query(&primary_key_query(driver.dialect(), &backfill.table))
        .await
        .map_err(|e| {
            Error::driver(
                engine,
                format!("reading the primary key of `{}`", backfill.table),
                e,
            )
        })?;
    let (set, filter) = backfill.action.sql_for(engine);
    let work = match &backfill.action {
        Action::Sql { .. } => Work::Sql {
            set: set.unwrap_or_default(),
        },
        Action::Rust { name, .. } => {
            let data = ctx.hooks.data_migrations.get(name).ok_or_else(|| {
                fail(
                    None,
                    format!("no data migration named `{name}` is registered in this program"),
                    "nothing was written; register it with `Migrator::register_data_migration` in the program that runs the migrations",
                )
            })?;
            Work::Rust {
                data: data.as_ref(),
                reads: data.reads(),
            }
        }
    };
    let key = Key::from_columns(
        key_rows
            .into_iter()
            .map(|row| {
                let mut values = row.into_iter();
                (
                    values.next().flatten().unwrap_or_default(),
                    values.next().flatten().unwrap_or_default(),
                )
            })
            .collect(),
    );
    let sql = BatchSql::new(driver.dialect(), &backfill.table, key);
    let probe = match &work {
        Work::Sql { set } => driver
            .execute(&sql.probe_update(set, filter))
            .await
            .map(drop),
        Work::Rust { reads, .. } => driver
            .query(&sql.probe_select(reads, filter))
            .await
            .map(drop),
    };
    if let Err(e) = probe {
        return Err(fail(None, e.to_string(), "the backfill was checked before any batch ran: nothing was written; fix `set`/`where` (or the table) in migration.toml and run `cairn up` again"));
    }
    if sql.key().columns.is_empty() {
        return Err(fail(None, format!("table `{}` has no primary key", backfill.table), "nothing was written; a backfill pages by primary key: add one, or backfill with a migration script"));
    }

    let mut checkpoint = match existing {
        Some(mut c) => {
            checkpoint::check_resumable(&c, &sql.key().columns, &backfill.table, ctx.checkpoints)
                .map_err(|e| fail(None, e.message, &e.outcome))?;
            c.state = CheckpointState::Running;
            c.error = None;
            // A batch size changed in migration.toml applies on resume,
            // unless the size adapts (then the adapted one carries on).
            if backfill.batch.target_time.is_none() {
                c.batch_size = backfill.batch.size as i64;
            }
            driver
                .execute(&ctx.checkpoints.update(&c))
                .await
                .map_err(|e| Error::driver(engine, "marking the backfill as running again", e))?;
            c
        }
        None => start(driver, &sql, filter, backfill, ctx).await?,
    };
    let changed_before = checkpoint.rows_changed;
    let Some(max) = checkpoint.max_key.clone() else {
        return Ok((finish(driver, ctx, checkpoint, Instant::now(), 0).await?, 0));
    };

    let started = Instant::now();
    let done_before = checkpoint.rows_done;
    let mut lag = LagWatch::new(
        backfill.batch.max_replication_lag,
        driver.dialect(),
        &ctx.hooks.replicas,
    );
    let mut size = u64::try_from(checkpoint.batch_size)
        .unwrap_or(backfill.batch.size)
        .clamp(1, MAX_BATCH_SIZE);
    let plan = Plan {
        sql: &sql,
        work: &work,
        filter,
        max: &max,
        checkpoints: ctx.checkpoints,
    };
    loop {
        if ctx.hooks.stop.is_stopped() {
            checkpoint.state = CheckpointState::Stopped;
            checkpoint.updated_at = UtcTime::now().rfc3339();
            if let Err(e) = driver.execute(&ctx.checkpoints.update(&checkpoint)).await {
                tracing::warn!(error = %e, "could not mark the backfill as stopped");
            }
            return Err(Error::Interrupted {
                version: ctx.version,
                name: ctx.migration.to_owned(),
                table: backfill.table.clone(),
                done: checkpoint.rows_done,
                total: checkpoint.rows_total,
            });
        }
        lag.wait(driver, ctx).await?;
        let mut attempt = 0;
        let (batch, rejected, took) = loop {
            let batch_started = Instant::now();
            match batch::run(driver, &plan, &checkpoint, size).await {
                Ok(Some((batch, rejected))) => {
                    break (Some(batch), rejected, batch_started.elapsed())
                }
                Ok(None) => break (None, Vec::new(), batch_started.elapsed()),
                Err(BatchError::Driver(e))
                    if e.kind == DriverErrorKind::LockTimeout && attempt < ctx.lock_retries =>
                {
                    tokio::time::sleep(crate::retry::backoff(
                        ctx.retry_backoff,
                        ctx.retry_backoff_max,
                        attempt,
                    ))
                    .await;
                    attempt += 1;
                }
                Err(BatchError::Driver(e)) if e.kind == DriverErrorKind::Connection => {
                    return Err(Error::driver(engine, format!("running a batch of the backfill of `{}` (migration {}): the batch in flight was rolled back by the server and the checkpoint stays at {} of {} rows; run `cairn up` again to resume", backfill.table, ctx.version, checkpoint.rows_done, checkpoint.rows_total), e));
                }
                Err(BatchError::Driver(e)) => {
                    return Err(
                        record_failure(driver, ctx, &mut checkpoint, None, &e, &fail).await,
                    );
                }
                Err(BatchError::Row(key, e)) => {
                    return Err(record_failure(
                        driver,
                        ctx,
                        &mut checkpoint,
                        Some(&key),
                        &e,
                        &fail,
                    )
                    .await);
                }
            }
        };
        let Some(batch) = batch else {
            let done = finish(driver, ctx, checkpoint, started, done_before).await?;
            let changed = done.rows_changed - changed_before;
            return Ok((done, changed));
        };
        checkpoint = batch;
        // The checkpoint measured the batch up to its own write; the next one
        // (or `finish`) records the whole transaction, COMMIT included.
        checkpoint.longest_batch_ms = checkpoint
            .longest_batch_ms
            .max(i64::try_from(took.as_millis()).unwrap_or(i64::MAX));
        lag.committed(checkpoint.batches);
        report(
            ctx,
            &checkpoint,
            done_before,
            started,
            took,
            &rejected,
            false,
        );
        if let Some(target) = backfill.batch.target_time {
            size = throttle::adapt(size, took, target);
        }
        throttle::pause(backfill.batch.pause, &ctx.hooks.stop).await;
    }
}

/// Bounds the work (the largest key now), counts it and commits the first checkpoint.
async fn start(
    driver: &mut dyn Driver,
    sql: &BatchSql,
    filter: Option<&str>,
    backfill: &Backfill,
    ctx: &Context<'_>,
) -> Result<Checkpoint> {
    let engine = driver.dialect().engine();
    let context = |what: &str| {
        format!(
            "{what} of the backfill of `{}` (migration {})",
            backfill.table, ctx.version
        )
    };
    let max = driver
        .query(&sql.max_key())
        .await
        .map_err(|e| Error::driver(engine, context("reading the largest key"), e))?
        .into_iter()
        .next()
        .map(|row| {
            row.into_iter()
                .map(Option::unwrap_or_default)
                .collect::<Vec<String>>()
        });
    let total = match &max {
        Some(max) => first_int(
            driver
                .query(&sql.count(max, filter))
                .await
                .map_err(|e| Error::driver(engine, context("counting the rows"), e))?,
        ),
        None => 0,
    };
    let now = UtcTime::now().rfc3339();
    let checkpoint = Checkpoint {
        version: ctx.version,
        step: ctx.step as i64,
        table: backfill.table.clone(),
        state: CheckpointState::Running,
        key_columns: sql.key().columns.clone(),
        max_key: max,
        last_key: None,
        rows_total: total,
        rows_done: 0,
        rows_changed: 0,
        rows_rejected: 0,
        batches: 0,
        batch_size: backfill.batch.size as i64,
        longest_batch_ms: 0,
        started_at: now.clone(),
        updated_at: now,
        error: None,
    };
    driver
        .execute(&ctx.checkpoints.insert(&checkpoint))
        .await
        .map_err(|e| Error::driver(engine, context("recording the first checkpoint"), e))?;
    Ok(checkpoint)
}

fn first_int(rows: Rows) -> i64 {
    rows.first()
        .and_then(|row| row.first().cloned().flatten())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Records the error in the checkpoint (best effort) and builds the error.
async fn record_failure(
    driver: &mut dyn Driver,
    ctx: &Context<'_>,
    checkpoint: &mut Checkpoint,
    key: Option<&[String]>,
    e: &DriverError,
    fail: &impl Fn(Option<&[String]>, String, &str) -> Error,
) -> Error {
    checkpoint.state = CheckpointState::Failed;
    checkpoint.error = Some(match key {
        Some(key) => format!("row ({}): {e}", key.join(", ")),
        None => e.to_string(),
    });
    checkpoint.updated_at = UtcTime::now().rfc3339();
    if let Err(e) = driver.execute(&ctx.checkpoints.update(checkpoint)).await {
        tracing::warn!(error = %e, "could not record the failure in the checkpoint");
    }
    let outcome = format!(
        "the failing batch was rolled back; the checkpoint stays at the last committed batch ({} of {} rows done). Fix the data or `set`/`where` in migration.toml, then run `cairn up` to resume from there",
        checkpoint.rows_done, checkpoint.rows_total
    );
    fail(key, e.to_string(), &outcome)
}

/// Marks the checkpoint done.
async fn finish(
    driver: &mut dyn Driver,
    ctx: &Context<'_>,
    mut checkpoint: Checkpoint,
    started: Instant,
    done_before: i64,
) -> Result<Checkpoint> {
    let engine = driver.dialect().engine();
    checkpoint.state = CheckpointState::Done;
    checkpoint.error = None;
    checkpoint.updated_at = UtcTime::now().rfc3339();
    driver
        .execute(&ctx.checkpoints.update(&checkpoint))
        .await
        .map_err(|e| Error::driver(engine, "marking the backfill done", e))?;
    report(
        ctx,
        &checkpoint,
        done_before,
        started,
        Duration::ZERO,
        &[],
        true,
    );
    Ok(checkpoint)
}

fn report(
    ctx: &Context<'_>,
    checkpoint: &Checkpoint,
    done_before: i64,
    started: Instant,
    last_batch: Duration,
    rejected: &[Rejection],
    finished: bool,
) {
    for r in rejected {
        tracing::info!(version = %ctx.version, table = %checkpoint.table, key = %r.key.join(", "), reason = %r.reason, "row rejected by the data migration");
    }
    if let Some(progress) = &ctx.hooks.progress {
        progress(&Progress {
            version: ctx.version,
            migration: ctx.migration,
            step: ctx.step,
            steps: ctx.steps,
            checkpoint,
            rows_this_run: checkpoint.rows_done - done_before,
            elapsed: started.elapsed(),
            last_batch,
            rejected,
            finished,
        });
    }
}

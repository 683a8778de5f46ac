//! Runs one backfill: resolve the key, check the SQL, then batch by batch
//! with a checkpoint committed in every batch's transaction.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::spec::{Action, Backfill, MAX_BATCH_SIZE};
use super::sql::{primary_key_query, BatchSql, Checkpoint, CheckpointSql, Key};
use super::{DataMigration, Hooks, Progress, Rejection, Transform};
use crate::clock::UtcTime;
use crate::driver::{Driver, DriverError, DriverErrorKind, Rows};
use crate::engine::Engine;
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

/// What every batch of one backfill shares.
#[derive(Clone, Copy)]
struct Plan<'a> {
    sql: &'a BatchSql,
    work: &'a Work<'a>,
    filter: Option<&'a str>,
    max: &'a [String],
}

/// What a batch does to its rows.
enum Work<'a> {
    Sql {
        set: &'a str,
    },
    Rust {
        data: &'a dyn DataMigration,
        reads: Vec<String>,
    },
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
    let existing = read_checkpoint(driver, ctx).await?;
    if let Some(done) = existing.as_ref().filter(|c| c.state == "done") {
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
            if c.key_columns != sql.key().columns {
                return Err(fail(None, format!("the primary key of `{}` is ({}) but the checkpoint was taken on ({})", backfill.table, sql.key().columns.join(", "), c.key_columns.join(", ")), "nothing was written; restore the key, or roll the migration back and apply it again"));
            }
            c.state = "running".to_owned();
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
    // (batches committed after it, when) for batches replicas may not have yet.
    let mut commits: VecDeque<(i64, Instant)> = VecDeque::new();
    let mut size = u64::try_from(checkpoint.batch_size)
        .unwrap_or(backfill.batch.size)
        .clamp(1, MAX_BATCH_SIZE);
    loop {
        if ctx.hooks.stop.is_stopped() {
            checkpoint.state = "stopped".to_owned();
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
        if let Some(max_lag) = backfill.batch.max_replication_lag {
            if ctx.hooks.replicas.is_empty() {
                wait_for_standbys(driver, max_lag, &ctx.hooks.stop).await?;
            } else {
                wait_for_replicas(ctx, max_lag, &mut commits).await?;
            }
        }
        let mut attempt = 0;
        let (batch, rejected, took) = loop {
            let batch_started = Instant::now();
            let plan = Plan {
                sql: &sql,
                work: &work,
                filter,
                max: &max,
            };
            match run_batch(driver, &plan, &checkpoint, size, ctx).await {
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
        commits.push_back((checkpoint.batches, Instant::now()));
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
            size = adapt(size, took, target);
        }
        pause(backfill.batch.pause, &ctx.hooks.stop).await;
    }
}

/// Sleeps `length`, waking early when stopping is asked for.
async fn pause(length: Duration, stop: &super::StopSignal) {
    let until = Instant::now() + length;
    while !stop.is_stopped() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(Duration::from_millis(50))).await;
    }
}

/// Why a batch failed.
enum BatchError {
    /// A statement failed; the batch was rolled back.
    Driver(DriverError),
    /// The row with this key made the batch fail; the batch was rolled back.
    Row(Vec<String>, DriverError),
}

/// The next batch size so that a batch takes about `target`: scaled by the
/// ratio, at most doubled or halved at a time.
fn adapt(size: u64, took: Duration, target: Duration) -> u64 {
    let took = took.as_secs_f64().max(0.000_1);
    let scaled = (size as f64) * (target.as_secs_f64() / took);
    let bounded = scaled.clamp(size as f64 / 2.0, size as f64 * 2.0);
    (bounded as u64).clamp(1, MAX_BATCH_SIZE)
}

async fn read_checkpoint(driver: &mut dyn Driver, ctx: &Context<'_>) -> Result<Option<Checkpoint>> {
    let engine = driver.dialect().engine();
    let rows = driver
        .query(&ctx.checkpoints.select(Some(ctx.version)))
        .await
        .map_err(|e| Error::driver(engine, format!("reading {}", ctx.checkpoints.table()), e))?;
    let checkpoints = ctx
        .checkpoints
        .decode(rows)
        .map_err(|message| Error::CorruptHistory {
            table: ctx.checkpoints.table().to_owned(),
            engine,
            message,
        })?;
    Ok(checkpoints.into_iter().find(|c| c.step == ctx.step as i64))
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
        state: "running".to_owned(),
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

/// Runs one batch in its own transaction with its checkpoint. `Ok(None)`
/// when no row is left.
async fn run_batch(
    driver: &mut dyn Driver,
    plan: &Plan<'_>,
    checkpoint: &Checkpoint,
    size: u64,
    ctx: &Context<'_>,
) -> Result<Option<(Checkpoint, Vec<Rejection>)>, BatchError> {
    let started = Instant::now();
    driver.begin().await.map_err(BatchError::Driver)?;
    let result = batch_statements(driver, plan, checkpoint, size, ctx, started).await;
    match result {
        Ok(Some(done)) => match driver.commit().await {
            Ok(()) => Ok(Some(done)),
            Err(e) => {
                let _ = driver.rollback().await;
                Err(BatchError::Driver(e))
            }
        },
        Ok(None) => {
            let _ = driver.rollback().await;
            Ok(None)
        }
        Err(e) => {
            let _ = driver.rollback().await;
            Err(match e {
                BatchError::Driver(e) if e.kind == DriverErrorKind::Statement => {
                    find_failing_row(driver, plan, checkpoint, size)
                        .await
                        .unwrap_or(BatchError::Driver(e))
                }
                other => other,
            })
        }
    }
}

async fn batch_statements(
    driver: &mut dyn Driver,
    plan: &Plan<'_>,
    checkpoint: &Checkpoint,
    size: u64,
    ctx: &Context<'_>,
    started: Instant,
) -> Result<Option<(Checkpoint, Vec<Rejection>)>, BatchError> {
    let Plan {
        sql,
        work,
        filter,
        max,
    } = *plan;
    let key_len = sql.key().columns.len();
    let after = checkpoint.last_key.as_deref();
    // What the batch covers: its last key and row count, and for a Rust data
    // migration the rows themselves.
    let bound = match work {
        Work::Sql { .. } => sql.next_bound(after, max, filter, size),
        Work::Rust { .. } => None,
    };
    let (upper, count, rows) = match bound {
        Some(bound) => {
            let row = driver
                .query(&bound)
                .await
                .map_err(BatchError::Driver)?
                .into_iter()
                .next()
                .unwrap_or_default();
            let count: i64 = row
                .get(1)
                .cloned()
                .flatten()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            match row.first().cloned().flatten() {
                Some(upper) if count > 0 => (vec![upper], count, Vec::new()),
                _ => return Ok(None),
            }
        }
        None => {
            let reads: &[String] = match work {
                Work::Sql { .. } => &[],
                Work::Rust { reads, .. } => reads,
            };
            let rows = driver
                .query(&sql.next_batch(after, max, filter, reads, size))
                .await
                .map_err(BatchError::Driver)?;
            let Some(last) = rows.last() else {
                return Ok(None);
            };
            let upper: Vec<String> = last[..key_len]
                .iter()
                .map(|v| v.clone().unwrap_or_default())
                .collect();
            (upper, rows.len() as i64, rows)
        }
    };
    let mut statements = Vec::new();
    if driver.dialect().engine() == crate::engine::Engine::Postgres {
        // The commit need not wait for the WAL flush: a crash loses the last
        // batches together with their checkpoints, so a resumed run redoes
        // exactly those. The final history update commits synchronously,
        // which flushes everything before it.
        statements.push("SET LOCAL synchronous_commit = off".to_owned());
    }
    let mut rejected = Vec::new();
    let changed = match work {
        Work::Sql { set } => {
            statements.push(sql.update_batch(set, after, &upper, filter));
            // The batch's rows are those the UPDATE matches (same range, same
            // filter, same transaction).
            count
        }
        Work::Rust { data, .. } => {
            let mut writes = 0;
            for row in &rows {
                let key: Vec<String> = row[..key_len]
                    .iter()
                    .map(|v| v.clone().unwrap_or_default())
                    .collect();
                match data.transform(&row[key_len..]) {
                    Transform::Write(values) if !values.is_empty() => {
                        statements.push(sql.write_row(&key, &values));
                        writes += 1;
                    }
                    Transform::Write(_) | Transform::Unchanged => {}
                    Transform::Reject(reason) => rejected.push(Rejection { key, reason }),
                }
            }
            writes
        }
    };
    let mut next = checkpoint.clone();
    next.last_key = Some(upper);
    next.rows_done += count;
    next.rows_changed += changed;
    next.rows_rejected += rejected.len() as i64;
    next.batches += 1;
    next.batch_size = size as i64;
    next.longest_batch_ms = next
        .longest_batch_ms
        .max(i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX));
    next.updated_at = UtcTime::now().rfc3339();
    // The changes and the checkpoint travel together (one round trip where
    // the driver can pipeline).
    statements.push(ctx.checkpoints.update(&next));
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    driver
        .execute_many(&statements)
        .await
        .map_err(|(_, e)| BatchError::Driver(e))?;
    Ok(Some((next, rejected)))
}

/// After a batch failed on a statement: replays it row by row, each in a
/// transaction that is rolled back, to name the row that fails.
async fn find_failing_row(
    driver: &mut dyn Driver,
    plan: &Plan<'_>,
    checkpoint: &Checkpoint,
    size: u64,
) -> Option<BatchError> {
    let Plan {
        sql,
        work,
        filter,
        max,
    } = *plan;
    let key_len = sql.key().columns.len();
    let reads: &[String] = match work {
        Work::Sql { .. } => &[],
        Work::Rust { reads, .. } => reads,
    };
    let rows = driver
        .query(&sql.next_batch(checkpoint.last_key.as_deref(), max, filter, reads, size))
        .await
        .ok()?;
    for row in rows {
        let key: Vec<String> = row[..key_len]
            .iter()
            .map(|v| v.clone().unwrap_or_default())
            .collect();
        let statement = match work {
            Work::Sql { set } => sql.update_row(set, &key, filter),
            Work::Rust { data, .. } => match data.transform(&row[key_len..]) {
                Transform::Write(values) if !values.is_empty() => sql.write_row(&key, &values),
                _ => continue,
            },
        };
        driver.begin().await.ok()?;
        let outcome = driver.execute(&statement).await;
        let _ = driver.rollback().await;
        if let Err(e) = outcome {
            return Some(BatchError::Row(key, e));
        }
    }
    None
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
    checkpoint.state = "failed".to_owned();
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
    checkpoint.state = "done".to_owned();
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
        tracing::info!(version = ctx.version, table = %checkpoint.table, key = %r.key.join(", "), reason = %r.reason, "row rejected by the data migration");
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

/// The query for the worst replica lag in seconds, seen from the primary.
fn lag_query(engine: Engine) -> Option<&'static str> {
    match engine {
        Engine::Postgres => Some(
            "SELECT COALESCE(EXTRACT(EPOCH FROM MAX(replay_lag)), 0)::text FROM pg_stat_replication",
        ),
        Engine::Mysql | Engine::Sqlite => None,
    }
}

/// How many batches of this backfill `replica` has applied: its copy of the
/// checkpoint says. A replica that has not received the checkpoint table yet
/// has applied none.
async fn replica_batches(replica: &super::Replica, ctx: &Context<'_>) -> Result<i64> {
    let mut driver = replica.driver.lock().await;
    let engine = driver.dialect().engine();
    match driver
        .query(&ctx.checkpoints.select(Some(ctx.version)))
        .await
    {
        Ok(rows) => {
            let checkpoints =
                ctx.checkpoints
                    .decode(rows)
                    .map_err(|message| Error::CorruptHistory {
                        table: format!("{} on replica {}", ctx.checkpoints.table(), replica.name),
                        engine,
                        message,
                    })?;
            Ok(checkpoints
                .iter()
                .find(|c| c.step == ctx.step as i64)
                .map_or(0, |c| c.batches))
        }
        Err(e) if e.kind == DriverErrorKind::Statement => Ok(0),
        Err(e) => Err(Error::driver(
            engine,
            format!(
                "reading the backfill checkpoint on replica {}",
                replica.name
            ),
            e,
        )),
    }
}

/// Waits while a replica has not applied a batch committed more than
/// `max_lag` ago. `commits` holds the batches not yet seen on every replica.
async fn wait_for_replicas(
    ctx: &Context<'_>,
    max_lag: Duration,
    commits: &mut VecDeque<(i64, Instant)>,
) -> Result<()> {
    let mut last_note = Instant::now();
    loop {
        let Some(&(_, oldest)) = commits.front() else {
            return Ok(());
        };
        if oldest.elapsed() <= max_lag || ctx.hooks.stop.is_stopped() {
            return Ok(());
        }
        let mut applied = i64::MAX;
        let mut slowest = String::new();
        for replica in &ctx.hooks.replicas {
            let batches = replica_batches(replica, ctx).await?;
            if batches < applied {
                applied = batches;
                slowest.clone_from(&replica.name);
            }
        }
        while commits.front().is_some_and(|&(batch, _)| batch <= applied) {
            commits.pop_front();
        }
        let Some(&(_, oldest)) = commits.front() else {
            return Ok(());
        };
        let lag = oldest.elapsed();
        if lag <= max_lag {
            return Ok(());
        }
        if last_note.elapsed() >= Duration::from_secs(10) {
            last_note = Instant::now();
            tracing::warn!(replica = %slowest, lag_s = lag.as_secs_f64(), max_s = max_lag.as_secs_f64(), "a replica lags behind the backfill: waiting before the next batch");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Without replica connections, on PostgreSQL: waits while a standby's
/// `replay_lag` in `pg_stat_replication` exceeds `max_lag` (checked every second).
async fn wait_for_standbys(
    driver: &mut dyn Driver,
    max_lag: Duration,
    stop: &super::StopSignal,
) -> Result<()> {
    let engine = driver.dialect().engine();
    let Some(query) = lag_query(engine) else {
        tracing::warn!(%engine, "max_replication_lag needs replica connections on this engine (`replica_urls` in cairn.toml); none is configured, so it is ignored");
        return Ok(());
    };
    loop {
        let rows = driver
            .query(query)
            .await
            .map_err(|e| Error::driver(engine, "reading the replication lag", e))?;
        let lag: f64 = rows
            .first()
            .and_then(|row| row.first().cloned().flatten())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        if lag <= max_lag.as_secs_f64() || stop.is_stopped() {
            return Ok(());
        }
        tracing::info!(
            lag_s = lag,
            max_s = max_lag.as_secs_f64(),
            "replicas lag behind: waiting before the next batch"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_size_moves_toward_the_target_at_most_twofold() {
        let target = Duration::from_millis(100);
        assert_eq!(adapt(1000, Duration::from_millis(50), target), 2000);
        assert_eq!(adapt(1000, Duration::from_millis(10), target), 2000);
        assert_eq!(adapt(1000, Duration::from_millis(400), target), 500);
        assert_eq!(adapt(1000, Duration::from_millis(125), target), 800);
        assert_eq!(adapt(1, Duration::from_secs(9), target), 1);
        assert_eq!(
            adapt(MAX_BATCH_SIZE, Duration::ZERO, target),
            MAX_BATCH_SIZE
        );
    }
}

//! One batch of a backfill: its statements and checkpoint in one transaction,
//! and, when a statement fails, the replay that names the failing row.

use std::time::Instant;

use super::sql::{BatchSql, Checkpoint};
use super::{DataMigration, Rejection, Transform};
use crate::clock::UtcTime;
use crate::driver::{Driver, DriverError, DriverErrorKind};

/// What every batch of one backfill shares.
#[derive(Clone, Copy)]
pub(super) struct Plan<'a> {
    pub(super) sql: &'a BatchSql,
    pub(super) work: &'a Work<'a>,
    pub(super) filter: Option<&'a str>,
    pub(super) max: &'a [String],
    /// The checkpoint table's SQL.
    pub(super) checkpoints: &'a super::sql::CheckpointSql,
}

/// What a batch does to its rows.
pub(super) enum Work<'a> {
    Sql {
        set: &'a str,
    },
    Rust {
        data: &'a dyn DataMigration,
        reads: Vec<String>,
    },
}

impl Work<'_> {
    /// The columns a batch reads besides the key.
    fn reads(&self) -> &[String] {
        match self {
            Work::Sql { .. } => &[],
            Work::Rust { reads, .. } => reads,
        }
    }
}

/// Why a batch failed.
pub(super) enum BatchError {
    /// A statement failed; the batch was rolled back.
    Driver(DriverError),
    /// The row with this key made the batch fail; the batch was rolled back.
    Row(Vec<String>, DriverError),
}

/// A committed batch: the checkpoint it wrote, and the rows it rejected.
pub(super) type Committed = (Checkpoint, Vec<Rejection>);

/// Runs one batch in its own transaction with its checkpoint. `Ok(None)`
/// when no row is left.
pub(super) async fn run(
    driver: &mut dyn Driver,
    plan: &Plan<'_>,
    checkpoint: &Checkpoint,
    size: u64,
) -> Result<Option<Committed>, BatchError> {
    let started = Instant::now();
    // A SQL batch reads its bound before its transaction begins, so that the
    // transaction holds no snapshot when its UPDATE runs: under snapshot
    // isolation (MariaDB 11.6+, `innodb_snapshot_isolation`, on by default)
    // an UPDATE of a row that a writer changed after the transaction's
    // snapshot fails ("Record has changed since last read"), which under
    // steady application writes fails batch after batch; without a snapshot
    // the UPDATE takes each row's lock and reads its latest version. The
    // range stays exact (the UPDATE names it), only the row count of the
    // batch's progress may miss rows inserted in between.
    let query = match plan.work {
        Work::Sql { .. } => {
            plan.sql
                .next_bound(checkpoint.last_key.as_deref(), plan.max, plan.filter, size)
        }
        // A data migration reads its rows in the transaction that writes them.
        Work::Rust { .. } => None,
    };
    let bound = match query {
        Some(query) => match read_bound(driver, &query).await? {
            Some(bound) => Some(bound),
            None => return Ok(None),
        },
        // A composite key pages by reading the batch's keys instead.
        None => None,
    };
    driver.begin().await.map_err(BatchError::Driver)?;
    let result = statements(driver, plan, checkpoint, size, started, bound).await;
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

/// The key of a row read by a batch: its first `key_len` values.
fn key_of(row: &[Option<String>], key_len: usize) -> Vec<String> {
    row[..key_len]
        .iter()
        .map(|v| v.clone().unwrap_or_default())
        .collect()
}

async fn statements(
    driver: &mut dyn Driver,
    plan: &Plan<'_>,
    checkpoint: &Checkpoint,
    size: u64,
    started: Instant,
    bound: Option<(String, i64)>,
) -> Result<Option<Committed>, BatchError> {
    let Plan {
        sql,
        work,
        filter,
        max,
        checkpoints,
    } = *plan;
    let key_len = sql.key().columns.len();
    let after = checkpoint.last_key.as_deref();
    // What the batch covers: its last key and row count (read by `run`
    // for SQL work), and for a Rust data migration the rows themselves.
    let (upper, count, rows) = match bound {
        Some((upper, count)) => (vec![upper], count, Vec::new()),
        None => {
            let rows = driver
                .query(&sql.next_batch(after, max, filter, work.reads(), size))
                .await
                .map_err(BatchError::Driver)?;
            let Some(last) = rows.last() else {
                return Ok(None);
            };
            (key_of(last, key_len), rows.len() as i64, rows)
        }
    };
    // The dialect's prelude: on PostgreSQL the commit need not wait for the
    // WAL flush, since a crash loses the last batches together with their
    // checkpoints, so a resumed run redoes exactly those; the final history
    // update commits synchronously, which flushes everything before it.
    let mut statements: Vec<String> = driver
        .dialect()
        .batch_prelude()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
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
                let key = key_of(row, key_len);
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
    statements.push(checkpoints.update(&next));
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    driver
        .execute_many(&statements)
        .await
        .map_err(|(_, e)| BatchError::Driver(e))?;
    Ok(Some((next, rejected)))
}

/// The last key and the row count `query` (a bound of [`BatchSql::next_bound`])
/// gives; `None` when no row is left.
async fn read_bound(
    driver: &mut dyn Driver,
    query: &str,
) -> Result<Option<(String, i64)>, BatchError> {
    let row = driver
        .query(query)
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
    Ok(match row.first().cloned().flatten() {
        Some(upper) if count > 0 => Some((upper, count)),
        _ => None,
    })
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
        ..
    } = *plan;
    let key_len = sql.key().columns.len();
    let rows = driver
        .query(&sql.next_batch(
            checkpoint.last_key.as_deref(),
            max,
            filter,
            work.reads(),
            size,
        ))
        .await
        .ok()?;
    for row in rows {
        let key = key_of(&row, key_len);
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

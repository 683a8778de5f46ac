//! Batched, resumable data migrations ("backfills").
//!
//! A migration's `migration.toml` declares backfills ([`spec`]): an SQL
//! `SET` with a filter, or a [`DataMigration`] written in Rust. Each runs
//! after the migration's SQL, batch by batch:
//!
//! - **Keyset pagination** on the table's primary key (composite keys too),
//!   never `OFFSET` ([`sql`]). The work is bounded when it starts: the largest
//!   key then is stored in the checkpoint, so rows inserted meanwhile never
//!   keep it from finishing (rows beyond the bound are the application's or a
//!   trigger's to fill; see docs/backfills.md).
//! - **One short transaction per batch**, which also writes the checkpoint
//!   row (last key, rows done, timings), so a crash, `kill -9` or Ctrl-C
//!   loses at most the batch in flight and `cairn up` resumes after the last
//!   committed one. Ctrl-C ([`StopSignal`]) stops at a batch boundary.
//! - **Throttling**: batch size, a pause between batches, a target batch time
//!   that adapts the batch size, and a maximum replication lag (measured on
//!   replica connections on every engine, or through PostgreSQL's
//!   `pg_stat_replication` without them).
//! - **Progress** through a callback ([`Progress`]); the CLI draws a bar.
//!
//! While its backfills run, the migration's history row is `backfilling`;
//! it becomes `applied` when the last one finishes.
//!
//! # Where things are
//!
//! - [`run`](run()) is the run loop of one backfill (`run.rs`): key, probe,
//!   bound, then batches until none is left or the stop signal is given.
//! - `batch.rs` runs one batch in its transaction with its checkpoint, and
//!   names the failing row when a statement fails.
//! - `throttle.rs`: the adaptive batch size, the pause, the replication-lag
//!   wait (decided once per run).
//! - `checkpoint.rs`: [`CheckpointState`], reading a checkpoint back and the
//!   checks it passes before a run resumes from it.
//! - [`spec`] parses `migration.toml`; [`sql`] writes the keyset and
//!   checkpoint SQL.

mod batch;
mod checkpoint;
mod run;
pub mod spec;
pub mod sql;
mod throttle;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use checkpoint::{CheckpointState, UnknownCheckpointState};
pub use run::{run, Context};
pub use spec::{Action, Backfill, BatchOptions};
pub use sql::Checkpoint;

use crate::migration::Version;

/// A data migration written in Rust: reads some columns of each row, and
/// says what to write back.
///
/// The runner reads each batch by primary key, calls [`DataMigration::transform`]
/// for every row, and writes the changes of the whole batch in one
/// transaction together with the checkpoint. `transform` must be
/// deterministic: a batch that is interrupted is read and transformed again.
pub trait DataMigration: Send + Sync + fmt::Debug {
    /// The columns it reads, besides the primary key, in the order
    /// `transform` receives them.
    fn reads(&self) -> Vec<String>;

    /// What to do with one row, given the values of [`DataMigration::reads`]
    /// as text (`None` for NULL).
    fn transform(&self, row: &[Option<String>]) -> Transform;
}

/// What a [`DataMigration`] does with one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transform {
    /// Write these columns (value as text, `None` for NULL).
    Write(Vec<(String, Option<String>)>),
    /// Leave the row as it is.
    Unchanged,
    /// The row cannot be migrated: leave it, and report it with this reason.
    Reject(String),
}

/// A row a data migration rejected.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rejection {
    /// Its primary key, as text.
    pub key: Vec<String>,
    /// Why.
    pub reason: String,
}

/// Asks running backfills to stop at the next batch boundary (Ctrl-C).
#[derive(Clone, Debug, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    /// A signal that has not been given.
    pub fn new() -> Self {
        StopSignal::default()
    }

    /// Asks to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether stopping was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Where a backfill is, reported after it starts, after every batch and when it ends.
#[derive(Clone, Debug)]
pub struct Progress<'a> {
    /// The migration's version.
    pub version: Version,
    /// The migration's name.
    pub migration: &'a str,
    /// Which backfill of the migration (0-based) and how many it has.
    pub step: usize,
    /// How many backfills the migration has.
    pub steps: usize,
    /// The checkpoint as committed.
    pub checkpoint: &'a Checkpoint,
    /// Rows done by this run (not by earlier, interrupted ones).
    pub rows_this_run: i64,
    /// How long this run has been going.
    pub elapsed: Duration,
    /// How long the last batch's transaction took.
    pub last_batch: Duration,
    /// Rows the last batch rejected.
    pub rejected: &'a [Rejection],
    /// Whether the backfill has finished.
    pub finished: bool,
}

/// Receives [`Progress`] reports.
pub type ProgressFn = dyn Fn(&Progress<'_>) + Send + Sync;

/// What the program running the migrations adds: data migrations written in
/// Rust, the stop signal and a progress callback.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Data migrations by the name `migration.toml` uses (`rust = "<name>"`).
    pub data_migrations: std::collections::BTreeMap<String, Arc<dyn DataMigration>>,
    /// Stops backfills at the next batch boundary.
    pub stop: StopSignal,
    /// Receives progress reports.
    pub progress: Option<Arc<ProgressFn>>,
    /// Replicas whose lag `max_replication_lag` limits.
    pub replicas: Vec<Replica>,
    /// Told before each migration of a run starts (a progress display).
    pub step: Option<Arc<crate::migrator::StepFn>>,
}

/// A connection to a replica of the database being migrated.
///
/// Cairn measures a replica's lag by its own writes: every batch commits a
/// checkpoint, and the checkpoint replicates like any row. Before each batch
/// the runner reads the checkpoint on the replica; the lag is the age of the
/// oldest batch the replica has not applied yet. This needs nothing but
/// read access on the replica, and works the same on every engine.
#[derive(Clone)]
pub struct Replica {
    /// How messages name it (a redacted URL, say).
    pub name: String,
    /// The connection.
    pub driver: Arc<tokio::sync::Mutex<Box<dyn crate::driver::Driver>>>,
}

impl fmt::Debug for Replica {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replica").field("name", &self.name).finish()
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("data_migrations", &self.data_migrations.keys())
            .field("stop", &self.stop)
            .field("progress", &self.progress.is_some())
            .field("replicas", &self.replicas)
            .field("step", &self.step.is_some())
            .finish()
    }
}

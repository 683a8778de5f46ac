//! Throttling a backfill: the batch size that adapts to a target batch time,
//! the pause between batches, and the wait while replicas lag behind.
//!
//! How replication lag is watched is decided once per run ([`LagWatch::new`]):
//! through replica connections, through PostgreSQL's `pg_stat_replication`, or
//! not at all (and then the configuration is named once, not at every batch).
//! A wait is noted when replicas start lagging and when they have caught up,
//! not at every batch or poll in between.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::run::Context;
use super::spec::MAX_BATCH_SIZE;
use super::{Replica, StopSignal};
use crate::dialect::Dialect;
use crate::driver::{Driver, DriverErrorKind};
use crate::error::{Error, Result};

/// The next batch size so that a batch takes about `target`: scaled by the
/// ratio, at most doubled or halved at a time.
pub(super) fn adapt(size: u64, took: Duration, target: Duration) -> u64 {
    let took = took.as_secs_f64().max(0.000_1);
    let scaled = (size as f64) * (target.as_secs_f64() / took);
    let bounded = scaled.clamp(size as f64 / 2.0, size as f64 * 2.0);
    (bounded as u64).clamp(1, MAX_BATCH_SIZE)
}

/// Sleeps `length`, waking early when stopping is asked for.
pub(super) async fn pause(length: Duration, stop: &StopSignal) {
    let until = Instant::now() + length;
    while !stop.is_stopped() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(Duration::from_millis(50))).await;
    }
}

/// How one run of a backfill keeps replicas within `max_replication_lag`.
#[derive(Debug)]
pub(super) enum LagWatch {
    /// No `max_replication_lag`, or no way to measure it on this engine.
    Off,
    /// Replica connections: each replica's copy of the checkpoint says how
    /// many batches it has applied.
    Replicas {
        max_lag: Duration,
        /// (batches committed after it, when) for batches replicas may not have yet.
        commits: VecDeque<(i64, Instant)>,
        lagging: Lagging,
    },
    /// No replica connections, on PostgreSQL: the primary's view of its standbys.
    Standbys {
        max_lag: Duration,
        query: &'static str,
        lagging: Lagging,
    },
}

/// Why replication lag is not watched although `max_replication_lag` is set:
/// the warning a run gives once.
pub(super) const LAG_IGNORED: &str = "max_replication_lag needs replica connections on this engine (`replica_urls` in cairn.toml); none is configured, so it is ignored";

impl LagWatch {
    /// Decides, once for the run, how lag is watched; warns here, once, when
    /// `max_replication_lag` cannot be honoured.
    pub(super) fn new(
        max_lag: Option<Duration>,
        dialect: &dyn Dialect,
        replicas: &[Replica],
    ) -> LagWatch {
        let Some(max_lag) = max_lag else {
            return LagWatch::Off;
        };
        if !replicas.is_empty() {
            return LagWatch::Replicas {
                max_lag,
                commits: VecDeque::new(),
                lagging: Lagging::default(),
            };
        }
        match dialect.replication_lag_query() {
            Some(query) => LagWatch::Standbys {
                max_lag,
                query,
                lagging: Lagging::default(),
            },
            None => {
                let engine = dialect.engine();
                tracing::warn!(%engine, "{LAG_IGNORED}");
                LagWatch::Off
            }
        }
    }

    /// Notes a committed batch (the checkpoint says `batches` after it).
    pub(super) fn committed(&mut self, batches: i64) {
        if let LagWatch::Replicas { commits, .. } = self {
            commits.push_back((batches, Instant::now()));
        }
    }

    /// Waits, before the next batch, while replicas lag more than allowed.
    pub(super) async fn wait(&mut self, driver: &mut dyn Driver, ctx: &Context<'_>) -> Result<()> {
        match self {
            LagWatch::Off => Ok(()),
            LagWatch::Replicas {
                max_lag,
                commits,
                lagging,
            } => wait_for_replicas(ctx, *max_lag, commits, lagging).await,
            LagWatch::Standbys {
                max_lag,
                query,
                lagging,
            } => wait_for_standbys(driver, *max_lag, query, &ctx.hooks.stop, lagging).await,
        }
    }
}

/// Whether replicas were lagging at the last look, so that a wait is noted
/// when it starts and when it ends rather than at every batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lagging(bool);

/// What changed at one look at the lag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LagChange {
    /// Replicas started lagging more than allowed.
    Started,
    /// They are within the limit again.
    CaughtUp,
}

impl Lagging {
    /// Records one look at the lag; says what changed since the last look.
    pub(super) fn observe(&mut self, over_limit: bool) -> Option<LagChange> {
        let was = std::mem::replace(&mut self.0, over_limit);
        match (was, over_limit) {
            (false, true) => Some(LagChange::Started),
            (true, false) => Some(LagChange::CaughtUp),
            _ => None,
        }
    }
}

/// How many batches of this backfill `replica` has applied: its copy of the
/// checkpoint says. A replica that has not received the checkpoint table yet
/// has applied none.
async fn replica_batches(replica: &Replica, ctx: &Context<'_>) -> Result<i64> {
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
    lagging: &mut Lagging,
) -> Result<()> {
    loop {
        let Some(&(_, oldest)) = commits.front() else {
            note_caught_up(lagging);
            return Ok(());
        };
        if oldest.elapsed() <= max_lag {
            note_caught_up(lagging);
            return Ok(());
        }
        if ctx.hooks.stop.is_stopped() {
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
            note_caught_up(lagging);
            return Ok(());
        };
        let lag = oldest.elapsed();
        if lag <= max_lag {
            note_caught_up(lagging);
            return Ok(());
        }
        if lagging.observe(true) == Some(LagChange::Started) {
            tracing::warn!(replica = %slowest, lag_s = lag.as_secs_f64(), max_s = max_lag.as_secs_f64(), "a replica lags behind the backfill: waiting before each batch until it catches up");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Without replica connections, on PostgreSQL: waits while a standby's
/// `replay_lag` in `pg_stat_replication` exceeds `max_lag` (checked every second).
async fn wait_for_standbys(
    driver: &mut dyn Driver,
    max_lag: Duration,
    query: &str,
    stop: &StopSignal,
    lagging: &mut Lagging,
) -> Result<()> {
    let engine = driver.dialect().engine();
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
        if lag <= max_lag.as_secs_f64() {
            note_caught_up(lagging);
            return Ok(());
        }
        if stop.is_stopped() {
            return Ok(());
        }
        if lagging.observe(true) == Some(LagChange::Started) {
            tracing::info!(
                lag_s = lag,
                max_s = max_lag.as_secs_f64(),
                "replicas lag behind: waiting before each batch until they catch up"
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn note_caught_up(lagging: &mut Lagging) {
    if lagging.observe(false) == Some(LagChange::CaughtUp) {
        tracing::info!("replicas have caught up with the backfill");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::for_engine;
    use crate::engine::Engine;

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

    #[test]
    fn lag_is_noted_when_it_starts_and_when_it_ends_not_at_every_look() {
        let mut lagging = Lagging::default();
        let looks = [false, true, true, true, false, false, true, false];
        let changes: Vec<Option<LagChange>> =
            looks.iter().map(|&over| lagging.observe(over)).collect();
        use LagChange::{CaughtUp, Started};
        assert_eq!(
            changes,
            [
                None,
                Some(Started),
                None,
                None,
                Some(CaughtUp),
                None,
                Some(Started),
                Some(CaughtUp)
            ]
        );
    }

    #[test]
    fn the_way_lag_is_watched_is_decided_once_per_run() {
        let lag = Some(Duration::from_secs(2));
        assert!(matches!(
            LagWatch::new(None, for_engine(Engine::Postgres), &[]),
            LagWatch::Off
        ));
        assert!(matches!(
            LagWatch::new(lag, for_engine(Engine::Postgres), &[]),
            LagWatch::Standbys { .. }
        ));
        // Without replica connections on an engine with no lag query: off
        // (and warned once, here, rather than before every batch).
        for engine in Engine::ALL {
            let dialect = for_engine(engine);
            if dialect.replication_lag_query().is_none() {
                assert!(matches!(LagWatch::new(lag, dialect, &[]), LagWatch::Off));
            }
        }
    }
}

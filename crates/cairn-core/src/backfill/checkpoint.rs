//! The checkpoint of a backfill: its state, reading it back, and the checks a
//! stored checkpoint must pass before a run resumes from it.
//!
//! The row itself ([`Checkpoint`]) and its SQL ([`CheckpointSql`]) are in
//! [`super::sql`]; this module is what the run loop ([`super::run`]) asks of
//! them.

use std::fmt;
use std::str::FromStr;

use super::run::Context;
use super::sql::{Checkpoint, CheckpointSql};
use crate::driver::Driver;
use crate::error::{Error, Result};

/// Where a backfill stands, stored as text in the checkpoint's `state` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointState {
    /// Batches are being committed, or a run was killed while they were.
    Running,
    /// A run stopped at a batch boundary (Ctrl-C, SIGTERM).
    Stopped,
    /// A batch failed and was rolled back; `error` says why.
    Failed,
    /// Every batch is committed.
    Done,
}

impl CheckpointState {
    /// Every state, in the order a backfill may pass through them.
    pub const ALL: [CheckpointState; 4] = [
        CheckpointState::Running,
        CheckpointState::Stopped,
        CheckpointState::Failed,
        CheckpointState::Done,
    ];

    /// The stored text: `running`, `stopped`, `failed` or `done`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointState::Running => "running",
            CheckpointState::Stopped => "stopped",
            CheckpointState::Failed => "failed",
            CheckpointState::Done => "done",
        }
    }
}

impl fmt::Display for CheckpointState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a stored state that is none of [`CheckpointState::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backfill state `{0}`: expected one of running, stopped, failed, done")]
pub struct UnknownCheckpointState(pub String);

impl FromStr for CheckpointState {
    type Err = UnknownCheckpointState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CheckpointState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownCheckpointState(s.to_owned()))
    }
}

/// The checkpoint of the backfill `ctx` names, if an earlier run committed one.
pub(super) async fn read(driver: &mut dyn Driver, ctx: &Context<'_>) -> Result<Option<Checkpoint>> {
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

/// What is wrong with a stored checkpoint that a run cannot resume from, and
/// what to do about it: the message and the outcome of the backfill's error.
pub(super) struct Unresumable {
    pub(super) message: String,
    pub(super) outcome: String,
}

/// Checks that `checkpoint` fits the table's key `key_columns` before a run
/// resumes from it: the same columns, and as many values in its largest and
/// last keys as there are columns (a corrupted row would otherwise build
/// keyset conditions out of missing values).
pub(super) fn check_resumable(
    checkpoint: &Checkpoint,
    key_columns: &[String],
    table: &str,
    checkpoints: &CheckpointSql,
) -> Result<(), Unresumable> {
    if checkpoint.key_columns != key_columns {
        return Err(Unresumable {
            message: format!(
                "the primary key of `{table}` is ({}) but the checkpoint was taken on ({})",
                key_columns.join(", "),
                checkpoint.key_columns.join(", ")
            ),
            outcome: "nothing was written; restore the key, or roll the migration back and apply \
                      it again"
                .to_owned(),
        });
    }
    for (what, key) in [
        ("largest key (max_key)", &checkpoint.max_key),
        ("last key (last_key)", &checkpoint.last_key),
    ] {
        let Some(key) = key else { continue };
        if key.len() == key_columns.len() {
            continue;
        }
        return Err(Unresumable {
            message: format!(
                "the checkpoint in {} is corrupted: its {what} has {} value{} ({}) but the key \
                 of `{table}` has {} column{} ({})",
                checkpoints.table(),
                key.len(),
                plural(key.len()),
                key.join(", "),
                key_columns.len(),
                plural(key_columns.len()),
                key_columns.join(", ")
            ),
            outcome: format!(
                "nothing was written; delete the checkpoint row (`DELETE FROM {} WHERE version = \
                 {} AND step = {}`) and run `cairn up` again to restart this backfill from its \
                 first row, or roll the migration back and apply it again",
                checkpoints.table(),
                checkpoint.version,
                checkpoint.step
            ),
        });
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::for_engine;
    use crate::engine::Engine;

    #[test]
    fn states_round_trip_through_their_stored_text() {
        for state in CheckpointState::ALL {
            assert_eq!(state.as_str().parse::<CheckpointState>(), Ok(state));
            assert_eq!(state.to_string(), state.as_str());
            assert_eq!(
                serde_json::to_value(state).expect("serialises"),
                serde_json::Value::String(state.as_str().to_owned())
            );
        }
        assert_eq!(
            "Done".parse::<CheckpointState>(),
            Err(UnknownCheckpointState("Done".to_owned()))
        );
    }

    fn checkpoint(max_key: Option<&[&str]>, last_key: Option<&[&str]>) -> Checkpoint {
        let owned = |key: &[&str]| key.iter().map(|v| (*v).to_owned()).collect();
        Checkpoint {
            version: crate::migration::Version::from(7),
            step: 0,
            table: "pairs".to_owned(),
            state: CheckpointState::Running,
            key_columns: vec!["a".to_owned(), "b".to_owned()],
            max_key: max_key.map(owned),
            last_key: last_key.map(owned),
            rows_total: 10,
            rows_done: 4,
            rows_changed: 4,
            rows_rejected: 0,
            batches: 2,
            batch_size: 2,
            longest_batch_ms: 1,
            started_at: "2026-01-01T00:00:00.000Z".to_owned(),
            updated_at: "2026-01-01T00:00:00.000Z".to_owned(),
            error: None,
        }
    }

    #[test]
    fn a_checkpoint_whose_keys_do_not_fit_the_table_key_is_not_resumed() {
        let sql = CheckpointSql::new(
            for_engine(Engine::Sqlite),
            "\"_cairn_backfills\"".to_owned(),
        );
        let key = ["a".to_owned(), "b".to_owned()];
        let fits = checkpoint(Some(&["9", "z"]), Some(&["4", "d"]));
        assert!(check_resumable(&fits, &key, "pairs", &sql).is_ok());
        assert!(check_resumable(&checkpoint(None, None), &key, "pairs", &sql).is_ok());

        let short_last = checkpoint(Some(&["9", "z"]), Some(&["4"]));
        let Err(e) = check_resumable(&short_last, &key, "pairs", &sql) else {
            panic!("a last key of one value is refused");
        };
        assert!(e.message.contains("\"_cairn_backfills\""), "{}", e.message);
        assert!(
            e.message.contains("last key (last_key) has 1 value (4)"),
            "{}",
            e.message
        );
        assert!(e.message.contains("has 2 columns (a, b)"), "{}", e.message);
        assert!(
            e.outcome
                .contains("DELETE FROM \"_cairn_backfills\" WHERE version = 7 AND step = 0"),
            "{}",
            e.outcome
        );

        let long_max = checkpoint(Some(&["9", "z", "x"]), None);
        let Err(e) = check_resumable(&long_max, &key, "pairs", &sql) else {
            panic!("a largest key of three values is refused");
        };
        assert!(
            e.message.contains("largest key (max_key) has 3 values"),
            "{}",
            e.message
        );

        let other_key = ["id".to_owned()];
        let Err(e) = check_resumable(&fits, &other_key, "pairs", &sql) else {
            panic!("another key is refused");
        };
        assert!(
            e.message.contains("the primary key of `pairs` is (id)"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_stored_state_that_is_no_state_is_an_unreadable_row() {
        let sql = CheckpointSql::new(
            for_engine(Engine::Sqlite),
            "\"_cairn_backfills\"".to_owned(),
        );
        let row = |state: &str| -> Vec<Option<String>> {
            let mut row: Vec<Option<String>> = ["7", "0", "pairs", state, "[\"a\"]"]
                .iter()
                .map(|v| Some((*v).to_owned()))
                .collect();
            row.extend([None, None]);
            row.extend(std::iter::repeat_n(Some("0".to_owned()), 7));
            row.extend([Some("t".to_owned()), Some("t".to_owned()), None]);
            row
        };
        let decoded = sql.decode(vec![row("stopped")]).expect("a stored state");
        assert_eq!(decoded[0].state, CheckpointState::Stopped);
        let error = sql.decode(vec![row("paused")]).expect_err("no state");
        assert!(
            error.contains("column 4: unknown backfill state `paused`"),
            "{error}"
        );
    }
}

//! The plan: what to apply or roll back, in which order, and what is wrong.
//!
//! Everything here is a pure function of the migration source, the history
//! rows and the options, so it is unit-tested without a database (table tests
//! and property tests below). The migrator reads the history, calls these
//! functions, and carries out the result.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::engine::Engine;
use crate::error::{Error, Problems, Result};
use crate::history::{kind, HistoryRow, HistoryState};
use crate::migration::{Direction, Migration, Version};

/// Options that change what the plan allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Apply a pending migration older than the newest applied one, instead of
    /// refusing (`--allow-out-of-order`).
    pub allow_out_of_order: bool,
}

/// Something wrong between the source and the history. Each says what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Problem {
    /// An applied migration's up script changed since it was applied.
    Modified {
        /// Version.
        version: Version,
        /// Name.
        name: String,
        /// The file whose checksum differs.
        path: PathBuf,
        /// Checksum in the history.
        recorded: String,
        /// Checksum of the file now.
        actual: String,
    },
    /// A migration is in the history but not on disk.
    Missing {
        /// Version.
        version: Version,
        /// Name in the history.
        name: String,
    },
    /// A pending migration is older than the newest applied one.
    OutOfOrder {
        /// Version.
        version: Version,
        /// Name.
        name: String,
        /// The newest applied version.
        latest: Version,
    },
    /// A migration failed part way outside a transaction.
    Failed {
        /// Version.
        version: Version,
        /// Name.
        name: String,
        /// Statements that completed before the failure.
        statements_done: Option<i64>,
        /// The error recorded.
        error: Option<String>,
    },
    /// A migration was started and never finished (a crash, or a run in progress).
    Running {
        /// Version.
        version: Version,
        /// Name.
        name: String,
        /// When it started.
        started_at: String,
    },
}

impl Problem {
    /// The version the problem is about.
    pub fn version(&self) -> Version {
        match self {
            Problem::Modified { version, .. }
            | Problem::Missing { version, .. }
            | Problem::OutOfOrder { version, .. }
            | Problem::Failed { version, .. }
            | Problem::Running { version, .. } => *version,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Modified { version, name, path, recorded, actual } => write!(
                f,
                "migration {version} ({name}) was modified after it was applied: `{}` has checksum {} but the history recorded {}; restore the file, or review the change and run `cairn repair` to accept it",
                path.display(),
                short(actual),
                short(recorded),
            ),
            Problem::Missing { version, name } => write!(
                f,
                "migration {version} ({name}) is applied but missing on disk: restore its files, or run `cairn repair` to drop it from the history"
            ),
            Problem::OutOfOrder { version, name, latest } => write!(
                f,
                "migration {version} ({name}) is pending but older than the newest applied migration {latest}: renumber it above {latest}, or pass --allow-out-of-order"
            ),
            Problem::Failed { version, name, statements_done, error } => {
                write!(f, "migration {version} ({name}) failed part way")?;
                if let Some(done) = statements_done {
                    write!(f, " after {done} statement(s) completed")?;
                }
                if let Some(error) = error {
                    write!(f, ": {error}")?;
                }
                write!(f, "; fix the database by hand to match either before or after the migration, then run `cairn repair`")
            }
            Problem::Running { version, name, started_at } => write!(
                f,
                "migration {version} ({name}) has been running since {started_at}: if no other cairn is running, it crashed; check the database, then run `cairn repair`"
            ),
        }
    }
}

fn short(checksum: &str) -> &str {
    checksum.get(..12).unwrap_or(checksum)
}

/// The state of one migration as `cairn status` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum State {
    /// On disk, not applied.
    Pending,
    /// Applied, and the file matches.
    Applied,
    /// Failed part way.
    Failed,
    /// Started and not finished.
    Running,
    /// Applied but no longer on disk.
    Missing,
    /// Applied, and the file changed since.
    Modified,
    /// At or below a baseline: counted as applied without running.
    Baselined,
    /// Expanded, waiting for contract.
    Expanded,
    /// A baseline marker row.
    Baseline,
}

impl State {
    /// The lowercase name used in text and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Applied => "applied",
            State::Failed => "failed",
            State::Running => "running",
            State::Missing => "missing",
            State::Modified => "modified",
            State::Baselined => "baselined",
            State::Expanded => "expanded",
            State::Baseline => "baseline",
        }
    }
}

/// One line of `cairn status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusEntry {
    /// Version.
    pub version: Version,
    /// Name (from disk, else from the history).
    pub name: String,
    /// State.
    pub state: State,
    /// When it was applied, if it was.
    pub applied_at: Option<String>,
    /// How long it took, if applied.
    pub execution_ms: Option<i64>,
    /// Who applied it.
    pub applied_by: Option<String>,
    /// Whether it has a down script on this engine (`None` when not on disk).
    pub reversible: Option<bool>,
}

/// The migrations that exist on `engine` (their `-- cairn:engines` allows it), by version.
pub fn applicable(migrations: &[Migration], engine: Engine) -> BTreeMap<Version, &Migration> {
    migrations
        .iter()
        .filter(|m| m.applies_to(engine))
        .map(|m| (m.version, m))
        .collect()
}

fn baseline_version(history: &[HistoryRow]) -> Option<Version> {
    history
        .iter()
        .filter(|row| row.kind == kind::BASELINE)
        .map(|row| row.version)
        .max()
}

/// The status of every migration on disk or in the history, by version.
pub fn status(migrations: &[Migration], history: &[HistoryRow], engine: Engine) -> Vec<StatusEntry> {
    let source = applicable(migrations, engine);
    let baseline = baseline_version(history);
    let rows: BTreeMap<Version, &HistoryRow> = history.iter().map(|r| (r.version, r)).collect();
    let mut versions: Vec<Version> = source.keys().chain(rows.keys()).copied().collect();
    versions.sort_unstable();
    versions.dedup();
    versions
        .into_iter()
        .map(|version| {
            let migration = source.get(&version).copied();
            let row = rows.get(&version).copied();
            let state = match (migration, row) {
                (_, Some(row)) if row.kind == kind::BASELINE => State::Baseline,
                (_, Some(row)) if row.state == HistoryState::Failed => State::Failed,
                (_, Some(row)) if row.state == HistoryState::Running => State::Running,
                (None, Some(_)) => State::Missing,
                (Some(m), Some(row)) if m.checksum(engine).as_deref() != Some(&row.checksum) => {
                    State::Modified
                }
                (Some(_), Some(row)) if row.state == HistoryState::Expanded => State::Expanded,
                (Some(_), Some(_)) => State::Applied,
                (Some(_), None) if baseline.is_some_and(|b| version <= b) => State::Baselined,
                (Some(_), None) => State::Pending,
                (None, None) => unreachable!("version comes from the source or the history"),
            };
            StatusEntry {
                version,
                name: migration.map_or_else(|| row.map(|r| r.name.clone()).unwrap_or_default(), |m| m.name.clone()),
                state,
                applied_at: row.map(|r| r.applied_at.clone()),
                execution_ms: row.map(|r| r.execution_ms),
                applied_by: row.map(|r| r.applied_by.clone()),
                reversible: migration.map(|m| m.script(Direction::Down, engine).is_some()),
            }
        })
        .collect()
}

/// Every problem between the source and the history.
pub fn problems(
    migrations: &[Migration],
    history: &[HistoryRow],
    engine: Engine,
    options: PlanOptions,
) -> Vec<Problem> {
    let source = applicable(migrations, engine);
    let baseline = baseline_version(history);
    let latest = history
        .iter()
        .filter(|row| row.kind != kind::BASELINE)
        .map(|row| row.version)
        .max();
    let rows: BTreeMap<Version, &HistoryRow> = history.iter().map(|r| (r.version, r)).collect();
    let mut problems = Vec::new();
    for row in history {
        if row.kind == kind::BASELINE {
            continue;
        }
        let name = row.name.clone();
        match row.state {
            HistoryState::Failed => problems.push(Problem::Failed {
                version: row.version,
                name,
                statements_done: row.statements_done,
                error: row.error.clone(),
            }),
            HistoryState::Running => problems.push(Problem::Running {
                version: row.version,
                name,
                started_at: row.applied_at.clone(),
            }),
            HistoryState::Applied | HistoryState::Expanded => match source.get(&row.version) {
                None => problems.push(Problem::Missing { version: row.version, name }),
                Some(m) => {
                    let actual = m.checksum(engine).unwrap_or_default();
                    if actual != row.checksum {
                        let path = m.up.for_engine(engine).map_or_else(|| m.location.clone(), |s| s.path.clone());
                        problems.push(Problem::Modified {
                            version: row.version,
                            name: m.name.clone(),
                            path,
                            recorded: row.checksum.clone(),
                            actual,
                        });
                    }
                }
            },
        }
    }
    if !options.allow_out_of_order {
        if let Some(latest) = latest {
            for m in source.values() {
                let pending = !rows.contains_key(&m.version) && baseline.is_none_or(|b| m.version > b);
                if pending && m.version < latest {
                    problems.push(Problem::OutOfOrder { version: m.version, name: m.name.clone(), latest });
                }
            }
        }
    }
    problems.sort_by_key(Problem::version);
    problems
}

fn refuse_on_problems(problems: Vec<Problem>) -> Result<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(Problems(problems)))
    }
}

fn check_target(
    target: Version,
    source: &BTreeMap<Version, &Migration>,
    history: &[HistoryRow],
) -> Result<()> {
    if source.contains_key(&target) || history.iter().any(|row| row.version == target) {
        Ok(())
    } else {
        Err(Error::UnknownTarget { version: target })
    }
}

/// The migrations to apply, in order, up to and including `to` if given.
///
/// Refuses, changing nothing, when any [`Problem`] exists or `to` is unknown.
pub fn plan_up<'a>(
    migrations: &'a [Migration],
    history: &[HistoryRow],
    engine: Engine,
    options: PlanOptions,
    to: Option<Version>,
) -> Result<Vec<&'a Migration>> {
    let source = applicable(migrations, engine);
    if let Some(to) = to {
        check_target(to, &source, history)?;
    }
    refuse_on_problems(problems(migrations, history, engine, options))?;
    let baseline = baseline_version(history);
    let applied: std::collections::BTreeSet<Version> = history.iter().map(|r| r.version).collect();
    Ok(source
        .into_values()
        .filter(|m| !applied.contains(&m.version))
        .filter(|m| baseline.is_none_or(|b| m.version > b))
        .filter(|m| to.is_none_or(|to| m.version <= to))
        .collect())
}

/// How far `down` goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DownTarget {
    /// Roll back the newest `n` applied migrations.
    Steps(usize),
    /// Roll back every applied migration newer than this version.
    To(Version),
    /// Roll back every applied migration (baselines stay).
    All,
}

/// The migrations to roll back, newest first.
///
/// Refuses, changing nothing, when any problem other than out-of-order
/// exists, when the target is unknown, or when one of them has no down script.
pub fn plan_down<'a>(
    migrations: &'a [Migration],
    history: &[HistoryRow],
    engine: Engine,
    target: DownTarget,
) -> Result<Vec<&'a Migration>> {
    let source = applicable(migrations, engine);
    if let DownTarget::To(to) = target {
        if to != 0 {
            check_target(to, &source, history)?;
        }
    }
    let options = PlanOptions { allow_out_of_order: true };
    refuse_on_problems(problems(migrations, history, engine, options))?;
    let mut applied: Vec<&HistoryRow> = history
        .iter()
        .filter(|row| row.kind != kind::BASELINE && row.state == HistoryState::Applied)
        .collect();
    applied.sort_by_key(|row| std::cmp::Reverse(row.version));
    let chosen: Vec<&HistoryRow> = match target {
        DownTarget::Steps(n) => applied.into_iter().take(n).collect(),
        DownTarget::To(to) => applied.into_iter().filter(|row| row.version > to).collect(),
        DownTarget::All => applied,
    };
    chosen
        .into_iter()
        .map(|row| {
            // `problems` found no missing migration, so every applied row is on disk.
            let m = source.get(&row.version).copied().ok_or(Error::UnknownTarget { version: row.version })?;
            match m.script(Direction::Down, engine) {
                Some(_) => Ok(m),
                None => Err(Error::NoDownScript {
                    version: m.version,
                    name: m.name.clone(),
                    engine,
                    irreversible: if m.is_irreversible(engine) { " (declared irreversible)" } else { "" },
                }),
            }
        })
        .collect()
}

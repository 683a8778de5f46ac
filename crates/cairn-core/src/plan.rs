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
use crate::history::{HistoryKind, HistoryRow, HistoryState};
use crate::migration::{Direction, Migration, Version};
use crate::recovery::{self, InDoubt};

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
        /// The failing statement, when it may have completed in an earlier,
        /// interrupted run.
        in_doubt: Option<InDoubt>,
        /// Whether it failed while rolling back.
        rollback: bool,
    },
    /// A migration was started and never finished (a crash, or a run in progress).
    Running {
        /// Version.
        version: Version,
        /// Name.
        name: String,
        /// When it started.
        started_at: String,
        /// Statements that completed.
        statements_done: Option<i64>,
        /// The statement that may or may not have completed (`None` when all
        /// did, or the script cannot be read).
        in_doubt: Option<InDoubt>,
        /// Whether it was rolling back.
        rollback: bool,
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
            Problem::Failed { version, name, statements_done, error, in_doubt, rollback } => {
                let what = if *rollback { "the rollback of migration" } else { "migration" };
                let done = statements_done.unwrap_or(0);
                write!(f, "{what} {version} ({name}) failed part way after {done} statement(s) completed")?;
                if let Some(in_doubt) = in_doubt {
                    write!(f, ", and {in_doubt} may or may not have completed")?;
                }
                if let Some(error) = error {
                    write!(f, ": {error}")?;
                }
                let advice = match (rollback, in_doubt) {
                    (true, _) => recovery::rollback_advice().to_owned(),
                    (false, Some(_)) => recovery::in_doubt_failed_advice().to_owned(),
                    (false, None) => recovery::resume_failed_advice(done),
                };
                write!(f, "; {advice}")
            }
            Problem::Running { version, name, started_at, statements_done, in_doubt, rollback } => {
                let what = if *rollback { "the rollback of migration" } else { "migration" };
                let done = statements_done.unwrap_or(0);
                write!(f, "{what} {version} ({name}) has been running since {started_at}: if no other cairn is running, that run was interrupted (killed, or its connection lost) after {done} statement(s) completed")?;
                match in_doubt {
                    Some(in_doubt) => write!(f, ", and {in_doubt} may or may not have completed")?,
                    None if *rollback => {}
                    None => write!(f, "; if that is every statement, only recording it as applied is missing")?,
                }
                let advice = if *rollback {
                    recovery::rollback_advice()
                } else if in_doubt.is_some() {
                    recovery::resume_in_doubt_advice()
                } else {
                    "run `cairn up --resume`"
                };
                write!(f, "; {advice}")
            }
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
    /// Applied, its backfills running or interrupted (`cairn up` resumes them).
    Backfilling,
    /// A baseline marker row.
    Baseline,
    /// Its operations' expand is running or was interrupted (`cairn up`
    /// continues it, `cairn abort` undoes it).
    Expanding,
    /// Expanded: both application versions work (`cairn contract` next).
    Expanded,
    /// Its contract is running or was interrupted (`cairn contract` continues it).
    Contracting,
    /// Its abort is running or was interrupted (`cairn abort` continues it).
    Aborting,
    /// Its un-contract is running or was interrupted (`cairn down` continues it).
    Uncontracting,
    /// A repeatable migration applied, whose file changed since: `cairn up`
    /// applies it again.
    Outdated,
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
            State::Backfilling => "backfilling",
            State::Baseline => "baseline",
            State::Expanding => "expanding",
            State::Expanded => "expanded",
            State::Contracting => "contracting",
            State::Aborting => "aborting",
            State::Uncontracting => "uncontracting",
            State::Outdated => "outdated",
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
        .filter(|row| row.kind == HistoryKind::Baseline)
        .map(|row| row.version)
        .max()
}

/// The status of every migration on disk or in the history, by version.
pub fn status(
    migrations: &[Migration],
    history: &[HistoryRow],
    engine: Engine,
) -> Vec<StatusEntry> {
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
                (_, Some(row)) if row.kind == HistoryKind::Baseline => State::Baseline,
                (_, Some(row)) if row.state == HistoryState::Failed => State::Failed,
                (_, Some(row)) if row.state == HistoryState::Running => State::Running,
                (None, Some(_)) => State::Missing,
                (Some(_), Some(row)) if row.state == HistoryState::Backfilling => {
                    State::Backfilling
                }
                (Some(m), Some(row))
                    if version.is_repeatable()
                        && m.checksum(engine).as_deref() != Some(&row.checksum) =>
                {
                    State::Outdated
                }
                (Some(m), Some(row)) if m.checksum(engine).as_deref() != Some(&row.checksum) => {
                    State::Modified
                }
                (Some(_), Some(row)) if row.state == HistoryState::Expanding => State::Expanding,
                (Some(_), Some(row)) if row.state == HistoryState::Expanded => State::Expanded,
                (Some(_), Some(row)) if row.state == HistoryState::Contracting => {
                    State::Contracting
                }
                (Some(_), Some(row)) if row.state == HistoryState::Aborting => State::Aborting,
                (Some(_), Some(row)) if row.state == HistoryState::Uncontracting => {
                    State::Uncontracting
                }
                (Some(_), Some(_)) => State::Applied,
                (Some(_), None) if baseline.is_some_and(|b| version <= b) => State::Baselined,
                (Some(_), None) => State::Pending,
                (None, None) => unreachable!("version comes from the source or the history"),
            };
            StatusEntry {
                version,
                name: migration.map_or_else(
                    || row.map(|r| r.name.clone()).unwrap_or_default(),
                    |m| m.name.clone(),
                ),
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
    // Repeatables come after every version whenever they apply: they are
    // never the newest applied version, nor out of order.
    let latest = history
        .iter()
        .filter(|row| row.kind != HistoryKind::Baseline && !row.version.is_repeatable())
        .map(|row| row.version)
        .max();
    let rows: BTreeMap<Version, &HistoryRow> = history.iter().map(|r| (r.version, r)).collect();
    let mut problems = Vec::new();
    for row in history {
        if row.kind == HistoryKind::Baseline {
            continue;
        }
        let name = row.name.clone();
        match row.state {
            HistoryState::Failed => problems.push(Problem::Failed {
                version: row.version,
                name,
                statements_done: row.statements_done,
                error: row.error.as_ref().map(ToString::to_string),
                in_doubt: recovery::in_doubt(row, source.get(&row.version).copied(), engine),
                rollback: recovery::is_rollback(row),
            }),
            HistoryState::Running => problems.push(Problem::Running {
                version: row.version,
                name,
                started_at: row.applied_at.clone(),
                statements_done: row.statements_done,
                in_doubt: recovery::in_doubt(row, source.get(&row.version).copied(), engine),
                rollback: recovery::is_rollback(row),
            }),
            // A backfill may be fixed in migration.toml while it is interrupted:
            // its checksum is renewed when it resumes.
            HistoryState::Backfilling if source.contains_key(&row.version) => {}
            // Zero-downtime phases (migrator/online.rs refines what each allows).
            HistoryState::Applied
            | HistoryState::Backfilling
            | HistoryState::Expanding
            | HistoryState::Expanded
            | HistoryState::Contracting
            | HistoryState::Aborting
            | HistoryState::Uncontracting => match source.get(&row.version) {
                None => problems.push(Problem::Missing {
                    version: row.version,
                    name,
                }),
                Some(m) => {
                    let actual = m.checksum(engine).unwrap_or_default();
                    // A repeatable whose file changed is applied again, not a problem.
                    if actual != row.checksum && !row.version.is_repeatable() {
                        let path =
                            m.up.for_engine(engine)
                                .map_or_else(|| m.location.clone(), |s| s.path.clone());
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
                let pending = !m.version.is_repeatable()
                    && !rows.contains_key(&m.version)
                    && baseline.is_none_or(|b| m.version > b);
                if pending && m.version < latest {
                    problems.push(Problem::OutOfOrder {
                        version: m.version,
                        name: m.name.clone(),
                        latest,
                    });
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
    let applied: BTreeMap<Version, &HistoryRow> = history.iter().map(|r| (r.version, r)).collect();
    // Versioned migrations first, then repeatables (their versions sort
    // last, by name): those never applied, and those whose checksum changed.
    // `to` names a version, so a run up to one applies no repeatable.
    Ok(source
        .into_values()
        .filter(|m| match applied.get(&m.version) {
            None => true,
            Some(row) => {
                m.version.is_repeatable() && m.checksum(engine).as_deref() != Some(&row.checksum)
            }
        })
        .filter(|m| m.version.is_repeatable() || baseline.is_none_or(|b| m.version > b))
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
    let options = PlanOptions {
        allow_out_of_order: true,
    };
    refuse_on_problems(problems(migrations, history, engine, options))?;
    let mut applied: Vec<&HistoryRow> = history
        .iter()
        .filter(|row| {
            // A repeatable has no down script: `down` leaves it as it is
            // (docs/layouts.md), as Flyway's undo does.
            row.kind != HistoryKind::Baseline
                && !row.version.is_repeatable()
                && matches!(row.state, HistoryState::Applied | HistoryState::Backfilling)
        })
        .collect();
    applied.sort_by_key(|row| std::cmp::Reverse(row.version));
    let count = applied.len();
    match target {
        // Rolling back fewer than asked would be a surprise: say so first.
        DownTarget::Steps(n) if count > 0 && n > count => {
            return Err(Error::TooManySteps {
                steps: n,
                applied: count,
            });
        }
        // `--to` a version that is not applied, with nothing applied after it:
        // there is nothing to roll back, which is not what was asked.
        DownTarget::To(to)
            if to != 0
                && count > 0
                && applied[0].version < to
                && !history.iter().any(|row| row.version == to) =>
        {
            return Err(Error::DownTargetNotApplied {
                target: to,
                newest: applied[0].version,
            });
        }
        _ => {}
    }
    let chosen: Vec<&HistoryRow> = match target {
        DownTarget::Steps(n) => applied.into_iter().take(n).collect(),
        DownTarget::To(to) => applied.into_iter().filter(|row| row.version > to).collect(),
        DownTarget::All => applied,
    };
    chosen
        .into_iter()
        .map(|row| {
            // `problems` found no missing migration, so every applied row is on disk.
            let m = source
                .get(&row.version)
                .copied()
                .ok_or(Error::UnknownTarget {
                    version: row.version,
                })?;
            match m.script(Direction::Down, engine) {
                Some(_) => Ok(m),
                None => Err(Error::NoDownScript {
                    version: m.version,
                    name: m.name.clone(),
                    engine,
                    declared_irreversible: m.is_irreversible(engine),
                    expected: m.down_hint(engine),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::{Directives, Layout, Script, Scripts};
    use proptest::prelude::*;

    const E: Engine = Engine::Sqlite;

    fn script(text: &str) -> Script {
        Script {
            path: PathBuf::from("up.sql"),
            first_line: 1,
            text: text.to_owned(),
            directives: Directives::default(),
        }
    }

    fn migration(version: impl Into<Version>, down: bool) -> Migration {
        let version = version.into();
        Migration {
            version,
            name: format!("m{version}"),
            layout: Layout::Cairn,
            location: PathBuf::from(format!("{version}_m{version}")),
            up: Scripts {
                plain: Some(script(&format!("CREATE TABLE t{version} (id INTEGER);"))),
                overrides: BTreeMap::new(),
            },
            down: Scripts {
                plain: down.then(|| script(&format!("DROP TABLE t{version};"))),
                overrides: BTreeMap::new(),
            },
            declaration: None,
        }
    }

    fn applied(m: &Migration) -> HistoryRow {
        HistoryRow {
            version: m.version,
            name: m.name.clone(),
            kind: HistoryKind::Sql,
            checksum: m.checksum(E).unwrap_or_default(),
            state: HistoryState::Applied,
            applied_at: "2026-01-01T00:00:00.000Z".to_owned(),
            execution_ms: 1,
            applied_by: "test".to_owned(),
            cairn_version: "0".to_owned(),
            statements_done: None,
            statements_checksum: None,
            error: None,
        }
    }

    fn versions(chosen: &[&Migration]) -> Vec<Version> {
        chosen.iter().map(|m| m.version).collect()
    }

    fn source(versions: &[i64]) -> Vec<Migration> {
        versions.iter().map(|v| migration(*v, true)).collect()
    }

    fn repeatable(name: &str, text: &str) -> Migration {
        let mut m = migration(Version::repeatable(name), false);
        m.name = name.to_owned();
        m.layout = Layout::Flyway;
        m.up.plain = Some(script(text));
        m
    }

    #[test]
    fn repeatables_apply_after_the_versions_and_again_when_changed() {
        let mut ms = source(&[1, 2]);
        ms.push(repeatable("b_views", "CREATE VIEW b AS SELECT 1;"));
        ms.push(repeatable("a_functions", "CREATE VIEW a AS SELECT 1;"));
        ms.sort_by_key(|m| m.version);
        let names = |chosen: &[&Migration]| -> Vec<String> {
            chosen.iter().map(|m| m.name.clone()).collect()
        };
        let all = plan_up(&ms, &[], E, PlanOptions::default(), None).unwrap();
        assert_eq!(names(&all), ["m1", "m2", "a_functions", "b_views"]);
        // Up to a version: no repeatable.
        let to = plan_up(&ms, &[], E, PlanOptions::default(), Some(Version::from(1))).unwrap();
        assert_eq!(names(&to), ["m1"]);

        let mut history: Vec<HistoryRow> = ms.iter().map(applied).collect();
        assert!(plan_up(&ms, &history, E, PlanOptions::default(), None)
            .unwrap()
            .is_empty());
        // The view changes: applied again, and neither modified nor a problem.
        let b = ms.iter_mut().find(|m| m.name == "b_views").unwrap();
        b.up.plain = Some(script("CREATE VIEW b AS SELECT 2;"));
        let again = plan_up(&ms, &history, E, PlanOptions::default(), None).unwrap();
        assert_eq!(names(&again), ["b_views"]);
        assert!(problems(&ms, &history, E, PlanOptions::default()).is_empty());
        let state = |history: &[HistoryRow], name: &str| {
            status(&ms, history, E)
                .into_iter()
                .find(|s| s.name == name)
                .map(|s| s.state)
        };
        assert_eq!(state(&history, "b_views"), Some(State::Outdated));
        assert_eq!(state(&history, "a_functions"), Some(State::Applied));

        // A new version after applied repeatables is not out of order.
        ms.push(migration(3, true));
        ms.sort_by_key(|m| m.version);
        let next = plan_up(&ms, &history, E, PlanOptions::default(), None).unwrap();
        assert_eq!(names(&next), ["m3", "b_views"]);

        // `down` leaves repeatables alone: the newest version goes back.
        history.push(applied(&ms[2]));
        let down = plan_down(&ms, &history, E, DownTarget::Steps(1)).unwrap();
        assert_eq!(versions(&down), [3]);
        let all = plan_down(&ms, &history, E, DownTarget::All).unwrap();
        assert_eq!(versions(&all), [3, 2, 1]);
    }

    #[test]
    fn up_plans_pending_in_order_and_stops_at_target() {
        let ms = source(&[1, 2, 3, 4]);
        let history = vec![applied(&ms[0])];
        let all = plan_up(&ms, &history, E, PlanOptions::default(), None).unwrap();
        assert_eq!(versions(&all), [2, 3, 4]);
        let to3 = plan_up(
            &ms,
            &history,
            E,
            PlanOptions::default(),
            Some(crate::migration::Version::from(3)),
        )
        .unwrap();
        assert_eq!(versions(&to3), [2, 3]);
        let none = plan_up(
            &ms,
            &history,
            E,
            PlanOptions::default(),
            Some(crate::migration::Version::from(1)),
        )
        .unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn zero_downtime_states_show_in_status_and_a_changed_file_is_still_modified() {
        let ms = source(&[1]);
        let cases = [
            (HistoryState::Expanding, State::Expanding),
            (HistoryState::Expanded, State::Expanded),
            (HistoryState::Contracting, State::Contracting),
            (HistoryState::Aborting, State::Aborting),
            (HistoryState::Uncontracting, State::Uncontracting),
        ];
        for (stored, shown) in cases {
            let mut row = applied(&ms[0]);
            row.state = stored;
            assert_eq!(status(&ms, &[row.clone()], E)[0].state, shown, "{stored:?}");
            assert_eq!(shown.as_str(), stored.as_str());
            assert!(problems(&ms, &[row.clone()], E, PlanOptions::default()).is_empty());
            row.checksum = "0".repeat(64);
            assert_eq!(
                status(&ms, &[row.clone()], E)[0].state,
                State::Modified,
                "{stored:?}"
            );
            let found = problems(&ms, &[row], E, PlanOptions::default());
            assert!(
                matches!(found[..], [Problem::Modified { version, .. }] if version == 1),
                "{found:?}"
            );
        }
    }

    #[test]
    fn table_of_problems() {
        let ms = source(&[1, 2, 3]);
        let mut modified = applied(&ms[0]);
        modified.checksum = "0".repeat(64);
        let mut failed = applied(&ms[1]);
        failed.state = HistoryState::Failed;
        failed.statements_done = Some(1);
        let mut running = applied(&ms[1]);
        running.state = HistoryState::Running;
        let ghost = applied(&migration(9, true));
        let cases: Vec<(&str, Vec<HistoryRow>, Vec<Problem>)> = vec![
            ("clean", vec![applied(&ms[0])], vec![]),
            (
                "modified",
                vec![modified.clone()],
                vec![Problem::Modified {
                    version: crate::migration::Version::from(1),
                    name: "m1".into(),
                    path: "up.sql".into(),
                    recorded: modified.checksum.clone(),
                    actual: ms[0].checksum(E).unwrap(),
                }],
            ),
            (
                "failed",
                vec![applied(&ms[0]), failed],
                vec![Problem::Failed {
                    version: crate::migration::Version::from(2),
                    name: "m2".into(),
                    statements_done: Some(1),
                    error: None,
                    in_doubt: None,
                    rollback: false,
                }],
            ),
            (
                "running",
                vec![applied(&ms[0]), running],
                vec![Problem::Running {
                    version: crate::migration::Version::from(2),
                    name: "m2".into(),
                    started_at: "2026-01-01T00:00:00.000Z".into(),
                    statements_done: None,
                    in_doubt: Some(InDoubt {
                        index: 1,
                        count: 1,
                        location: "up.sql:1".into(),
                        sql: "CREATE TABLE t2 (id INTEGER)".into(),
                    }),
                    rollback: false,
                }],
            ),
            (
                "missing and out of order",
                vec![ghost],
                vec![
                    Problem::OutOfOrder {
                        version: crate::migration::Version::from(1),
                        name: "m1".into(),
                        latest: crate::migration::Version::from(9),
                    },
                    Problem::OutOfOrder {
                        version: crate::migration::Version::from(2),
                        name: "m2".into(),
                        latest: crate::migration::Version::from(9),
                    },
                    Problem::OutOfOrder {
                        version: crate::migration::Version::from(3),
                        name: "m3".into(),
                        latest: crate::migration::Version::from(9),
                    },
                    Problem::Missing {
                        version: crate::migration::Version::from(9),
                        name: "m9".into(),
                    },
                ],
            ),
            (
                "gap",
                vec![applied(&ms[0]), applied(&ms[2])],
                vec![Problem::OutOfOrder {
                    version: crate::migration::Version::from(2),
                    name: "m2".into(),
                    latest: crate::migration::Version::from(3),
                }],
            ),
        ];
        for (name, history, expected) in cases {
            assert_eq!(
                problems(&ms, &history, E, PlanOptions::default()),
                expected,
                "case {name}"
            );
            let refused = plan_up(&ms, &history, E, PlanOptions::default(), None);
            assert_eq!(refused.is_err(), !expected.is_empty(), "case {name}");
        }
    }

    #[test]
    fn out_of_order_is_applied_when_allowed() {
        let ms = source(&[1, 2, 3]);
        let history = vec![applied(&ms[0]), applied(&ms[2])];
        let allow = PlanOptions {
            allow_out_of_order: true,
        };
        assert_eq!(
            versions(&plan_up(&ms, &history, E, allow, None).unwrap()),
            [2]
        );
    }

    #[test]
    fn unknown_target_is_refused() {
        let ms = source(&[1, 2]);
        let err = plan_up(
            &ms,
            &[],
            E,
            PlanOptions::default(),
            Some(crate::migration::Version::from(7)),
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::UnknownTarget { version } if version == 7),
            "{err}"
        );
        let err = plan_down(
            &ms,
            &[],
            E,
            DownTarget::To(crate::migration::Version::from(7)),
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::UnknownTarget { version } if version == 7),
            "{err}"
        );
    }

    #[test]
    fn down_plans_newest_first_and_needs_down_scripts() {
        let mut ms = source(&[1, 2, 3]);
        let history: Vec<HistoryRow> = ms.iter().map(applied).collect();
        assert_eq!(
            versions(&plan_down(&ms, &history, E, DownTarget::Steps(2)).unwrap()),
            [3, 2]
        );
        assert_eq!(
            versions(
                &plan_down(
                    &ms,
                    &history,
                    E,
                    DownTarget::To(crate::migration::Version::from(1))
                )
                .unwrap()
            ),
            [3, 2]
        );
        assert_eq!(
            versions(&plan_down(&ms, &history, E, DownTarget::All).unwrap()),
            [3, 2, 1]
        );
        assert_eq!(
            versions(
                &plan_down(
                    &ms,
                    &history,
                    E,
                    DownTarget::To(crate::migration::Version::from(0))
                )
                .unwrap()
            ),
            [3, 2, 1]
        );
        ms[1].down = Scripts::default();
        let err = plan_down(&ms, &history, E, DownTarget::Steps(2)).unwrap_err();
        assert!(
            matches!(err, Error::NoDownScript { version, .. } if version == 2),
            "{err}"
        );
        assert!(err.to_string().contains("nothing was rolled back"), "{err}");
        assert_eq!(
            versions(&plan_down(&ms, &history, E, DownTarget::Steps(1)).unwrap()),
            [3]
        );
    }

    #[test]
    fn input_down_refuses_more_steps_than_applied_and_a_target_past_the_newest() {
        let ms = source(&[1, 2, 3, 4, 5]);
        let history: Vec<HistoryRow> = ms[..4].iter().map(applied).collect();
        let err = plan_down(&ms, &history, E, DownTarget::Steps(999)).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("only 4 applied"), "{message}");
        assert!(message.contains("--all, or --steps 4"), "{message}");
        assert_eq!(
            versions(&plan_down(&ms, &history, E, DownTarget::Steps(4)).unwrap()),
            [4, 3, 2, 1]
        );
        // Version 5 is pending and nothing after it is applied.
        let message = plan_down(
            &ms,
            &history,
            E,
            DownTarget::To(crate::migration::Version::from(5)),
        )
        .unwrap_err()
        .to_string();
        assert!(message.contains("migration 5 is not applied"), "{message}");
        assert!(message.contains("nothing was rolled back"), "{message}");
        // A pending version below an applied one is a fine target.
        let gap: Vec<HistoryRow> = [&ms[0], &ms[2]].into_iter().map(applied).collect();
        let allow = PlanOptions {
            allow_out_of_order: true,
        };
        assert!(problems(&ms, &gap, E, allow)
            .iter()
            .all(|p| matches!(p, Problem::OutOfOrder { .. })));
        assert_eq!(
            versions(
                &plan_down(
                    &ms,
                    &gap,
                    E,
                    DownTarget::To(crate::migration::Version::from(2))
                )
                .unwrap()
            ),
            [3]
        );
        // With nothing applied, the default `down` still does nothing quietly.
        assert!(plan_down(&ms, &[], E, DownTarget::Steps(1))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn baseline_hides_older_migrations() {
        let ms = source(&[1, 2, 3]);
        let mut baseline = applied(&ms[1]);
        baseline.kind = HistoryKind::Baseline;
        baseline.checksum = String::new();
        let history = vec![baseline];
        assert_eq!(
            versions(&plan_up(&ms, &history, E, PlanOptions::default(), None).unwrap()),
            [3]
        );
        let states: Vec<State> = status(&ms, &history, E).iter().map(|s| s.state).collect();
        assert_eq!(states, [State::Baselined, State::Baseline, State::Pending]);
        assert!(plan_down(&ms, &history, E, DownTarget::All)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn status_names_every_state() {
        let ms = source(&[1, 2, 3]);
        let mut modified = applied(&ms[1]);
        modified.checksum = "x".into();
        let history = vec![applied(&ms[0]), modified, applied(&migration(5, true))];
        let states: Vec<(i64, State)> = status(&ms, &history, E)
            .iter()
            .map(|s| (s.version.key(), s.state))
            .collect();
        assert_eq!(
            states,
            [
                (1, State::Applied),
                (2, State::Modified),
                (3, State::Pending),
                (5, State::Missing)
            ]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// After applying what the plan says, nothing is pending, nothing is
        /// applied twice, and everything on disk is applied.
        #[test]
        fn applying_the_plan_converges(
            on_disk in proptest::collection::btree_set(1i64..60, 0..20),
            applied_mask in proptest::collection::vec(any::<bool>(), 20),
        ) {
            let ms = source(&on_disk.iter().copied().collect::<Vec<_>>());
            // Applied: a prefix-closed subset keeps things in order; any subset when allowed.
            let mut history: Vec<HistoryRow> = ms.iter().zip(&applied_mask).filter(|(_, a)| **a).map(|(m, _)| applied(m)).collect();
            let options = PlanOptions { allow_out_of_order: true };
            let chosen = versions(&plan_up(&ms, &history, E, options, None).unwrap_or_default());
            let mut sorted = chosen.clone();
            sorted.sort_unstable();
            prop_assert_eq!(&sorted, &chosen, "plan is in version order");
            for v in &chosen {
                prop_assert!(!history.iter().any(|r| r.version == *v), "plan re-applies {}", v);
            }
            for m in ms.iter().filter(|m| chosen.contains(&m.version)) {
                history.push(applied(m));
            }
            prop_assert!(plan_up(&ms, &history, E, options, None).unwrap().is_empty());
            prop_assert!(status(&ms, &history, E).iter().all(|s| s.state == State::Applied));
            // Rolling everything back plans every applied migration, newest first.
            let down = versions(&plan_down(&ms, &history, E, DownTarget::All).unwrap());
            let mut expected: Vec<Version> = on_disk.iter().rev().copied().map(Version::from).collect();
            expected.dedup();
            prop_assert_eq!(down, expected);
        }

        /// The plan never panics and never plans a version twice, whatever the history says.
        #[test]
        fn plan_is_total(
            on_disk in proptest::collection::btree_set(1i64..30, 0..10),
            rows in proptest::collection::vec((1i64..30, 0u8..4, any::<bool>()), 0..10),
        ) {
            let ms = source(&on_disk.iter().copied().collect::<Vec<_>>());
            let mut seen = std::collections::BTreeSet::new();
            let history: Vec<HistoryRow> = rows.into_iter().filter(|(v, _, _)| seen.insert(*v)).map(|(v, state, same)| {
                let mut row = applied(&migration(v, true));
                row.state = [HistoryState::Applied, HistoryState::Failed, HistoryState::Running, HistoryState::Backfilling][usize::from(state)];
                if !same { row.checksum = "different".into(); }
                row
            }).collect();
            for options in [PlanOptions::default(), PlanOptions { allow_out_of_order: true }] {
                if let Ok(chosen) = plan_up(&ms, &history, E, options, None) {
                    let v = versions(&chosen);
                    let unique: std::collections::BTreeSet<_> = v.iter().collect();
                    prop_assert_eq!(unique.len(), v.len());
                }
                let _ = plan_down(&ms, &history, E, DownTarget::All);
                let _ = status(&ms, &history, E);
            }
        }
    }
}

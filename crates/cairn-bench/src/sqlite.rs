//! The SQLite section: applying many migrations in-process, and `cairn status`
//! as a whole process on a large history.
//!
//! Every figure is a median over alternating rounds beside a baseline timed
//! in the same rounds, each run on a fresh database file on disk:
//!
//! - **apply-N** compares `read_dir` + [`Migrator::up`] through [`SqliteDriver`]
//!   with a *floor*: rusqlite directly, reading the same `up.sql` files and
//!   running each in its own transaction with one history row, which is the
//!   least any migration tool must do on SQLite.
//! - **status-N** times the `cairn` process on a database holding N applied
//!   migrations, beside the sqlite3 shell opening the same file for `SELECT 1`.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn::clock::UtcTime;
use cairn::history::{HistoryKind, HistorySql, LogAction, LogEntry};
use cairn::sqlite::{SqliteDriver, SqliteLocation};
use cairn::{
    source, Direction, Engine, HistoryRow, HistoryState, HistoryTable, Migrator, MigratorOptions,
};
use rusqlite::Connection;

use crate::cairn_bin::workspace_root;
use crate::error::{BenchError, Context as _, Result};
use crate::fixtures::write_migrations;
use crate::options::Options;
use crate::report::{Goal, Measured, Row, Section};
use crate::stats::{format_duration, median_paired_ratio, thousands, Samples};

/// The most Cairn may add to the floor when applying migrations.
const APPLY_GOAL: f64 = 1.10;
/// How long `cairn status` may take on a large history.
const STATUS_GOAL: Duration = Duration::from_millis(50);

/// Runs the SQLite benchmarks in `scratch`, timing the `cairn` binary at `cairn`.
pub fn run(options: &Options, cairn: &Path, scratch: &Path) -> Result<Section> {
    let bench = Bench {
        options,
        cairn,
        scratch,
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context(|| "starting the async runtime".to_owned())?,
    };
    let (mut rows, apply_finding) = bench.apply()?;
    rows.extend(bench.status()?);
    Ok(Section {
        key: "sqlite",
        title: "SQLite",
        setup: vec![format!(
            "SQLite {} bundled with rusqlite for Cairn and the floor; sqlite3 shell {}. \
             Database files on {} (the Cargo target directory).",
            rusqlite::version(),
            sqlite3_version(&options.sqlite3),
            filesystem(scratch)
        )],
        rows,
        findings: vec![apply_finding],
    })
}

struct Bench<'a> {
    options: &'a Options,
    cairn: &'a Path,
    scratch: &'a Path,
    runtime: tokio::runtime::Runtime,
}

/// The ways `apply-N` applies the migrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Applier {
    /// rusqlite directly: the script and one history row per transaction.
    Floor,
    /// The floor plus a row in a log table shaped like `cairn_history_log`,
    /// to tell how much of Cairn's time that second row costs.
    FloorWithLog,
    /// Cairn's library.
    Cairn,
}

impl Applier {
    const ALL: [Applier; 3] = [Applier::Floor, Applier::FloorWithLog, Applier::Cairn];
}

impl fmt::Display for Applier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Applier::Floor => "floor",
            Applier::FloorWithLog => "floor+log",
            Applier::Cairn => "cairn",
        })
    }
}

impl Bench<'_> {
    fn apply(&self) -> Result<(Vec<Row>, String)> {
        let count = self.options.sizes.apply_migrations;
        let rounds = self.options.sizes.apply_rounds;
        let dir = self.scratch.join(format!("apply-{count}"));
        write_migrations(&dir, count)?;
        let mut samples = Applier::ALL.map(|_| Samples::new());
        let started = Instant::now();
        for round in 0..rounds {
            if round >= 3 && started.elapsed() > self.options.sizes.apply_budget {
                eprintln!(
                    "apply-{count}: stopping after {round} rounds: the {} budget is spent",
                    format_duration(self.options.sizes.apply_budget)
                );
                break;
            }
            // Rotate the order, so that none always runs first on a cooler machine.
            for i in 0..Applier::ALL.len() {
                let index = (i + round) % Applier::ALL.len();
                let applier = Applier::ALL[index];
                let db = self.scratch.join(format!("apply-{round}-{applier}.db"));
                let time = match applier {
                    Applier::Floor => floor_apply(&dir, &db, false)?,
                    Applier::FloorWithLog => floor_apply(&dir, &db, true)?,
                    Applier::Cairn => self.cairn_apply(&dir, &db)?,
                };
                check_tables(&db, count)?;
                remove_database(&db)?;
                samples[index].push(time);
                eprintln!(
                    "apply-{count}: round {}/{rounds} {applier} {}",
                    round + 1,
                    format_duration(time)
                );
            }
        }
        let rounds = samples[0].len();
        let [floor, floor_log, cairn] = samples;
        let finding = apply_finding(count, &floor, &floor_log, &cairn);
        let floor_measured = Measured {
            label: "floor: rusqlite".to_owned(),
            samples: floor,
        };
        let rows = vec![
            Row {
                name: format!("apply-{count}"),
                detail: format!(
                    "{} generated migrations (`CREATE TABLE` + `CREATE INDEX` each) applied to a fresh \
                     file; {rounds} rounds, order rotated. Cairn: `source::read_dir` + `Migrator::up` through \
                     `SqliteDriver`, in-process, default options. Floor: rusqlite on one connection, reading \
                     the same `up.sql` files, then per migration `BEGIN`, the script, one prepared `INSERT` \
                     into a table shaped like `cairn_history`, `COMMIT`.",
                    thousands(count)
                ),
                subject: Measured {
                    label: "Cairn `Migrator::up`".to_owned(),
                    samples: cairn,
                },
                baseline: Some(floor_measured.clone()),
                goal: Some(Goal::RatioAtMost(APPLY_GOAL)),
            },
            Row {
                name: format!("apply-{count}+log"),
                detail: "the floor plus, in each transaction, one prepared `INSERT` into a table \
                         shaped like `cairn_history_log` (`AUTOINCREMENT` id): what Cairn's log row \
                         alone costs, timed in the same rounds."
                    .to_owned(),
                subject: Measured {
                    label: "floor + log row".to_owned(),
                    samples: floor_log,
                },
                baseline: Some(floor_measured),
                goal: None,
            },
        ];
        Ok((rows, finding))
    }

    fn cairn_apply(&self, dir: &Path, db: &Path) -> Result<Duration> {
        let started = Instant::now();
        let applied = self.runtime.block_on(apply_with_cairn(dir, db))?;
        let time = started.elapsed();
        let expected = fs::read_dir(dir).map(Iterator::count).unwrap_or_default();
        if applied != expected {
            return Err(BenchError::new(format!(
                "Cairn applied {applied} migrations of {expected} in {}",
                dir.display()
            )));
        }
        Ok(time)
    }

    fn status(&self) -> Result<Vec<Row>> {
        let count = self.options.sizes.status_migrations;
        let rounds = self.options.sizes.status_rounds;
        let n = thousands(count);
        let dir = self.scratch.join(format!("status-{count}"));
        write_migrations(&dir, count)?;
        // The history alone, and the history with the tables the migrations create.
        let history_db = self.scratch.join(format!("status-{count}.db"));
        record_applied(&dir, &history_db, Tables::Skip)?;
        let tables_db = self.scratch.join(format!("status-{count}-tables.db"));
        record_applied(&dir, &tables_db, Tables::Create)?;
        let examples_dir = workspace_root().join("migrations");
        let examples_db = self.scratch.join("examples.db");
        let examples = self
            .runtime
            .block_on(apply_with_cairn(&examples_dir, &examples_db))?;

        let status = |dir: &Path, db: &Path| {
            let mut command = Command::new(self.cairn);
            command
                .arg("--database-url")
                .arg(format!("sqlite://{}", db.display()))
                .arg("--dir")
                .arg(dir)
                .arg("status")
                .current_dir(self.scratch);
            command
        };
        let sqlite3 = |db: &Path, query: &str| {
            let mut command = Command::new(&self.options.sqlite3);
            command.arg(db).arg(query);
            command
        };
        let mut version = Command::new(self.cairn);
        version.arg("--version");
        let read_history = "SELECT count(*) FROM cairn_history";
        let mut commands = [
            sqlite3(&history_db, "SELECT 1"),
            status(&dir, &history_db),
            sqlite3(&tables_db, read_history),
            status(&dir, &tables_db),
            status(&examples_dir, &examples_db),
            version,
        ]
        .map(|command| (command, Samples::new()));
        // Check what status sees once; this also warms the page cache.
        self.check_status(status(&dir, &history_db), count)?;
        self.check_status(status(&dir, &tables_db), count)?;
        self.check_status(status(&examples_dir, &examples_db), examples)?;
        for round in 0..rounds {
            // Rotate the order each round.
            let len = commands.len();
            for i in 0..len {
                let (command, samples) = &mut commands[(i + round) % len];
                samples.push(time_process(command)?);
            }
            eprintln!("status: round {}/{rounds}", round + 1);
        }
        let [(_, select_1), (_, history), (_, read_history_samples), (_, tables), (_, few), (_, version)] =
            commands;
        let select_1 = Measured {
            label: "`sqlite3 F 'SELECT 1'`".to_owned(),
            samples: select_1,
        };
        let k = if count.is_multiple_of(1000) {
            format!("{}k", count / 1000)
        } else {
            count.to_string()
        };
        Ok(vec![
            Row {
                name: format!("status-{k}"),
                detail: format!(
                    "the whole `cairn --database-url sqlite://F --dir D status` process (release build, \
                     stdout to /dev/null), D holding {n} migration folders and F their {n} history \
                     and log rows, written in Cairn's exact format by its own `HistorySql`, beside the \
                     sqlite3 shell opening F for `SELECT 1`; {rounds} rounds, order rotated."
                ),
                subject: Measured {
                    label: format!("`cairn status`, {n} applied"),
                    samples: history,
                },
                baseline: Some(select_1.clone()),
                goal: Some(Goal::MedianBelow(STATUS_GOAL)),
            },
            Row {
                name: format!("status-{k}+tables"),
                detail: format!(
                    "the same, with F also holding the {n} tables and {n} indexes the migrations \
                     create, as a real database would; the baseline is the sqlite3 shell running \
                     `{read_history}` on it, which like any first query loads the whole schema."
                ),
                subject: Measured {
                    label: format!("`cairn status`, {n} applied, with tables"),
                    samples: tables,
                },
                baseline: Some(Measured {
                    label: format!("`sqlite3 F '{read_history}'`"),
                    samples: read_history_samples,
                }),
                goal: None,
            },
            Row {
                name: "status-examples".to_owned(),
                detail: format!(
                    "`cairn status` on the {examples} example migrations of `migrations/`, applied, for \
                     reference, beside the `SELECT 1` above."
                ),
                subject: Measured {
                    label: format!("`cairn status`, {examples} applied"),
                    samples: few,
                },
                baseline: Some(select_1.clone()),
                goal: None,
            },
            Row {
                name: "startup".to_owned(),
                detail: "`cairn --version`: starting the process and parsing the command line, \
                         the part of every command that is not Cairn's work."
                    .to_owned(),
                subject: Measured {
                    label: "`cairn --version`".to_owned(),
                    samples: version,
                },
                baseline: Some(select_1),
                goal: None,
            },
        ])
    }

    /// Runs `cairn status --format json` once and checks every migration is applied.
    fn check_status(&self, mut command: Command, expected: usize) -> Result<()> {
        let output = command
            .args(["--format", "json"])
            .env_remove("RUST_LOG")
            .output()
            .context(|| format!("running {}", self.cairn.display()))?;
        let what = || format!("`cairn status` on {expected} migrations");
        if !output.status.success() {
            return Err(BenchError::new(format!(
                "{} failed ({}): {}",
                what(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).context(|| format!("reading {}", what()))?;
        let migrations = report["migrations"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        let applied = migrations
            .iter()
            .filter(|m| m["state"] == "applied")
            .count();
        if applied != expected || migrations.len() != expected {
            return Err(BenchError::new(format!(
                "{} shows {applied} applied of {} listed",
                what(),
                migrations.len()
            )));
        }
        Ok(())
    }
}

/// `read_dir` + `Migrator::up` on a fresh driver; returns how many were applied.
async fn apply_with_cairn(dir: &Path, db: &Path) -> Result<usize> {
    let migrations =
        source::read_dir(dir).context(|| format!("reading migrations in {}", dir.display()))?;
    // The example's zero-downtime operations are contracted at once (`up
    // --contract`), so that every example migration counts as applied.
    let options = MigratorOptions {
        contract_after_expand: true,
        ..MigratorOptions::default()
    };
    let mut migrator = Migrator::new(migrations, options);
    migrator.register_data_migration("us_address", crate::us_address::UsAddress::default());
    let mut driver = SqliteDriver::open(SqliteLocation::File(db.to_owned()))
        .await
        .context(|| format!("opening {}", db.display()))?;
    let report = migrator
        .up(&mut driver, None)
        .await
        .context(|| format!("applying {} to {}", dir.display(), db.display()))?;
    // A migration expanded then contracted may be reported once per phase.
    let versions: std::collections::BTreeSet<_> = report
        .migrations
        .iter()
        .filter(|m| !m.skipped)
        .map(|m| m.version)
        .collect();
    Ok(versions.len())
}

/// The floor: what any tool must do to apply the migrations in `dir` to `db`.
fn floor_apply(dir: &Path, db: &Path, with_log: bool) -> Result<Duration> {
    let started = Instant::now();
    let mut scripts = Vec::new();
    for entry in fs::read_dir(dir).context(|| format!("listing {}", dir.display()))? {
        let path = entry
            .context(|| format!("listing {}", dir.display()))?
            .path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let (version, name) = name
            .split_once('_')
            .and_then(|(v, n)| Some((v.parse::<i64>().ok()?, n.to_owned())))
            .ok_or_else(|| BenchError::new(format!("{}: not <version>_<name>", path.display())))?;
        let up = path.join("up.sql");
        let text = fs::read_to_string(&up).context(|| format!("reading {}", up.display()))?;
        scripts.push((version, name, text));
    }
    scripts.sort_by_key(|(version, _, _)| *version);

    let failed = |what: &str| format!("floor: {what} on {}", db.display());
    let conn = Connection::open(db).context(|| failed("opening"))?;
    let [history_table, log_table] = floor_tables();
    conn.execute_batch(&history_table)
        .context(|| failed("creating the history table"))?;
    if with_log {
        conn.execute_batch(&log_table)
            .context(|| failed("creating the log table"))?;
    }
    let mut insert = conn
        .prepare(
            "INSERT INTO floor_history (version, name, kind, checksum, state, applied_at, \
             execution_ms, applied_by, cairn_version) \
             VALUES (?1, ?2, 'sql', ?3, 'applied', ?4, 0, 'floor', '0.1.0')",
        )
        .context(|| failed("preparing the history insert"))?;
    let mut log = if with_log {
        let log = conn
            .prepare(
                "INSERT INTO floor_history_log (version, name, action, outcome, at, duration_ms, \
                 actor, cairn_version, detail) \
                 VALUES (?1, ?2, 'up', 'ok', ?3, 0, 'floor', '0.1.0', NULL)",
            )
            .context(|| failed("preparing the log insert"))?;
        Some(log)
    } else {
        None
    };
    let checksum = "0".repeat(64);
    let applied_at = UtcTime::now().rfc3339();
    for (version, name, text) in &scripts {
        let migration = || failed(&format!("migration {version}"));
        conn.execute_batch("BEGIN").context(migration)?;
        conn.execute_batch(text).context(migration)?;
        insert
            .execute(rusqlite::params![version, name, checksum, applied_at])
            .context(migration)?;
        if let Some(log) = &mut log {
            log.execute(rusqlite::params![version, name, applied_at])
                .context(migration)?;
        }
        conn.execute_batch("COMMIT").context(migration)?;
    }
    drop(log);
    drop(insert);
    drop(conn);
    Ok(started.elapsed())
}

/// The floor's history and log tables: Cairn's, under other names.
fn floor_tables() -> [String; 2] {
    let table = HistoryTable {
        schema: None,
        name: "floor_history".to_owned(),
    };
    let mut create = HistorySql::new(cairn::dialect::for_engine(Engine::Sqlite), &table)
        .create()
        .into_iter();
    [(); 2].map(|()| create.next().unwrap_or_default())
}

/// The apply-N figures per migration, and the ratios taken within rounds.
fn apply_finding(count: usize, floor: &Samples, floor_log: &Samples, cairn: &Samples) -> String {
    let per_migration = |time: Duration| {
        let count = u32::try_from(count.max(1)).unwrap_or(u32::MAX);
        format_duration(time / count)
    };
    let paired = |subject: &Samples| {
        median_paired_ratio(subject, floor).map_or_else(|| "—".to_owned(), |r| format!("{r:.2}×"))
    };
    format!(
        "**apply-{count} in this run.** The floor took {} per migration; Cairn {} more per migration, \
         the floor + log row {} more. Medians of the ratios within each round (steadier when the \
         disk's speed drifts between rounds): Cairn {}, floor + log row {}.",
        per_migration(floor.median()),
        per_migration(cairn.median().saturating_sub(floor.median())),
        per_migration(floor_log.median().saturating_sub(floor.median())),
        paired(cairn),
        paired(floor_log),
    )
}

/// Whether [`record_applied`] creates the migrations' tables too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tables {
    Create,
    Skip,
}

/// Writes into a fresh `db` the history and log rows of every migration in
/// `dir`, in the exact form Cairn writes them (rendered by Cairn's
/// [`HistorySql`]), and with [`Tables::Create`] runs their up scripts too; in
/// one transaction, which is much faster than applying them one by one.
fn record_applied(dir: &Path, db: &Path, tables: Tables) -> Result<()> {
    let failed = || {
        format!(
            "recording the migrations of {} in {}",
            dir.display(),
            db.display()
        )
    };
    let migrations = source::read_dir(dir).context(failed)?;
    let sql = HistorySql::new(
        cairn::dialect::for_engine(Engine::Sqlite),
        &HistoryTable::default(),
    );
    let mut conn = Connection::open(db).context(failed)?;
    let tx = conn.transaction().context(failed)?;
    for statement in sql.create() {
        tx.execute_batch(&statement).context(failed)?;
    }
    let at = UtcTime::now().rfc3339();
    let actor = "cairn-bench";
    for migration in &migrations {
        let script = migration
            .script(Direction::Up, Engine::Sqlite)
            .ok_or_else(|| BenchError::new(format!("{}: no up script", failed())))?;
        if tables == Tables::Create {
            tx.execute_batch(&script.text).context(failed)?;
        }
        let row = HistoryRow {
            version: migration.version,
            name: migration.name.clone(),
            kind: HistoryKind::Sql,
            checksum: migration.checksum(Engine::Sqlite).unwrap_or_default(),
            state: HistoryState::Applied,
            applied_at: at.clone(),
            execution_ms: 1,
            applied_by: actor.to_owned(),
            cairn_version: cairn::CAIRN_VERSION.to_owned(),
            statements_done: None,
            statements_checksum: None,
            error: None,
        };
        tx.execute_batch(&sql.insert(&row)).context(failed)?;
        let log = LogEntry {
            version: migration.version,
            name: &migration.name,
            action: LogAction::Up,
            success: true,
            at: &at,
            duration_ms: 1,
            actor,
            detail: None,
        };
        tx.execute_batch(&sql.log(&log)).context(failed)?;
    }
    tx.commit().context(failed)
}

/// Checks that `db` has the `count` generated tables (besides the history's).
fn check_tables(db: &Path, count: usize) -> Result<()> {
    let failed = || format!("checking the tables in {}", db.display());
    let conn = Connection::open(db).context(failed)?;
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name GLOB 't[0-9]*'",
            [],
            |row| row.get(0),
        )
        .context(failed)?;
    if usize::try_from(tables).ok() != Some(count) {
        return Err(BenchError::new(format!(
            "{}: found {tables} tables, expected {count}",
            failed()
        )));
    }
    Ok(())
}

fn remove_database(db: &Path) -> Result<()> {
    let journal = PathBuf::from(format!("{}-journal", db.display()));
    for path in [db, journal.as_path()] {
        match fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(BenchError::new(format!("removing {}: {e}", path.display())))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The wall-clock time of one run of `command`, which must succeed.
pub(crate) fn time_process(command: &mut Command) -> Result<Duration> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("RUST_LOG");
    let started = Instant::now();
    let output = command.output();
    let time = started.elapsed();
    let program = command.get_program().to_string_lossy().into_owned();
    let output = output.context(|| format!("running {program}"))?;
    if !output.status.success() {
        return Err(BenchError::new(format!(
            "{program} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(time)
}

fn sqlite3_version(sqlite3: &Path) -> String {
    Command::new(sqlite3)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "(version unknown)".to_owned())
}

fn filesystem(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    crate::fixtures::filesystem_of(&path, &mounts)
        .unwrap_or("an unknown file system")
        .to_owned()
}

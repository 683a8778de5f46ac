//! The zero-downtime suite (issue 11; ZERO-DOWNTIME.md §6): the rename of
//! `users.name` to `full_name` by a `rename_column` operation on a large
//! table while application clients of the old and the new version run at a
//! fixed rate, one section per engine.
//!
//! Each round gets a database of its own holding `users (id, name, email)`
//! with [`rows`] rows. The application is [`CLIENTS`] old-version and as many
//! new-version clients, each doing every [`TICK`] one of an insert, an update
//! of a random row and a point read, in turn, each with a deadline of
//! [`DEADLINE`]; old clients use `name`, new clients `full_name`. The
//! windows, one after the other:
//!
//! 1. `baseline` — old clients only, no migration, [`WINDOW`] long: the p99
//!    every later window is compared with;
//! 2. `expand` — old clients while `Migrator::up` expands and backfills;
//! 3. `expanded` — old and new clients, [`WINDOW`] long;
//! 4. `contract` — new clients while `Migrator::contract` runs; before
//!    it, every client pauses and its query in flight ends (the old version
//!    is retired, as a deploy drains it), and the write-amplification
//!    `UPDATE` runs, as the one before expand does, without clients.
//!
//! Per window: failed queries (goal 0), the longest query (goal ≤ the
//! operation lock timeout + 100 ms on PostgreSQL and MariaDB, ≤ the busy
//! timeout on SQLite) and the p99 against the baseline's (goal ≤ 1.5×). Also
//! the trigger write amplification (the same `UPDATE` of [`AMPLIFICATION_ROWS`]
//! rows before expand and while expanded) and the backfill's rows/s. The
//! second round repeats it with an idle transaction holding the table for
//! [`HOLD`] when each phase starts.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn::{source, Engine, Migrator, MigratorOptions};

use crate::error::{connect, BenchError, Context as _, Result};
use crate::options::{EngineChoice, Options};
use crate::report::{Goal, Measured, Row, Section};
use crate::stats::{format_duration, thousands, Samples};

/// Clients of each application version.
const CLIENTS: usize = 2;
/// How often each client starts a query.
const TICK: Duration = Duration::from_millis(20);
/// A query slower than this counts as failed.
const DEADLINE: Duration = Duration::from_secs(5);
/// How long the baseline and the expanded windows last.
const WINDOW: Duration = Duration::from_secs(5);
/// How long the idle transaction of the second round holds the table.
const HOLD: Duration = Duration::from_secs(2);
/// Rows the write-amplification `UPDATE` changes.
const AMPLIFICATION_ROWS: u64 = 100_000;
/// The operation lock timeout Cairn uses by default.
const LOCK_TIMEOUT: Duration = Duration::from_millis(500);
/// SQLite's busy timeout in the Cairn driver and in the clients.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The p99 goal over the baseline's.
const P99_GOAL: f64 = 1.5;

const MIGRATION: &str = "[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\ncolumn = \"name\"\nto = \"full_name\"\n";

/// The windows of a round, in order.
const WINDOWS: [&str; 4] = ["baseline", "expand", "expanded", "contract"];
/// Between `expanded` and `contract` the clients pause (not reported): the
/// old version is retired (its last query drained, as a deploy does) and the
/// write-amplification `UPDATE` runs without the clients.
const PAUSE: usize = WINDOWS.len();

/// The rows of the table on `engine`.
fn rows(options: &Options, engine: EngineChoice) -> u64 {
    let full = match engine {
        EngineChoice::Sqlite => 200_000,
        EngineChoice::Postgres | EngineChoice::Mysql => 1_000_000,
    };
    if options.quick {
        full / 10
    } else {
        full
    }
}

/// One query's outcome.
#[derive(Clone, Copy, Debug)]
struct Sample {
    window: u8,
    took: Duration,
    failed: bool,
}

/// The figures of one window.
#[derive(Clone, Debug, Default)]
struct Window {
    queries: usize,
    failed: usize,
    longest: Duration,
    p99: Duration,
    first_error: Option<String>,
}

/// The figures of one round.
#[derive(Clone, Debug, Default)]
struct Round {
    windows: Vec<Window>,
    backfill_rows: i64,
    backfill_time: Duration,
    update_without: Duration,
    update_with: Duration,
}

/// Runs the suite on `engine`.
pub fn run(options: &Options, scratch: &Path, engine: EngineChoice) -> Result<Section> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context(|| "starting the async runtime".to_owned())?;
    let rows = rows(options, engine);
    let mut rounds = Vec::new();
    for (n, held) in [false, true].into_iter().enumerate() {
        let dir = scratch.join(format!("zdt-{engine:?}-{n}"));
        let round = runtime.block_on(async {
            let db = Database::fresh(options, scratch, engine, n).await?;
            let result = one_round(&db, &dir, rows, held).await;
            if !options.keep {
                db.remove().await?;
            }
            result
        })?;
        eprintln!(
            "zero-downtime {engine:?} round {} ({}): backfill {} rows in {}",
            n + 1,
            if held { "idle transaction" } else { "plain" },
            round.backfill_rows,
            format_duration(round.backfill_time)
        );
        rounds.push((held, round));
    }
    Ok(section(engine, rows, &rounds))
}

/// A database for one round.
struct Database {
    engine: EngineChoice,
    url: String,
    admin: Option<(String, String)>,
}

impl Database {
    async fn fresh(
        options: &Options,
        scratch: &Path,
        engine: EngineChoice,
        round: usize,
    ) -> Result<Database> {
        let name = format!("cairn_bench_zdt_{}_{round}", std::process::id());
        let admin = match engine {
            EngineChoice::Sqlite => {
                let file = scratch.join(format!("{name}.db"));
                let _ = std::fs::remove_file(&file);
                return Ok(Database {
                    engine,
                    url: format!("sqlite://{}", file.display()),
                    admin: None,
                });
            }
            EngineChoice::Postgres => options.postgres_url.clone(),
            EngineChoice::Mysql => options.mysql_url.clone(),
        };
        let dialect = cairn::dialect::for_engine(family(engine));
        let mut driver = connect(&admin).await?;
        for sql in [dialect.drop_database(&name), dialect.create_database(&name)] {
            driver
                .execute(&sql)
                .await
                .context(|| format!("running `{sql}`"))?;
        }
        Ok(Database {
            engine,
            url: crate::servers::with_database(&admin, &name)?,
            admin: Some((admin, name)),
        })
    }

    async fn remove(&self) -> Result<()> {
        let Some((admin, name)) = &self.admin else {
            return Ok(());
        };
        let sql = cairn::dialect::for_engine(family(self.engine)).drop_database(name);
        connect(admin)
            .await?
            .execute(&sql)
            .await
            .context(|| format!("running `{sql}`"))?;
        Ok(())
    }
}

fn family(engine: EngineChoice) -> Engine {
    match engine {
        EngineChoice::Sqlite => Engine::Sqlite,
        EngineChoice::Postgres => Engine::Postgres,
        EngineChoice::Mysql => Engine::Mysql,
    }
}

/// The table and its rows.
fn setup(engine: EngineChoice, rows: u64) -> Vec<String> {
    match engine {
        EngineChoice::Sqlite => vec![
            "PRAGMA journal_mode = WAL".to_owned(),
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL, email VARCHAR(200))".to_owned(),
            format!(
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {rows}) \
                 INSERT INTO users (id, name, email) SELECT i, 'user ' || i, 'u' || i || '@example.com' FROM s"
            ),
        ],
        EngineChoice::Postgres => vec![
            "CREATE TABLE users (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name VARCHAR(200) NOT NULL, email VARCHAR(200))".to_owned(),
            format!(
                "INSERT INTO users (id, name, email) SELECT g, 'user ' || g, 'u' || g || '@example.com' FROM generate_series(1, {rows}) g"
            ),
            format!("SELECT setval(pg_get_serial_sequence('users', 'id'), {rows})"),
            "VACUUM ANALYZE users".to_owned(),
        ],
        EngineChoice::Mysql => vec![
            "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(200) NOT NULL, email VARCHAR(200)) ENGINE=InnoDB".to_owned(),
            format!(
                "INSERT INTO users (id, name, email) SELECT seq, CONCAT('user ', seq), CONCAT('u', seq, '@example.com') FROM seq_1_to_{rows}"
            ),
            "ANALYZE TABLE users".to_owned(),
        ],
    }
}

/// The application's queries: `column` is `name` (old) or `full_name` (new).
fn query(column: &str, step: u64, id: u64) -> String {
    match step % 3 {
        // The id comes from the table's own default, as an application's would.
        0 => format!(
            "INSERT INTO users ({column}, email) VALUES ('client {id}', 'c{id}@example.com')"
        ),
        1 => format!("UPDATE users SET {column} = 'renamed {id}' WHERE id = {id}"),
        _ => format!("SELECT {column} FROM users WHERE id = {id}"),
    }
}

/// The application clients, recording every query.
struct Workload {
    window: Arc<AtomicU8>,
    old_on: Arc<AtomicBool>,
    new_on: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Queries in flight.
    busy: Arc<AtomicUsize>,
    samples: Arc<Mutex<Vec<Sample>>>,
    errors: Arc<Mutex<Vec<(u8, String)>>>,
    tasks: Vec<tokio::task::JoinHandle<Result<()>>>,
}

impl Workload {
    async fn start(db: &Database, rows: u64) -> Result<Workload> {
        let mut workload = Workload {
            window: Arc::new(AtomicU8::new(0)),
            old_on: Arc::new(AtomicBool::new(true)),
            new_on: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
            busy: Arc::new(AtomicUsize::new(0)),
            samples: Arc::new(Mutex::new(Vec::new())),
            errors: Arc::new(Mutex::new(Vec::new())),
            tasks: Vec::new(),
        };
        for client in 0..CLIENTS * 2 {
            let old = client % 2 == 0;
            let mut driver = connect(&db.url).await?;
            if db.engine == EngineChoice::Sqlite {
                let _ = driver
                    .execute(&format!(
                        "PRAGMA busy_timeout = {}",
                        BUSY_TIMEOUT.as_millis()
                    ))
                    .await;
            }
            let busy = workload.busy.clone();
            let (window, on, stop, samples, errors) = (
                workload.window.clone(),
                if old {
                    workload.old_on.clone()
                } else {
                    workload.new_on.clone()
                },
                workload.stop.clone(),
                workload.samples.clone(),
                workload.errors.clone(),
            );
            let column = if old { "name" } else { "full_name" };
            workload.tasks.push(tokio::spawn(async move {
                let mut step = client as u64;
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    next += TICK;
                    busy.fetch_add(1, Ordering::SeqCst);
                    if on.load(Ordering::SeqCst) {
                        step += 1;
                        let id = 1 + (step.wrapping_mul(2_654_435_761) % rows);
                        let sql = query(column, step, id);
                        let current = window.load(Ordering::Relaxed);
                        let started = Instant::now();
                        let outcome = tokio::time::timeout(DEADLINE, driver.execute(&sql)).await;
                        let took = started.elapsed();
                        let failed = !matches!(outcome, Ok(Ok(_)));
                        if failed {
                            let message = match outcome {
                                Ok(Err(e)) => format!("{sql}: {e}"),
                                _ => format!(
                                    "{sql}: over the {} deadline",
                                    format_duration(DEADLINE)
                                ),
                            };
                            errors.lock().expect("errors").push((current, message));
                        }
                        samples.lock().expect("samples").push(Sample {
                            window: current,
                            took,
                            failed,
                        });
                    }
                    busy.fetch_sub(1, Ordering::SeqCst);
                    let now = Instant::now();
                    if next > now {
                        tokio::time::sleep(next - now).await;
                    } else {
                        next = now;
                    }
                }
                Ok(())
            }));
        }
        Ok(workload)
    }

    fn enter(&self, window: usize, old: bool, new: bool) {
        self.window
            .store(u8::try_from(window).unwrap_or(u8::MAX), Ordering::SeqCst);
        self.old_on.store(old, Ordering::SeqCst);
        self.new_on.store(new, Ordering::SeqCst);
    }

    /// Pauses every client and waits for the queries in flight to end.
    async fn drain(&self) {
        self.enter(PAUSE, false, false);
        while self.busy.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn finish(self) -> Result<Vec<Window>> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await
                .map_err(|e| BenchError::new(format!("a client task: {e}")))??;
        }
        let samples = self.samples.lock().expect("samples").clone();
        let errors = self.errors.lock().expect("errors").clone();
        Ok((0..WINDOWS.len())
            .map(|w| {
                let mut times: Vec<Duration> = samples
                    .iter()
                    .filter(|s| usize::from(s.window) == w)
                    .map(|s| s.took)
                    .collect();
                times.sort_unstable();
                let failed = samples
                    .iter()
                    .filter(|s| usize::from(s.window) == w && s.failed)
                    .count();
                Window {
                    queries: times.len(),
                    failed,
                    longest: times.last().copied().unwrap_or_default(),
                    p99: percentile(&times, 0.99),
                    first_error: errors
                        .iter()
                        .find(|(window, _)| usize::from(*window) == w)
                        .map(|(_, e)| e.clone()),
                }
            })
            .collect())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Holds the table in an idle transaction for [`HOLD`], from now.
async fn hold_table(db: &Database) -> Result<tokio::task::JoinHandle<Result<()>>> {
    let mut blocker = connect(&db.url).await?;
    let sqlite = db.engine == EngineChoice::Sqlite;
    if sqlite {
        // SQLite has no table locks: the database's write lock is what a
        // writer holds.
        blocker
            .execute("BEGIN IMMEDIATE")
            .await
            .context(|| "the blocker's BEGIN IMMEDIATE".to_owned())?;
    } else {
        blocker
            .begin()
            .await
            .context(|| "the blocker's BEGIN".to_owned())?;
        blocker
            .query("SELECT id FROM users WHERE id = 1")
            .await
            .context(|| "the blocker's read".to_owned())?;
    }
    Ok(tokio::spawn(async move {
        tokio::time::sleep(HOLD).await;
        let sql = if sqlite {
            blocker.execute("COMMIT").await.map(|_| ())
        } else {
            blocker.commit().await
        };
        sql.map_err(|e| BenchError::new(format!("the blocker's COMMIT: {e}")))
    }))
}

async fn one_round(db: &Database, dir: &Path, rows: u64, held: bool) -> Result<Round> {
    let mut admin = connect(&db.url).await?;
    for sql in setup(db.engine, rows) {
        if sql.starts_with("SELECT") {
            admin.query(&sql).await.context(|| format!("`{sql}`"))?;
        } else {
            admin.execute(&sql).await.context(|| format!("`{sql}`"))?;
        }
    }
    let migration = dir.join("20260101090500_rename_users_name");
    std::fs::create_dir_all(&migration).context(|| format!("creating {}", migration.display()))?;
    std::fs::write(migration.join("migration.toml"), MIGRATION)
        .context(|| format!("writing {}", migration.display()))?;
    let migrations = source::read_dir(dir).context(|| format!("reading {}", dir.display()))?;
    let options = MigratorOptions {
        operation_lock_timeout: LOCK_TIMEOUT,
        ..MigratorOptions::default()
    };
    let migrator = Migrator::new(migrations, options);
    let amplification = rows.min(AMPLIFICATION_ROWS);
    let update = format!("UPDATE users SET name = name || '.' WHERE id <= {amplification}");
    let update = if db.engine == EngineChoice::Mysql {
        format!("UPDATE users SET name = CONCAT(name, '.') WHERE id <= {amplification}")
    } else {
        update
    };
    let started = Instant::now();
    admin
        .execute(&update)
        .await
        .context(|| format!("`{update}`"))?;
    let update_without = started.elapsed();

    let workload = Workload::start(db, rows).await?;
    workload.enter(0, true, false);
    tokio::time::sleep(WINDOW).await;

    workload.enter(1, true, false);
    let blocker = if held {
        Some(hold_table(db).await?)
    } else {
        None
    };
    let started = Instant::now();
    let report = migrator
        .up(admin.as_mut(), None)
        .await
        .map_err(|e| BenchError::new(format!("cairn up (expand): {}", e.error)))?;
    let backfill_time = started.elapsed();
    if let Some(blocker) = blocker {
        blocker
            .await
            .map_err(|e| BenchError::new(format!("the blocker: {e}")))??;
    }
    let backfill_rows = report
        .migrations
        .iter()
        .filter_map(|m| m.backfilled)
        .sum::<i64>();

    workload.enter(2, true, true);
    tokio::time::sleep(WINDOW).await;
    workload.drain().await;
    let started = Instant::now();
    admin
        .execute(&update)
        .await
        .context(|| format!("`{update}` while expanded"))?;
    let update_with = started.elapsed();

    workload.enter(3, false, true);
    let blocker = if held {
        Some(hold_table(db).await?)
    } else {
        None
    };
    migrator
        .contract(admin.as_mut(), None)
        .await
        .map_err(|e| BenchError::new(format!("cairn contract: {}", e.error)))?;
    if let Some(blocker) = blocker {
        blocker
            .await
            .map_err(|e| BenchError::new(format!("the blocker: {e}")))??;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let windows = workload.finish().await?;
    Ok(Round {
        windows,
        backfill_rows,
        backfill_time,
        update_without,
        update_with,
    })
}

fn section(engine: EngineChoice, rows: u64, rounds: &[(bool, Round)]) -> Section {
    let (key, title, wait_goal, wait_label) = match engine {
        EngineChoice::Sqlite => (
            "zdt-sqlite",
            "Zero downtime: SQLite",
            BUSY_TIMEOUT,
            "busy timeout",
        ),
        EngineChoice::Postgres => (
            "zdt-postgres",
            "Zero downtime: PostgreSQL",
            LOCK_TIMEOUT + Duration::from_millis(100),
            "lock timeout + 100 ms",
        ),
        EngineChoice::Mysql => (
            "zdt-mariadb",
            "Zero downtime: MariaDB",
            LOCK_TIMEOUT + Duration::from_millis(100),
            "lock timeout + 100 ms",
        ),
    };
    let mut table = Vec::new();
    let mut findings = Vec::new();
    for (held, round) in rounds {
        let suffix = if *held { " (idle transaction)" } else { "" };
        let baseline = round.windows.first().map(|w| w.p99).unwrap_or_default();
        for (w, window) in round.windows.iter().enumerate().skip(1) {
            let mut subject = Samples::new();
            subject.push(window.p99);
            let mut base = Samples::new();
            base.push(baseline);
            table.push(Row {
                name: format!("p99-{}{}", WINDOWS[w], if *held { "-held" } else { "" }),
                detail: format!(
                    "p99 of the application's queries in the `{}` window{suffix} against the no-migration window of the same round",
                    WINDOWS[w]
                ),
                subject: Measured {
                    label: format!("p99 {}", WINDOWS[w]),
                    samples: subject,
                },
                baseline: Some(Measured {
                    label: "p99 no migration".to_owned(),
                    samples: base,
                }),
                goal: Some(Goal::RatioAtMost(P99_GOAL)),
            });
            let mut longest = Samples::new();
            longest.push(window.longest);
            table.push(Row {
                name: format!("longest-{}{}", WINDOWS[w], if *held { "-held" } else { "" }),
                detail: format!(
                    "the longest application query in the `{}` window{suffix}; goal: at most the {wait_label}",
                    WINDOWS[w]
                ),
                subject: Measured {
                    label: format!("longest {}", WINDOWS[w]),
                    samples: longest,
                },
                baseline: None,
                goal: Some(Goal::MedianBelow(wait_goal)),
            });
        }
        let failed: Vec<String> = round
            .windows
            .iter()
            .enumerate()
            .map(|(w, window)| {
                format!(
                    "{} {} of {}{}",
                    WINDOWS[w],
                    window.failed,
                    window.queries,
                    window
                        .first_error
                        .as_ref()
                        .map_or_else(String::new, |e| format!(" (first: `{e}`)"))
                )
            })
            .collect();
        let total: usize = round.windows.iter().map(|w| w.failed).sum();
        findings.push(format!(
            "Failed application queries{suffix} (goal 0: {}): {}.",
            if total == 0 { "met" } else { "**not met**" },
            failed.join("; ")
        ));
        let rate = if round.backfill_time.is_zero() {
            0.0
        } else {
            round.backfill_rows as f64 / round.backfill_time.as_secs_f64()
        };
        findings.push(format!(
            "Expand and backfill{suffix}: {} rows in {} ({} rows/s, expand DDL included). Trigger write amplification: the same `UPDATE` of {} rows took {} before expand and {} with the sync triggers ({:.2}×).",
            round.backfill_rows,
            format_duration(round.backfill_time),
            thousands(rate as usize),
            thousands(rows.min(AMPLIFICATION_ROWS) as usize),
            format_duration(round.update_without),
            format_duration(round.update_with),
            crate::stats::ratio(round.update_with, round.update_without)
        ));
    }
    Section {
        key,
        title,
        setup: vec![format!(
            "`rename_column` of `users.name` on {} rows, applied in-process by `Migrator::up` then `Migrator::contract` (operation lock timeout {}), while {CLIENTS} old-version and {CLIENTS} new-version clients each start a query every {} (insert, update of a random row, point read; deadline {}). Windows of {} without migration and while expanded. Round 2 holds the table in an idle transaction for {} when expand and contract start.",
            thousands(rows as usize),
            format_duration(LOCK_TIMEOUT),
            format_duration(TICK),
            format_duration(DEADLINE),
            format_duration(WINDOW),
            format_duration(HOLD),
        )],
        rows: table,
        findings,
    }
}

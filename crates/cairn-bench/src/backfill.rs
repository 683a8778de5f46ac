//! The backfill sections (issue 5): Cairn's batched, checkpointed keyset
//! backfill of a large table beside the least any tool can do, one per engine.
//!
//! Every run gets a database (a file on SQLite) of its own holding
//! `items (id BIGINT PRIMARY KEY, n BIGINT NOT NULL, v BIGINT)` with `v` NULL
//! on every row, filled in bulk and analysed before the clock starts:
//!
//! - **whole-table**: one `UPDATE items SET v = n * 2 WHERE v IS NULL`, the
//!   baseline (one statement, one commit, the longest possible transaction);
//! - **Cairn**: a migration holding only a `migration.toml` with that `set`
//!   and `where`, applied with `read_dir` + [`Migrator::up`] through the
//!   engine's driver in-process, as `apply-N` does, once per batch size;
//!   the longest batch comes from its checkpoint (`longest_batch_ms`, what
//!   `cairn backfill status` shows) and from the progress reports (which
//!   also count the `COMMIT`);
//! - **OFFSET paging** of the same batches, one autocommitted
//!   `UPDATE … WHERE v IS NULL AND id IN (SELECT id FROM items ORDER BY id
//!   LIMIT n OFFSET k)` per batch (on MariaDB the page is a joined derived
//!   table): O(n²), so it runs for a time budget and the rest is estimated
//!   from the batches it timed at both ends of the table;
//! - **profile**: the statements of Cairn's batch (`BatchSql`,
//!   `CheckpointSql`, as `backfill/run.rs` sends them) replayed with a timer
//!   on each round trip, and variants of them, to say where the time goes.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn::backfill::spec::MAX_BATCH_SIZE;
use cairn::backfill::sql::{BatchSql, Checkpoint, CheckpointSql, Key};
use cairn::backfill::Progress;
use cairn::history::quote_ident;
use cairn::sqlite::{SqliteDriver, SqliteLocation};
use cairn::{source, Driver, Engine, Migrator, MigratorOptions};

use crate::error::{BenchError, Context as _, Result};
use crate::fixtures::per_engine;
use crate::options::{EngineChoice, Options};
use crate::report::Section;
use crate::servers::with_database;
use crate::stats::{format_duration, median_paired_ratio, ratio, thousands, Samples};

/// Batched rows/s over the whole-table `UPDATE`'s must be at least this.
const THROUGHPUT_GOAL: f64 = 0.8;
/// Every batch transaction must take at most this.
const BATCH_GOAL: Duration = Duration::from_millis(200);
/// The batch size the profile replays (Cairn's default).
const PROFILE_BATCH: u64 = 1_000;
/// The statement every run applies.
const SET: &str = "v = n * 2";
/// Which rows need it.
const FILTER: &str = "v IS NULL";

/// How big the backfill benchmark is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Plan {
    /// Rows in `items`.
    rows: u64,
    /// Batch sizes tried.
    batch_sizes: &'static [u64],
    /// Rounds of whole-table and Cairn runs (each round times every one once).
    rounds: usize,
    /// After this long, no new round starts (there is always one).
    budget: Duration,
    /// How long OFFSET paging runs from the start of the table, per batch size.
    offset_budget: Duration,
    /// Batches of OFFSET paging timed at the end of the table, for the estimate.
    offset_tail: u64,
}

const FULL: Plan = Plan {
    rows: 1_000_000,
    batch_sizes: &[1_000, 5_000, 10_000, 50_000],
    rounds: 3,
    budget: Duration::from_secs(240),
    offset_budget: Duration::from_secs(15),
    offset_tail: 3,
};

/// SQLite also tries the largest batch Cairn allows: its whole-table
/// `UPDATE` is so fast that only the largest batches come near it.
const SQLITE_FULL_SIZES: &[u64] = &[1_000, 5_000, 10_000, 50_000, MAX_BATCH_SIZE];

const QUICK: Plan = Plan {
    rows: 100_000,
    batch_sizes: &[1_000, 10_000],
    rounds: 1,
    budget: Duration::from_secs(30),
    offset_budget: Duration::from_secs(3),
    offset_tail: 2,
};

/// Where the runs' databases live.
#[derive(Clone, Debug)]
enum Target {
    /// Files in the scratch directory.
    Sqlite(PathBuf),
    /// Databases created on a server from its admin URL.
    Postgres(String),
    /// Likewise on MariaDB (or MySQL).
    Mariadb(String),
}

/// One run's fresh database.
#[derive(Clone, Debug)]
enum Db {
    Sqlite(PathBuf),
    Server { name: String, url: String },
}

/// What one Cairn run measured.
#[derive(Clone, Copy, Debug, Default)]
struct CairnRun {
    /// The whole `Migrator::up`, connecting included.
    time: Duration,
    /// `longest_batch_ms` of the final checkpoint.
    checkpoint_longest: Duration,
    /// The longest batch the progress reports saw (`BEGIN` to `COMMIT`).
    longest_with_commit: Duration,
    /// Batches committed.
    batches: i64,
}

/// What OFFSET paging measured, and what it would take to the end.
#[derive(Clone, Debug, PartialEq)]
struct OffsetRun {
    /// Batches the whole table needs.
    batches: u64,
    /// `(batch index, time)` of every batch timed.
    timed: Vec<(u64, Duration)>,
    /// The whole run: timed, or timed plus estimated.
    total: Duration,
}

/// A way of running Cairn's batches in the profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    /// One autocommitted range `UPDATE` per batch, the ids being dense and
    /// known: what the batches' commits cost by themselves.
    Floor,
    /// What `backfill/run.rs` sends: `BEGIN`, the batch's keys, the
    /// `UPDATE`, the checkpoint `UPDATE`, `COMMIT`.
    Current,
    /// The keys' query returns only the largest key and the count.
    UpperKey,
    /// `UpperKey`, with the `UPDATE` and the checkpoint sent together through
    /// `execute_many`.
    UpperKeyPipelined,
    /// `UpperKeyPipelined` with `SET LOCAL synchronous_commit = off` first
    /// (PostgreSQL): the `COMMIT` does not wait for the WAL flush. A crash
    /// loses the last batches *and their checkpoints* together, so the
    /// backfill resumes from a consistent point and redoes them.
    AsyncCommit,
}

impl Variant {
    /// The variants worth timing on `engine`.
    fn for_engine(engine: Engine) -> Vec<Variant> {
        let mut all = vec![
            Variant::Floor,
            Variant::Current,
            Variant::UpperKey,
            Variant::UpperKeyPipelined,
        ];
        // Timed where the dialect opens batches with a durability prelude.
        if !cairn::dialect::for_engine(engine)
            .batch_prelude()
            .is_empty()
        {
            all.push(Variant::AsyncCommit);
        }
        all
    }

    fn describe(self) -> &'static str {
        match self {
            Variant::Floor => "one autocommitted `UPDATE … WHERE id > k AND id <= k + n AND v IS NULL` per batch (dense ids known in advance)",
            Variant::Current => "Cairn's batch replayed: `BEGIN`; `SELECT id … ORDER BY id LIMIT n` (n rows back); `UPDATE` up to the last key; checkpoint `UPDATE`; `COMMIT`",
            Variant::UpperKey => "as Cairn, the keys' query wrapped as `SELECT MAX(id), COUNT(*) FROM (…) b` (one row back)",
            Variant::UpperKeyPipelined => "upper key, and the batch `UPDATE` + checkpoint `UPDATE` sent in one `execute_many`",
            Variant::AsyncCommit => "upper key + pipelined, with `SET LOCAL synchronous_commit = off` sent first in the same `execute_many`: the `COMMIT` does not wait for the WAL flush; a crash can lose the last batches, but their checkpoints with them, so the resumed backfill redoes exactly those",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Variant::Floor => "floor",
            Variant::Current => "cairn-replayed",
            Variant::UpperKey => "upper-key",
            Variant::UpperKeyPipelined => "upper-key+pipelined",
            Variant::AsyncCommit => "upper-key+pipelined+async-commit",
        })
    }
}

/// The round trips of a batch, in order, for the profile's breakdown.
const STEPS: [&str; 5] = ["BEGIN", "keys", "UPDATE", "checkpoint", "COMMIT"];

/// What one profile run measured: the total and the time in each step.
#[derive(Clone, Debug, Default)]
struct ProfileRun {
    total: Duration,
    steps: [Duration; 5],
    batches: u64,
}

/// Runs the backfill benchmark on `engine` and returns its section.
pub fn run(options: &Options, scratch: &Path, engine: EngineChoice) -> Result<Section> {
    let plan = match (options.quick, engine) {
        (true, _) => QUICK,
        (false, EngineChoice::Sqlite) => Plan {
            batch_sizes: SQLITE_FULL_SIZES,
            ..FULL
        },
        (false, _) => FULL,
    };
    let target = match engine {
        EngineChoice::Sqlite => Target::Sqlite(scratch.join("backfill")),
        EngineChoice::Postgres => Target::Postgres(options.postgres_url.clone()),
        EngineChoice::Mysql => Target::Mariadb(options.mysql_url.clone()),
    };
    let bench = Bench {
        plan,
        target,
        keep: options.keep,
        scratch: scratch.to_owned(),
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context(|| "starting the async runtime".to_owned())?,
        prefix: format!("cairn_bench_bf_{}", std::process::id()),
        counter: std::cell::Cell::new(0),
    };
    if let Target::Sqlite(dir) = &bench.target {
        fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    }
    let setup = bench.setup()?;
    let measured = bench.measure()?;
    Ok(Section {
        key: bench.target.key(),
        title: bench.target.title(),
        setup: vec![setup],
        rows: Vec::new(),
        findings: findings(&bench.plan, bench.target.engine(), &measured),
    })
}

/// Everything one engine's runs measured.
#[derive(Debug, Default)]
struct Measured {
    rounds: usize,
    whole: Samples,
    /// Per batch size: its Cairn runs.
    cairn: Vec<(u64, Vec<CairnRun>)>,
    /// Per batch size: its OFFSET paging.
    offset: Vec<(u64, OffsetRun)>,
    /// Per variant: its profile runs.
    profile: Vec<(Variant, Vec<ProfileRun>)>,
}

struct Bench {
    plan: Plan,
    target: Target,
    keep: bool,
    scratch: PathBuf,
    runtime: tokio::runtime::Runtime,
    /// `cairn_bench_bf_<pid>`: the start of every database this run creates.
    prefix: String,
    counter: std::cell::Cell<usize>,
}

/// One thing a round times.
#[derive(Clone, Copy, Debug)]
enum Job {
    Whole,
    Cairn(u64),
    Profile(Variant),
}

impl Bench {
    fn setup(&self) -> Result<String> {
        let rows = thousands(self.plan.rows as usize);
        Ok(match &self.target {
            Target::Sqlite(dir) => format!(
                "SQLite {} bundled with rusqlite (the driver's defaults: rollback journal, \
                 `synchronous = FULL`), one file per run on {} (the Cargo target directory). \
                 {rows} rows filled by a recursive CTE in one `INSERT`, then `ANALYZE`.",
                rusqlite::version(),
                filesystem(dir)
            ),
            Target::Postgres(url) => format!(
                "PostgreSQL {} at `{}` (a local server shared with the CI builds; \
                 `synchronous_commit = {}`), one database per run, created and dropped; \
                 {rows} rows filled by `generate_series`, then `VACUUM ANALYZE`. \
                 Cairn through `PgDriver` in-process.",
                self.admin_value("SHOW server_version")?,
                cairn::url::redact(url),
                self.admin_value("SHOW synchronous_commit")?,
            ),
            Target::Mariadb(url) => format!(
                "MariaDB {} at `{}` (a local server shared with the CI builds; InnoDB, \
                 `innodb_flush_log_at_trx_commit = {}`, buffer pool {} MiB), one database per \
                 run, created and dropped; {rows} rows filled from `seq_1_to_{}`, then \
                 `ANALYZE TABLE`. Cairn through `MySqlDriver` in-process.",
                self.admin_value("SELECT VERSION()")?,
                cairn::url::redact(url),
                self.admin_value("SELECT @@innodb_flush_log_at_trx_commit")?,
                self.admin_value("SELECT @@innodb_buffer_pool_size DIV 1048576")?,
                self.plan.rows
            ),
        })
    }

    fn measure(&self) -> Result<Measured> {
        let key = self.target.key();
        let plan = &self.plan;
        let mut jobs = vec![Job::Whole];
        jobs.extend(plan.batch_sizes.iter().map(|&size| Job::Cairn(size)));
        let variants = Variant::for_engine(self.target.engine());
        jobs.extend(variants.iter().map(|&v| Job::Profile(v)));
        let mut measured = Measured {
            cairn: plan.batch_sizes.iter().map(|&s| (s, Vec::new())).collect(),
            profile: variants.iter().map(|&v| (v, Vec::new())).collect(),
            ..Measured::default()
        };
        let started = Instant::now();
        for round in 0..plan.rounds {
            if round >= 1 && started.elapsed() > plan.budget {
                eprintln!(
                    "{key}: stopping after {round} round(s): the {} budget is spent",
                    format_duration(plan.budget)
                );
                break;
            }
            for i in 0..jobs.len() {
                let job = jobs[(i + round) % jobs.len()];
                let db = self.fresh()?;
                match job {
                    Job::Whole => {
                        let time = self.whole(&db)?;
                        eprintln!(
                            "{key}: round {}/{} whole-table UPDATE {}",
                            round + 1,
                            plan.rounds,
                            format_duration(time)
                        );
                        measured.whole.push(time);
                    }
                    Job::Cairn(size) => {
                        let run = self.cairn(&db, size)?;
                        eprintln!(
                            "{key}: round {}/{} Cairn, batches of {size}: {} ({} batches, longest {} / {} with COMMIT)",
                            round + 1,
                            plan.rounds,
                            format_duration(run.time),
                            run.batches,
                            format_duration(run.checkpoint_longest),
                            format_duration(run.longest_with_commit),
                        );
                        if let Some((_, runs)) = measured.cairn.iter_mut().find(|(s, _)| *s == size)
                        {
                            runs.push(run);
                        }
                    }
                    Job::Profile(variant) => {
                        let run = self.profile(&db, variant, PROFILE_BATCH)?;
                        eprintln!(
                            "{key}: round {}/{} profile {variant}, batches of {PROFILE_BATCH}: {}",
                            round + 1,
                            plan.rounds,
                            format_duration(run.total)
                        );
                        if let Some((_, runs)) =
                            measured.profile.iter_mut().find(|(v, _)| *v == variant)
                        {
                            runs.push(run);
                        }
                    }
                }
                self.verify(&db, plan.rows)?;
                self.remove(db)?;
            }
            measured.rounds = round + 1;
        }
        for &size in plan.batch_sizes {
            let db = self.fresh()?;
            let run = self.offset(&db, size)?;
            eprintln!(
                "{key}: OFFSET paging, batches of {size}: {} batches of {} timed, {} in all{}",
                run.timed.len(),
                run.batches,
                format_duration(run.total),
                if run.timed.len() as u64 == run.batches {
                    ""
                } else {
                    " (estimated)"
                }
            );
            self.remove(db)?;
            measured.offset.push((size, run));
        }
        Ok(measured)
    }

    fn admin_value(&self, sql: &str) -> Result<String> {
        let url = match &self.target {
            Target::Sqlite(_) => return Ok(String::new()),
            Target::Postgres(url) | Target::Mariadb(url) => url.clone(),
        };
        let rows = self.runtime.block_on(async {
            let mut driver = self.target.connect_url(&url).await?;
            driver
                .query(sql)
                .await
                .context(|| format!("running `{sql}` on {}", cairn::url::redact(&url)))
        })?;
        Ok(rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|v| v.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "(unknown)".to_owned()))
    }

    /// A fresh database holding `items`, filled and analysed.
    fn fresh(&self) -> Result<Db> {
        let n = self.counter.get();
        self.counter.set(n + 1);
        let rows = self.plan.rows;
        let db = match &self.target {
            Target::Sqlite(dir) => {
                let path = dir.join(format!("items-{n}.db"));
                remove_sqlite_files(&path)?;
                Db::Sqlite(path)
            }
            Target::Postgres(admin) | Target::Mariadb(admin) => {
                let name = format!("{}_{n}", self.prefix);
                let drop_sql = self.target.drop_database_sql(&name);
                self.admin_execute(admin, &[&drop_sql, &format!("CREATE DATABASE {name}")])?;
                Db::Server {
                    url: with_database(admin, &name)?,
                    name,
                }
            }
        };
        let load = self.target.load_sql(rows);
        self.runtime.block_on(async {
            let mut driver = self.target.connect(&db).await?;
            for sql in &load {
                if sql.starts_with("ANALYZE TABLE") {
                    driver.query(sql).await.map(drop)
                } else {
                    driver.execute(sql).await.map(drop)
                }
                .context(|| format!("filling `items` ({})", db.describe()))?;
            }
            Ok::<_, BenchError>(())
        })?;
        Ok(db)
    }

    fn admin_execute(&self, admin: &str, statements: &[&str]) -> Result<()> {
        self.runtime.block_on(async {
            let mut driver = self.target.connect_url(admin).await?;
            for sql in statements {
                driver
                    .execute(sql)
                    .await
                    .context(|| format!("running `{sql}` on {}", cairn::url::redact(admin)))?;
            }
            Ok(())
        })
    }

    fn remove(&self, db: Db) -> Result<()> {
        if self.keep {
            eprintln!("keeping {}", db.describe());
            return Ok(());
        }
        match (&self.target, db) {
            (Target::Sqlite(_), Db::Sqlite(path)) => remove_sqlite_files(&path),
            (Target::Postgres(admin) | Target::Mariadb(admin), Db::Server { name, .. }) => {
                self.admin_execute(admin, &[&self.target.drop_database_sql(&name)])
            }
            _ => Ok(()),
        }
    }

    /// Checks that every row holds `n * 2`.
    fn verify(&self, db: &Db, rows: u64) -> Result<()> {
        let (wrong, total) = self.runtime.block_on(async {
            let mut driver = self.target.connect(db).await?;
            let count = |rows: cairn::driver::Rows| first_u64(&rows);
            let wrong = driver
                .query("SELECT COUNT(*) FROM items WHERE v IS NULL OR v <> n * 2")
                .await
                .context(|| format!("checking `items` ({})", db.describe()))?;
            let total = driver
                .query("SELECT COUNT(*) FROM items")
                .await
                .context(|| format!("counting `items` ({})", db.describe()))?;
            Ok::<_, BenchError>((count(wrong), count(total)))
        })?;
        if wrong != Some(0) || total != Some(rows) {
            return Err(BenchError::new(format!(
                "{}: {wrong:?} of {total:?} rows were not backfilled (expected 0 of {rows})",
                db.describe()
            )));
        }
        Ok(())
    }

    /// The baseline: one `UPDATE` of the whole table, connecting included.
    fn whole(&self, db: &Db) -> Result<Duration> {
        self.runtime.block_on(async {
            let started = Instant::now();
            let mut driver = self.target.connect(db).await?;
            let sql = format!("UPDATE items SET {SET} WHERE {FILTER}");
            driver
                .execute(&sql)
                .await
                .context(|| format!("running `{sql}` ({})", db.describe()))?;
            Ok(started.elapsed())
        })
    }

    /// Cairn: a `migration.toml` backfill applied by `Migrator::up`.
    fn cairn(&self, db: &Db, size: u64) -> Result<CairnRun> {
        let dir = self
            .scratch
            .join(format!("backfill-{}-{size}", self.target.key()));
        let folder = dir.join("1_backfill_items");
        fs::create_dir_all(&folder).context(|| format!("creating {}", folder.display()))?;
        let toml = folder.join("migration.toml");
        fs::write(
            &toml,
            format!(
                "[[backfill]]\ntable = \"items\"\nset = \"{SET}\"\nwhere = \"{FILTER}\"\nbatch_size = {size}\n"
            ),
        )
        .context(|| format!("writing {}", toml.display()))?;
        let longest = Arc::new(Mutex::new(Duration::ZERO));
        let seen = Arc::clone(&longest);
        self.runtime.block_on(async {
            let migrations =
                source::read_dir(&dir).context(|| format!("reading {}", dir.display()))?;
            let mut migrator = Migrator::new(migrations, MigratorOptions::default());
            migrator.on_progress(Arc::new(move |progress: &Progress<'_>| {
                if let Ok(mut longest) = seen.lock() {
                    *longest = (*longest).max(progress.last_batch);
                }
            }));
            let started = Instant::now();
            let mut driver = self.target.connect(db).await?;
            migrator
                .up(driver.as_mut(), None)
                .await
                .context(|| format!("applying {} ({})", dir.display(), db.describe()))?;
            let time = started.elapsed();
            let checkpoints = migrator
                .backfill_status(driver.as_mut())
                .await
                .context(|| format!("reading the checkpoint ({})", db.describe()))?;
            let checkpoint = checkpoints
                .first()
                .ok_or_else(|| BenchError::new(format!("no checkpoint in {}", db.describe())))?;
            if checkpoint.state != cairn::backfill::CheckpointState::Done
                || checkpoint.rows_done != self.plan.rows as i64
            {
                return Err(BenchError::new(format!(
                    "{}: the checkpoint says {} with {} of {} rows done",
                    db.describe(),
                    checkpoint.state,
                    checkpoint.rows_done,
                    self.plan.rows
                )));
            }
            Ok(CairnRun {
                time,
                checkpoint_longest: Duration::from_millis(
                    u64::try_from(checkpoint.longest_batch_ms).unwrap_or_default(),
                ),
                longest_with_commit: longest.lock().map(|l| *l).unwrap_or_default(),
                batches: checkpoint.batches,
            })
        })
    }

    /// OFFSET paging of the same batches, for the time budget from the
    /// start of the table, then the last batches; the rest is estimated.
    fn offset(&self, db: &Db, size: u64) -> Result<OffsetRun> {
        let engine = self.target.engine();
        let batches = self.plan.rows.div_ceil(size);
        let budget = self.plan.offset_budget;
        let tail = self.plan.offset_tail;
        self.runtime.block_on(async {
            let mut driver = self.target.connect(db).await?;
            let mut timed = Vec::new();
            let started = Instant::now();
            let mut next = 0;
            while next < batches && started.elapsed() < budget {
                timed.push((
                    next,
                    offset_batch(driver.as_mut(), engine, size, next).await?,
                ));
                next += 1;
            }
            for k in batches.saturating_sub(tail).max(next)..batches {
                timed.push((k, offset_batch(driver.as_mut(), engine, size, k).await?));
            }
            Ok(OffsetRun {
                batches,
                total: estimate_total(&timed, batches),
                timed,
            })
        })
    }

    /// Cairn's batches replayed statement by statement (or a variant), each
    /// round trip timed.
    fn profile(&self, db: &Db, variant: Variant, size: u64) -> Result<ProfileRun> {
        let engine = self.target.engine();
        let rows = self.plan.rows;
        self.runtime.block_on(async {
            let mut driver = self.target.connect(db).await?;
            let d = driver.as_mut();
            let what = || format!("profile {variant} ({})", db.describe());
            let dialect = d.dialect().shared();
            let checkpoints =
                CheckpointSql::new(dialect.as_ref(), quote_ident(engine, "bench_checkpoints"));
            d.execute(&checkpoints.create()).await.context(what)?;
            let sql = BatchSql::new(
                dialect.as_ref(),
                "items",
                Key {
                    columns: vec!["id".to_owned()],
                    integer: vec![true],
                },
            );
            let max = vec![first_u64(&d.query(&sql.max_key()).await.context(what)?)
                .unwrap_or_default()
                .to_string()];
            let mut checkpoint = new_checkpoint(&max, size);
            d.execute(&checkpoints.insert(&checkpoint))
                .await
                .context(what)?;
            let mut run = ProfileRun::default();
            let started = Instant::now();
            if variant == Variant::Floor {
                for k in 0..rows.div_ceil(size) {
                    let t = Instant::now();
                    d.execute(&format!(
                        "UPDATE items SET {SET} WHERE id > {} AND id <= {} AND ({FILTER})",
                        k * size,
                        (k + 1) * size
                    ))
                    .await
                    .context(what)?;
                    run.steps[2] += t.elapsed();
                    run.batches += 1;
                }
                run.total = started.elapsed();
                return Ok(run);
            }
            loop {
                let mut step = |i: usize, t: Instant| run.steps[i] += t.elapsed();
                let t = Instant::now();
                d.begin().await.context(what)?;
                step(0, t);
                let after = checkpoint.last_key.clone();
                let keys = sql.next_batch(after.as_deref(), &max, Some(FILTER), &[], size);
                let t = Instant::now();
                let (upper, count) = if variant == Variant::Current {
                    let rows = d.query(&keys).await.context(what)?;
                    let upper = rows.last().and_then(|r| r.first().cloned().flatten());
                    (upper, rows.len() as i64)
                } else {
                    let rows = d
                        .query(&format!("SELECT MAX(id), COUNT(*) FROM ({keys}) b"))
                        .await
                        .context(what)?;
                    let row = rows.first();
                    let upper = row.and_then(|r| r.first().cloned().flatten());
                    let count = row
                        .and_then(|r| r.get(1).cloned().flatten())
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(0);
                    (upper, count)
                };
                step(1, t);
                let Some(upper) = upper else {
                    let t = Instant::now();
                    d.rollback().await.context(what)?;
                    step(4, t);
                    break;
                };
                let upper = vec![upper];
                let update = sql.update_batch(SET, after.as_deref(), &upper, Some(FILTER));
                checkpoint.last_key = Some(upper);
                checkpoint.rows_done += count;
                checkpoint.batches += 1;
                let record = checkpoints.update(&checkpoint);
                if matches!(variant, Variant::UpperKeyPipelined | Variant::AsyncCommit) {
                    let t = Instant::now();
                    let statements: &[&str] = if variant == Variant::AsyncCommit {
                        &["SET LOCAL synchronous_commit = off", &update, &record]
                    } else {
                        &[&update, &record]
                    };
                    d.execute_many(statements)
                        .await
                        .map_err(|(_, e)| e)
                        .context(what)?;
                    step(2, t);
                } else {
                    let t = Instant::now();
                    d.execute(&update).await.context(what)?;
                    step(2, t);
                    let t = Instant::now();
                    d.execute(&record).await.context(what)?;
                    step(3, t);
                }
                let t = Instant::now();
                d.commit().await.context(what)?;
                step(4, t);
                run.batches += 1;
            }
            run.total = started.elapsed();
            Ok(run)
        })
    }
}

/// Runs OFFSET batch `k` of `size` rows in its own (autocommitted) statement.
async fn offset_batch(
    driver: &mut dyn Driver,
    engine: Engine,
    size: u64,
    k: u64,
) -> Result<Duration> {
    let sql = offset_sql(engine, size, k * size);
    let started = Instant::now();
    driver
        .execute(&sql)
        .await
        .context(|| format!("running `{sql}`"))?;
    Ok(started.elapsed())
}

/// The statement of one OFFSET batch: the same rows a keyset batch covers
/// (the `limit` rows after the first `offset` in key order, whatever their
/// `v`), with the filter on the `UPDATE`. MySQL refuses `LIMIT` in an `IN`
/// subquery, so there the page is a derived table joined on the key (MariaDB
/// runs `IN (SELECT id FROM (…) page)` as a dependent subquery over every
/// row of the table, which would time a full scan per batch, not OFFSET).
fn offset_sql(engine: Engine, limit: u64, offset: u64) -> String {
    offset_sql_text(engine, &limit.to_string(), &offset.to_string())
}

/// [`offset_sql`] with the limit and offset as written.
fn offset_sql_text(engine: Engine, limit: &str, offset: &str) -> String {
    let page = format!("SELECT id FROM items ORDER BY id LIMIT {limit} OFFSET {offset}");
    let update: fn(&str) -> String = per_engine(
        engine,
        |page| format!("UPDATE items SET {SET} WHERE {FILTER} AND id IN ({page})"),
        &[(Engine::Mysql, |page| {
            format!("UPDATE items JOIN ({page}) AS page USING (id) SET {SET} WHERE {FILTER}")
        })],
    );
    update(&page)
}

/// The time of all `batches` batches: the timed ones as they are, the others
/// from a straight line `a + b·k` fitted to the timed ones by least squares
/// (OFFSET paging re-reads the `k·n` rows before batch `k`, so its time grows
/// linearly with `k`).
fn estimate_total(timed: &[(u64, Duration)], batches: u64) -> Duration {
    let measured: Duration = timed.iter().map(|(_, t)| *t).sum();
    if timed.len() as u64 >= batches || timed.is_empty() {
        return measured;
    }
    let n = timed.len() as f64;
    let (sx, sy) = timed.iter().fold((0.0, 0.0), |(sx, sy), (k, t)| {
        (sx + *k as f64, sy + t.as_secs_f64())
    });
    let (mx, my) = (sx / n, sy / n);
    let (sxx, sxy) = timed.iter().fold((0.0, 0.0), |(sxx, sxy), (k, t)| {
        let dx = *k as f64 - mx;
        (sxx + dx * dx, sxy + dx * (t.as_secs_f64() - my))
    });
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let at = |k: u64| (my + slope * (k as f64 - mx)).max(0.0);
    let missing: f64 = (0..batches)
        .filter(|k| !timed.iter().any(|(t, _)| t == k))
        .map(at)
        .sum();
    measured + Duration::from_secs_f64(missing)
}

fn new_checkpoint(max: &[String], size: u64) -> Checkpoint {
    let now = cairn::clock::UtcTime::now().rfc3339();
    Checkpoint {
        version: cairn::Version::from(1),
        step: 0,
        table: "items".to_owned(),
        state: cairn::backfill::CheckpointState::Running,
        key_columns: vec!["id".to_owned()],
        max_key: Some(max.to_vec()),
        last_key: None,
        rows_total: 0,
        rows_done: 0,
        rows_changed: 0,
        rows_rejected: 0,
        batches: 0,
        batch_size: i64::try_from(size).unwrap_or(i64::MAX),
        longest_batch_ms: 0,
        started_at: now.clone(),
        updated_at: now,
        error: None,
    }
}

fn first_u64(rows: &cairn::driver::Rows) -> Option<u64> {
    rows.first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|v| v.parse().ok())
}

impl Target {
    fn engine(&self) -> Engine {
        match self {
            Target::Sqlite(_) => Engine::Sqlite,
            Target::Postgres(_) => Engine::Postgres,
            Target::Mariadb(_) => Engine::Mysql,
        }
    }

    fn key(&self) -> &'static str {
        match self {
            Target::Sqlite(_) => "backfill-sqlite",
            Target::Postgres(_) => "backfill-postgres",
            Target::Mariadb(_) => "backfill-mariadb",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Target::Sqlite(_) => "Backfill: SQLite",
            Target::Postgres(_) => "Backfill: PostgreSQL",
            Target::Mariadb(_) => "Backfill: MariaDB",
        }
    }

    fn drop_database_sql(&self, name: &str) -> String {
        match self {
            Target::Postgres(_) => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            _ => format!("DROP DATABASE IF EXISTS {name}"),
        }
    }

    /// Creates `items` with `rows` rows whose `v` is NULL, and analyses it.
    fn load_sql(&self, rows: u64) -> Vec<String> {
        match self {
            Target::Sqlite(_) => vec![
                "CREATE TABLE items (id INTEGER PRIMARY KEY, n BIGINT NOT NULL, v BIGINT)".to_owned(),
                format!(
                    "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {rows}) \
                     INSERT INTO items (id, n) SELECT i, i FROM s"
                ),
                "ANALYZE".to_owned(),
            ],
            Target::Postgres(_) => vec![
                "CREATE TABLE items (id BIGINT PRIMARY KEY, n BIGINT NOT NULL, v BIGINT)".to_owned(),
                format!("INSERT INTO items (id, n) SELECT g, g FROM generate_series(1, {rows}) g"),
                "VACUUM ANALYZE items".to_owned(),
            ],
            Target::Mariadb(_) => vec![
                "CREATE TABLE items (id BIGINT PRIMARY KEY, n BIGINT NOT NULL, v BIGINT) ENGINE=InnoDB"
                    .to_owned(),
                format!("INSERT INTO items (id, n) SELECT seq, seq FROM seq_1_to_{rows}"),
                "ANALYZE TABLE items".to_owned(),
            ],
        }
    }

    async fn connect(&self, db: &Db) -> Result<Box<dyn Driver>> {
        match db {
            Db::Sqlite(path) => Ok(Box::new(
                SqliteDriver::open(SqliteLocation::File(path.clone()))
                    .await
                    .context(|| format!("opening {}", path.display()))?,
            )),
            Db::Server { url, .. } => self.connect_url(url).await,
        }
    }

    async fn connect_url(&self, url: &str) -> Result<Box<dyn Driver>> {
        crate::error::connect(url).await
    }
}

impl Db {
    fn describe(&self) -> String {
        match self {
            Db::Sqlite(path) => path.display().to_string(),
            Db::Server { url, .. } => cairn::url::redact(url),
        }
    }
}

/// Removes a SQLite database and the files beside it (journal, backfill lock).
fn remove_sqlite_files(path: &Path) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let Some((dir, name)) = path.parent().zip(name) else {
        return Ok(());
    };
    let entries = fs::read_dir(dir).context(|| format!("listing {}", dir.display()))?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&name) {
            let file = entry.path();
            fs::remove_file(&file).context(|| format!("removing {}", file.display()))?;
        }
    }
    Ok(())
}

fn filesystem(path: &Path) -> String {
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    crate::fixtures::filesystem_of(path, &mounts)
        .unwrap_or("an unknown file system")
        .to_owned()
}

/// Rows per second, for people: `192k rows/s`.
fn rate(rows: u64, time: Duration) -> String {
    if time.is_zero() {
        return "—".to_owned();
    }
    let per_second = rows as f64 / time.as_secs_f64();
    if per_second >= 10_000.0 {
        format!("{}k", thousands((per_second / 1000.0).round() as usize))
    } else {
        thousands(per_second.round() as usize)
    }
}

/// One batch size's figures, ready to judge.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Outcome {
    size: u64,
    /// Batched rows/s over the whole-table `UPDATE`'s (medians).
    throughput: f64,
    /// The longest batch over every run, from the checkpoints.
    longest: Duration,
    /// The same, `COMMIT` included.
    longest_with_commit: Duration,
}

impl Outcome {
    fn meets_throughput(&self) -> bool {
        self.throughput >= THROUGHPUT_GOAL
    }

    fn meets_batch(&self) -> bool {
        self.longest_with_commit.max(self.longest) <= BATCH_GOAL
    }
}

/// The batch size to use: the smallest meeting both goals (the shortest
/// transactions and the finest checkpoints that are fast enough); without
/// one, the fastest of those whose batches stay short enough; `None` when
/// every size makes too long a batch.
fn recommend(outcomes: &[Outcome]) -> Option<Outcome> {
    let short: Vec<&Outcome> = outcomes.iter().filter(|o| o.meets_batch()).collect();
    short
        .iter()
        .filter(|o| o.meets_throughput())
        .min_by_key(|o| o.size)
        .or_else(|| {
            short
                .iter()
                .max_by(|a, b| a.throughput.total_cmp(&b.throughput))
        })
        .map(|o| **o)
}

fn yes_no(met: bool) -> &'static str {
    if met {
        "yes"
    } else {
        "**no**"
    }
}

/// The section's text: its table, what each line is, and what it means.
fn findings(plan: &Plan, engine: Engine, m: &Measured) -> Vec<String> {
    let rows = plan.rows;
    let n = thousands(rows as usize);
    let whole = m.whole.median();
    let mut table = String::from(
        "| Run | Time, median (min–max) | Rows/s | Rows/s vs whole-table | Longest batch: checkpoint / with `COMMIT` | Goals: ≥ 0.80× / ≤ 200 ms |\n\
         |---|--:|--:|--:|--:|---|\n",
    );
    let timing = |s: &Samples| {
        let (min, max) = s.range();
        format!(
            "{} ({}–{})",
            format_duration(s.median()),
            format_duration(min),
            format_duration(max)
        )
    };
    table.push_str(&format!(
        "| one `UPDATE` of the whole table (baseline) | {} | {} | 1.00× | — | — |\n",
        timing(&m.whole),
        rate(rows, whole)
    ));
    let mut outcomes = Vec::new();
    let mut paired = Vec::new();
    for (size, runs) in &m.cairn {
        let mut samples = Samples::new();
        for run in runs {
            samples.push(run.time);
        }
        let outcome = Outcome {
            size: *size,
            throughput: ratio(whole, samples.median()),
            longest: runs
                .iter()
                .map(|r| r.checkpoint_longest)
                .max()
                .unwrap_or_default(),
            longest_with_commit: runs
                .iter()
                .map(|r| r.longest_with_commit)
                .max()
                .unwrap_or_default(),
        };
        let batches = runs.first().map_or(0, |r| r.batches);
        table.push_str(&format!(
            "| Cairn, `batch_size = {}` ({} batches) | {} | {} | {:.2}× | {} / {} | {} / {} |\n",
            thousands(*size as usize),
            thousands(usize::try_from(batches).unwrap_or_default()),
            timing(&samples),
            rate(rows, samples.median()),
            outcome.throughput,
            format_duration(outcome.longest),
            format_duration(outcome.longest_with_commit),
            yes_no(outcome.meets_throughput()),
            yes_no(outcome.meets_batch()),
        ));
        paired.push((*size, median_paired_ratio(&m.whole, &samples)));
        outcomes.push(outcome);
    }
    for (size, run) in &m.offset {
        let exact = run.timed.len() as u64 == run.batches;
        let time = if exact {
            format_duration(run.total)
        } else {
            format!("≈ {} (estimated)", format_duration(run.total))
        };
        table.push_str(&format!(
            "| OFFSET paging, batches of {} | {time} | {} | {:.2}× | — | — |\n",
            thousands(*size as usize),
            rate(rows, run.total),
            ratio(whole, run.total),
        ));
    }

    let rounds = m.rounds;
    let mut notes = format!(
        "- **Runs**: {rounds} round(s); in each, every line above but OFFSET ran once on its own fresh \
         database of {n} rows (`v` NULL everywhere), in rotated order; filling it is not timed. \
         Rows/s is {n} over the median time; *vs whole-table* is the baseline's median time over \
         the line's (≥ 0.80× is issue 5's goal).\n\
         - **one `UPDATE`**: `UPDATE items SET {SET} WHERE {FILTER}` through the same driver, \
         autocommitted, connecting included.\n\
         - **Cairn**: a migration folder holding only `migration.toml` (`table = \"items\"`, \
         `set = \"{SET}\"`, `where = \"{FILTER}\"`, `batch_size`), applied by `source::read_dir` + \
         `Migrator::up` in-process with default options, connecting included: the history row, \
         the checkpoint table, the key lookup and probe, the bound (`MAX`) and count, then the \
         batches. *Checkpoint* is the largest `longest_batch_ms` of the final checkpoints (what \
         `cairn backfill status` shows): it is taken before the checkpoint `UPDATE` and the \
         `COMMIT`; *with `COMMIT`* is the longest `last_batch` the progress reports gave, \
         `BEGIN` to `COMMIT`. The goal is judged on the larger.\n\
         - **OFFSET paging**: per batch k one autocommitted `{}`: the same batches as Cairn's \
         (the n rows after the first k·n in key order), the filter applied by the `UPDATE`. \
         (The seed's variant, filtering on `v IS NULL` inside the paged query, skips rows: each \
         batch it fills moves the rows after it forward by n.) It is O(n²), so it ran for {} \
         from the start of the table, then the last {} batches were timed, and the rest is the \
         straight line fitted to those times (each batch re-reads the k·n rows before it).\n",
        offset_sql_text(engine, "n", "k·n"),
        format_duration(plan.offset_budget),
        plan.offset_tail,
    );
    for (size, run) in &m.offset {
        let first = run.timed.first().map(|(_, t)| *t).unwrap_or_default();
        let last = run.timed.last().map(|(_, t)| *t).unwrap_or_default();
        notes.push_str(&format!(
            "  Batches of {}: {} of {} batches timed; the first took {}, the last {}.\n",
            thousands(*size as usize),
            thousands(run.timed.len()),
            thousands(usize::try_from(run.batches).unwrap_or_default()),
            format_duration(first),
            format_duration(last)
        ));
    }

    let mut verdict = String::from("**Goals.** ");
    if let Some(best) = recommend(&outcomes) {
        let both = best.meets_throughput() && best.meets_batch();
        verdict.push_str(&format!(
            "{} `batch_size = {}`: {:.2}× the whole-table `UPDATE`'s rows/s, longest batch {} \
             ({} with `COMMIT`). ",
            if both {
                "Both met from"
            } else {
                "No size meets both; the fastest whose batches stay ≤ 200 ms is"
            },
            thousands(best.size as usize),
            best.throughput,
            format_duration(best.longest),
            format_duration(best.longest_with_commit),
        ));
    } else {
        verdict.push_str("Every batch size tried has a batch over 200 ms. ");
    }
    let within: Vec<String> = paired
        .iter()
        .filter_map(|(size, r)| r.map(|r| format!("{}: {r:.2}×", thousands(*size as usize))))
        .collect();
    if rounds > 1 && !within.is_empty() {
        verdict.push_str(&format!(
            "Medians of the within-round ratios (steadier when the machine's speed drifts): {}. ",
            within.join(", ")
        ));
    }
    if let (Some(cairn), Some((_, offset))) = (
        m.cairn
            .iter()
            .find(|(s, _)| *s == PROFILE_BATCH)
            .map(|(_, runs)| {
                let mut s = Samples::new();
                for r in runs {
                    s.push(r.time);
                }
                s.median()
            }),
        m.offset.iter().find(|(s, _)| *s == PROFILE_BATCH),
    ) {
        verdict.push_str(&format!(
            "With batches of {}, Cairn's keyset batches are {:.1}× as fast as OFFSET paging of \
             the same batches.",
            thousands(PROFILE_BATCH as usize),
            ratio(offset.total, cairn)
        ));
    }

    let mut profile = format!(
        "**Where a batch's time goes** (batches of {}, timed in the same rounds as the table \
         above, a fresh database each; time per batch in each round trip, averaged over the \
         rounds):\n\n\
         | Variant | Time, median (min–max) | Rows/s vs whole-table | BEGIN | keys | UPDATE | checkpoint | COMMIT |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|\n",
        thousands(PROFILE_BATCH as usize)
    );
    for (variant, runs) in &m.profile {
        let mut samples = Samples::new();
        let mut steps = [Duration::ZERO; 5];
        let mut batches = 0;
        for run in runs {
            samples.push(run.total);
            for (sum, step) in steps.iter_mut().zip(run.steps) {
                *sum += step;
            }
            batches += run.batches;
        }
        let per = |d: Duration| {
            if d.is_zero() || batches == 0 {
                "—".to_owned()
            } else {
                format_duration(d / u32::try_from(batches).unwrap_or(u32::MAX))
            }
        };
        profile.push_str(&format!(
            "| {variant} | {} | {:.2}× | {} |\n",
            timing(&samples),
            ratio(whole, samples.median()),
            steps.map(per).join(" | ")
        ));
    }
    profile.push('\n');
    for (variant, _) in &m.profile {
        profile.push_str(&format!("- **{variant}**: {}.\n", variant.describe()));
    }
    profile.push_str(&format!(
        "- The columns are {}; with `execute_many` the checkpoint's time is in UPDATE.",
        STEPS.join(", ")
    ));
    // `markdown` puts a blank line between findings.
    [table, notes, verdict, profile]
        .map(|finding| finding.trim_end().to_owned())
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn offset_batches_page_the_same_rows_on_every_engine() {
        assert_eq!(
            offset_sql(Engine::Postgres, 1000, 5000),
            "UPDATE items SET v = n * 2 WHERE v IS NULL AND id IN \
             (SELECT id FROM items ORDER BY id LIMIT 1000 OFFSET 5000)"
        );
        assert_eq!(
            offset_sql(Engine::Sqlite, 10, 0),
            "UPDATE items SET v = n * 2 WHERE v IS NULL AND id IN \
             (SELECT id FROM items ORDER BY id LIMIT 10 OFFSET 0)"
        );
        assert_eq!(
            offset_sql(Engine::Mysql, 10, 20),
            "UPDATE items JOIN (SELECT id FROM items ORDER BY id LIMIT 10 OFFSET 20) AS page \
             USING (id) SET v = n * 2 WHERE v IS NULL"
        );
    }

    #[test]
    fn the_offset_estimate_follows_the_line_through_both_ends() {
        // t(k) = 10 + 2k ms, timed at 0..3 and 8..10 of 10 batches.
        let timed: Vec<(u64, Duration)> = [0, 1, 2, 8, 9]
            .into_iter()
            .map(|k| (k, ms(10 + 2 * k)))
            .collect();
        let total = estimate_total(&timed, 10);
        let exact: u64 = (0..10).map(|k| 10 + 2 * k).sum();
        assert!(
            (total.as_secs_f64() * 1000.0 - exact as f64).abs() < 1e-6,
            "{total:?}"
        );
        // Everything timed: the sum as it is.
        let all: Vec<(u64, Duration)> = (0..3).map(|k| (k, ms(5))).collect();
        assert_eq!(estimate_total(&all, 3), ms(15));
        // One point: a flat line.
        assert_eq!(estimate_total(&[(0, ms(4))], 3), ms(12));
        assert_eq!(estimate_total(&[], 3), Duration::ZERO);
    }

    fn outcome(size: u64, throughput: f64, longest: u64) -> Outcome {
        Outcome {
            size,
            throughput,
            longest: ms(longest),
            longest_with_commit: ms(longest),
        }
    }

    #[test]
    fn the_recommended_size_is_the_smallest_meeting_both_goals() {
        let all = [
            outcome(1_000, 0.5, 10),
            outcome(5_000, 0.82, 40),
            outcome(10_000, 0.9, 80),
            outcome(50_000, 0.95, 400),
        ];
        assert_eq!(recommend(&all).map(|o| o.size), Some(5_000));
        // None fast enough: the fastest that stays short.
        let slow = [outcome(1_000, 0.3, 10), outcome(10_000, 0.6, 150)];
        assert_eq!(recommend(&slow).map(|o| o.size), Some(10_000));
        // The longest batch counts the COMMIT.
        let mut committed = outcome(10_000, 0.9, 150);
        committed.longest_with_commit = ms(250);
        assert_eq!(
            recommend(&[outcome(1_000, 0.5, 10), committed]).map(|o| o.size),
            Some(1_000)
        );
        assert_eq!(recommend(&[outcome(1_000, 0.9, 300)]), None);
    }

    #[test]
    fn rates_read_well() {
        assert_eq!(rate(1_000_000, Duration::from_secs(5)), "200k");
        assert_eq!(rate(1_000_000, Duration::from_secs(500)), "2,000");
        assert_eq!(rate(10, Duration::ZERO), "—");
    }
}

//! Cairn beside other migration tools (issue 14): `up`, `status` and
//! `down --all` of N generated migrations, each tool a whole process on a
//! fresh database of its own, in the same rounds as the engine's client
//! running one SQL file (the floor).
//!
//! The peers run when their binaries are found: `sqlx` (sqlx-cli) and
//! `dbmate`, from `$CAIRN_BENCH_SQLX` / `$CAIRN_BENCH_DBMATE`, else `PATH`,
//! else `/work/wt/tools` (where the project's setup installs them). A peer
//! that is missing is named in the section instead of timed.
//!
//! Every tool gets the same migrations in its own layout: Cairn's folders
//! (`<n>_t<n>/up.sql`, `down.sql`), sqlx's `<n>_t<n>.up.sql` / `.down.sql`,
//! dbmate's one file with `-- migrate:up` / `-- migrate:down`. Rolling back
//! everything is `cairn down --all`, `sqlx migrate revert --target-version
//! 0`, and for dbmate, which rolls back one migration per command, N
//! `dbmate rollback` processes (there is no other way with dbmate).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use cairn::clock::UtcTime;
use cairn::history::{HistoryKind, HistorySql};
use cairn::{source, Engine, HistoryRow, HistoryState, HistoryTable};

use crate::error::{BenchError, Context as _, Result};
use crate::fixtures::{down_sql, server_up_sql, up_sql, write_migrations_with};
use crate::options::{EngineChoice, Options};
use crate::report::{Goal, Measured, Row, Section};
use crate::servers::{mysql_parts, with_database};
use crate::sqlite::time_process;
use crate::stats::{format_duration, median_paired_ratio, Samples};

/// A tool that applies and rolls back migrations.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tool {
    /// The engine's own client running one SQL file.
    Floor,
    /// The `cairn` binary.
    Cairn,
    /// sqlx-cli at this path.
    Sqlx(PathBuf),
    /// dbmate at this path.
    Dbmate(PathBuf),
}

impl Tool {
    fn name(&self) -> &'static str {
        match self {
            Tool::Floor => "floor",
            Tool::Cairn => "Cairn",
            Tool::Sqlx(_) => "sqlx-cli",
            Tool::Dbmate(_) => "dbmate",
        }
    }
}

/// What is timed per tool and round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Up,
    Status,
    Down,
}

impl Op {
    const ALL: [Op; 3] = [Op::Up, Op::Status, Op::Down];

    fn name(self) -> &'static str {
        match self {
            Op::Up => "up",
            Op::Status => "status",
            Op::Down => "down-all",
        }
    }
}

/// Finds a peer's binary: `$env`, else `PATH`, else under `/work/wt/tools`.
fn find(env: &str, name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| fallbacks.iter().map(PathBuf::from).find(|p| p.is_file()))
}

fn key(engine: EngineChoice) -> &'static str {
    match engine {
        EngineChoice::Sqlite => "peers-sqlite",
        EngineChoice::Postgres => "peers-postgres",
        EngineChoice::Mysql => "peers-mariadb",
    }
}

fn title(engine: EngineChoice) -> &'static str {
    match engine {
        EngineChoice::Sqlite => "Peers: SQLite",
        EngineChoice::Postgres => "Peers: PostgreSQL",
        EngineChoice::Mysql => "Peers: MariaDB",
    }
}

fn cairn_engine(engine: EngineChoice) -> Engine {
    match engine {
        EngineChoice::Sqlite => Engine::Sqlite,
        EngineChoice::Postgres => Engine::Postgres,
        EngineChoice::Mysql => Engine::Mysql,
    }
}

/// The goals of issue 14, Cairn over each peer and over the floor.
fn goals(engine: EngineChoice) -> (f64, Option<f64>) {
    match engine {
        EngineChoice::Mysql => (0.9, Some(1.05)),
        _ => (1.0, None),
    }
}

/// Runs the peer suite on `engine`.
pub fn run(
    options: &Options,
    cairn: &Path,
    scratch: &Path,
    engine: EngineChoice,
) -> Result<Section> {
    let mut tools = vec![Tool::Floor, Tool::Cairn];
    let mut missing = Vec::new();
    match find("CAIRN_BENCH_SQLX", "sqlx", &["/work/wt/tools/bin/sqlx"]) {
        Some(path) => tools.push(Tool::Sqlx(path)),
        None => missing.push("sqlx-cli (`sqlx`)"),
    }
    match find(
        "CAIRN_BENCH_DBMATE",
        "dbmate",
        &["/work/wt/tools/npm/node_modules/.bin/dbmate"],
    ) {
        Some(path) => tools.push(Tool::Dbmate(path)),
        None => missing.push("dbmate"),
    }
    let sizes = sizes(options.quick)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context(|| "starting the async runtime".to_owned())?;
    let bench = Peers {
        options,
        cairn,
        scratch,
        engine,
        runtime,
        prefix: format!("cairn_peers_{}", std::process::id()),
    };
    let mut rows = Vec::new();
    let mut findings = Vec::new();
    for &(count, rounds) in &sizes {
        let (more_rows, finding) = bench.size(&tools, count, rounds)?;
        rows.extend(more_rows);
        findings.push(finding);
    }
    let mut setup = vec![format!(
        "Each tool a whole process (stdout to /dev/null), on a fresh database of its own per round \
         ({}), in rotated order; the tools: {}.",
        match engine {
            EngineChoice::Sqlite => "a new file in the scratch directory under the Cargo target directory",
            EngineChoice::Postgres => "created on the server of `--postgres-url` and dropped after",
            EngineChoice::Mysql => "created on the server of `--mysql-url` and dropped after",
        },
        tools
            .iter()
            .map(|t| match t {
                Tool::Floor => format!("the floor ({})", floor_label(engine)),
                Tool::Cairn => format!("Cairn (`{}`)", cairn.display()),
                Tool::Sqlx(p) => format!("sqlx-cli `{}` ({})", p.display(), version(p, &["--version"])),
                Tool::Dbmate(p) => format!("dbmate `{}` ({})", p.display(), version(p, &["--version"])),
            })
            .collect::<Vec<_>>()
            .join(", ")
    )];
    if !missing.is_empty() {
        setup.push(format!(
            "Not found, so not timed: {} (set `CAIRN_BENCH_SQLX` / `CAIRN_BENCH_DBMATE` or put them on `PATH`).",
            missing.join(", ")
        ));
    }
    Ok(Section {
        key: key(engine),
        title: title(engine),
        setup,
        rows,
        findings,
    })
}

/// The sizes and rounds: `$CAIRN_BENCH_PEER_SIZES` (`200x3,1000x1`, the
/// default; `30x1` with `--quick`), for a machine too loaded for the default.
fn sizes(quick: bool) -> Result<Vec<(usize, usize)>> {
    let Ok(text) = std::env::var("CAIRN_BENCH_PEER_SIZES") else {
        return Ok(if quick {
            vec![(30, 1)]
        } else {
            vec![(200, 3), (1_000, 1)]
        });
    };
    text.split(',')
        .map(|part| {
            let (count, rounds) = part.trim().split_once('x').unwrap_or((part.trim(), "1"));
            match (count.parse(), rounds.parse()) {
                (Ok(count), Ok(rounds)) if count > 0 && rounds > 0 => Ok((count, rounds)),
                _ => Err(BenchError::new(format!(
                    "CAIRN_BENCH_PEER_SIZES: `{part}` is not <migrations>x<rounds> (e.g. `200x3,1000x1`)"
                ))),
            }
        })
        .collect()
}

fn floor_label(engine: EngineChoice) -> &'static str {
    match engine {
        EngineChoice::Sqlite => "`sqlite3 F < FILE`",
        EngineChoice::Postgres => "`psql -X -q -v ON_ERROR_STOP=1 -f FILE`",
        EngineChoice::Mysql => "`mariadb --batch < FILE`",
    }
}

fn version(path: &Path, args: &[&str]) -> String {
    Command::new(path)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "version unknown".to_owned())
}

struct Peers<'a> {
    options: &'a Options,
    cairn: &'a Path,
    scratch: &'a Path,
    engine: EngineChoice,
    runtime: tokio::runtime::Runtime,
    prefix: String,
}

/// The files of one size: each tool's migrations and the floor's scripts.
struct Layouts {
    cairn: PathBuf,
    sqlx: PathBuf,
    dbmate: PathBuf,
    floor_up: PathBuf,
    floor_down: PathBuf,
}

impl Peers<'_> {
    fn up_sql(&self) -> fn(usize) -> String {
        match self.engine {
            EngineChoice::Sqlite => up_sql,
            _ => server_up_sql,
        }
    }

    fn layouts(&self, count: usize) -> Result<Layouts> {
        let base = self.scratch.join(format!("{}-{count}", key(self.engine)));
        let layouts = Layouts {
            cairn: base.join("cairn"),
            sqlx: base.join("sqlx"),
            dbmate: base.join("dbmate"),
            floor_up: base.join("floor-up.sql"),
            floor_down: base.join("floor-down.sql"),
        };
        let up = self.up_sql();
        write_migrations_with(&layouts.cairn, count, up)?;
        for dir in [&layouts.sqlx, &layouts.dbmate] {
            fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
        }
        for n in 1..=count {
            let write = |path: PathBuf, text: String| {
                fs::write(&path, text).context(|| format!("writing {}", path.display()))
            };
            write(layouts.sqlx.join(format!("{n}_t{n}.up.sql")), up(n))?;
            write(layouts.sqlx.join(format!("{n}_t{n}.down.sql")), down_sql(n))?;
            write(
                layouts.dbmate.join(format!("{n}_t{n}.sql")),
                format!("-- migrate:up\n{}\n-- migrate:down\n{}", up(n), down_sql(n)),
            )?;
        }
        self.floor_files(&layouts)?;
        Ok(layouts)
    }

    /// The floor's scripts: the history table, then per migration `BEGIN;`,
    /// its up script, one history `INSERT` (Cairn's `HistorySql`), `COMMIT;`;
    /// the down file rolls back newest first, each with a `DELETE`.
    fn floor_files(&self, layouts: &Layouts) -> Result<()> {
        let engine = cairn_engine(self.engine);
        let migrations = source::read_dir(&layouts.cairn)
            .context(|| format!("reading migrations in {}", layouts.cairn.display()))?;
        let table = HistoryTable {
            schema: None,
            name: "floor_history".to_owned(),
        };
        let sql = HistorySql::new(cairn::dialect::for_engine(engine), &table);
        let create = sql.create().into_iter().next().unwrap_or_default();
        let mut up = format!("{};\n", create.trim_end().trim_end_matches(';'));
        let mut down = String::new();
        let at = UtcTime::now().rfc3339();
        for migration in &migrations {
            let script = |direction| {
                migration
                    .script(direction, engine)
                    .map(|s| s.text.trim_end().to_owned())
                    .ok_or_else(|| BenchError::new("a generated migration without a script"))
            };
            let row = HistoryRow {
                version: migration.version,
                name: migration.name.clone(),
                kind: HistoryKind::Sql,
                checksum: migration.checksum(engine).unwrap_or_default(),
                state: HistoryState::Applied,
                applied_at: at.clone(),
                execution_ms: 1,
                applied_by: "floor".to_owned(),
                cairn_version: cairn::CAIRN_VERSION.to_owned(),
                statements_done: None,
                statements_checksum: None,
                error: None,
            };
            up.push_str(&format!(
                "BEGIN;\n{}\n{};\nCOMMIT;\n",
                script(cairn::Direction::Up)?,
                sql.insert(&row)
            ));
            down = format!(
                "BEGIN;\n{}\n{};\nCOMMIT;\n{down}",
                script(cairn::Direction::Down)?,
                sql.delete(migration.version)
            );
        }
        fs::write(&layouts.floor_up, up)
            .context(|| format!("writing {}", layouts.floor_up.display()))?;
        fs::write(&layouts.floor_down, down)
            .context(|| format!("writing {}", layouts.floor_down.display()))
    }

    fn admin_url(&self) -> &str {
        match self.engine {
            EngineChoice::Postgres => &self.options.postgres_url,
            _ => &self.options.mysql_url,
        }
    }

    fn admin(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let url = self.admin_url().to_owned();
        self.runtime.block_on(async {
            let mut driver = crate::error::connect(&url).await?;
            driver
                .query(sql)
                .await
                .context(|| format!("running `{sql}` on {}", cairn::url::redact(&url)))
        })
    }

    /// A fresh database for one tool's round: its Cairn-style URL.
    fn fresh(&self, name: &str) -> Result<String> {
        match self.engine {
            EngineChoice::Sqlite => {
                let path = self.scratch.join(format!("{name}.db"));
                let _ = fs::remove_file(&path);
                Ok(format!("sqlite://{}", path.display()))
            }
            _ => {
                self.drop(name)?;
                self.admin(&format!("CREATE DATABASE {name}"))?;
                with_database(self.admin_url(), name)
            }
        }
    }

    fn drop(&self, name: &str) -> Result<()> {
        match self.engine {
            EngineChoice::Sqlite => {
                for suffix in ["db", "db-wal", "db-shm", "db-journal", "db.cairn-lock"] {
                    let _ = fs::remove_file(self.scratch.join(format!("{name}.{suffix}")));
                }
                Ok(())
            }
            EngineChoice::Postgres => self
                .admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .map(drop),
            EngineChoice::Mysql => self
                .admin(&format!("DROP DATABASE IF EXISTS {name}"))
                .map(drop),
        }
    }

    /// How many generated tables (`t<n>`) the database at `url` holds.
    fn tables(&self, url: &str) -> Result<usize> {
        let sql = match self.engine {
            EngineChoice::Sqlite => {
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name GLOB 't[0-9]*'"
            }
            EngineChoice::Postgres => {
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename ~ '^t[0-9]+$'"
            }
            EngineChoice::Mysql => {
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name REGEXP '^t[0-9]+$'"
            }
        };
        let rows = self.runtime.block_on(async {
            let mut driver = crate::error::connect(url).await?;
            driver
                .query(sql)
                .await
                .context(|| format!("counting tables in {}", cairn::url::redact(url)))
        })?;
        Ok(rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|v| v.parse().ok())
            .unwrap_or(usize::MAX))
    }

    /// The URL `tool` takes for the database Cairn reaches at `url`.
    fn tool_url(&self, tool: &Tool, url: &str) -> String {
        match (self.engine, tool) {
            (EngineChoice::Sqlite, Tool::Sqlx(_)) => format!("{url}?mode=rwc"),
            (EngineChoice::Sqlite, Tool::Dbmate(_)) => {
                format!("sqlite:{}", url.trim_start_matches("sqlite://"))
            }
            (EngineChoice::Postgres, Tool::Dbmate(_)) => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}sslmode=disable")
            }
            _ => url.to_owned(),
        }
    }

    /// Times `op` of `tool` on the database at `url`.
    fn time(
        &self,
        tool: &Tool,
        op: Op,
        layouts: &Layouts,
        url: &str,
        count: usize,
    ) -> Result<Duration> {
        let tool_url = self.tool_url(tool, url);
        match tool {
            Tool::Floor => {
                let mut command = self.client(url, op)?;
                if let Some(file) = match op {
                    Op::Up => Some(&layouts.floor_up),
                    Op::Down => Some(&layouts.floor_down),
                    Op::Status => None,
                } {
                    let input =
                        fs::File::open(file).context(|| format!("opening {}", file.display()))?;
                    command.stdin(input);
                } else {
                    command.stdin(Stdio::null());
                }
                time_with_stdin(&mut command)
            }
            Tool::Cairn => {
                let mut command = Command::new(self.cairn);
                command
                    .arg("--database-url")
                    .arg(url)
                    .arg("--dir")
                    .arg(&layouts.cairn);
                match op {
                    Op::Up => command.arg("up"),
                    Op::Status => command.arg("status"),
                    Op::Down => command.args(["down", "--all"]),
                };
                time_process(&mut command)
            }
            Tool::Sqlx(path) => {
                let mut command = Command::new(path);
                command.arg("migrate");
                match op {
                    Op::Up => command.arg("run"),
                    Op::Status => command.arg("info"),
                    Op::Down => command.args(["revert", "--target-version", "0"]),
                };
                command
                    .arg("--source")
                    .arg(&layouts.sqlx)
                    .arg("--database-url")
                    .arg(&tool_url)
                    .arg("--no-dotenv");
                time_process(&mut command)
            }
            Tool::Dbmate(path) => {
                let dbmate = || {
                    let mut command = Command::new(path);
                    command
                        .arg("--url")
                        .arg(&tool_url)
                        .arg("--migrations-dir")
                        .arg(&layouts.dbmate)
                        .arg("--no-dump-schema")
                        .env_remove("DATABASE_URL");
                    command
                };
                match op {
                    Op::Up => time_process(dbmate().arg("up")),
                    Op::Status => time_process(dbmate().arg("status")),
                    // One migration per `rollback`: N processes.
                    Op::Down => {
                        let mut total = Duration::ZERO;
                        for _ in 0..count {
                            total += time_process(dbmate().arg("rollback"))?;
                        }
                        Ok(total)
                    }
                }
            }
        }
    }

    /// The engine's client for the floor; for `status`, one query of the history.
    fn client(&self, url: &str, op: Op) -> Result<Command> {
        let query = "SELECT count(*) FROM floor_history";
        Ok(match self.engine {
            EngineChoice::Sqlite => {
                let mut command = Command::new(&self.options.sqlite3);
                command.arg(url.trim_start_matches("sqlite://"));
                if op == Op::Status {
                    command.arg(query);
                }
                command
            }
            EngineChoice::Postgres => {
                let mut command = Command::new("psql");
                command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]);
                if op == Op::Status {
                    command.args(["-c", query]);
                }
                command
            }
            EngineChoice::Mysql => {
                let parts = mysql_parts(url)?;
                let mut command = Command::new("mariadb");
                command.arg("--protocol=TCP").arg("-h").arg(&parts.host);
                if let Some(port) = &parts.port {
                    command.arg("-P").arg(port);
                }
                if let Some(user) = &parts.user {
                    command.arg("-u").arg(user);
                }
                if let Some(password) = &parts.password {
                    command.env("MYSQL_PWD", password);
                }
                command.arg("--batch");
                if op == Op::Status {
                    command.args(["-e", query]);
                }
                if let Some(database) = &parts.database {
                    command.arg(database);
                }
                command
            }
        })
    }

    /// Times every tool at `count` migrations for `rounds` rounds.
    fn size(&self, tools: &[Tool], count: usize, rounds: usize) -> Result<(Vec<Row>, String)> {
        let layouts = self.layouts(count)?;
        let k = key(self.engine);
        // samples[tool][op]
        let mut samples: Vec<[Samples; 3]> = tools.iter().map(|_| Default::default()).collect();
        for round in 0..rounds {
            for i in 0..tools.len() {
                let index = (i + round) % tools.len();
                let tool = &tools[index];
                let name = format!("{}_{count}_{round}_{index}", self.prefix);
                let url = self.fresh(&name)?;
                for (o, op) in Op::ALL.into_iter().enumerate() {
                    let time = self.time(tool, op, &layouts, &url, count)?;
                    let expected = if op == Op::Down { 0 } else { count };
                    let found = self.tables(&url)?;
                    if found != expected {
                        return Err(BenchError::new(format!(
                            "{k}: {} {} of {count} left {found} tables, expected {expected}",
                            tool.name(),
                            op.name()
                        )));
                    }
                    eprintln!(
                        "{k} {}-{count}: round {}/{rounds} {} {}",
                        op.name(),
                        round + 1,
                        tool.name(),
                        format_duration(time)
                    );
                    samples[index][o].push(time);
                }
                if !self.options.keep {
                    self.drop(&name)?;
                }
            }
        }
        let (peer_goal, floor_goal) = goals(self.engine);
        let cairn = tools.iter().position(|t| *t == Tool::Cairn).unwrap_or(1);
        let mut rows = Vec::new();
        let mut paired = Vec::new();
        for (o, op) in Op::ALL.into_iter().enumerate() {
            for (t, tool) in tools.iter().enumerate().filter(|(t, _)| *t != cairn) {
                let floor = *tool == Tool::Floor;
                let goal = match (op, floor) {
                    (Op::Status, true) => None,
                    (_, true) => floor_goal.map(Goal::RatioAtMost),
                    (_, false) => Some(Goal::RatioAtMost(peer_goal)),
                };
                rows.push(Row {
                    name: format!("{}-{count} vs {}", op.name(), tool.name()),
                    detail: detail(self.engine, op, tool, count, rounds),
                    subject: Measured {
                        label: format!("Cairn `{}`", cairn_command(op)),
                        samples: samples[cairn][o].clone(),
                    },
                    baseline: Some(Measured {
                        label: format!("{} {}", tool.name(), tool_command(tool, op)),
                        samples: samples[t][o].clone(),
                    }),
                    goal,
                });
                if let Some(r) = median_paired_ratio(&samples[cairn][o], &samples[t][o]) {
                    paired.push(format!("{} vs {} {r:.2}×", op.name(), tool.name()));
                }
            }
        }
        let finding = format!(
            "**{count} migrations, {rounds} round(s).** Medians of the within-round ratios (Cairn over each): {}.",
            paired.join(", ")
        );
        Ok((rows, finding))
    }
}

fn cairn_command(op: Op) -> &'static str {
    match op {
        Op::Up => "cairn up",
        Op::Status => "cairn status",
        Op::Down => "cairn down --all",
    }
}

fn tool_command(tool: &Tool, op: Op) -> &'static str {
    match (tool, op) {
        (Tool::Floor, Op::Up) => "one file",
        (Tool::Floor, Op::Status) => "`SELECT count(*)`",
        (Tool::Floor, Op::Down) => "one file",
        (Tool::Sqlx(_), Op::Up) => "`migrate run`",
        (Tool::Sqlx(_), Op::Status) => "`migrate info`",
        (Tool::Sqlx(_), Op::Down) => "`migrate revert --target-version 0`",
        (Tool::Dbmate(_), Op::Up) => "`up`",
        (Tool::Dbmate(_), Op::Status) => "`status`",
        (Tool::Dbmate(_), Op::Down) => "N × `rollback`",
        (Tool::Cairn, _) => "",
    }
}

fn detail(engine: EngineChoice, op: Op, tool: &Tool, count: usize, rounds: usize) -> String {
    let what = match op {
        Op::Up => format!("{count} generated migrations (`CREATE TABLE` + `CREATE INDEX` each) applied to a fresh database"),
        Op::Status => format!("the status of the {count} applied migrations, right after `up`, on the same database"),
        Op::Down => format!("all {count} rolled back (`DROP TABLE` each), right after `status`"),
    };
    let against = match tool {
        Tool::Floor => match op {
            Op::Status => format!("the client ({}) reading the history's count", floor_label(engine)),
            _ => format!(
                "the client running one file ({}): per migration `BEGIN;`, the script, one history row written or deleted, `COMMIT;`",
                floor_label(engine)
            ),
        },
        Tool::Sqlx(_) => "sqlx-cli, defaults (on SQLite it puts the database in WAL mode)".to_owned(),
        Tool::Dbmate(_) => "dbmate with `--no-dump-schema`".to_owned(),
        Tool::Cairn => String::new(),
    };
    format!("{what}; Cairn against {against}; {rounds} round(s), whole processes.")
}

/// The wall-clock time of `command`, whose stdin is already set.
fn time_with_stdin(command: &mut Command) -> Result<Duration> {
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let started = std::time::Instant::now();
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

//! The PostgreSQL and MariaDB sections: applying many migrations through the
//! library, and `cairn status` as a whole process, each on databases the
//! benchmark creates (`cairn_bench_*`) and drops on the server it is given.
//!
//! - **apply-N** compares `read_dir` + [`Migrator::up`] through [`PgDriver`](cairn::postgres::PgDriver) or
//!   [`MySqlDriver`](cairn::mysql::MySqlDriver) (in-process) with a *floor*: the server's own command-line
//!   client running one SQL file in one session, each migration's statements
//!   and one history `INSERT` in its own `BEGIN … COMMIT`. On PostgreSQL,
//!   Cairn is also timed with [`Driver::execute_many`]'s default (one round
//!   trip per statement), to show what the driver's pipelining saves.
//! - **status-N** times the `cairn status` process on a database with N
//!   applied migrations beside the client running `SELECT 1`.

use std::fmt;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cairn::clock::UtcTime;
use cairn::driver::Rows;
use cairn::history::{HistoryKind, HistorySql};
use cairn::url::DatabaseUrl;
use cairn::{
    source, Capabilities, Driver, DriverError, Engine, HistoryRow, HistoryState, HistoryTable,
    Migrator, MigratorOptions, SessionSettings,
};

use crate::error::{BenchError, Context as _, Result};
use crate::fixtures::write_migrations_with;
use crate::options::Options;
use crate::report::{Goal, Measured, Row, Section};
use crate::sqlite::time_process;
use crate::stats::{format_duration, median_paired_ratio, ratio, thousands, Samples};

/// The most Cairn may add to the floor when applying migrations on a server.
const APPLY_GOAL: f64 = 1.0;

/// A server engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// PostgreSQL, through `psql`.
    Postgres,
    /// MariaDB (or MySQL), through `mariadb`.
    Mariadb,
}

impl Server {
    fn engine(self) -> Engine {
        match self {
            Server::Postgres => Engine::Postgres,
            Server::Mariadb => Engine::Mysql,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Server::Postgres => "postgres",
            Server::Mariadb => "mariadb",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Server::Postgres => "PostgreSQL",
            Server::Mariadb => "MariaDB",
        }
    }

    fn client(self) -> &'static str {
        match self {
            Server::Postgres => "psql",
            Server::Mariadb => "mariadb",
        }
    }

    /// The appliers timed each round.
    fn appliers(self) -> &'static [Applier] {
        match self {
            Server::Postgres => &[Applier::Floor, Applier::Cairn, Applier::CairnOneByOne],
            // MySqlDriver keeps the default `execute_many`; what differs there is
            // how a migration's statements and progress travel (issue 14).
            Server::Mariadb => &[
                Applier::Floor,
                Applier::Cairn,
                Applier::CairnOneByOne,
                Applier::CairnNoPackets,
            ],
        }
    }
}

/// The ways `apply-N` applies the migrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Applier {
    /// The command-line client running one SQL file.
    Floor,
    /// Cairn's library with the driver as it is.
    Cairn,
    /// Cairn's library with the driver's `execute_many` replaced by the
    /// trait's default, one statement per round trip (on MariaDB: the
    /// packets' statements one per round trip, `Driver::execute_packet`'s default).
    CairnOneByOne,
    /// Cairn's library on a driver that states no statement packets: the
    /// MariaDB path before issue 14 (the claim, each statement and its
    /// progress write, the final row, each in its own round trip).
    CairnNoPackets,
}

impl fmt::Display for Applier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Applier::Floor => "floor",
            Applier::Cairn => "cairn",
            Applier::CairnOneByOne => "cairn-one-by-one",
            Applier::CairnNoPackets => "cairn-no-packets",
        })
    }
}

/// Runs the benchmarks of `server` at `admin_url` in `scratch`, timing the `cairn` binary at `cairn`.
pub fn run(
    options: &Options,
    cairn: &Path,
    scratch: &Path,
    server: Server,
    admin_url: &str,
) -> Result<Section> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context(|| "starting the async runtime".to_owned())?;
    let bench = Bench {
        options,
        cairn,
        scratch,
        server,
        admin_url: admin_url.to_owned(),
        runtime,
        prefix: format!("cairn_bench_{}", std::process::id()),
    };
    let version = bench.server_version()?;
    let client_version = client_version(server.client());
    let count = options.sizes.server_migrations;
    let dir = scratch.join(format!("{}-{count}", server.key()));
    write_migrations_with(&dir, count, crate::fixtures::server_up_sql)?;
    let (mut rows, findings, status_db) = bench.apply(&dir)?;
    let status = bench.status(&dir, &status_db);
    if !options.keep {
        bench.drop_database(&status_db)?;
    }
    rows.extend(status?);
    Ok(Section {
        key: server.key(),
        title: server.title(),
        setup: vec![format!(
            "{} {version} at `{}` (a local server, shared with the CI builds), one database \
             created per run and dropped after; client {client_version}. Cairn through {} in-process.",
            server.title(),
            DatabaseUrl::parse(admin_url).map_or_else(|e| e.redacted, |u| u.redacted()),
            match server {
                Server::Postgres => "`PgDriver` (tokio-postgres)",
                Server::Mariadb => "`MySqlDriver` (mysql_async)",
            }
        )],
        rows,
        findings,
    })
}

struct Bench<'a> {
    options: &'a Options,
    cairn: &'a Path,
    scratch: &'a Path,
    server: Server,
    admin_url: String,
    runtime: tokio::runtime::Runtime,
    /// `cairn_bench_<pid>`: the start of every database this run creates.
    prefix: String,
}

impl Bench<'_> {
    fn admin(&self, sql: &str) -> Result<Rows> {
        let url = self.admin_url.clone();
        self.runtime.block_on(async {
            let mut driver = crate::error::connect(&url).await?;
            driver
                .query(sql)
                .await
                .context(|| format!("running `{sql}` on {}", redacted(&url)))
        })
    }

    fn server_version(&self) -> Result<String> {
        let sql = match self.server {
            Server::Postgres => "SHOW server_version",
            Server::Mariadb => "SELECT VERSION()",
        };
        let rows = self.admin(sql)?;
        Ok(rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|v| v.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "(version unknown)".to_owned()))
    }

    /// Creates database `name` (dropping a leftover of that name) and returns its URL.
    fn create_database(&self, name: &str) -> Result<String> {
        self.drop_database(name)?;
        self.admin(&format!("CREATE DATABASE {name}"))?;
        with_database(&self.admin_url, name)
    }

    fn drop_database(&self, name: &str) -> Result<()> {
        let sql = match self.server {
            Server::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            Server::Mariadb => format!("DROP DATABASE IF EXISTS {name}"),
        };
        self.admin(&sql).map(|_| ())
    }

    fn apply(&self, dir: &Path) -> Result<(Vec<Row>, Vec<String>, String)> {
        let sizes = &self.options.sizes;
        let count = sizes.server_migrations;
        let rounds = sizes.server_apply_rounds;
        let key = self.server.key();
        let floor_file = self.scratch.join(format!("{key}-floor.sql"));
        write_floor_file(self.server, dir, &floor_file)?;
        let appliers = self.server.appliers();
        let mut samples: Vec<Samples> = appliers.iter().map(|_| Samples::new()).collect();
        let started = Instant::now();
        // The last Cairn database is kept for status-N.
        let mut kept: Option<String> = None;
        for round in 0..rounds {
            if round >= 1 && started.elapsed() > sizes.server_apply_budget {
                eprintln!(
                    "{key} apply-{count}: stopping after {round} round(s): the {} budget is spent",
                    format_duration(sizes.server_apply_budget)
                );
                break;
            }
            for i in 0..appliers.len() {
                let index = (i + round) % appliers.len();
                let applier = appliers[index];
                let name = format!("{}_{round}_{index}", self.prefix);
                let url = self.create_database(&name)?;
                let time = match applier {
                    Applier::Floor => self.floor_apply(&floor_file, &url)?,
                    Applier::Cairn => self.cairn_apply(dir, &url, None)?,
                    Applier::CairnOneByOne => self.cairn_apply(dir, &url, Some(true))?,
                    Applier::CairnNoPackets => self.cairn_apply(dir, &url, Some(false))?,
                };
                self.check_tables(&url, count)?;
                eprintln!(
                    "{key} apply-{count}: round {}/{rounds} {applier} {}",
                    round + 1,
                    format_duration(time)
                );
                samples[index].push(time);
                if applier == Applier::Cairn {
                    if let Some(old) = kept.replace(name) {
                        self.drop_database(&old)?;
                    }
                } else if !self.options.keep {
                    self.drop_database(&name)?;
                }
            }
        }
        let status_db = kept.ok_or_else(|| BenchError::new("no Cairn round ran"))?;
        let rounds = samples[0].len();
        let mut samples = samples.into_iter();
        let floor = samples.next().unwrap_or_default();
        let cairn = samples.next().unwrap_or_default();
        let one_by_one = samples.next();
        let no_packets = samples.next();
        let mut findings = self.apply_findings(count, &floor, &cairn, one_by_one.as_ref());
        if let Some(no_packets) = &no_packets {
            findings.insert(
                1,
                format!(
                    "**Statement packets (issue 14) in this run.** Without them (the path before: every statement and history write in its own round trip, the last statement's progress written too) Cairn took {} per migration, within rounds {} the floor; with packets over without: {} (within rounds).",
                    format_duration(no_packets.median() / u32::try_from(count.max(1)).unwrap_or(u32::MAX)),
                    median_paired_ratio(no_packets, &floor).map_or_else(|| "—".to_owned(), |r| format!("{r:.2}×")),
                    median_paired_ratio(&cairn, no_packets).map_or_else(|| "—".to_owned(), |r| format!("{r:.2}×")),
                ),
            );
        }
        let client = self.server.client();
        let floor_measured = Measured {
            label: format!("floor: `{client}` one file"),
            samples: floor,
        };
        let n = thousands(count);
        let floor_command = match self.server {
            Server::Postgres => "`psql -X -q -v ON_ERROR_STOP=1 -f FILE`",
            Server::Mariadb => "`mariadb --batch < FILE`",
        };
        let mut rows = vec![Row {
            name: format!("apply-{count}"),
            detail: format!(
                "{n} generated migrations (`CREATE TABLE t<n> (id INTEGER PRIMARY KEY, a INTEGER, \
                 b VARCHAR(100))` + `CREATE INDEX`) applied to a fresh database created for each \
                 run; {rounds} round(s), order rotated, the database's creation and drop not timed. \
                 Cairn: `source::read_dir` + `Migrator::up` through `{}`, in-process, default \
                 options, connecting included. Floor: {floor_command} in one session, the file \
                 holding per migration `BEGIN;`, the same statements, one `INSERT` into a table \
                 shaped like `cairn_history` (rendered by Cairn's `HistorySql`), `COMMIT;`; the \
                 client's start and connection included.",
                match self.server {
                    Server::Postgres => "PgDriver",
                    Server::Mariadb => "MySqlDriver",
                }
            ),
            subject: Measured {
                label: "Cairn `Migrator::up`".to_owned(),
                samples: cairn,
            },
            baseline: Some(floor_measured.clone()),
            goal: Some(Goal::RatioAtMost(APPLY_GOAL)),
        }];
        if let Some(one_by_one) = one_by_one {
            let (detail, label) = match self.server {
                Server::Postgres => (
                    "Cairn as above, with `PgDriver`'s `execute_many` replaced by the \
                     trait's default (one round trip per statement, as before the driver \
                     pipelined them), timed in the same rounds.",
                    "Cairn, `execute_many` one by one",
                ),
                Server::Mariadb => (
                    "Cairn as above, with `MySqlDriver`'s `execute_packet` replaced by the \
                     trait's default: the same statements, history writes and commits, \
                     one round trip each; timed in the same rounds.",
                    "Cairn, packets one by one",
                ),
            };
            rows.push(Row {
                name: format!("apply-{count}-one-by-one"),
                detail: detail.to_owned(),
                subject: Measured {
                    label: label.to_owned(),
                    samples: one_by_one,
                },
                baseline: Some(floor_measured.clone()),
                goal: None,
            });
        }
        if let Some(no_packets) = no_packets {
            rows.push(Row {
                name: format!("apply-{count}-no-packets"),
                detail: "Cairn as above on a driver that states no statement packets: the \
                         path before issue 14, timed in the same rounds."
                    .to_owned(),
                subject: Measured {
                    label: "Cairn without packets".to_owned(),
                    samples: no_packets,
                },
                baseline: Some(floor_measured),
                goal: None,
            });
        }
        Ok((rows, findings, status_db))
    }

    fn apply_findings(
        &self,
        count: usize,
        floor: &Samples,
        cairn: &Samples,
        one_by_one: Option<&Samples>,
    ) -> Vec<String> {
        let per_migration = |time: Duration| {
            let count = u32::try_from(count.max(1)).unwrap_or(u32::MAX);
            format_duration(time / count)
        };
        let paired = |subject: &Samples, baseline: &Samples| {
            median_paired_ratio(subject, baseline)
                .map_or_else(|| "—".to_owned(), |r| format!("{r:.2}×"))
        };
        let mut text = format!(
            "**apply-{count} in this run.** The floor took {} per migration, Cairn {}. Median of \
             the ratios within each round: Cairn {}.",
            per_migration(floor.median()),
            per_migration(cairn.median()),
            paired(cairn, floor),
        );
        if let Some(one_by_one) = one_by_one {
            text.push_str(&format!(
                " With `execute_many` one by one Cairn took {} per migration (within rounds {} \
                 the floor); pipelined over one by one: {:.2}× (medians), {} (within rounds).",
                per_migration(one_by_one.median()),
                paired(one_by_one, floor),
                ratio(cairn.median(), one_by_one.median()),
                paired(cairn, one_by_one),
            ));
        }
        let mut findings = vec![text];
        match self.server {
            Server::Postgres => findings.push(
                "Per migration Cairn sends `BEGIN`, the statements and the history and log rows \
                 (pipelined: one round trip), `COMMIT`: 4 round trips, against 5 statements for `psql`, which sends each statement of the file as its own query; Cairn also writes a log row (`cairn_history_log`) in every transaction and reads and checksums the files. With 1–10 s runs on a 2-core machine shared with CI builds, rounds swing 3–5×: compare the within-round ratios, and rerun with `--engines postgres` before drawing conclusions from a difference under about 30%."
                    .to_owned(),
            ),
            Server::Mariadb => findings.push(
                "**What Cairn does beyond the floor on MariaDB, by design.** MariaDB commits \
                 DDL implicitly, so Cairn cannot wrap a migration in a transaction; instead it \
                 records where it is, so that a failure leaves a precise `failed` row and \
                 `cairn up --resume` can continue. Since issue 14 a migration of n statements is \
                 n + 1 round trips: a multi-statement packet with the session settings, the \
                 `running` row and statement 1, one per further statement with the progress \
                 `UPDATE` of the one before (the last one's left to the final row), then one \
                 with `START TRANSACTION`, the final `UPDATE`, the log row and `COMMIT`. For \
                 the 2-statement migrations here that is 3 round trips \
                 and 5 durable commits (the claim, the 2 DDL statements, 1 progress update, the \
                 final transaction), against the floor's 5 statements and 3 commits, and 11 \
                 round trips and 6 commits before. The durable commits that remain are what \
                 statement-precise progress costs: the claim must be committed before the first \
                 statement runs, and the progress of statement k before statement k + 1 does."
                    .to_owned(),
            ),
        }
        findings
    }

    fn floor_apply(&self, file: &Path, url: &str) -> Result<Duration> {
        let mut command = match self.server {
            Server::Postgres => {
                let mut command = Command::new("psql");
                command
                    .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
                    .arg(file)
                    .stdin(Stdio::null());
                command
            }
            Server::Mariadb => {
                let mut command = mariadb_command(url)?;
                command
                    .arg("--batch")
                    .stdin(fs::File::open(file).context(|| format!("opening {}", file.display()))?);
                command
            }
        };
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let started = Instant::now();
        let output = command.output();
        let time = started.elapsed();
        let output = output.context(|| format!("running {}", self.server.client()))?;
        if !output.status.success() {
            return Err(BenchError::new(format!(
                "floor: {} failed ({}): {}",
                self.server.client(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(time)
    }

    /// `wrap`: `None` times the driver as it is; `Some(packets)` wraps it in
    /// [`OneByOne`], stating statement packets only with `packets`.
    fn cairn_apply(&self, dir: &Path, url: &str, wrap: Option<bool>) -> Result<Duration> {
        let started = Instant::now();
        let applied = self.runtime.block_on(async {
            let migrations = source::read_dir(dir)
                .context(|| format!("reading migrations in {}", dir.display()))?;
            let migrator = Migrator::new(migrations, MigratorOptions::default());
            let mut driver = crate::error::connect(url).await?;
            if let Some(packets) = wrap {
                driver = Box::new(OneByOne(driver, packets));
            }
            let report = migrator
                .up(driver.as_mut(), None)
                .await
                .context(|| format!("applying {} to {}", dir.display(), redacted(url)))?;
            Ok::<_, BenchError>(report.migrations.iter().filter(|m| !m.skipped).count())
        })?;
        let time = started.elapsed();
        let expected = self.options.sizes.server_migrations;
        if applied != expected {
            return Err(BenchError::new(format!(
                "Cairn applied {applied} migrations of {expected} in {}",
                dir.display()
            )));
        }
        Ok(time)
    }

    /// Checks that the database at `url` has the `count` generated tables.
    fn check_tables(&self, url: &str, count: usize) -> Result<()> {
        let sql = match self.server {
            Server::Postgres => {
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() \
                 AND tablename ~ '^t[0-9]+$'"
            }
            Server::Mariadb => {
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() \
                 AND table_name REGEXP '^t[0-9]+$'"
            }
        };
        let rows = self.runtime.block_on(async {
            let mut driver = crate::error::connect(url).await?;
            driver
                .query(sql)
                .await
                .context(|| format!("counting the tables in {}", redacted(url)))
        })?;
        let found = rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default();
        if found != count.to_string() {
            return Err(BenchError::new(format!(
                "{}: found {found} tables, expected {count}",
                redacted(url)
            )));
        }
        Ok(())
    }

    fn status(&self, dir: &Path, db: &str) -> Result<Vec<Row>> {
        let count = self.options.sizes.server_migrations;
        let rounds = self.options.sizes.server_status_rounds;
        let url = with_database(&self.admin_url, db)?;
        let status = || {
            let mut command = Command::new(self.cairn);
            command
                .arg("--database-url")
                .arg(&url)
                .arg("--dir")
                .arg(dir)
                .arg("status")
                .current_dir(self.scratch);
            command
        };
        let select_1 = || -> Result<Command> {
            Ok(match self.server {
                Server::Postgres => {
                    let mut command = Command::new("psql");
                    command.args(["-X", "-d", &url, "-c", "SELECT 1"]);
                    command
                }
                Server::Mariadb => {
                    let mut command = mariadb_command(&url)?;
                    command.args(["-e", "SELECT 1"]);
                    command
                }
            })
        };
        check_status(self.cairn, status(), count)?;
        let mut commands = [select_1()?, status()].map(|command| (command, Samples::new()));
        for round in 0..rounds {
            let len = commands.len();
            for i in 0..len {
                let (command, samples) = &mut commands[(i + round) % len];
                samples.push(time_process(command)?);
            }
        }
        eprintln!("{} status-{count}: {rounds} rounds", self.server.key());
        let [(_, select_1), (_, status)] = commands;
        let n = thousands(count);
        let client = self.server.client();
        let baseline_label = match self.server {
            Server::Postgres => "`psql -X -c 'SELECT 1'`",
            Server::Mariadb => "`mariadb -e 'SELECT 1'`",
        };
        Ok(vec![Row {
            name: format!("status-{count}"),
            detail: format!(
                "the whole `cairn --database-url URL --dir D status` process (release build, \
                 stdout to /dev/null) on the database of the last Cairn apply-{count} run ({n} \
                 applied migrations, their tables, history and log rows), D holding the {n} \
                 migration folders, beside the `{client}` client connecting to the same database \
                 for `SELECT 1`; {rounds} rounds, order rotated."
            ),
            subject: Measured {
                label: format!("`cairn status`, {n} applied"),
                samples: status,
            },
            baseline: Some(Measured {
                label: baseline_label.to_owned(),
                samples: select_1,
            }),
            goal: None,
        }])
    }
}

fn redacted(url: &str) -> String {
    cairn::url::redact(url)
}

/// `url` with its database (the path) replaced by `database`, keeping any query.
pub fn with_database(url: &str, database: &str) -> Result<String> {
    let scheme_end = url
        .find("://")
        .ok_or_else(|| BenchError::new(format!("{}: not a URL", redacted(url))))?
        + 3;
    let (main, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let authority_end = main[scheme_end..]
        .find('/')
        .map_or(main.len(), |i| scheme_end + i);
    Ok(format!("{}/{database}{query}", &main[..authority_end]))
}

/// The parts of a `mysql://user:password@host:port/database` URL the
/// `mariadb` client takes as options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MysqlParts {
    /// The user, if any.
    pub user: Option<String>,
    /// The password, if any (passed through `MYSQL_PWD`, never on the command line).
    pub password: Option<String>,
    /// The host.
    pub host: String,
    /// The port, if any.
    pub port: Option<String>,
    /// The database, if any.
    pub database: Option<String>,
}

/// Splits a `mysql://` URL for the `mariadb` client.
pub fn mysql_parts(url: &str) -> Result<MysqlParts> {
    let rest = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .ok_or_else(|| BenchError::new(format!("{}: not a URL", redacted(url))))?;
    let rest = rest.split('?').next().unwrap_or_default();
    let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
    let (credentials, hostport) = match authority.rsplit_once('@') {
        Some((credentials, hostport)) => (Some(credentials), hostport),
        None => (None, authority),
    };
    let (user, password) = match credentials {
        Some(c) => match c.split_once(':') {
            Some((u, p)) => (Some(decode(u)), Some(decode(p))),
            None => (Some(decode(c)), None),
        },
        None => (None, None),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => {
            (h.trim_matches(['[', ']']).to_owned(), Some(p.to_owned()))
        }
        _ => (hostport.to_owned(), None),
    };
    Ok(MysqlParts {
        user,
        password,
        host: if host.is_empty() {
            "localhost".to_owned()
        } else {
            host
        },
        port,
        database: (!database.is_empty()).then(|| decode(database)),
    })
}

/// Percent-decoding, for the parts of a URL.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(Ok(byte)) = text.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `mariadb` with the connection options of `url`.
fn mariadb_command(url: &str) -> Result<Command> {
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
    if let Some(database) = &parts.database {
        command.arg(database);
    }
    Ok(command)
}

/// Writes the floor's SQL file: the history table, then per migration of
/// `dir` `BEGIN;`, its `up.sql` as it is, the history `INSERT`, `COMMIT;`.
fn write_floor_file(server: Server, dir: &Path, file: &Path) -> Result<()> {
    let engine = server.engine();
    let migrations =
        source::read_dir(dir).context(|| format!("reading migrations in {}", dir.display()))?;
    let table = HistoryTable {
        schema: None,
        name: "floor_history".to_owned(),
    };
    let sql = HistorySql::new(cairn::dialect::for_engine(engine), &table);
    let create = sql.create().into_iter().next().unwrap_or_default();
    let mut text = format!("{};\n", create.trim_end().trim_end_matches(';'));
    let at = UtcTime::now().rfc3339();
    for migration in &migrations {
        let script = migration
            .script(cairn::Direction::Up, engine)
            .ok_or_else(|| BenchError::new(format!("{}: no up script", dir.display())))?;
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
        text.push_str("BEGIN;\n");
        text.push_str(script.text.trim_end());
        text.push('\n');
        text.push_str(sql.insert(&row).trim_end().trim_end_matches(';'));
        text.push_str(";\nCOMMIT;\n");
    }
    fs::write(file, text).context(|| format!("writing {}", file.display()))
}

/// Runs `cairn status --format json` once and checks every migration is applied.
fn check_status(cairn: &Path, mut command: Command, expected: usize) -> Result<()> {
    let output = command
        .args(["--format", "json"])
        .env_remove("RUST_LOG")
        .output()
        .context(|| format!("running {}", cairn.display()))?;
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

fn client_version(client: &str) -> String {
    Command::new(client)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .map_or_else(
            || format!("`{client}` (version unknown)"),
            |v| format!("`{v}`"),
        )
}

/// A driver with the trait's defaults of [`Driver::execute_many`] and
/// [`Driver::execute_packet`]: every other method goes to the wrapped
/// driver, the optional ones included (its capabilities say it takes the run
/// lock because the wrapped one does); statement packets only when `.1`.
#[derive(Debug)]
struct OneByOne(Box<dyn Driver>, bool);

#[async_trait]
impl Driver for OneByOne {
    fn dialect(&self) -> &dyn cairn::Dialect {
        self.0.dialect()
    }

    fn capabilities(&self) -> Capabilities {
        let mut capabilities = self.0.capabilities();
        capabilities.statement_packets &= self.1;
        capabilities
    }

    async fn lock(&mut self, timeout: Duration) -> std::result::Result<(), DriverError> {
        self.0.lock(timeout).await
    }

    async fn unlock(&mut self) -> std::result::Result<(), DriverError> {
        self.0.unlock().await
    }

    async fn confirms_completed(&mut self, error: &DriverError) -> bool {
        self.0.confirms_completed(error).await
    }

    async fn apply_settings(
        &mut self,
        settings: &SessionSettings,
    ) -> std::result::Result<(), DriverError> {
        self.0.apply_settings(settings).await
    }

    fn set_workload(&mut self, workload: cairn::Workload) {
        self.0.set_workload(workload);
    }

    async fn begin(&mut self) -> std::result::Result<(), DriverError> {
        self.0.begin().await
    }

    async fn commit(&mut self) -> std::result::Result<(), DriverError> {
        self.0.commit().await
    }

    async fn rollback(&mut self) -> std::result::Result<(), DriverError> {
        self.0.rollback().await
    }

    async fn execute(&mut self, sql: &str) -> std::result::Result<u64, DriverError> {
        self.0.execute(sql).await
    }

    async fn query(&mut self, sql: &str) -> std::result::Result<Rows, DriverError> {
        self.0.query(sql).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        for (url, expected) in [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/cairn_bench_1",
            ),
            (
                "postgres://u:p@h/db?sslmode=disable",
                "postgres://u:p@h/cairn_bench_1?sslmode=disable",
            ),
            ("mysql://root@h:3306", "mysql://root@h:3306/cairn_bench_1"),
        ] {
            assert_eq!(with_database(url, "cairn_bench_1").expect(url), expected);
        }
        assert!(with_database("nonsense", "x").is_err());
    }

    #[test]
    fn mysql_urls_become_client_options() {
        assert_eq!(
            mysql_parts("mysql://root@127.0.0.1:3306/test").expect("parses"),
            MysqlParts {
                user: Some("root".to_owned()),
                password: None,
                host: "127.0.0.1".to_owned(),
                port: Some("3306".to_owned()),
                database: Some("test".to_owned()),
            }
        );
        assert_eq!(
            mysql_parts("mysql://u:p%40ss@db?ssl-mode=required").expect("parses"),
            MysqlParts {
                user: Some("u".to_owned()),
                password: Some("p@ss".to_owned()),
                host: "db".to_owned(),
                port: None,
                database: None,
            }
        );
    }
}

//! The command line, turned into an [`Options`] before any work starts.
//!
//! Hand-parsed: the binary has four flags, and only the CLI crate depends on clap.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// How to use the binary, for `--help` and usage errors.
pub const USAGE: &str = "\
usage: cairn-bench [--quick] [--engines LIST] [--only LIST] [--out FILE] [--cairn PATH]
                   [--sqlite3 PATH] [--postgres-url URL] [--mysql-url URL] [--keep]

Runs Cairn's benchmarks, each side by side with a baseline, and prints a table.

  --quick         fewer migrations and rounds (a smoke test, not for the record)
  --engines LIST  the engines to benchmark, comma-separated, among sqlite,
                  postgres and mysql (or mariadb) [default: all three]
  --only LIST     the benchmark suites to run, comma-separated, among migrations
                  (apply-N and status-N) and backfill (issue 5's batched
                  backfill on 1,000,000 rows) and verify (`cairn verify` of 200
                  migrations, introspection of 500 tables) and lock-queue (the
                  longest application wait behind a blocked migration, on
                  PostgreSQL and MariaDB) and zero-downtime (a rename_column
                  on 1,000,000 rows, SQLite 200,000, under old- and
                  new-version clients) and peers (`up`, `status` and
                  `down --all` of 200 and 1,000 migrations as whole processes
                  beside sqlx-cli and dbmate, when found: $CAIRN_BENCH_SQLX,
                  $CAIRN_BENCH_DBMATE, else PATH; sizes and rounds from
                  $CAIRN_BENCH_PEER_SIZES, e.g. 200x3,1000x1) [default: all]
  --out FILE      rewrite FILE's sections between <!-- bench:<engine>:start -->
                  and <!-- bench:<engine>:end --> (FILE is created if missing)
  --cairn PATH    time this `cairn` binary instead of building it with
                  `cargo build --release -p cairn-cli`
  --sqlite3 PATH  the sqlite3 shell for the status baseline [default: /usr/bin/sqlite3]
  --postgres-url URL
                  a PostgreSQL database the benchmark may create and drop
                  `cairn_bench_*` databases from [default: $CAIRN_TEST_POSTGRES_URL,
                  else postgres://postgres@127.0.0.1:5432/postgres]; the psql
                  client must be on PATH
  --mysql-url URL a MariaDB or MySQL database, likewise [default:
                  $CAIRN_TEST_MYSQL_URL, else mysql://root@127.0.0.1:3306/test];
                  the mariadb client must be on PATH
  --keep          keep the generated migrations and databases (for profiling)
                  and print where they are";

/// The PostgreSQL server used unless `--postgres-url` or `CAIRN_TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The MariaDB server used unless `--mysql-url` or `CAIRN_TEST_MYSQL_URL` says otherwise.
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// An engine the benchmarks can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineChoice {
    /// SQLite, on a file in the scratch directory.
    Sqlite,
    /// PostgreSQL, at `--postgres-url`.
    Postgres,
    /// MariaDB or MySQL, at `--mysql-url`.
    Mysql,
}

impl EngineChoice {
    /// Every engine, in the order they run.
    pub const ALL: [EngineChoice; 3] = [
        EngineChoice::Sqlite,
        EngineChoice::Postgres,
        EngineChoice::Mysql,
    ];

    fn parse_list(list: &str) -> Result<Vec<EngineChoice>, String> {
        let mut chosen = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let engine = match name {
                "sqlite" => EngineChoice::Sqlite,
                "postgres" | "postgresql" | "pg" => EngineChoice::Postgres,
                "mysql" | "mariadb" => EngineChoice::Mysql,
                other => {
                    return Err(format!(
                        "--engines: unknown engine `{other}` (sqlite, postgres, mysql)"
                    ))
                }
            };
            if !chosen.contains(&engine) {
                chosen.push(engine);
            }
        }
        if chosen.is_empty() {
            return Err("--engines needs at least one engine".to_owned());
        }
        // Always in the canonical order.
        Ok(EngineChoice::ALL
            .into_iter()
            .filter(|e| chosen.contains(e))
            .collect())
    }
}

/// A suite of benchmarks, each writing its own sections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// apply-N and status-N: the `sqlite`, `postgres` and `mariadb` sections.
    Migrations,
    /// Batched backfills against one whole-table `UPDATE`: the `backfill-<engine>` sections.
    Backfill,
    /// `cairn verify` of many migrations and schema introspection: the `verify` section.
    Verify,
    /// The longest application wait behind a blocked migration: the `lockq-<engine>` sections.
    LockQueue,
    /// A `rename_column` operation under old- and new-version clients: the `zdt-<engine>` sections.
    ZeroDowntime,
    /// `up`, `status` and `down --all` beside sqlx-cli, dbmate and the floor: the `peers-<engine>` sections.
    Peers,
}

impl Suite {
    /// Every suite, in the order they run.
    pub const ALL: [Suite; 6] = [
        Suite::Migrations,
        Suite::Backfill,
        Suite::Verify,
        Suite::LockQueue,
        Suite::ZeroDowntime,
        Suite::Peers,
    ];

    fn parse_list(list: &str) -> Result<Vec<Suite>, String> {
        let mut chosen = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let suite = match name {
                "migrations" => Suite::Migrations,
                "backfill" | "backfills" => Suite::Backfill,
                "verify" => Suite::Verify,
                "lock-queue" | "lockq" => Suite::LockQueue,
                "zero-downtime" | "zdt" => Suite::ZeroDowntime,
                "peers" => Suite::Peers,
                other => {
                    return Err(format!(
                        "--only: unknown suite `{other}` (migrations, backfill, verify, lock-queue, zero-downtime, peers)"
                    ))
                }
            };
            if !chosen.contains(&suite) {
                chosen.push(suite);
            }
        }
        if chosen.is_empty() {
            return Err("--only needs at least one suite".to_owned());
        }
        Ok(Suite::ALL
            .into_iter()
            .filter(|s| chosen.contains(s))
            .collect())
    }
}

/// How big each benchmark is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Migrations applied by `apply-N`.
    pub apply_migrations: usize,
    /// Rounds of `apply-N`; each round times the floor and Cairn once.
    pub apply_rounds: usize,
    /// After this long, `apply-N` stops after the current round once it has
    /// three: on a shared disk an fsync can get ten times slower for minutes.
    pub apply_budget: Duration,
    /// Applied migrations in the `status-N` database.
    pub status_migrations: usize,
    /// Rounds of the status benchmarks; each times every process once.
    pub status_rounds: usize,
    /// Migrations applied by `apply-N` on PostgreSQL and MariaDB (and then
    /// shown by their `status-N`).
    pub server_migrations: usize,
    /// Rounds of `apply-N` on a server.
    pub server_apply_rounds: usize,
    /// After this long, a server's `apply-N` stops after the current round
    /// (there is always at least one): MariaDB creates a table in tens of
    /// milliseconds, so a round of 1,000 takes minutes there.
    pub server_apply_budget: Duration,
    /// Rounds of a server's `status-N`.
    pub server_status_rounds: usize,
}

impl Sizes {
    /// The figures that go on the record.
    pub const FULL: Sizes = Sizes {
        apply_migrations: 1_000,
        apply_rounds: 5,
        apply_budget: Duration::from_secs(90),
        status_migrations: 10_000,
        status_rounds: 9,
        server_migrations: 1_000,
        server_apply_rounds: 3,
        server_apply_budget: Duration::from_secs(60),
        server_status_rounds: 9,
    };

    /// A smoke test of the whole pipeline in a few seconds.
    pub const QUICK: Sizes = Sizes {
        apply_migrations: 100,
        apply_rounds: 2,
        apply_budget: Duration::from_secs(30),
        status_migrations: 1_000,
        status_rounds: 3,
        server_migrations: 100,
        server_apply_rounds: 2,
        server_apply_budget: Duration::from_secs(20),
        server_status_rounds: 3,
    };
}

/// Everything a run needs, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The markdown file to update, if any.
    pub out: Option<PathBuf>,
    /// Whether this is a `--quick` run.
    pub quick: bool,
    /// How big each benchmark is.
    pub sizes: Sizes,
    /// A `cairn` binary to time; `None` builds one.
    pub cairn: Option<PathBuf>,
    /// The sqlite3 shell.
    pub sqlite3: PathBuf,
    /// Keep the scratch files.
    pub keep: bool,
    /// The engines to benchmark, in the order they run.
    pub engines: Vec<EngineChoice>,
    /// The suites to run, in the order they run.
    pub suites: Vec<Suite>,
    /// The PostgreSQL server's admin URL.
    pub postgres_url: String,
    /// The MariaDB/MySQL server's admin URL.
    pub mysql_url: String,
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Run the benchmarks.
    Run(Box<Options>),
    /// Print the usage.
    Help,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, String> {
    parse_with_env(args, |name| std::env::var(name).ok())
}

/// [`parse`], reading the environment through `env` (for the tests).
pub fn parse_with_env(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Parsed, String> {
    let mut out = None;
    let mut engines = EngineChoice::ALL.to_vec();
    let mut suites = Suite::ALL.to_vec();
    let mut postgres_url = None;
    let mut mysql_url = None;
    let mut quick = false;
    let mut keep = false;
    let mut cairn = None;
    let mut sqlite3 = PathBuf::from("/usr/bin/sqlite3");
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|arg| format!("argument {arg:?} is not valid UTF-8"))?;
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value)),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<PathBuf, String> {
            match inline {
                Some("") => Err(format!("{name} needs a value")),
                Some(value) => Ok(PathBuf::from(value)),
                None => args
                    .next()
                    .map(PathBuf::from)
                    .ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--quick" if inline.is_none() => quick = true,
            "--keep" if inline.is_none() => keep = true,
            "--out" => out = Some(value("--out")?),
            "--cairn" => cairn = Some(value("--cairn")?),
            "--sqlite3" => sqlite3 = value("--sqlite3")?,
            "--engines" => {
                engines = EngineChoice::parse_list(&value("--engines")?.to_string_lossy())?;
            }
            "--only" => suites = Suite::parse_list(&value("--only")?.to_string_lossy())?,
            "--postgres-url" => {
                postgres_url = Some(value("--postgres-url")?.to_string_lossy().into_owned());
            }
            "--mysql-url" => {
                mysql_url = Some(value("--mysql-url")?.to_string_lossy().into_owned());
            }
            _ => return Err(format!("unknown argument `{arg}`")),
        }
    }
    Ok(Parsed::Run(Box::new(Options {
        out,
        quick,
        sizes: if quick { Sizes::QUICK } else { Sizes::FULL },
        cairn,
        sqlite3,
        keep,
        engines,
        suites,
        postgres_url: postgres_url
            .or_else(|| env("CAIRN_TEST_POSTGRES_URL").filter(|u| !u.is_empty()))
            .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned()),
        mysql_url: mysql_url
            .or_else(|| env("CAIRN_TEST_MYSQL_URL").filter(|u| !u.is_empty()))
            .unwrap_or_else(|| DEFAULT_MYSQL_URL.to_owned()),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, String> {
        match parse_with_env(args.iter().map(OsString::from), |_| None)? {
            Parsed::Run(options) => Ok(*options),
            Parsed::Help => Err("help".to_owned()),
        }
    }

    #[test]
    fn defaults_build_cairn_and_print_only() {
        let options = run(&[]).expect("parses");
        assert_eq!(options.out, None);
        assert_eq!(options.cairn, None);
        assert_eq!(options.sizes, Sizes::FULL);
        assert_eq!(options.sqlite3, PathBuf::from("/usr/bin/sqlite3"));
        assert_eq!(options.engines, EngineChoice::ALL.to_vec());
        assert_eq!(options.postgres_url, DEFAULT_POSTGRES_URL);
        assert_eq!(options.mysql_url, DEFAULT_MYSQL_URL);
    }

    #[test]
    fn engines_and_urls_come_from_flags_then_the_environment() {
        let options = run(&[
            "--engines",
            "mariadb,postgres",
            "--postgres-url=postgres://x/y",
        ])
        .expect("parses");
        assert_eq!(
            options.engines,
            vec![EngineChoice::Postgres, EngineChoice::Mysql]
        );
        assert_eq!(options.postgres_url, "postgres://x/y");
        let env =
            |name: &str| (name == "CAIRN_TEST_MYSQL_URL").then(|| "mysql://u@h:1/d".to_owned());
        let Parsed::Run(options) =
            parse_with_env([OsString::from("--engines=sqlite")], env).expect("parses")
        else {
            panic!("help");
        };
        assert_eq!(options.engines, vec![EngineChoice::Sqlite]);
        assert_eq!(options.mysql_url, "mysql://u@h:1/d");
        assert_eq!(options.postgres_url, DEFAULT_POSTGRES_URL);
        assert_eq!(
            run(&["--engines", "oracle"]),
            Err("--engines: unknown engine `oracle` (sqlite, postgres, mysql)".to_owned())
        );
        assert_eq!(
            run(&["--engines", ","]),
            Err("--engines needs at least one engine".to_owned())
        );
    }

    #[test]
    fn only_picks_suites_in_their_order() {
        assert_eq!(run(&[]).expect("parses").suites, Suite::ALL.to_vec());
        assert_eq!(
            run(&["--only", "backfill,migrations"])
                .expect("parses")
                .suites,
            vec![Suite::Migrations, Suite::Backfill]
        );
        assert_eq!(
            run(&["--only=backfill"]).expect("parses").suites,
            vec![Suite::Backfill]
        );
        assert_eq!(
            run(&["--only", "lint"]),
            Err(
                "--only: unknown suite `lint` (migrations, backfill, verify, lock-queue, zero-downtime, peers)"
                    .to_owned()
            )
        );
        assert_eq!(
            run(&["--only", "lock-queue"]).expect("parses").suites,
            vec![Suite::LockQueue]
        );
        assert_eq!(
            run(&["--only", ""]),
            Err("--only needs at least one suite".to_owned())
        );
    }

    #[test]
    fn flags_take_values_separately_or_inline() {
        let options = run(&[
            "--quick",
            "--out",
            "docs/b.md",
            "--cairn=/x/cairn",
            "--keep",
        ])
        .expect("parses");
        assert!(options.quick);
        assert!(options.keep);
        assert_eq!(options.sizes, Sizes::QUICK);
        assert_eq!(options.out, Some(PathBuf::from("docs/b.md")));
        assert_eq!(options.cairn, Some(PathBuf::from("/x/cairn")));
    }

    #[test]
    fn bad_arguments_are_rejected() {
        for (args, message) in [
            (&["--out"][..], "--out needs a value"),
            (&["--cairn="][..], "--cairn needs a value"),
            (&["--quick=yes"][..], "unknown argument `--quick=yes`"),
            (&["--fast"][..], "unknown argument `--fast`"),
        ] {
            assert_eq!(run(args), Err(message.to_owned()), "{args:?}");
        }
        assert_eq!(parse([OsString::from("-h")]), Ok(Parsed::Help));
    }
}

//! Turns the raw flags into the facade's [`cairn::config::Overrides`],
//! resolves them with the environment and `cairn.toml` (the model and the
//! precedence live in [`cairn::config`]), and adds what only the binary
//! decides: the output format and colour.

use std::path::PathBuf;

use anyhow::Context as _;
use cairn::config::{Overrides, Settings};
use cairn::url::DatabaseUrl;
use cairn::MigratorOptions;

use crate::args::{Cli, Command, Format};

pub use cairn::config::{Env, ProcessEnv, DEFAULT_MIGRATIONS_DIR};

/// Everything a command needs, resolved and validated.
#[derive(Debug)]
pub struct Config {
    /// The database; `None` for commands that do not connect (`init`, `new`).
    pub database_url: Option<DatabaseUrl>,
    /// The migrations directory.
    pub migrations_dir: PathBuf,
    /// The configuration file path (read if it existed).
    pub config_file: PathBuf,
    /// Whether the configuration file existed.
    pub config_file_exists: bool,
    /// How to print reports.
    pub format: Format,
    /// Whether to colour text output.
    pub color: bool,
    /// The options of the migrator.
    pub migrator: MigratorOptions,
    /// Replicas whose lag a backfill's `max_replication_lag` limits
    /// (`up --replica-url`, else `replica_urls` in cairn.toml).
    pub replica_urls: Vec<DatabaseUrl>,
    /// The Liquibase changesets to read (`--contexts`, `--label-filter`).
    pub selection: cairn::source::Selection,
}

impl Config {
    /// Resolves the configuration for `cli` from `env` and the configuration file.
    pub fn resolve(cli: &Cli, env: &dyn Env, stdout_is_terminal: bool) -> anyhow::Result<Config> {
        let global = &cli.global;
        let (allow_out_of_order, replica_urls) = match &cli.command {
            Command::Up(up) => (up.allow_out_of_order, up.replica_url.clone()),
            _ => (false, Vec::new()),
        };
        let mut overrides = Overrides::default();
        overrides.config_file.clone_from(&global.config);
        overrides.migrations_dir.clone_from(&global.dir);
        overrides.database_url.clone_from(&global.database_url);
        overrides.needs_database = cli.command.needs_database();
        overrides.allow_out_of_order = allow_out_of_order;
        overrides.replica_urls = replica_urls;
        overrides.operation_lock_timeout = cli.command.operation_lock_timeout().map(str::to_owned);
        let mut settings = Settings::resolve(&overrides, env)?;
        settings.migrator.contract_after_expand =
            matches!(&cli.command, Command::Up(up) if up.contract);
        Ok(Config {
            database_url: settings.database_url,
            migrations_dir: settings.migrations_dir,
            config_file: settings.config_file,
            config_file_exists: settings.config_file_exists,
            format: global.format,
            color: global.format == Format::Text
                && stdout_is_terminal
                && env.var("NO_COLOR").is_none(),
            migrator: settings.migrator,
            replica_urls: settings.replica_urls,
            selection: cairn::source::Selection::new(
                global.contexts.as_deref(),
                global.label_filter.as_deref(),
            ),
        })
    }

    /// The database URL; only commands that need one ask.
    pub fn database_url(&self) -> anyhow::Result<&DatabaseUrl> {
        self.database_url
            .as_ref()
            .context("this command does not take a database (an internal error: please report it)")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;
    use std::time::Duration;

    use clap::Parser as _;

    use super::*;

    struct FakeEnv(HashMap<&'static str, &'static str>);

    impl Env for FakeEnv {
        fn var(&self, key: &str) -> Option<String> {
            self.0
                .get(key)
                .map(|v| (*v).to_owned())
                .filter(|v| !v.is_empty())
        }
    }

    fn env(pairs: &[(&'static str, &'static str)]) -> FakeEnv {
        FakeEnv(pairs.iter().copied().collect())
    }

    fn resolve(args: &[&str], env: &FakeEnv) -> Config {
        let mut argv = vec!["cairn"];
        argv.extend_from_slice(args);
        // The crate's folder, where tests run, has no cairn.toml.
        Config::resolve(&Cli::try_parse_from(argv).unwrap(), env, false).unwrap()
    }

    #[test]
    fn database_url_precedence() {
        let both = env(&[
            ("CAIRN_DATABASE_URL", "sqlite://a.db"),
            ("DATABASE_URL", "sqlite://b.db"),
        ]);
        let url = |c: Config| c.database_url.unwrap().expose().to_owned();
        assert_eq!(
            url(resolve(
                &["--database-url", "sqlite://flag.db", "status"],
                &both
            )),
            "sqlite://flag.db"
        );
        assert_eq!(url(resolve(&["status"], &both)), "sqlite://a.db");
        assert_eq!(
            url(resolve(
                &["status"],
                &env(&[
                    ("CAIRN_DATABASE_URL", ""),
                    ("DATABASE_URL", "sqlite://b.db")
                ])
            )),
            "sqlite://b.db"
        );
        assert_eq!(
            url(resolve(&["status"], &env(&[]))),
            cairn::config::DEFAULT_DATABASE_URL
        );
    }

    /// flag > real environment variable > `.env` > cairn.toml > default,
    /// for the database URL and for any other key.
    #[test]
    fn dotenv_sits_between_the_environment_and_the_file() {
        use crate::dotenv::{DotEnv, Layered};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(
            &path,
            "database_url = \"sqlite://toml.db\"\nlock_wait = \"1s\"\nlock_retries = 1\n",
        )
        .unwrap();
        let dotenv = || {
            DotEnv::parse(
                "CAIRN_DATABASE_URL=sqlite://dotenv.db\nCAIRN_LOCK_WAIT=2s\nCAIRN_LOCK_RETRIES=2\n",
                Path::new(".env"),
            )
            .unwrap()
        };
        let run = |args: &[&str], process: FakeEnv, dotenv: DotEnv| {
            let mut argv = vec!["cairn", "--config", path.to_str().unwrap()];
            argv.extend_from_slice(args);
            let cli = Cli::try_parse_from(argv).unwrap();
            Config::resolve(&cli, &Layered { process, dotenv }, false).unwrap()
        };
        let url = |c: &Config| c.database_url.as_ref().unwrap().expose().to_owned();

        let c = run(
            &["--database-url", "sqlite://flag.db", "status"],
            env(&[("CAIRN_DATABASE_URL", "sqlite://real.db")]),
            dotenv(),
        );
        assert_eq!(url(&c), "sqlite://flag.db");
        let c = run(
            &["status"],
            env(&[
                ("CAIRN_DATABASE_URL", "sqlite://real.db"),
                ("CAIRN_LOCK_WAIT", "3s"),
            ]),
            dotenv(),
        );
        assert_eq!(url(&c), "sqlite://real.db");
        assert_eq!(c.migrator.lock_wait, Duration::from_secs(3));
        assert_eq!(c.migrator.lock_retries, 2, ".env under the real variables");
        let c = run(&["status"], env(&[]), dotenv());
        assert_eq!(url(&c), "sqlite://dotenv.db");
        assert_eq!(c.migrator.lock_wait, Duration::from_secs(2));
        let c = run(&["status"], env(&[]), DotEnv::default());
        assert_eq!(url(&c), "sqlite://toml.db");
        assert_eq!(c.migrator.lock_wait, Duration::from_secs(1));
        assert_eq!(c.migrator.lock_retries, 1);

        // DATABASE_URL in the real environment still loses to CAIRN_DATABASE_URL in .env:
        // the variables are looked up in order, each in the environment and then in .env.
        let c = run(
            &["status"],
            env(&[("DATABASE_URL", "sqlite://plain.db")]),
            dotenv(),
        );
        assert_eq!(url(&c), "sqlite://dotenv.db");

        // No file, nothing set: the default.
        let cli = Cli::try_parse_from(["cairn", "status"]).unwrap();
        let c = Config::resolve(
            &cli,
            &Layered {
                process: env(&[]),
                dotenv: DotEnv::default(),
            },
            false,
        )
        .unwrap();
        assert_eq!(url(&c), cairn::config::DEFAULT_DATABASE_URL);
    }

    #[test]
    fn no_color_from_dotenv_is_honoured() {
        let cli = Cli::try_parse_from(["cairn", "init"]).unwrap();
        let layered = crate::dotenv::Layered {
            process: env(&[]),
            dotenv: crate::dotenv::DotEnv::parse("NO_COLOR=1\n", Path::new(".env")).unwrap(),
        };
        assert!(!Config::resolve(&cli, &layered, true).unwrap().color);
    }

    #[test]
    fn init_and_new_ignore_a_bad_url() {
        let bad = env(&[("DATABASE_URL", "mongodb://x")]);
        assert!(resolve(&["init"], &bad).database_url.is_none());
        assert!(resolve(&["new", "x"], &bad).database_url.is_none());
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(!resolve(&["init"], &env(&[])).color);
        let cli = Cli::try_parse_from(["cairn", "init"]).unwrap();
        assert!(Config::resolve(&cli, &env(&[]), true).unwrap().color);
        assert!(
            !Config::resolve(&cli, &env(&[("NO_COLOR", "1")]), true)
                .unwrap()
                .color
        );
    }

    #[test]
    fn config_file_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(
            &path,
            "database_url = \"sqlite://x.db\"\nmigration_dir = \"m\"\n",
        )
        .unwrap();
        let cli =
            Cli::try_parse_from(["cairn", "--config", path.to_str().unwrap(), "status"]).unwrap();
        let err = format!("{:#}", Config::resolve(&cli, &env(&[]), false).unwrap_err());
        assert!(err.contains("cairn.toml"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("migration_dir"), "{err}");

        std::fs::write(&path, "lock_timeout = \"5 seconds\"\n").unwrap();
        let err = format!("{:#}", Config::resolve(&cli, &env(&[]), false).unwrap_err());
        assert!(
            err.contains("lock_timeout") && err.contains("cairn.toml"),
            "{err}"
        );
    }

    #[test]
    fn config_file_values_apply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(
            &path,
            "migrations_dir = \"db\"\nhistory_table = \"h\"\nlock_timeout = \"2s\"\nlock_wait = \"1m\"\nallow_out_of_order = true\n",
        )
        .unwrap();
        let cli =
            Cli::try_parse_from(["cairn", "--config", path.to_str().unwrap(), "status"]).unwrap();
        let config = Config::resolve(&cli, &env(&[]), false).unwrap();
        assert_eq!(config.migrations_dir, dir.path().join("db"));
        assert_eq!(config.migrator.table.name, "h");
        assert_eq!(
            config.migrator.statement_lock_timeout,
            Duration::from_secs(2)
        );
        assert_eq!(config.migrator.lock_wait, Duration::from_secs(60));
        assert!(config.migrator.plan.allow_out_of_order);
        assert_eq!(config.migrator.lock_retries, 19, "the default");

        std::fs::write(&path, "lock_retries = 3\n").unwrap();
        let config = Config::resolve(&cli, &env(&[]), false).unwrap();
        assert_eq!(config.migrator.lock_retries, 3);
        assert_eq!(
            config.migrator.statement_lock_timeout,
            Duration::from_secs(1),
            "the default"
        );
    }

    #[test]
    fn up_contract_and_the_operation_lock_timeout_reach_the_migrator() {
        let config = resolve(&["up"], &env(&[]));
        assert!(!config.migrator.contract_after_expand);
        assert_eq!(
            config.migrator.operation_lock_timeout,
            Duration::from_millis(500)
        );
        let config = resolve(
            &["up", "--contract", "--operation-lock-timeout", "2s"],
            &env(&[]),
        );
        assert!(config.migrator.contract_after_expand);
        assert_eq!(
            config.migrator.operation_lock_timeout,
            Duration::from_secs(2)
        );
        for command in ["contract", "abort", "down"] {
            let config = resolve(&[command, "--operation-lock-timeout", "750ms"], &env(&[]));
            assert_eq!(
                config.migrator.operation_lock_timeout,
                Duration::from_millis(750),
                "{command}"
            );
            assert!(!config.migrator.contract_after_expand, "{command}");
        }
    }

    #[test]
    fn a_zero_lock_timeout_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        let cli =
            Cli::try_parse_from(["cairn", "--config", path.to_str().unwrap(), "status"]).unwrap();
        for zero in ["0", "0ms", "0s"] {
            std::fs::write(&path, format!("lock_timeout = \"{zero}\"\n")).unwrap();
            let err = format!("{:#}", Config::resolve(&cli, &env(&[]), false).unwrap_err());
            assert!(
                err.contains("`lock_timeout` in `") && err.contains("cairn.toml` is 0"),
                "{err}"
            );
            assert!(err.contains("`1s`"), "{err}");
        }
    }
}

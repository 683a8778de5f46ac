//! Turns the raw flags, the environment and `cairn.toml` into one validated
//! [`Config`] before any work starts.
//!
//! Precedence, highest first:
//! - database: `--database-url`, `CAIRN_DATABASE_URL`, `DATABASE_URL`,
//!   `database_url` in cairn.toml, `sqlite://cairn.db`;
//! - migrations directory: `--dir`, `migrations_dir` in cairn.toml (relative to
//!   the file's folder), `migrations`.
//!
//! An empty environment variable counts as unset.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use cairn_core::directive::parse_duration;
use cairn_core::url::DatabaseUrl;
use cairn_core::{HistoryTable, MigratorOptions, PlanOptions};
use serde::Deserialize;

use crate::args::{Cli, Command, Format};

/// The database URL Cairn uses when none is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://cairn.db";
/// The migrations directory Cairn uses when none is configured.
pub const DEFAULT_MIGRATIONS_DIR: &str = "migrations";
/// The configuration file read when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "cairn.toml";

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
}

/// The keys of `cairn.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    migrations_dir: Option<PathBuf>,
    history_table: Option<String>,
    history_schema: Option<String>,
    lock_timeout: Option<String>,
    lock_retries: Option<u32>,
    lock_wait: Option<String>,
    allow_out_of_order: Option<bool>,
    replica_urls: Option<Vec<String>>,
}

/// Where the process gets its environment, so resolution is testable.
pub trait Env {
    /// The value of `key`, `None` when unset or empty.
    fn var(&self, key: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl Config {
    /// Resolves the configuration for `cli` from `env` and the configuration file.
    pub fn resolve(cli: &Cli, env: &dyn Env, stdout_is_terminal: bool) -> anyhow::Result<Config> {
        let global = &cli.global;
        let (config_file, explicit) = match &global.config {
            Some(path) => (path.clone(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
        };
        let (file, config_file_exists) = read_file(&config_file, explicit)?;
        let base = config_file.parent().unwrap_or(Path::new(""));

        let migrations_dir = match (&global.dir, &file.migrations_dir) {
            (Some(dir), _) => dir.clone(),
            (None, Some(dir)) => base.join(dir),
            (None, None) => PathBuf::from(DEFAULT_MIGRATIONS_DIR),
        };

        let database_url = if cli.command.needs_database() {
            let (raw, from) =
                database_url(global.database_url.as_deref(), env, &file, &config_file);
            let url = DatabaseUrl::parse(&raw)
                .with_context(|| format!("the database URL from {from} is not usable"))?;
            tracing::debug!(url = %url, from, "database");
            Some(url)
        } else {
            None
        };

        let duration = |key: &str,
                        value: &Option<String>,
                        default: Duration|
         -> anyhow::Result<Duration> {
            match value {
                None => Ok(default),
                Some(text) => match parse_duration(text) {
                    Some(d) => Ok(d),
                    None => bail!(
                        "`{}`: `{key} = \"{text}\"` is not a duration: write a whole number with a unit, such as \"500ms\", \"5s\", \"10m\" or \"1h\"",
                        config_file.display()
                    ),
                },
            }
        };
        let defaults = MigratorOptions::default();
        let mut table = HistoryTable::default();
        if let Some(name) = &file.history_table {
            if name.trim().is_empty() {
                bail!(
                    "`{}`: `history_table` must not be empty",
                    config_file.display()
                );
            }
            table.name.clone_from(name);
        }
        table.schema.clone_from(&file.history_schema);
        if let Some(url) = &database_url {
            table
                .check_names(cairn_core::dialect::for_engine(url.engine()))
                .with_context(|| format!("`{}`", config_file.display()))?;
        }
        let allow_out_of_order = file.allow_out_of_order.unwrap_or(false)
            || matches!(&cli.command, Command::Up(up) if up.allow_out_of_order);
        let migrator = MigratorOptions {
            table,
            plan: PlanOptions { allow_out_of_order },
            lock_wait: duration("lock_wait", &file.lock_wait, defaults.lock_wait)?,
            statement_lock_timeout: cairn_core::retry::check_lock_timeout(
                duration(
                    "lock_timeout",
                    &file.lock_timeout,
                    defaults.statement_lock_timeout,
                )?,
                &format!("`lock_timeout` in `{}`", config_file.display()),
            )
            .map_err(anyhow::Error::msg)?,
            lock_retries: file.lock_retries.unwrap_or(defaults.lock_retries),
            actor: actor(env),
            ..defaults
        };

        let replica_urls = match &cli.command {
            Command::Up(up) if !up.replica_url.is_empty() => up
                .replica_url
                .iter()
                .map(|raw| DatabaseUrl::parse(raw).context("a --replica-url is not usable"))
                .collect::<anyhow::Result<Vec<_>>>()?,
            _ => file
                .replica_urls
                .iter()
                .flatten()
                .map(|raw| {
                    DatabaseUrl::parse(raw).with_context(|| {
                        format!(
                            "`{}`: an entry of `replica_urls` is not usable",
                            config_file.display()
                        )
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
        };

        Ok(Config {
            replica_urls,
            database_url,
            migrations_dir,
            config_file,
            config_file_exists,
            format: global.format,
            color: global.format == Format::Text
                && stdout_is_terminal
                && env.var("NO_COLOR").is_none(),
            migrator,
        })
    }

    /// The database URL; only commands that need one ask.
    pub fn database_url(&self) -> anyhow::Result<&DatabaseUrl> {
        self.database_url
            .as_ref()
            .context("this command does not take a database (an internal error: please report it)")
    }
}

/// Reads the configuration file; a missing file is fine unless it was named explicitly.
fn read_file(path: &Path, explicit: bool) -> anyhow::Result<(FileConfig, bool)> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok((FileConfig::default(), false))
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!("cannot read the configuration file `{}`", path.display())
            })
        }
    };
    let file: FileConfig = toml::from_str(&text).map_err(|e| {
        // Not toml's Display: its excerpt of the file could show a password.
        anyhow::anyhow!(
            "invalid configuration file `{}`{}: {}",
            path.display(),
            line_of(&text, e.span()),
            cairn_core::url::redact(e.message().trim_end())
        )
    })?;
    Ok((file, true))
}

/// ` at line N` for a byte span of `text`, for configuration errors.
fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map_or_else(String::new, |span| {
        let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
        format!(" at line {line}")
    })
}

/// The raw database URL and where it came from.
fn database_url(
    flag: Option<&str>,
    env: &dyn Env,
    file: &FileConfig,
    config_file: &Path,
) -> (String, String) {
    if let Some(url) = flag.filter(|u| !u.is_empty()) {
        return (url.to_owned(), "--database-url".to_owned());
    }
    for key in ["CAIRN_DATABASE_URL", "DATABASE_URL"] {
        if let Some(url) = env.var(key) {
            return (url, key.to_owned());
        }
    }
    if let Some(url) = &file.database_url {
        return (
            url.clone(),
            format!("`database_url` in `{}`", config_file.display()),
        );
    }
    (DEFAULT_DATABASE_URL.to_owned(), "the default".to_owned())
}

/// Who runs the migrations: `$USER` (or `$USERNAME`), plus `@$HOSTNAME` if set.
fn actor(env: &dyn Env) -> String {
    let user = env
        .var("USER")
        .or_else(|| env.var("USERNAME"))
        .unwrap_or_else(|| "unknown".to_owned());
    match env.var("HOSTNAME") {
        Some(host) => format!("{user}@{host}"),
        None => user,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
        assert_eq!(url(resolve(&["status"], &env(&[]))), DEFAULT_DATABASE_URL);
    }

    #[test]
    fn init_and_new_ignore_a_bad_url() {
        let bad = env(&[("DATABASE_URL", "mongodb://x")]);
        assert!(resolve(&["init"], &bad).database_url.is_none());
        assert!(resolve(&["new", "x"], &bad).database_url.is_none());
    }

    #[test]
    fn actor_is_user_at_host() {
        assert_eq!(
            actor(&env(&[("USER", "ann"), ("HOSTNAME", "box")])),
            "ann@box"
        );
        assert_eq!(actor(&env(&[("USERNAME", "bob")])), "bob");
        assert_eq!(actor(&env(&[])), "unknown");
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

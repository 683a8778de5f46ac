//! The `cairn.toml` model, and its resolution with the flags and the
//! environment into one validated [`Settings`] before any work starts.
//!
//! Precedence, highest first:
//! - database: the explicit URL (`--database-url`), `CAIRN_DATABASE_URL`,
//!   `DATABASE_URL`, `database_url` in cairn.toml, `sqlite://cairn.db`;
//! - migrations directory: the explicit one (`--dir`), `migrations_dir` in
//!   cairn.toml (relative to the file's folder), `migrations`;
//! - replicas: the explicit ones (`--replica-url`), else `replica_urls`;
//! - the lock timeout of zero-downtime operations: the explicit one
//!   (`--operation-lock-timeout`), `CAIRN_OPERATION_LOCK_TIMEOUT`,
//!   `operation_lock_timeout` in cairn.toml, 500 ms.
//!
//! An empty environment variable counts as unset. The command line itself
//! (clap, printing) stays in the binary: it fills an [`Overrides`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_core::directive::parse_duration;
use cairn_core::url::{DatabaseUrl, UnknownScheme};
use cairn_core::{HistoryTable, MigratorOptions, PlanOptions};
use serde::Deserialize;

/// The database URL Cairn uses when none is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://cairn.db";
/// The migrations directory Cairn uses when none is configured.
pub const DEFAULT_MIGRATIONS_DIR: &str = "migrations";
/// The configuration file read when none is named.
pub const DEFAULT_CONFIG_FILE: &str = "cairn.toml";

/// The keys of `cairn.toml`; an unknown key is an error.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConfigFile {
    /// `database_url`.
    pub database_url: Option<String>,
    /// `migrations_dir`, relative to the file's folder.
    pub migrations_dir: Option<PathBuf>,
    /// `history_table`.
    pub history_table: Option<String>,
    /// `history_schema`.
    pub history_schema: Option<String>,
    /// `lock_timeout`, a duration such as `"1s"`.
    pub lock_timeout: Option<String>,
    /// `lock_retries`.
    pub lock_retries: Option<u32>,
    /// `lock_wait`, a duration.
    pub lock_wait: Option<String>,
    /// `operation_lock_timeout`, a duration: the lock timeout of each DDL
    /// step of a zero-downtime operation.
    pub operation_lock_timeout: Option<String>,
    /// `allow_out_of_order`.
    pub allow_out_of_order: Option<bool>,
    /// `replica_urls`.
    pub replica_urls: Option<Vec<String>>,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file exists (or was named) and cannot be read.
    #[error("cannot read the configuration file `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key.
    #[error("invalid configuration file `{}`{}: {message}", path.display(), line.map_or_else(String::new, |l| format!(" at line {l}")))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line of the fault, when known.
        line: Option<usize>,
        /// What is wrong (any URL in it redacted).
        message: String,
    },
    /// A duration key holds something else.
    #[error("`{}`: `{key} = \"{value}\"` is not a duration: write a whole number with a unit, such as \"500ms\", \"5s\", \"10m\" or \"1h\"", path.display())]
    NotADuration {
        /// The file.
        path: PathBuf,
        /// The key.
        key: &'static str,
        /// Its value.
        value: String,
    },
    /// `history_table = ""`.
    #[error("`{}`: `history_table` must not be empty", path.display())]
    EmptyHistoryTable {
        /// The file.
        path: PathBuf,
    },
    /// The history table's name does not fit the engine.
    #[error("`{}`", path.display())]
    HistoryTable {
        /// The file.
        path: PathBuf,
        /// What the engine refuses (boxed: core's error is large).
        #[source]
        source: Box<cairn_core::Error>,
    },
    /// `lock_timeout` is refused (0).
    #[error("{0}")]
    LockTimeout(String),
    /// `--operation-lock-timeout` or `CAIRN_OPERATION_LOCK_TIMEOUT` is not a duration.
    #[error("{from} is `{value}`, which is not a duration: write a whole number with a unit, such as \"500ms\", \"2s\" or \"1m\"")]
    NotADurationArgument {
        /// Where it came from (`--operation-lock-timeout`, the environment variable).
        from: &'static str,
        /// Its value.
        value: String,
    },
    /// The database URL cannot be used.
    #[error("the database URL from {from} is not usable")]
    DatabaseUrl {
        /// Where it came from (`--database-url`, `DATABASE_URL`, the file...).
        from: String,
        /// Why.
        #[source]
        source: UnknownScheme,
    },
    /// A replica URL cannot be used.
    #[error("{from} is not usable")]
    ReplicaUrl {
        /// Which one (`a --replica-url`, an entry of the file's `replica_urls`).
        from: String,
        /// Why.
        #[source]
        source: UnknownScheme,
    },
}

/// Where resolution gets the environment, so it is testable.
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

/// What the caller (the command line) says explicitly; each wins over the
/// environment and the file.
#[derive(Debug, Default, Clone)]
#[non_exhaustive]
pub struct Overrides {
    /// The configuration file (`--config`): then it must exist.
    pub config_file: Option<PathBuf>,
    /// The migrations directory (`--dir`).
    pub migrations_dir: Option<PathBuf>,
    /// The database URL (`--database-url`); empty counts as unset.
    pub database_url: Option<String>,
    /// Whether a database URL is resolved at all (`init` and `new` need none,
    /// so a bad URL does not stop them).
    pub needs_database: bool,
    /// Out-of-order migrations allowed (`up --allow-out-of-order`), on top
    /// of the file's `allow_out_of_order`.
    pub allow_out_of_order: bool,
    /// Replica URLs (`up --replica-url`); when empty, the file's `replica_urls`.
    pub replica_urls: Vec<String>,
    /// The lock timeout of zero-downtime operations as written
    /// (`--operation-lock-timeout 2s`), validated here.
    pub operation_lock_timeout: Option<String>,
}

/// Everything a run needs, resolved and validated.
#[derive(Debug)]
#[non_exhaustive]
pub struct Settings {
    /// The database; `None` when [`Overrides::needs_database`] was false.
    pub database_url: Option<DatabaseUrl>,
    /// The migrations directory.
    pub migrations_dir: PathBuf,
    /// The configuration file path (read if it existed).
    pub config_file: PathBuf,
    /// Whether the configuration file existed.
    pub config_file_exists: bool,
    /// The options of the migrator.
    pub migrator: MigratorOptions,
    /// Replicas whose lag a backfill's `max_replication_lag` limits.
    pub replica_urls: Vec<DatabaseUrl>,
}

impl ConfigFile {
    /// Reads `path`; a missing file is `None` unless it was named `explicit`ly.
    pub fn read(path: &Path, explicit: bool) -> Result<Option<ConfigFile>, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => ConfigFile::parse(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(None),
            Err(source) => Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Parses the text of the file at `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            line: e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1),
            // Not toml's Display: its excerpt of the file could show a password.
            message: cairn_core::url::redact(e.message().trim_end()),
        })
    }
}

impl Settings {
    /// Resolves `overrides` with `env` and the configuration file.
    pub fn resolve(overrides: &Overrides, env: &dyn Env) -> Result<Settings, ConfigError> {
        let (config_file, explicit) = match &overrides.config_file {
            Some(path) => (path.clone(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
        };
        let read = ConfigFile::read(&config_file, explicit)?;
        let config_file_exists = read.is_some();
        let file = read.unwrap_or_default();
        let base = config_file.parent().unwrap_or(Path::new(""));

        let migrations_dir = match (&overrides.migrations_dir, &file.migrations_dir) {
            (Some(dir), _) => dir.clone(),
            (None, Some(dir)) => base.join(dir),
            (None, None) => PathBuf::from(DEFAULT_MIGRATIONS_DIR),
        };

        let database_url = if overrides.needs_database {
            let (raw, from) =
                database_url(overrides.database_url.as_deref(), env, &file, &config_file);
            let url = DatabaseUrl::parse(&raw).map_err(|source| ConfigError::DatabaseUrl {
                from: from.clone(),
                source,
            })?;
            tracing::debug!(url = %url, from, "database");
            Some(url)
        } else {
            None
        };

        let duration = |key: &'static str,
                        value: &Option<String>,
                        default: Duration|
         -> Result<Duration, ConfigError> {
            match value {
                None => Ok(default),
                Some(text) => parse_duration(text).ok_or_else(|| ConfigError::NotADuration {
                    path: config_file.clone(),
                    key,
                    value: text.clone(),
                }),
            }
        };
        let defaults = MigratorOptions::default();
        let mut table = HistoryTable::default();
        if let Some(name) = &file.history_table {
            if name.trim().is_empty() {
                return Err(ConfigError::EmptyHistoryTable {
                    path: config_file.clone(),
                });
            }
            table.name.clone_from(name);
        }
        table.schema.clone_from(&file.history_schema);
        if let Some(url) = &database_url {
            table
                .check_names(crate::dialect::for_engine(url.engine()))
                .map_err(|source| ConfigError::HistoryTable {
                    path: config_file.clone(),
                    source: Box::new(source),
                })?;
        }
        let allow_out_of_order =
            file.allow_out_of_order.unwrap_or(false) || overrides.allow_out_of_order;
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
            .map_err(ConfigError::LockTimeout)?,
            lock_retries: file.lock_retries.unwrap_or(defaults.lock_retries),
            operation_lock_timeout: operation_lock_timeout(
                overrides.operation_lock_timeout.as_deref(),
                env,
                duration(
                    "operation_lock_timeout",
                    &file.operation_lock_timeout,
                    defaults.operation_lock_timeout,
                )?,
                &config_file,
            )?,
            actor: actor(env),
            ..defaults
        };

        let replica_urls = if overrides.replica_urls.is_empty() {
            file.replica_urls
                .iter()
                .flatten()
                .map(|raw| {
                    DatabaseUrl::parse(raw).map_err(|source| ConfigError::ReplicaUrl {
                        from: format!("`{}`: an entry of `replica_urls`", config_file.display()),
                        source,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            overrides
                .replica_urls
                .iter()
                .map(|raw| {
                    DatabaseUrl::parse(raw).map_err(|source| ConfigError::ReplicaUrl {
                        from: "a --replica-url".to_owned(),
                        source,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        };

        Ok(Settings {
            database_url,
            migrations_dir,
            config_file,
            config_file_exists,
            migrator,
            replica_urls,
        })
    }
}

/// The raw database URL and where it came from.
fn database_url(
    explicit: Option<&str>,
    env: &dyn Env,
    file: &ConfigFile,
    config_file: &Path,
) -> (String, String) {
    if let Some(url) = explicit.filter(|u| !u.is_empty()) {
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

/// The operation lock timeout: `explicit` (the flag), else the environment,
/// else `from_file` (the file's value or the default); 0 is refused as for
/// `lock_timeout`.
fn operation_lock_timeout(
    explicit: Option<&str>,
    env: &dyn Env,
    from_file: Duration,
    config_file: &Path,
) -> Result<Duration, ConfigError> {
    let (timeout, what) = match (explicit, env.var("CAIRN_OPERATION_LOCK_TIMEOUT")) {
        (Some(text), _) => (
            argument("--operation-lock-timeout", text)?,
            "`--operation-lock-timeout`".to_owned(),
        ),
        (None, Some(text)) => (
            argument("CAIRN_OPERATION_LOCK_TIMEOUT", &text)?,
            "`CAIRN_OPERATION_LOCK_TIMEOUT`".to_owned(),
        ),
        (None, None) => (
            from_file,
            format!("`operation_lock_timeout` in `{}`", config_file.display()),
        ),
    };
    cairn_core::retry::check_lock_timeout(timeout, &what).map_err(ConfigError::LockTimeout)
}

fn argument(from: &'static str, text: &str) -> Result<Duration, ConfigError> {
    parse_duration(text).ok_or_else(|| ConfigError::NotADurationArgument {
        from,
        value: text.to_owned(),
    })
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

    fn in_file(text: &str) -> (tempfile::TempDir, Overrides) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(&path, text).unwrap();
        let overrides = Overrides {
            config_file: Some(path),
            needs_database: true,
            ..Overrides::default()
        };
        (dir, overrides)
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
    fn a_named_file_must_exist_and_a_default_one_need_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("cairn.toml");
        assert_eq!(ConfigFile::read(&missing, false).unwrap(), None);
        let err = ConfigFile::read(&missing, true).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
        assert!(err.to_string().contains("cairn.toml"), "{err}");
    }

    #[test]
    fn an_invalid_file_names_the_line_without_a_password() {
        let err = ConfigFile::parse(
            "database_url = \"postgres://u:hunter2@h/db\"\nx = 1\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, ConfigError::Invalid { line: Some(2), .. }),
            "{message}"
        );
        assert!(
            message.starts_with("invalid configuration file `c.toml` at line 2"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn an_empty_history_table_is_refused() {
        let (_dir, overrides) = in_file("history_table = \"  \"\n");
        let err = Settings::resolve(&overrides, &env(&[])).unwrap_err();
        assert!(
            matches!(err, ConfigError::EmptyHistoryTable { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("must not be empty"), "{err}");
    }

    #[test]
    fn a_history_table_too_long_for_the_engine_names_the_file() {
        let long = "h".repeat(70);
        let (_dir, mut overrides) = in_file(&format!("history_table = \"{long}\"\n"));
        overrides.database_url = Some("postgres://u@h/db".to_owned());
        let err = Settings::resolve(&overrides, &env(&[])).unwrap_err();
        assert!(matches!(err, ConfigError::HistoryTable { .. }), "{err}");
        assert!(err.to_string().contains("cairn.toml"), "{err}");
    }

    #[test]
    fn bad_urls_say_where_they_came_from() {
        let (_dir, overrides) = in_file("database_url = \"mongodb://x\"\n");
        let err = Settings::resolve(&overrides, &env(&[])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the database URL from `database_url` in `"),
            "{err}"
        );
        let (_dir, overrides) = in_file("replica_urls = [\"mongodb://r\"]\n");
        let err = Settings::resolve(&overrides, &env(&[])).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("an entry of `replica_urls` is not usable"),
            "{err}"
        );
        let overrides = Overrides {
            replica_urls: vec!["mongodb://r".to_owned()],
            ..overrides
        };
        let err = Settings::resolve(&overrides, &env(&[])).unwrap_err();
        assert_eq!(err.to_string(), "a --replica-url is not usable");
    }

    #[test]
    fn the_operation_lock_timeout_comes_from_the_flag_the_environment_or_the_file() {
        let (_dir, mut overrides) = in_file("operation_lock_timeout = \"2s\"\n");
        let timeout = |o: &Overrides, e: &FakeEnv| {
            Settings::resolve(o, e).map(|s| s.migrator.operation_lock_timeout)
        };
        assert_eq!(
            timeout(&overrides, &env(&[])).unwrap(),
            Duration::from_secs(2)
        );
        let from_env = env(&[("CAIRN_OPERATION_LOCK_TIMEOUT", "3s")]);
        assert_eq!(
            timeout(&overrides, &from_env).unwrap(),
            Duration::from_secs(3)
        );
        overrides.operation_lock_timeout = Some("250ms".to_owned());
        assert_eq!(
            timeout(&overrides, &from_env).unwrap(),
            Duration::from_millis(250)
        );
        let (_dir, empty) = in_file("");
        assert_eq!(
            timeout(&empty, &env(&[])).unwrap(),
            Duration::from_millis(500),
            "the default"
        );
    }

    #[test]
    fn a_bad_operation_lock_timeout_says_where_it_came_from() {
        let (_dir, overrides) = in_file("operation_lock_timeout = \"soon\"\n");
        let err = Settings::resolve(&overrides, &env(&[])).unwrap_err();
        assert!(
            err.to_string()
                .contains("`operation_lock_timeout = \"soon\"` is not a duration"),
            "{err}"
        );
        let (_dir, mut overrides) = in_file("");
        overrides.operation_lock_timeout = Some("0".to_owned());
        let err = Settings::resolve(&overrides, &env(&[])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`--operation-lock-timeout` is 0"),
            "{err}"
        );
        overrides.operation_lock_timeout = None;
        let err = Settings::resolve(&overrides, &env(&[("CAIRN_OPERATION_LOCK_TIMEOUT", "5 s")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "CAIRN_OPERATION_LOCK_TIMEOUT is `5 s`, which is not a duration: write a whole number with a unit, such as \"500ms\", \"2s\" or \"1m\""
        );
    }

    #[test]
    fn explicit_replicas_win_over_the_file() {
        let (_dir, mut overrides) = in_file("replica_urls = [\"sqlite://file.db\"]\n");
        let settings = Settings::resolve(&overrides, &env(&[])).unwrap();
        assert_eq!(settings.replica_urls[0].expose(), "sqlite://file.db");
        overrides.replica_urls = vec!["sqlite://flag.db".to_owned()];
        let settings = Settings::resolve(&overrides, &env(&[])).unwrap();
        assert_eq!(settings.replica_urls.len(), 1);
        assert_eq!(settings.replica_urls[0].expose(), "sqlite://flag.db");
    }
}

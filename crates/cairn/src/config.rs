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
//! Every key of `cairn.toml` is also read from a `CAIRN_*` environment
//! variable ([`KEYS`] lists them), which wins over the file and loses to the
//! flag: `CAIRN_MIGRATIONS_DIR` (relative to the current directory),
//! `CAIRN_LOCK_TIMEOUT`, `CAIRN_REPLICA_URLS` (comma-separated), and so on.
//!
//! An empty environment variable counts as unset. The command line itself
//! (clap, printing, `.env`) stays in the binary: it fills an [`Overrides`]
//! and gives the [`Env`].
//!
//! An application resolves the same settings as `cairn` would, with its own
//! environment (here a fixed one; [`ProcessEnv`] is the real one):
//!
//! ```
//! use std::time::Duration;
//! use cairn::config::{Env, Overrides, Settings};
//!
//! struct Vars;
//! impl Env for Vars {
//!     fn var(&self, key: &str) -> Option<String> {
//!         match key {
//!             "CAIRN_LOCK_WAIT" => Some("5s".to_owned()),
//!             "CAIRN_MIGRATIONS_DIR" => Some("db/migrations".to_owned()),
//!             _ => None,
//!         }
//!     }
//! }
//!
//! let mut overrides = Overrides::default();
//! overrides.needs_database = true;
//! let settings = Settings::resolve(&overrides, &Vars)?;
//! assert_eq!(settings.migrator.lock_wait, Duration::from_secs(5));
//! assert_eq!(settings.migrations_dir, std::path::Path::new("db/migrations"));
//! assert_eq!(
//!     settings.database_url.unwrap().expose(),
//!     cairn::config::DEFAULT_DATABASE_URL
//! );
//! # Ok::<(), cairn::config::ConfigError>(())
//! ```

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

/// How the value of a [`Key`] is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// A string.
    Text,
    /// A path (in the file: relative to the file's folder; in the
    /// environment: to the current directory).
    Path,
    /// A duration such as `"500ms"`, `"5s"`, `"10m"`.
    Duration,
    /// A whole number.
    Integer,
    /// `true` or `false` (in the environment also `1`/`0`, `yes`/`no`).
    Bool,
    /// URLs: an array in the file, comma-separated in the environment.
    UrlList,
}

impl KeyKind {
    /// How docs name it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Text => "string",
            KeyKind::Path => "path",
            KeyKind::Duration => "duration",
            KeyKind::Integer => "integer",
            KeyKind::Bool => "boolean",
            KeyKind::UrlList => "list of URLs",
        }
    }
}

/// A key of `cairn.toml` and the environment variable that sets it.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Key {
    /// The key in `cairn.toml`.
    pub name: &'static str,
    /// The environment variable (which wins over the file).
    pub env: &'static str,
    /// How its value is written.
    pub kind: KeyKind,
    /// What applies when it is not set.
    pub default: &'static str,
    /// What it does.
    pub about: &'static str,
}

/// Every key of `cairn.toml`, with its `CAIRN_*` variable. A test checks that
/// it names every field of [`ConfigFile`], and that docs/cli.md shows
/// [`keys_table`].
pub const KEYS: &[Key] = &[
    Key {
        name: "database_url",
        env: "CAIRN_DATABASE_URL",
        kind: KeyKind::Text,
        default: "`sqlite://cairn.db`",
        about: "The database (`DATABASE_URL` too, under `CAIRN_DATABASE_URL`)",
    },
    Key {
        name: "migrations_dir",
        env: "CAIRN_MIGRATIONS_DIR",
        kind: KeyKind::Path,
        default: "`migrations`",
        about: "Where the migrations live",
    },
    Key {
        name: "history_table",
        env: "CAIRN_HISTORY_TABLE",
        kind: KeyKind::Text,
        default: "`cairn_history`",
        about: "The history table",
    },
    Key {
        name: "history_schema",
        env: "CAIRN_HISTORY_SCHEMA",
        kind: KeyKind::Text,
        default: "the connection's",
        about: "The schema of the history table (PostgreSQL, MySQL)",
    },
    Key {
        name: "lock_timeout",
        env: "CAIRN_LOCK_TIMEOUT",
        kind: KeyKind::Duration,
        default: "`1s`",
        about: "How long one statement waits for a lock before it is retried",
    },
    Key {
        name: "lock_retries",
        env: "CAIRN_LOCK_RETRIES",
        kind: KeyKind::Integer,
        default: "`19`",
        about: "How many times a statement that timed out on a lock is retried",
    },
    Key {
        name: "lock_wait",
        env: "CAIRN_LOCK_WAIT",
        kind: KeyKind::Duration,
        default: "`60s`",
        about: "How long to wait for the migration lock held by another runner",
    },
    Key {
        name: "operation_lock_timeout",
        env: "CAIRN_OPERATION_LOCK_TIMEOUT",
        kind: KeyKind::Duration,
        default: "`500ms`",
        about: "The lock timeout of each DDL step of a zero-downtime operation (`--operation-lock-timeout`)",
    },
    Key {
        name: "allow_out_of_order",
        env: "CAIRN_ALLOW_OUT_OF_ORDER",
        kind: KeyKind::Bool,
        default: "`false`",
        about: "Apply pending migrations older than the newest applied one (`up --allow-out-of-order`)",
    },
    Key {
        name: "replica_urls",
        env: "CAIRN_REPLICA_URLS",
        kind: KeyKind::UrlList,
        default: "none",
        about: "Replicas whose lag a backfill's `max_replication_lag` limits (`up --replica-url`)",
    },
];

/// The Markdown table of [`KEYS`], as docs/cli.md shows it.
pub fn keys_table() -> String {
    let mut text = String::from(
        "| `cairn.toml` key | Environment variable | Type | Default | What it does |\n|---|---|---|---|---|\n",
    );
    for key in KEYS {
        text.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} |\n",
            key.name,
            key.env,
            key.kind.as_str(),
            key.default,
            key.about
        ));
    }
    text
}

/// The keys of `cairn.toml`; an unknown key is an error.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
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
    /// A `CAIRN_*` variable holds something its key does not take.
    #[error("{var} is `{value}`, which is not {expected}")]
    NotAnEnvValue {
        /// The variable.
        var: &'static str,
        /// Its value (never a URL's).
        value: String,
        /// What it should be.
        expected: &'static str,
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

impl ConfigFile {
    /// `over`'s keys where it sets them, else this file's.
    fn overlaid(self, over: ConfigFile) -> ConfigFile {
        // No `..`: a new key does not compile until it is merged here too.
        let ConfigFile {
            database_url,
            migrations_dir,
            history_table,
            history_schema,
            lock_timeout,
            lock_retries,
            lock_wait,
            operation_lock_timeout,
            allow_out_of_order,
            replica_urls,
        } = over;
        ConfigFile {
            database_url: database_url.or(self.database_url),
            migrations_dir: migrations_dir.or(self.migrations_dir),
            history_table: history_table.or(self.history_table),
            history_schema: history_schema.or(self.history_schema),
            lock_timeout: lock_timeout.or(self.lock_timeout),
            lock_retries: lock_retries.or(self.lock_retries),
            lock_wait: lock_wait.or(self.lock_wait),
            operation_lock_timeout: operation_lock_timeout.or(self.operation_lock_timeout),
            allow_out_of_order: allow_out_of_order.or(self.allow_out_of_order),
            replica_urls: replica_urls.or(self.replica_urls),
        }
    }

    /// The keys the environment sets (`CAIRN_*`, see [`KEYS`]), as a file,
    /// and their names. A value its key cannot take is an error naming the
    /// variable.
    pub fn from_env(env: &dyn Env) -> Result<(ConfigFile, Vec<&'static str>), ConfigError> {
        let mut table = toml::Table::new();
        let mut names = Vec::new();
        for key in KEYS {
            let Some(raw) = env.var(key.env) else {
                continue;
            };
            table.insert(key.name.to_owned(), env_value(key, &raw)?);
            names.push(key.name);
        }
        let layer = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                path: PathBuf::from("the environment"),
                line: None,
                message: cairn_core::url::redact(e.message().trim_end()),
            })?;
        Ok((layer, names))
    }
}

/// The TOML value of `raw`, the value of `key`'s variable.
fn env_value(key: &Key, raw: &str) -> Result<toml::Value, ConfigError> {
    let bad = |expected| ConfigError::NotAnEnvValue {
        var: key.env,
        value: raw.to_owned(),
        expected,
    };
    Ok(match key.kind {
        KeyKind::Text | KeyKind::Path => {
            if raw.trim().is_empty() {
                return Err(bad("a value (it is blank)"));
            }
            toml::Value::String(raw.to_owned())
        }
        KeyKind::Duration => {
            if parse_duration(raw).is_none() {
                return Err(ConfigError::NotADurationArgument {
                    from: key.env,
                    value: raw.to_owned(),
                });
            }
            toml::Value::String(raw.to_owned())
        }
        KeyKind::Integer => raw
            .trim()
            .parse::<u32>()
            .map(|n| toml::Value::Integer(n.into()))
            .map_err(|_| bad("a whole number"))?,
        KeyKind::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
            _ => return Err(bad("`true` or `false`")),
        },
        KeyKind::UrlList => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(|u| toml::Value::String(u.to_owned()))
                .collect(),
        ),
    })
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
        let (layer, from_env) = ConfigFile::from_env(env)?;
        let in_env = |name: &str| from_env.contains(&name);
        let file = read.unwrap_or_default().overlaid(layer);
        let base = config_file.parent().unwrap_or(Path::new(""));

        let migrations_dir = match (&overrides.migrations_dir, &file.migrations_dir) {
            (Some(dir), _) => dir.clone(),
            // CAIRN_MIGRATIONS_DIR: relative to the current directory.
            (None, Some(dir)) if in_env("migrations_dir") => dir.clone(),
            (None, Some(dir)) => base.join(dir),
            (None, None) => PathBuf::from(DEFAULT_MIGRATIONS_DIR),
        };
        // Where a key's value came from, for messages.
        let origin = |name: &str| match KEYS.iter().find(|k| k.name == name && in_env(name)) {
            Some(key) => format!("`{}`", key.env),
            None => format!("`{name}` in `{}`", config_file.display()),
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
                    path: ["history_table", "history_schema"]
                        .into_iter()
                        .filter(|name| in_env(name))
                        .find_map(|name| KEYS.iter().find(|k| k.name == name))
                        .map_or_else(|| config_file.clone(), |key| PathBuf::from(key.env)),
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
                &origin("lock_timeout"),
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
                        from: if in_env("replica_urls") {
                            "an entry of `CAIRN_REPLICA_URLS`".to_owned()
                        } else {
                            format!("`{}`: an entry of `replica_urls`", config_file.display())
                        },
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
    fn every_field_of_the_file_is_a_key_with_a_variable() {
        // serde lists every field of `ConfigFile` when it refuses an unknown one.
        let err = ConfigFile::parse("no_such_key = 1\n", Path::new("c.toml")).unwrap_err();
        let message = err.to_string();
        let listed = message
            .split_once("expected one of ")
            .unwrap_or_else(|| panic!("serde's message changed: {message}"))
            .1;
        let fields: Vec<&str> = listed.split(", ").map(|f| f.trim_matches('`')).collect();
        let keys: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        assert_eq!(fields, keys, "add the new key to KEYS (config.rs)");
        for key in KEYS {
            assert_eq!(
                key.env,
                format!("CAIRN_{}", key.name.to_ascii_uppercase()),
                "{}",
                key.name
            );
        }
    }

    #[test]
    fn every_key_is_read_from_its_variable() {
        for key in KEYS {
            let sample = match key.kind {
                KeyKind::Text | KeyKind::Path => "x",
                KeyKind::Duration => "2s",
                KeyKind::Integer => "7",
                KeyKind::Bool => "true",
                KeyKind::UrlList => "sqlite://a.db, sqlite://b.db",
            };
            let (layer, names) = ConfigFile::from_env(&env(&[(key.env, sample)])).unwrap();
            assert_eq!(names, [key.name]);
            let table = toml::Table::try_from(&layer).unwrap();
            assert!(table.contains_key(key.name), "{} is not read", key.env);
            assert_eq!(table.len(), 1, "{table:?}");
        }
        let (layer, _) = ConfigFile::from_env(&env(&[(
            "CAIRN_REPLICA_URLS",
            "sqlite://a.db, sqlite://b.db,",
        )]))
        .unwrap();
        assert_eq!(
            layer.replica_urls.unwrap(),
            ["sqlite://a.db", "sqlite://b.db"]
        );
    }

    #[test]
    fn a_variable_wins_over_the_file_and_loses_to_the_flag() {
        let (_dir, mut overrides) = in_file(
            "migrations_dir = \"db\"\nlock_timeout = \"2s\"\nlock_retries = 3\nlock_wait = \"1m\"\nallow_out_of_order = true\nhistory_table = \"h\"\nreplica_urls = [\"sqlite://file.db\"]\n",
        );
        let vars = env(&[
            ("CAIRN_MIGRATIONS_DIR", "env/migrations"),
            ("CAIRN_LOCK_TIMEOUT", "3s"),
            ("CAIRN_LOCK_RETRIES", "4"),
            ("CAIRN_LOCK_WAIT", "5s"),
            ("CAIRN_ALLOW_OUT_OF_ORDER", "false"),
            ("CAIRN_HISTORY_TABLE", "env_history"),
            ("CAIRN_HISTORY_SCHEMA", "ops"),
            ("CAIRN_REPLICA_URLS", "sqlite://env.db"),
        ]);
        let settings = Settings::resolve(&overrides, &vars).unwrap();
        // Relative to the current directory, not to the file's folder.
        assert_eq!(settings.migrations_dir, PathBuf::from("env/migrations"));
        let m = &settings.migrator;
        assert_eq!(m.statement_lock_timeout, Duration::from_secs(3));
        assert_eq!(m.lock_retries, 4);
        assert_eq!(m.lock_wait, Duration::from_secs(5));
        assert!(!m.plan.allow_out_of_order);
        assert_eq!(m.table.name, "env_history");
        assert_eq!(m.table.schema.as_deref(), Some("ops"));
        assert_eq!(settings.replica_urls[0].expose(), "sqlite://env.db");

        overrides.migrations_dir = Some(PathBuf::from("flag"));
        overrides.allow_out_of_order = true;
        overrides.replica_urls = vec!["sqlite://flag.db".to_owned()];
        let settings = Settings::resolve(&overrides, &vars).unwrap();
        assert_eq!(settings.migrations_dir, PathBuf::from("flag"));
        assert!(settings.migrator.plan.allow_out_of_order);
        assert_eq!(settings.replica_urls[0].expose(), "sqlite://flag.db");

        // Without the variables, the file's values.
        let (dir, overrides) = in_file("migrations_dir = \"db\"\nlock_retries = 3\n");
        let settings = Settings::resolve(&overrides, &env(&[])).unwrap();
        assert_eq!(settings.migrations_dir, dir.path().join("db"));
        assert_eq!(settings.migrator.lock_retries, 3);
    }

    #[test]
    fn a_bad_variable_is_named_and_nothing_is_resolved() {
        let (_dir, overrides) = in_file("");
        let error = |pairs: &[(&'static str, &'static str)]| {
            Settings::resolve(&overrides, &env(pairs))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error(&[("CAIRN_LOCK_RETRIES", "many")]),
            "CAIRN_LOCK_RETRIES is `many`, which is not a whole number"
        );
        assert_eq!(
            error(&[("CAIRN_ALLOW_OUT_OF_ORDER", "maybe")]),
            "CAIRN_ALLOW_OUT_OF_ORDER is `maybe`, which is not `true` or `false`"
        );
        assert!(error(&[("CAIRN_LOCK_WAIT", "soon")])
            .starts_with("CAIRN_LOCK_WAIT is `soon`, which is not a duration"),);
        assert!(error(&[("CAIRN_HISTORY_TABLE", "  ")])
            .starts_with("CAIRN_HISTORY_TABLE is `  `, which is not a value"),);
        let zero = error(&[("CAIRN_LOCK_TIMEOUT", "0s")]);
        assert!(zero.starts_with("`CAIRN_LOCK_TIMEOUT` is 0"), "{zero}");
        assert_eq!(
            error(&[("CAIRN_REPLICA_URLS", "sqlite://ok.db,mongodb://r")]),
            "an entry of `CAIRN_REPLICA_URLS` is not usable"
        );
        let long = "h".repeat(70);
        let long: &'static str = Box::leak(long.into_boxed_str());
        let (_dir, mut overrides) = in_file("");
        overrides.database_url = Some("postgres://u@h/db".to_owned());
        let err =
            Settings::resolve(&overrides, &env(&[("CAIRN_HISTORY_TABLE", long)])).unwrap_err();
        assert!(
            err.to_string().starts_with("`CAIRN_HISTORY_TABLE`"),
            "{err}"
        );
    }

    /// docs/cli.md shows [`keys_table`] between its markers; with
    /// `CAIRN_UPDATE_DOCS=1` this test writes it there.
    #[test]
    fn the_docs_list_every_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
        let text = std::fs::read_to_string(&path).expect("docs/cli.md");
        let (start, end) = ("<!-- keys:start -->\n", "<!-- keys:end -->");
        let from = text.find(start).expect("the start marker") + start.len();
        let to = text.find(end).expect("the end marker");
        let table = keys_table();
        if text[from..to] != table && std::env::var_os("CAIRN_UPDATE_DOCS").is_some() {
            std::fs::write(&path, format!("{}{table}{}", &text[..from], &text[to..])).unwrap();
            return;
        }
        assert_eq!(
            text[from..to],
            table,
            "docs/cli.md is out of date: run `CAIRN_UPDATE_DOCS=1 cargo test -p cairn the_docs_list_every_key`"
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

//! `migration.toml`: the declarative part of a migration, read into [`Backfill`]s.
//!
//! ```toml
//! [[backfill]]
//! table = "users"
//! set = "email_lower = lower(email)"
//! where = "email_lower IS NULL"
//! batch_size = 5000          # rows per batch (default 5000)
//! pause = "10ms"             # sleep between batches (default none)
//! target_batch_time = "100ms" # adapt the batch size to this (default none)
//! max_replication_lag = "5s" # wait while replicas lag more (PostgreSQL)
//!
//! [backfill.mysql]           # optional per-engine overrides of set / where
//! set = "email_lower = LOWER(email)"
//! ```
//!
//! A backfill is either SQL (`set`, optional `where`) or Rust (`rust = "<name>"`,
//! a [`super::DataMigration`] the running program registered), never both.
//! Unknown keys are refused with the file and line, so a typo never silently
//! drops a setting.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::directive::parse_duration;
use crate::engine::Engine;
use crate::error::Error;

/// The most rows one batch may hold; larger batches make long transactions.
pub const MAX_BATCH_SIZE: u64 = 100_000;

/// The default rows per batch.
pub const DEFAULT_BATCH_SIZE: u64 = 5_000;

/// One backfill of a migration, as declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backfill {
    /// The table to page through (by its primary key).
    pub table: String,
    /// What it does to each batch.
    pub action: Action,
    /// How batches are sized and paced.
    pub batch: BatchOptions,
    /// `path:line` of its `[[backfill]]` header, for messages.
    pub location: String,
}

/// What a backfill does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `UPDATE table SET <set> WHERE <filter>`, batch by batch.
    Sql {
        /// The assignments, e.g. `email_lower = lower(email)`.
        set: String,
        /// Which rows need it, e.g. `email_lower IS NULL`; `None` for every row.
        filter: Option<String>,
        /// `set` / `where` overrides per engine.
        overrides: BTreeMap<Engine, SqlOverride>,
    },
    /// A data migration written in Rust, registered under this name.
    Rust {
        /// The registered name.
        name: String,
        /// Which rows it reads; `None` for every row.
        filter: Option<String>,
    },
}

/// Per-engine replacements for a SQL backfill's `set` and `where`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlOverride {
    /// Replaces `set`.
    pub set: Option<String>,
    /// Replaces `where`.
    #[serde(rename = "where")]
    pub filter: Option<String>,
}

impl Action {
    /// The `SET` assignments and the filter on `engine` (`set` is empty for Rust).
    pub fn sql_for(&self, engine: Engine) -> (Option<&str>, Option<&str>) {
        match self {
            Action::Sql {
                set,
                filter,
                overrides,
            } => {
                let o = overrides.get(&engine);
                (
                    Some(o.and_then(|o| o.set.as_deref()).unwrap_or(set)),
                    o.and_then(|o| o.filter.as_deref()).or(filter.as_deref()),
                )
            }
            Action::Rust { filter, .. } => (None, filter.as_deref()),
        }
    }
}

/// Batch sizing and pacing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchOptions {
    /// Rows per batch to start with.
    pub size: u64,
    /// Sleep between batches.
    pub pause: Duration,
    /// When set, the batch size adapts so that a batch takes about this long.
    pub target_time: Option<Duration>,
    /// When set, wait between batches while a replica lags more than this.
    pub max_replication_lag: Option<Duration>,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            size: DEFAULT_BATCH_SIZE,
            pause: Duration::ZERO,
            target_time: None,
            max_replication_lag: None,
        }
    }
}

/// Batch settings as written (`batch_size`, `pause`, `target_batch_time`,
/// `max_replication_lag`), each `None` where the file leaves it out: a
/// `[[backfill]]` applies them to the defaults, an `[[operation]]` to the
/// engine's own batch options for its backfills.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchSettings {
    /// Rows per batch to start with.
    pub size: Option<u64>,
    /// Sleep between batches.
    pub pause: Option<Duration>,
    /// Adapt the batch size so that a batch takes about this long.
    pub target_time: Option<Duration>,
    /// Wait between batches while a replica lags more than this.
    pub max_replication_lag: Option<Duration>,
}

impl BatchSettings {
    /// Reads and checks the four settings; `Err` says which one is wrong and how to write it.
    pub fn read(
        size: Option<u64>,
        pause: Option<&str>,
        target_time: Option<&str>,
        max_replication_lag: Option<&str>,
    ) -> Result<BatchSettings, String> {
        if let Some(size) = size.filter(|&size| size == 0 || size > MAX_BATCH_SIZE) {
            return Err(format!(
                "`batch_size` must be between 1 and {MAX_BATCH_SIZE}, found {size}"
            ));
        }
        let duration = |key: &str, value: Option<&str>| -> Result<Option<Duration>, String> {
            value
                .map(|v| {
                    parse_duration(v).ok_or_else(|| {
                        format!("`{key}` must be a duration like `50ms`, `2s` or `1m`, found `{v}`")
                    })
                })
                .transpose()
        };
        let settings = BatchSettings {
            size,
            pause: duration("pause", pause)?,
            target_time: duration("target_batch_time", target_time)?,
            max_replication_lag: duration("max_replication_lag", max_replication_lag)?,
        };
        if settings.target_time == Some(Duration::ZERO) {
            return Err("`target_batch_time` must be more than zero".to_owned());
        }
        Ok(settings)
    }

    /// `base` with every setting that was written replacing its value.
    pub fn apply_to(&self, base: BatchOptions) -> BatchOptions {
        BatchOptions {
            size: self.size.unwrap_or(base.size),
            pause: self.pause.unwrap_or(base.pause),
            target_time: self.target_time.or(base.target_time),
            max_replication_lag: self.max_replication_lag.or(base.max_replication_lag),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    backfill: Vec<Entry>,
    /// Read by [`crate::operation::spec`].
    #[serde(default)]
    operation: Vec<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    table: String,
    set: Option<String>,
    #[serde(rename = "where")]
    filter: Option<String>,
    rust: Option<String>,
    batch_size: Option<u64>,
    pause: Option<String>,
    target_batch_time: Option<String>,
    max_replication_lag: Option<String>,
    postgres: Option<SqlOverride>,
    mysql: Option<SqlOverride>,
    sqlite: Option<SqlOverride>,
}

/// Reads the text of a `migration.toml` at `path` (used in messages).
pub fn parse(text: &str, path: &Path) -> Result<Vec<Backfill>, Error> {
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map_or(1, |span| text[..span.start].matches('\n').count() + 1);
        bad(path, line, e.message().to_owned())
    })?;
    if file.backfill.is_empty() && file.operation.is_empty() {
        return Err(bad(
            path,
            1,
            "declares nothing: add a `[[backfill]]` section (table and set, or table and rust) \
             or an `[[operation]]` (see docs/zero-downtime.md)"
                .to_owned(),
        ));
    }
    let headers: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.trim_start().starts_with("[[backfill]]"))
        .map(|(index, _)| index + 1)
        .collect();
    file.backfill
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            let line = headers.get(index).copied().unwrap_or(1);
            entry.into_backfill(path, line)
        })
        .collect()
}

impl Entry {
    fn into_backfill(self, path: &Path, line: usize) -> Result<Backfill, Error> {
        let err = |message: String| bad(path, line, message);
        if self.table.trim().is_empty() {
            return Err(err(
                "`table` is empty: name the table to backfill".to_owned()
            ));
        }
        // Each table `[backfill.<engine>]` is named as the engine's files are.
        let overrides: BTreeMap<Engine, SqlOverride> = [
            ("postgres", self.postgres),
            ("mysql", self.mysql),
            ("sqlite", self.sqlite),
        ]
        .into_iter()
        .filter_map(|(name, o)| Some((name.parse::<Engine>().ok()?, o?)))
        .collect();
        let filter = self.filter.filter(|f| !f.trim().is_empty());
        let action = match (self.set, self.rust) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "a backfill has either `set` (SQL) or `rust` (a registered data migration), not both"
                        .to_owned(),
                ))
            }
            (None, None) => {
                return Err(err(
                    "a backfill needs `set = \"<column> = <expression>\"` or `rust = \"<name>\"`"
                        .to_owned(),
                ))
            }
            (Some(set), None) => {
                if set.trim().is_empty() {
                    return Err(err("`set` is empty: write the assignments, e.g. `set = \"email_lower = lower(email)\"`".to_owned()));
                }
                Action::Sql {
                    set,
                    filter,
                    overrides,
                }
            }
            (None, Some(name)) => {
                if !overrides.is_empty() {
                    return Err(err("per-engine sections override `set` and `where` of SQL backfills; a Rust backfill has none".to_owned()));
                }
                Action::Rust { name, filter }
            }
        };
        let batch = BatchSettings::read(
            self.batch_size,
            self.pause.as_deref(),
            self.target_batch_time.as_deref(),
            self.max_replication_lag.as_deref(),
        )
        .map_err(err)?
        .apply_to(BatchOptions::default());
        Ok(Backfill {
            table: self.table,
            action,
            batch,
            location: format!("{}:{line}", path.display()),
        })
    }
}

fn bad(path: &Path, line: usize, message: String) -> Error {
    Error::BadDirective {
        location: crate::error::Location::new(path, line),
        message: format!("migration.toml: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> &'static Path {
        Path::new("migrations/5_backfill/migration.toml")
    }

    fn err(text: &str) -> String {
        parse(text, path()).unwrap_err().to_string()
    }

    #[test]
    fn a_sql_backfill_with_every_setting() {
        let text = "# comment\n[[backfill]]\ntable = \"users\"\nset = \"a = lower(b)\"\nwhere = \"a IS NULL\"\nbatch_size = 500\npause = \"10ms\"\ntarget_batch_time = \"100ms\"\nmax_replication_lag = \"2s\"\n[backfill.mysql]\nset = \"a = LOWER(b)\"\n";
        let backfills = parse(text, path()).unwrap();
        assert_eq!(backfills.len(), 1);
        let b = &backfills[0];
        assert_eq!(b.table, "users");
        assert_eq!(b.location, "migrations/5_backfill/migration.toml:2");
        assert_eq!(
            b.batch,
            BatchOptions {
                size: 500,
                pause: Duration::from_millis(10),
                target_time: Some(Duration::from_millis(100)),
                max_replication_lag: Some(Duration::from_secs(2)),
            }
        );
        assert_eq!(
            b.action.sql_for(Engine::Mysql),
            (Some("a = LOWER(b)"), Some("a IS NULL"))
        );
        assert_eq!(
            b.action.sql_for(Engine::Postgres),
            (Some("a = lower(b)"), Some("a IS NULL"))
        );
    }

    #[test]
    fn each_engine_table_overrides_its_own_engine_only() {
        let text = "[[backfill]]\ntable = \"t\"\nset = \"a = 1\"\n[backfill.postgres]\nset = \"a = 2\"\n[backfill.sqlite]\nwhere = \"a IS NULL\"\n";
        let backfills = parse(text, path()).unwrap();
        let action = &backfills[0].action;
        assert_eq!(action.sql_for(Engine::Postgres), (Some("a = 2"), None));
        assert_eq!(action.sql_for(Engine::Mysql), (Some("a = 1"), None));
        assert_eq!(
            action.sql_for(Engine::Sqlite),
            (Some("a = 1"), Some("a IS NULL"))
        );
    }

    #[test]
    fn a_rust_backfill_and_defaults() {
        let text = "[[backfill]]\ntable = \"a\"\nset = \"x = 1\"\n\n[[backfill]]\ntable = \"addresses\"\nrust = \"us_address\"\n";
        let backfills = parse(text, path()).unwrap();
        assert_eq!(
            backfills[1].location,
            "migrations/5_backfill/migration.toml:5"
        );
        assert_eq!(
            backfills[1].action,
            Action::Rust {
                name: "us_address".to_owned(),
                filter: None
            }
        );
        assert_eq!(backfills[1].batch, BatchOptions::default());
    }

    #[test]
    fn bad_files_name_the_line_and_the_fix() {
        assert_eq!(
            err("[[backfill]]\ntable = \"a\"\nset = \"x = 1\"\nbatchsize = 3\n"),
            "migrations/5_backfill/migration.toml:4: migration.toml: unknown field `batchsize`, expected one of `table`, `set`, `where`, `rust`, `batch_size`, `pause`, `target_batch_time`, `max_replication_lag`, `postgres`, `mysql`, `sqlite`"
        );
        assert!(err("[[backfill]]\ntable = \"a\"\n")
            .contains(":1: migration.toml: a backfill needs `set"));
        assert!(
            err("[[backfill]]\ntable = \"a\"\nset = \"x=1\"\nrust = \"r\"\n").contains("not both")
        );
        assert!(
            err("[[backfill]]\ntable = \"a\"\nset = \"x=1\"\nbatch_size = 0\n")
                .contains("`batch_size` must be between 1 and 100000, found 0")
        );
        assert!(
            err("[[backfill]]\ntable = \"a\"\nset = \"x=1\"\npause = \"soon\"\n")
                .contains("`pause` must be a duration")
        );
        assert!(err("[[backfill]]\ntable = \"a\"\nset = \"  \"\n").contains("`set` is empty"));
        assert!(err("title = 3\n").contains("unknown field `title`"));
        assert!(err("").contains("declares nothing"));
        assert!(err("[[backfill]\n").contains("migration.toml:1:"));
        assert!(
            err("[[backfill]]\ntable = \"a\"\nrust = \"r\"\n[backfill.mysql]\nset = \"x\"\n")
                .contains("a Rust backfill has none")
        );
    }
}

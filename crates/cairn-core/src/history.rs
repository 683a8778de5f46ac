//! The history model and the SQL that keeps it, rendered per engine.
//!
//! Two tables, both named by the user (default `cairn_history`, in the
//! connection's default schema) and always quoted:
//!
//! - `cairn_history`: one row per applied (or half-applied) migration: version,
//!   name, kind, checksum, state, applied_at, execution_ms, applied_by,
//!   cairn_version, and for a migration that ran outside a transaction the
//!   number of statements that completed, their checksum and the last error.
//! - `cairn_history_log`: append-only, one row per up, down, repair, baseline,
//!   contract and abort, with who, when, how long and the outcome.
//!
//! Timestamps are stored as RFC 3339 UTC text (`2026-11-25T10:07:26.123Z`):
//! the same bytes on every engine, sortable, and free of session time zones.
//!
//! Values are rendered as literals rather than bound parameters, so that a
//! driver runs Cairn's bookkeeping with the same primitive it runs migrations
//! with, and a migration plus its history row can travel in one batch. The
//! literals read back exactly whatever the session's settings, which a
//! migration may change ([`crate::literal`]).

use serde::Serialize;

use crate::driver::Rows;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::migration::Version;

/// The state of a history row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum HistoryState {
    /// Applied completely.
    Applied,
    /// Started and not finished: a run is in progress, or crashed.
    Running,
    /// Failed part way outside a transaction; see `statements_done` and `error`.
    Failed,
    /// Expanded and waiting for contract (zero-downtime operations).
    Expanded,
    /// Its SQL is applied and its backfills are running, or were interrupted
    /// (`cairn up` resumes them from their checkpoints).
    Backfilling,
}

impl HistoryState {
    /// The text stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryState::Applied => "applied",
            HistoryState::Running => "running",
            HistoryState::Failed => "failed",
            HistoryState::Expanded => "expanded",
            HistoryState::Backfilling => "backfilling",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "applied" => HistoryState::Applied,
            "running" => HistoryState::Running,
            "failed" => HistoryState::Failed,
            "expanded" => HistoryState::Expanded,
            "backfilling" => HistoryState::Backfilling,
            _ => return None,
        })
    }
}

/// What kind of history row: a migration, or a baseline marker.
pub mod kind {
    /// A SQL migration.
    pub const SQL: &str = "sql";
    /// A baseline: every migration up to this version counts as applied.
    pub const BASELINE: &str = "baseline";
}

/// One row of the history table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    /// The migration's version.
    pub version: Version,
    /// Its name when it was applied.
    pub name: String,
    /// [`kind::SQL`] or [`kind::BASELINE`].
    pub kind: String,
    /// The checksum of its effective up script when it was applied.
    pub checksum: String,
    /// Its state.
    pub state: HistoryState,
    /// When it was applied (RFC 3339 UTC).
    pub applied_at: String,
    /// How long it took, in milliseconds.
    pub execution_ms: i64,
    /// Who applied it.
    pub applied_by: String,
    /// The Cairn version that applied it.
    pub cairn_version: String,
    /// For a migration run outside a transaction: statements completed.
    pub statements_done: Option<i64>,
    /// Checksum of those completed statements.
    pub statements_checksum: Option<String>,
    /// The last error, for a failed row.
    pub error: Option<String>,
}

/// An action recorded in the append-only log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogAction {
    /// A migration applied.
    Up,
    /// A migration rolled back.
    Down,
    /// A history row repaired.
    Repair,
    /// A baseline set.
    Baseline,
    /// An expand/contract migration contracted.
    Contract,
    /// An expand aborted.
    Abort,
}

impl LogAction {
    /// The text stored in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            LogAction::Up => "up",
            LogAction::Down => "down",
            LogAction::Repair => "repair",
            LogAction::Baseline => "baseline",
            LogAction::Contract => "contract",
            LogAction::Abort => "abort",
        }
    }
}

/// One row of the append-only log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry<'a> {
    /// The migration's version.
    pub version: Version,
    /// Its name.
    pub name: &'a str,
    /// What was done.
    pub action: LogAction,
    /// `ok` or `failed`.
    pub success: bool,
    /// When (RFC 3339 UTC).
    pub at: &'a str,
    /// How long, in milliseconds.
    pub duration_ms: i64,
    /// Who.
    pub actor: &'a str,
    /// Details: the error, or what a repair changed.
    pub detail: Option<&'a str>,
}

/// Where the history lives: an optional schema (PostgreSQL schema, MySQL
/// database) and a table name; the log table is `<name>_log`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryTable {
    /// Schema or database; `None` for the connection's default.
    pub schema: Option<String>,
    /// The table name.
    pub name: String,
}

impl Default for HistoryTable {
    fn default() -> Self {
        HistoryTable {
            schema: None,
            name: "cairn_history".to_owned(),
        }
    }
}

/// Quotes an identifier for `engine`.
pub fn quote_ident(engine: Engine, ident: &str) -> String {
    match engine {
        Engine::Mysql => format!("`{}`", ident.replace('`', "``")),
        Engine::Postgres | Engine::Sqlite => format!("\"{}\"", ident.replace('"', "\"\"")),
    }
}

/// Renders a string literal for `engine`, exact under any session setting
/// (see [`crate::literal`], where it lives beside the session preconditions).
pub use crate::literal::string_literal;

fn opt_string(engine: Engine, value: Option<&str>) -> String {
    value.map_or_else(|| "NULL".to_owned(), |v| string_literal(engine, v))
}

fn opt_int(value: Option<i64>) -> String {
    value.map_or_else(|| "NULL".to_owned(), |v| v.to_string())
}

/// The SQL for Cairn's own tables on one engine.
#[derive(Clone, Debug)]
pub struct HistorySql {
    engine: Engine,
    table: String,
    log: String,
    schema: Option<String>,
    bare_name: String,
}

const COLUMNS: &str = "version, name, kind, checksum, state, applied_at, execution_ms, applied_by, cairn_version, statements_done, statements_checksum, error";

impl HistorySql {
    /// The SQL for `table` on `engine`.
    pub fn new(engine: Engine, table: &HistoryTable) -> Self {
        let qualify = |name: &str| match (&table.schema, engine) {
            (Some(schema), Engine::Postgres | Engine::Mysql) => {
                format!(
                    "{}.{}",
                    quote_ident(engine, schema),
                    quote_ident(engine, name)
                )
            }
            _ => quote_ident(engine, name),
        };
        HistorySql {
            engine,
            table: qualify(&table.name),
            log: qualify(&format!("{}_log", table.name)),
            schema: table.schema.clone(),
            bare_name: table.name.clone(),
        }
    }

    /// The quoted, qualified history table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The checkpoint table of backfills, `<name>_backfill` beside the history table.
    pub fn checkpoints(&self) -> crate::backfill::sql::CheckpointSql {
        let name = quote_ident(self.engine, &format!("{}_backfill", self.bare_name));
        let table = match (&self.schema, self.engine) {
            (Some(schema), Engine::Postgres | Engine::Mysql) => {
                format!("{}.{name}", quote_ident(self.engine, schema))
            }
            _ => name,
        };
        crate::backfill::sql::CheckpointSql::new(self.engine, table)
    }

    /// The engine these statements are for.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// A query returning one row if the history table exists.
    pub fn exists(&self) -> String {
        self.table_exists(&self.bare_name)
    }

    /// A query returning one row if the backfill checkpoint table exists.
    pub fn checkpoints_exist(&self) -> String {
        self.table_exists(&format!("{}_backfill", self.bare_name))
    }

    fn table_exists(&self, bare_name: &str) -> String {
        let name = string_literal(self.engine, bare_name);
        match self.engine {
            Engine::Postgres => {
                let schema = self.schema.as_deref().map_or_else(
                    || "current_schema()".to_owned(),
                    |s| string_literal(self.engine, s),
                );
                format!("SELECT 1 FROM information_schema.tables WHERE table_schema = {schema} AND table_name = {name}")
            }
            Engine::Mysql => {
                let schema = self.schema.as_deref().map_or_else(
                    || "DATABASE()".to_owned(),
                    |s| string_literal(self.engine, s),
                );
                format!("SELECT 1 FROM information_schema.tables WHERE table_schema = {schema} AND table_name = {name}")
            }
            Engine::Sqlite => {
                format!("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = {name}")
            }
        }
    }

    /// Statements that create both tables if they do not exist.
    pub fn create(&self) -> Vec<String> {
        let (bigint, text, serial, suffix) = match self.engine {
            Engine::Postgres => ("BIGINT", "TEXT", "BIGSERIAL PRIMARY KEY", ""),
            Engine::Mysql => (
                "BIGINT",
                "TEXT",
                "BIGINT AUTO_INCREMENT PRIMARY KEY",
                " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            ),
            // A rowid alias, not AUTOINCREMENT: the log is append-only, so ids
            // are never reused, and sqlite_sequence would cost a page write per row.
            Engine::Sqlite => ("INTEGER", "TEXT", "INTEGER PRIMARY KEY", ""),
        };
        let mut statements = Vec::new();
        if let (Some(schema), Engine::Postgres) = (&self.schema, self.engine) {
            statements.push(format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                quote_ident(self.engine, schema)
            ));
        }
        statements.push(format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
             version {bigint} NOT NULL PRIMARY KEY, \
             name VARCHAR(255) NOT NULL, \
             kind VARCHAR(32) NOT NULL, \
             checksum VARCHAR(64) NOT NULL, \
             state VARCHAR(16) NOT NULL, \
             applied_at VARCHAR(32) NOT NULL, \
             execution_ms {bigint} NOT NULL, \
             applied_by VARCHAR(255) NOT NULL, \
             cairn_version VARCHAR(32) NOT NULL, \
             statements_done {bigint}, \
             statements_checksum VARCHAR(64), \
             error {text}){suffix}",
            table = self.table,
        ));
        statements.push(format!(
            "CREATE TABLE IF NOT EXISTS {log} (\
             id {serial}, \
             version {bigint} NOT NULL, \
             name VARCHAR(255) NOT NULL, \
             action VARCHAR(16) NOT NULL, \
             outcome VARCHAR(16) NOT NULL, \
             at VARCHAR(32) NOT NULL, \
             duration_ms {bigint} NOT NULL, \
             actor VARCHAR(255) NOT NULL, \
             cairn_version VARCHAR(32) NOT NULL, \
             detail {text}){suffix}",
            log = self.log,
        ));
        statements
    }

    /// A query for every history row, by version.
    pub fn select(&self) -> String {
        format!("SELECT {COLUMNS} FROM {} ORDER BY version", self.table)
    }

    /// A query for the state of one row, to check inside a transaction that
    /// another runner has not recorded it meanwhile.
    pub fn select_version(&self, version: Version) -> String {
        format!("SELECT state FROM {} WHERE version = {version}", self.table)
    }

    /// The values of `row` as SQL literals, in the order of `COLUMNS`.
    fn values(&self, row: &HistoryRow) -> [String; 12] {
        let e = self.engine;
        [
            row.version.to_string(),
            string_literal(e, &row.name),
            string_literal(e, &row.kind),
            string_literal(e, &row.checksum),
            string_literal(e, row.state.as_str()),
            string_literal(e, &row.applied_at),
            row.execution_ms.to_string(),
            string_literal(e, &row.applied_by),
            string_literal(e, &row.cairn_version),
            opt_int(row.statements_done),
            opt_string(e, row.statements_checksum.as_deref()),
            opt_string(e, row.error.as_deref()),
        ]
    }

    /// Inserts `row`.
    pub fn insert(&self, row: &HistoryRow) -> String {
        format!(
            "INSERT INTO {} ({COLUMNS}) VALUES ({})",
            self.table,
            self.values(row).join(", ")
        )
    }

    /// Replaces the row with `row.version` by `row`.
    pub fn update(&self, row: &HistoryRow) -> String {
        let assignments: Vec<String> = COLUMNS
            .split(", ")
            .zip(self.values(row))
            .skip(1)
            .map(|(column, value)| format!("{column} = {value}"))
            .collect();
        format!(
            "UPDATE {} SET {} WHERE version = {}",
            self.table,
            assignments.join(", "),
            row.version
        )
    }

    /// Deletes the row of `version`.
    pub fn delete(&self, version: Version) -> String {
        format!("DELETE FROM {} WHERE version = {version}", self.table)
    }

    /// Appends `entry` to the log.
    pub fn log(&self, entry: &LogEntry<'_>) -> String {
        let e = self.engine;
        format!(
            "INSERT INTO {} (version, name, action, outcome, at, duration_ms, actor, cairn_version, detail) \
             VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})",
            self.log,
            entry.version,
            string_literal(e, entry.name),
            string_literal(e, entry.action.as_str()),
            string_literal(e, if entry.success { "ok" } else { "failed" }),
            string_literal(e, entry.at),
            entry.duration_ms,
            string_literal(e, entry.actor),
            string_literal(e, crate::CAIRN_VERSION),
            opt_string(e, entry.detail),
        )
    }

    /// Decodes the rows of [`HistorySql::select`].
    pub fn decode(&self, rows: Rows) -> Result<Vec<HistoryRow>> {
        rows.into_iter().map(|row| self.decode_row(row)).collect()
    }

    fn decode_row(&self, row: Vec<Option<String>>) -> Result<HistoryRow> {
        let corrupt = |message: String| Error::CorruptHistory {
            table: self.table.clone(),
            engine: self.engine,
            message,
        };
        if row.len() != 12 {
            return Err(corrupt(format!("expected 12 columns, got {}", row.len())));
        }
        let mut cells = row.into_iter();
        let mut next = |column: &str| -> Result<Option<String>> {
            cells
                .next()
                .ok_or_else(|| corrupt(format!("column {column} is missing")))
        };
        let mut required = |column: &str| -> Result<String> {
            next(column)?.ok_or_else(|| corrupt(format!("column {column} is NULL")))
        };
        let int = |column: &str, text: &str| -> Result<i64> {
            text.trim()
                .parse()
                .map_err(|_| corrupt(format!("column {column} is not an integer: {text:?}")))
        };
        let version_text = required("version")?;
        let version = int("version", &version_text)?;
        let name = required("name")?;
        let kind = required("kind")?;
        let checksum = required("checksum")?;
        let state_text = required("state")?;
        let state = HistoryState::parse(&state_text).ok_or_else(|| {
            corrupt(format!(
                "version {version} has unknown state {state_text:?}"
            ))
        })?;
        let applied_at = required("applied_at")?;
        let execution_ms = int("execution_ms", &required("execution_ms")?)?;
        let applied_by = required("applied_by")?;
        let cairn_version = required("cairn_version")?;
        let rest: Vec<Option<String>> =
            (0..3).map(|_| next("statements")).collect::<Result<_>>()?;
        let [done, done_checksum, error]: [Option<String>; 3] = rest
            .try_into()
            .map_err(|_| corrupt("short row".to_owned()))?;
        let statements_done = done.map(|text| int("statements_done", &text)).transpose()?;
        Ok(HistoryRow {
            version,
            name,
            kind,
            checksum,
            state,
            applied_at,
            execution_ms,
            applied_by,
            cairn_version,
            statements_done,
            statements_checksum: done_checksum,
            error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> HistoryRow {
        HistoryRow {
            version: 20260101000000,
            name: "it's \\ done".to_owned(),
            kind: kind::SQL.to_owned(),
            checksum: "ab".repeat(32),
            state: HistoryState::Failed,
            applied_at: "2026-11-25T10:00:00.000Z".to_owned(),
            execution_ms: 12,
            applied_by: "ci".to_owned(),
            cairn_version: "0.1.0".to_owned(),
            statements_done: Some(2),
            statements_checksum: None,
            error: Some("boom".to_owned()),
        }
    }

    #[test]
    fn literals_escape_quotes_per_engine() {
        assert_eq!(string_literal(Engine::Postgres, "a'b\\c"), "E'a''b\\\\c'");
        assert_eq!(
            string_literal(Engine::Mysql, "a'b\\c"),
            "_utf8mb4 X'6127625c63'"
        );
        assert_eq!(string_literal(Engine::Sqlite, "a'b\\c"), "'a''b\\c'");
        assert_eq!(quote_ident(Engine::Mysql, "we`ird"), "`we``ird`");
        assert_eq!(quote_ident(Engine::Postgres, "we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn schema_qualifies_on_servers_only() {
        let table = HistoryTable {
            schema: Some("ops".to_owned()),
            name: "hist".to_owned(),
        };
        assert_eq!(
            HistorySql::new(Engine::Postgres, &table).table(),
            "\"ops\".\"hist\""
        );
        assert_eq!(
            HistorySql::new(Engine::Mysql, &table).table(),
            "`ops`.`hist`"
        );
        assert_eq!(HistorySql::new(Engine::Sqlite, &table).table(), "\"hist\"");
    }

    #[test]
    fn decode_reads_what_insert_writes() {
        let sql = HistorySql::new(Engine::Sqlite, &HistoryTable::default());
        let row = row();
        let cells = vec![
            Some(row.version.to_string()),
            Some(row.name.clone()),
            Some(row.kind.clone()),
            Some(row.checksum.clone()),
            Some("failed".to_owned()),
            Some(row.applied_at.clone()),
            Some("12".to_owned()),
            Some("ci".to_owned()),
            Some("0.1.0".to_owned()),
            Some("2".to_owned()),
            None,
            Some("boom".to_owned()),
        ];
        assert_eq!(sql.decode(vec![cells]).unwrap(), vec![row]);
    }

    #[test]
    fn decode_rejects_unknown_state_with_the_version() {
        let sql = HistorySql::new(Engine::Sqlite, &HistoryTable::default());
        let mut cells: Vec<Option<String>> = vec![Some("1".to_owned()); 12];
        cells[4] = Some("weird".to_owned());
        let err = sql.decode(vec![cells]).unwrap_err().to_string();
        assert!(
            err.contains("version 1 has unknown state \"weird\""),
            "{err}"
        );
    }

    /// The SQL Cairn sends for its bookkeeping, per engine, reviewed like code.
    #[test]
    fn history_sql_snapshots() {
        for engine in Engine::ALL {
            let sql = HistorySql::new(engine, &HistoryTable::default());
            let entry = LogEntry {
                version: 7,
                name: "add_users",
                action: LogAction::Up,
                success: true,
                at: "2026-11-25T10:00:00.000Z",
                duration_ms: 3,
                actor: "ci@build",
                detail: None,
            };
            let mut all = sql.create();
            all.extend([
                sql.exists(),
                sql.select(),
                sql.select_version(7),
                sql.insert(&row()),
                sql.update(&row()),
                sql.delete(7),
                sql.log(&entry).replace(crate::CAIRN_VERSION, "<version>"),
            ]);
            insta::assert_snapshot!(format!("history_sql_{engine}"), all.join(";\n\n"));
        }
    }
}

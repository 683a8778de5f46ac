//! The history model and the SQL that keeps it, rendered through the
//! connection's [`Dialect`] (its [`Bookkeeping`](crate::dialect::Bookkeeping) half).
//!
//! Two tables, both named by the user (default `cairn_history`, in the
//! connection's default schema) and always quoted:
//!
//! - `cairn_history`: one row per applied (or half-applied) migration: version,
//!   name, kind, checksum, state, applied_at, execution_ms, applied_by,
//!   cairn_version, and for a migration that ran outside a transaction the
//!   number of statements that completed, their checksum and the last error.
//! - `cairn_history_log`: append-only, one row per up, down, repair and
//!   baseline, with who, when, how long and the outcome.
//!
//! Timestamps are stored as RFC 3339 UTC text (`2026-11-25T10:07:26.123Z`):
//! the same bytes on every engine, sortable, and free of session time zones.
//!
//! Values are rendered as literals rather than bound parameters, so that a
//! driver runs Cairn's bookkeeping with the same primitive it runs migrations
//! with, and a migration plus its history row can travel in one batch. The
//! literals read back exactly whatever the session's settings, which a
//! migration may change ([`crate::literal`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::dialect::{for_engine, Dialect};
use crate::driver::Rows;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::migration::{Direction, Version};

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
    /// Its SQL is applied and its backfills are running, or were interrupted
    /// (`cairn up` resumes them from their checkpoints).
    Backfilling,
    /// Its operations' expand is running, or was interrupted (`cairn up`
    /// continues it, `cairn abort` undoes it).
    Expanding,
    /// Expanded: both application versions work; waiting for `cairn contract`.
    Expanded,
    /// Its contract is running, or was interrupted (`cairn contract` continues it).
    Contracting,
    /// Its abort is running, or was interrupted (`cairn abort` continues it).
    Aborting,
    /// Its un-contract (`cairn down` of a contracted migration) is running,
    /// or was interrupted (`cairn down` continues it).
    Uncontracting,
}

impl HistoryState {
    /// The text stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryState::Applied => "applied",
            HistoryState::Running => "running",
            HistoryState::Failed => "failed",
            HistoryState::Backfilling => "backfilling",
            HistoryState::Expanding => "expanding",
            HistoryState::Expanded => "expanded",
            HistoryState::Contracting => "contracting",
            HistoryState::Aborting => "aborting",
            HistoryState::Uncontracting => "uncontracting",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "applied" => HistoryState::Applied,
            "running" => HistoryState::Running,
            "failed" => HistoryState::Failed,
            "backfilling" => HistoryState::Backfilling,
            "expanding" => HistoryState::Expanding,
            "expanded" => HistoryState::Expanded,
            "contracting" => HistoryState::Contracting,
            "aborting" => HistoryState::Aborting,
            "uncontracting" => HistoryState::Uncontracting,
            _ => return None,
        })
    }
}

/// What kind of history row: a migration, or a baseline marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum HistoryKind {
    /// A SQL migration (its backfills included).
    Sql,
    /// A baseline: every migration up to this version counts as applied.
    Baseline,
}

impl HistoryKind {
    /// Every kind Cairn writes.
    pub const ALL: [HistoryKind; 2] = [HistoryKind::Sql, HistoryKind::Baseline];

    /// The text stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryKind::Sql => "sql",
            HistoryKind::Baseline => "baseline",
        }
    }

    /// The kind stored as `text`, if Cairn writes it.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl std::fmt::Display for HistoryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the `error` column of a row left by a run outside a transaction
/// says: that a rollback is under way, or which statement failed and why.
///
/// Stored as text, in the format Cairn has always written, so that existing
/// databases read the same: `down in progress: …` for a rollback under way,
/// `[in doubt: ]up|down statement n of N (path:line): message` for a failure.
/// A text in neither form (written by hand, say) is kept as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RowError {
    /// A rollback outside a transaction is under way (the row is `running`
    /// and `statements_done` counts the rollback's statements), so `--resume`
    /// never mistakes it for an interrupted up.
    RollbackInProgress,
    /// A statement of the up or down script failed.
    Statement {
        /// Which script.
        direction: Direction,
        /// Whether the statement may have completed in an earlier,
        /// interrupted run, so it is still in doubt (see [`crate::recovery`]).
        in_doubt: bool,
        /// `statement n of N (path:line): message`.
        detail: String,
    },
    /// A text in none of the forms Cairn writes, kept as found.
    Other(String),
}

impl RowError {
    const ROLLBACK_IN_PROGRESS: &'static str =
        "down in progress: statements_done counts the rollback's statements";
    const IN_DOUBT: &'static str = "in doubt: ";

    /// Reads the text of the `error` column.
    pub fn parse(text: &str) -> Self {
        if text == Self::ROLLBACK_IN_PROGRESS {
            return RowError::RollbackInProgress;
        }
        let (in_doubt, rest) = match text.strip_prefix(Self::IN_DOUBT) {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        for direction in [Direction::Up, Direction::Down] {
            if let Some(detail) = rest
                .strip_prefix(direction.as_str())
                .and_then(|rest| rest.strip_prefix(' '))
            {
                return RowError::Statement {
                    direction,
                    in_doubt,
                    detail: detail.to_owned(),
                };
            }
        }
        RowError::Other(text.to_owned())
    }

    /// Whether the row records a rollback: under way, or failed.
    pub fn is_rollback(&self) -> bool {
        matches!(
            self,
            RowError::RollbackInProgress
                | RowError::Statement {
                    direction: Direction::Down,
                    ..
                }
        )
    }

    /// Whether the failed statement may have completed in an earlier run.
    pub fn is_in_doubt(&self) -> bool {
        matches!(self, RowError::Statement { in_doubt: true, .. })
    }
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowError::RollbackInProgress => f.write_str(Self::ROLLBACK_IN_PROGRESS),
            RowError::Statement {
                direction,
                in_doubt,
                detail,
            } => {
                let doubt = if *in_doubt { Self::IN_DOUBT } else { "" };
                write!(f, "{doubt}{direction} {detail}")
            }
            RowError::Other(text) => f.write_str(text),
        }
    }
}

impl Serialize for RowError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One row of the history table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    /// The migration's version.
    pub version: Version,
    /// Its name when it was applied.
    pub name: String,
    /// A migration or a baseline.
    pub kind: HistoryKind,
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
    /// For a failed row, the last error; for a rollback under way, that mark.
    pub error: Option<RowError>,
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
    /// A migration's operations expanded (and backfilled).
    Expand,
    /// An expanded migration contracted.
    Contract,
    /// An expand undone.
    Abort,
    /// A contracted migration returned to expanded.
    Uncontract,
    /// A migration's row imported from another tool's history (`cairn adopt`).
    Adopt,
}

impl LogAction {
    /// The text stored in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            LogAction::Up => "up",
            LogAction::Down => "down",
            LogAction::Repair => "repair",
            LogAction::Baseline => "baseline",
            LogAction::Expand => "expand",
            LogAction::Contract => "contract",
            LogAction::Abort => "abort",
            LogAction::Uncontract => "uncontract",
            LogAction::Adopt => "adopt",
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

impl HistoryTable {
    /// Checks that every name derived from this one fits `dialect`'s limit
    /// for identifiers, before anything is created: PostgreSQL silently
    /// truncates names to 63 bytes (so `<name>_log` and `<name>_backfill`
    /// could become the same table), and MySQL/MariaDB refuse names over 64
    /// characters part way through creating the tables. SQLite has no limit.
    ///
    /// # Errors
    ///
    /// [`Error::NameTooLong`] naming the setting, its value and length, the
    /// derived name that does not fit, the limit and the engine.
    pub fn check_names(&self, dialect: &dyn Dialect) -> Result<()> {
        let Some(limit) = dialect.identifier_limit() else {
            return Ok(());
        };
        let engine = dialect.engine();
        let (unit, limit) = (limit.unit, limit.max);
        let length = |text: &str| unit.length(text);
        let unit = unit.name();
        let longest_suffix = "_backfill";
        let derived = format!("{}{longest_suffix}", self.name);
        if length(&derived) > limit {
            return Err(Error::NameTooLong {
                setting: "history_table",
                value: self.name.clone(),
                length: length(&self.name),
                derived,
                limit,
                max: limit - longest_suffix.len(),
                unit,
                engine,
            });
        }
        if let Some(schema) = self.schema.as_ref().filter(|schema| length(schema) > limit) {
            return Err(Error::NameTooLong {
                setting: "history_schema",
                value: schema.clone(),
                length: length(schema),
                derived: schema.clone(),
                limit,
                max: limit,
                unit,
                engine,
            });
        }
        Ok(())
    }
}

/// Quotes an identifier for `engine`'s family, for work without a
/// connection ([`Bookkeeping::quote_ident`](crate::dialect::Bookkeeping::quote_ident)).
pub fn quote_ident(engine: Engine, ident: &str) -> String {
    for_engine(engine).quote_ident(ident)
}

/// Renders a string literal for `engine`, exact under any session setting
/// (see [`crate::literal`], where it lives beside the session preconditions).
pub use crate::literal::string_literal;

fn opt_string(dialect: &dyn Dialect, value: Option<&str>) -> String {
    value.map_or_else(|| "NULL".to_owned(), |v| dialect.string_literal(v))
}

fn opt_int(value: Option<i64>) -> String {
    value.map_or_else(|| "NULL".to_owned(), |v| v.to_string())
}

/// The SQL for Cairn's own tables on one product.
///
/// It holds the product's dialect as an `Arc<dyn Dialect>` (a copy of the
/// driver's, see [`Dialect::shared`]), so that it can be kept while the
/// driver is borrowed mutably to run what it renders.
#[derive(Clone, Debug)]
pub struct HistorySql {
    dialect: Arc<dyn Dialect>,
    table: String,
    log: String,
    schema: Option<String>,
    bare_name: String,
}

const COLUMNS: &str = "version, name, kind, checksum, state, applied_at, execution_ms, applied_by, cairn_version, statements_done, statements_checksum, error";

impl HistorySql {
    /// The SQL for `table` in `dialect` (a driver's
    /// [`Driver::dialect`](crate::Driver::dialect), or
    /// [`crate::dialect::for_engine`] without a connection).
    pub fn new(dialect: &dyn Dialect, table: &HistoryTable) -> Self {
        let schema = table.schema.as_deref();
        HistorySql {
            table: dialect.qualify(schema, &table.name),
            log: dialect.qualify(schema, &format!("{}_log", table.name)),
            schema: table.schema.clone(),
            bare_name: table.name.clone(),
            dialect: dialect.shared(),
        }
    }

    /// The quoted, qualified history table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The checkpoint table of backfills, `<name>_backfill` beside the history table.
    pub fn checkpoints(&self) -> crate::backfill::sql::CheckpointSql {
        let table = self.dialect.qualify(
            self.schema.as_deref(),
            &format!("{}_backfill", self.bare_name),
        );
        crate::backfill::sql::CheckpointSql::new(self.dialect.as_ref(), table)
    }

    /// The engine these statements are for.
    pub fn engine(&self) -> Engine {
        self.dialect.engine()
    }

    /// The dialect these statements are written in.
    pub fn dialect(&self) -> &dyn Dialect {
        self.dialect.as_ref()
    }

    /// A query returning one row if the history table exists.
    pub fn exists(&self) -> String {
        self.table_exists(&self.bare_name)
    }

    /// A query returning one row if the backfill checkpoint table exists.
    pub fn checkpoints_exist(&self) -> String {
        self.table_exists(&format!("{}_backfill", self.bare_name))
    }

    /// The table that keeps, for each migration with `[[operation]]`s, the
    /// tables its operations change as they were before expand
    /// (`<name>_shape` beside the history table), so that `contract`,
    /// `abort` and un-contract compile the same SQL later from the same shape.
    pub fn shapes_table(&self) -> String {
        self.dialect
            .qualify(self.schema.as_deref(), &format!("{}_shape", self.bare_name))
    }

    /// A query returning one row if the before-shape table exists.
    pub fn shapes_exist(&self) -> String {
        self.table_exists(&format!("{}_shape", self.bare_name))
    }

    /// Creates the before-shape table if it does not exist: one row per
    /// table an operation changes, its shape as JSON.
    pub fn create_shapes(&self) -> String {
        let types = self.dialect.column_types();
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\
             version {bigint} NOT NULL, \
             position {bigint} NOT NULL, \
             table_name VARCHAR(255) NOT NULL, \
             shape {text} NOT NULL, \
             PRIMARY KEY (version, position)){suffix}",
            self.shapes_table(),
            bigint = types.integer,
            text = types.text,
            suffix = types.table_options,
        )
    }

    /// Keeps the before-shape of `table` (JSON) as the `position`th of `version`.
    pub fn insert_shape(
        &self,
        version: Version,
        position: usize,
        table: &str,
        shape: &str,
    ) -> String {
        let e = self.dialect.as_ref();
        format!(
            "INSERT INTO {} (version, position, table_name, shape) VALUES ({}, {position}, {}, {})",
            self.shapes_table(),
            version.key(),
            e.string_literal(table),
            e.string_literal(shape)
        )
    }

    /// The kept before-shapes of `version`: `table_name, shape` by position.
    pub fn select_shapes(&self, version: Version) -> String {
        format!(
            "SELECT table_name, shape FROM {} WHERE version = {} ORDER BY position",
            self.shapes_table(),
            version.key()
        )
    }

    /// Forgets the before-shapes of `version` (its abort finished).
    pub fn delete_shapes(&self, version: Version) -> String {
        format!(
            "DELETE FROM {} WHERE version = {}",
            self.shapes_table(),
            version.key()
        )
    }

    fn table_exists(&self, bare_name: &str) -> String {
        self.dialect.table_exists(self.schema.as_deref(), bare_name)
    }

    /// Statements that create both tables if they do not exist.
    pub fn create(&self) -> Vec<String> {
        let types = self.dialect.column_types();
        let (bigint, text, serial, suffix) = (
            types.integer,
            types.text,
            types.serial_key,
            types.table_options,
        );
        let mut statements = Vec::new();
        if let Some(create) = self
            .schema
            .as_deref()
            .and_then(|schema| self.dialect.create_schema(schema))
        {
            statements.push(create);
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
        format!(
            "SELECT state FROM {} WHERE version = {}",
            self.table,
            version.key()
        )
    }

    /// [`HistorySql::select_version`] for a repeatable migration: its state
    /// and checksum (a repeatable applied by another runner is done only if
    /// it was applied with the same checksum).
    pub fn select_state_and_checksum(&self, version: Version) -> String {
        format!(
            "SELECT state, checksum FROM {} WHERE version = {}",
            self.table,
            version.key()
        )
    }

    /// The values of `row` as SQL literals, in the order of `COLUMNS`.
    fn values(&self, row: &HistoryRow) -> [String; 12] {
        let e = self.dialect.as_ref();
        [
            row.version.key().to_string(),
            e.string_literal(&row.name),
            e.string_literal(row.kind.as_str()),
            e.string_literal(&row.checksum),
            e.string_literal(row.state.as_str()),
            e.string_literal(&row.applied_at),
            row.execution_ms.to_string(),
            e.string_literal(&row.applied_by),
            e.string_literal(&row.cairn_version),
            opt_int(row.statements_done),
            opt_string(e, row.statements_checksum.as_deref()),
            opt_string(e, row.error.as_ref().map(ToString::to_string).as_deref()),
        ]
    }

    /// Inserts `row`. A row whose version is not one integer also fills
    /// `version_text` ([`HistorySql::add_version_text`] adds that column).
    pub fn insert(&self, row: &HistoryRow) -> String {
        match version_text(row.version) {
            None => format!(
                "INSERT INTO {} ({COLUMNS}) VALUES ({})",
                self.table,
                self.values(row).join(", ")
            ),
            Some(text) => format!(
                "INSERT INTO {} ({COLUMNS}, {VERSION_TEXT}) VALUES ({}, {})",
                self.table,
                self.values(row).join(", "),
                self.dialect.string_literal(&text)
            ),
        }
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
            row.version.key()
        )
    }

    /// Deletes the row of `version`.
    pub fn delete(&self, version: Version) -> String {
        format!(
            "DELETE FROM {} WHERE version = {}",
            self.table,
            version.key()
        )
    }

    /// Appends `entry` to the log.
    pub fn log(&self, entry: &LogEntry<'_>) -> String {
        let e = self.dialect.as_ref();
        let (text_column, text_value) = match version_text(entry.version) {
            None => (String::new(), String::new()),
            Some(text) => (
                format!(", {VERSION_TEXT}"),
                format!(", {}", e.string_literal(&text)),
            ),
        };
        format!(
            "INSERT INTO {} (version, name, action, outcome, at, duration_ms, actor, cairn_version, detail{text_column}) \
             VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}{text_value})",
            self.log,
            entry.version.key(),
            e.string_literal(entry.name),
            e.string_literal(entry.action.as_str()),
            e.string_literal(if entry.success { "ok" } else { "failed" }),
            e.string_literal(entry.at),
            entry.duration_ms,
            e.string_literal(entry.actor),
            e.string_literal(crate::CAIRN_VERSION),
            opt_string(e, entry.detail),
        )
    }

    /// A query returning one row if the history table has the
    /// `version_text` column (added the first time a version that is not one
    /// integer is recorded).
    pub fn version_text_exists(&self) -> String {
        self.dialect
            .column_exists(self.schema.as_deref(), &self.bare_name, VERSION_TEXT)
    }

    /// The in-place upgrade that lets the history and its log record
    /// versions that are not one integer (Flyway's `1.1`, repeatable
    /// migrations): a nullable `version_text` column on both tables. Rows
    /// already there are unchanged (NULL: their version is the integer in
    /// `version`). Run under the migration lock, when
    /// [`HistorySql::version_text_exists`] finds no column.
    pub fn add_version_text(&self) -> Vec<String> {
        [&self.table, &self.log]
            .into_iter()
            .map(|table| format!("ALTER TABLE {table} ADD COLUMN {VERSION_TEXT} VARCHAR(255)"))
            .collect()
    }

    /// The texts of the versions that are not one integer, by their key
    /// (read only when [`HistorySql::select`] returned a negative version).
    pub fn select_version_texts(&self) -> String {
        format!(
            "SELECT version, {VERSION_TEXT} FROM {} WHERE version < 0",
            self.table
        )
    }

    /// Whether `rows` of [`HistorySql::select`] hold a version that is not
    /// one integer, whose text [`HistorySql::select_version_texts`] reads.
    pub fn needs_version_texts(rows: &Rows) -> bool {
        rows.iter().any(|row| {
            row.first()
                .and_then(Option::as_deref)
                .is_some_and(|cell| cell.trim_start().starts_with('-'))
        })
    }

    /// Decodes the rows of [`HistorySql::select_version_texts`]: key → text.
    pub fn decode_version_texts(&self, rows: Rows) -> Result<BTreeMap<i64, String>> {
        let mut texts = BTreeMap::new();
        for row in rows {
            let mut cells = row.into_iter();
            let (Some(Some(key)), Some(text)) = (cells.next(), cells.next()) else {
                return Err(Error::CorruptHistory {
                    table: self.table.clone(),
                    engine: self.dialect.engine(),
                    message: "a row of the version texts has no version".to_owned(),
                });
            };
            let key = key
                .trim()
                .parse::<i64>()
                .map_err(|_| Error::CorruptHistory {
                    table: self.table.clone(),
                    engine: self.dialect.engine(),
                    message: format!("column version is not an integer: {key:?}"),
                })?;
            texts.insert(key, text.unwrap_or_default());
        }
        Ok(texts)
    }

    /// A statement that tells, after a statement failed inside Cairn's
    /// transaction, whether that transaction is still open (a script may have
    /// ended it, or the engine on some errors); read the outcome of
    /// [`Driver::execute`](crate::Driver::execute) with
    /// [`HistorySql::transaction_still_open`]. `None` on MySQL, where no
    /// script runs in Cairn's transaction.
    pub fn transaction_probe(&self) -> Option<&'static str> {
        self.dialect.transaction_probe()
    }

    /// What the outcome of [`HistorySql::transaction_probe`] says: `Some(true)`
    /// if the transaction is still open, `Some(false)` if it had ended,
    /// `None` if the outcome proves neither (a lost connection, say).
    pub fn transaction_still_open(
        &self,
        outcome: &std::result::Result<u64, crate::driver::DriverError>,
    ) -> Option<bool> {
        self.dialect.transaction_still_open(outcome)
    }

    /// Decodes the rows of [`HistorySql::select`] (ordered by version).
    ///
    /// A row holding a value Cairn never writes — a second row of a version,
    /// an unknown kind or state, an `applied_at` that is not an RFC 3339
    /// time, a negative `execution_ms` or `statements_done` — is
    /// [`Error::History`], naming the table, the row, the column, the value
    /// and what to do: the history decides what runs next, so no command
    /// goes on from a row it cannot trust.
    pub fn decode(&self, rows: Rows) -> Result<Vec<HistoryRow>> {
        self.decode_with_texts(rows, &BTreeMap::new())
    }

    /// [`HistorySql::decode`], with the texts of the versions that are not
    /// one integer ([`HistorySql::decode_version_texts`]); the rows come
    /// back in version order.
    pub fn decode_with_texts(
        &self,
        rows: Rows,
        texts: &BTreeMap<i64, String>,
    ) -> Result<Vec<HistoryRow>> {
        let mut rows: Vec<HistoryRow> = rows
            .into_iter()
            .map(|row| self.decode_row(row, texts))
            .collect::<Result<_>>()?;
        // Keys of dotted and repeatable versions are negative, so the
        // database's order is not the versions' order.
        rows.sort_by_key(|row| row.version);
        if let Some(pair) = rows
            .windows(2)
            .find(|pair| pair[0].version == pair[1].version)
        {
            return Err(self.tampered(
                pair[0].version,
                "version",
                pair[0].version.to_string(),
                "which more than one row holds".to_owned(),
                "delete the extra row by hand (a version has one row; `cairn repair` cannot tell which is right), then run `cairn status`",
            ));
        }
        Ok(rows)
    }

    fn tampered(
        &self,
        version: Version,
        column: &'static str,
        value: String,
        problem: String,
        fix: &'static str,
    ) -> Error {
        Error::History {
            table: self.table.clone(),
            engine: self.dialect.engine(),
            version,
            column,
            value,
            problem,
            fix,
        }
    }

    /// Refuses values of a decoded row that Cairn never writes.
    fn check_row(&self, row: &HistoryRow) -> Result<()> {
        const BY_HAND: &str = "correct the row by hand, or delete it if the migration did not run, then run `cairn status`";
        let version = row.version;
        if !is_rfc3339(&row.applied_at) {
            return Err(self.tampered(
                version,
                "applied_at",
                row.applied_at.clone(),
                "not an RFC 3339 UTC time such as `2026-11-25T10:07:26.123Z`".to_owned(),
                BY_HAND,
            ));
        }
        if row.execution_ms < 0 {
            return Err(self.tampered(
                version,
                "execution_ms",
                row.execution_ms.to_string(),
                "a negative duration".to_owned(),
                BY_HAND,
            ));
        }
        if let Some(done) = row.statements_done.filter(|done| *done < 0) {
            return Err(self.tampered(
                version,
                "statements_done",
                done.to_string(),
                "a negative number of statements".to_owned(),
                BY_HAND,
            ));
        }
        Ok(())
    }

    fn decode_row(
        &self,
        row: Vec<Option<String>>,
        texts: &BTreeMap<i64, String>,
    ) -> Result<HistoryRow> {
        let corrupt = |message: String| Error::CorruptHistory {
            table: self.table.clone(),
            engine: self.dialect.engine(),
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
        let key_text = required("version")?;
        let key = int("version", &key_text)?;
        let name = required("name")?;
        let version = self.version_of(key, texts)?;
        let kind_text = required("kind")?;
        let checksum = required("checksum")?;
        let state_text = required("state")?;
        let state = HistoryState::parse(&state_text).ok_or_else(|| {
            self.tampered(
                version,
                "state",
                state_text.clone(),
                "not a state Cairn writes (applied, running, failed, backfilling)".to_owned(),
                "set it by hand to the state the migration is in, or delete the row if it did not run, then run `cairn status`",
            )
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
        // Checked here, after every column is read, like the values `check_row` refuses.
        let kind = HistoryKind::parse(&kind_text).ok_or_else(|| {
            self.tampered(
                version,
                "kind",
                kind_text.clone(),
                format!(
                    "not a kind Cairn writes (`{}` or `{}`)",
                    HistoryKind::Sql,
                    HistoryKind::Baseline
                ),
                "correct the row by hand, or delete it if the migration did not run, then run `cairn status`",
            )
        })?;
        let row = HistoryRow {
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
            error: error.as_deref().map(RowError::parse),
        };
        self.check_row(&row)?;
        Ok(row)
    }
}

/// The column that keeps the text of a version that is not one integer.
const VERSION_TEXT: &str = "version_text";

/// What `version_text` holds for `version`: nothing for one integer (the
/// `version` column says it all), `1.1` for a dotted version, `R__<name>`
/// for a repeatable migration.
fn version_text(version: Version) -> Option<String> {
    match version.as_i64() {
        Some(_) => None,
        None => Some(version.to_string()),
    }
}

impl HistorySql {
    /// The version whose key is `key`: the integer itself, or for a negative
    /// key the version its `version_text` names, which must give that key.
    fn version_of(&self, key: i64, texts: &BTreeMap<i64, String>) -> Result<Version> {
        if key >= 0 {
            return Ok(Version::from(key));
        }
        let corrupt = |message: String| Error::CorruptHistory {
            table: self.table.clone(),
            engine: self.dialect.engine(),
            message,
        };
        let text = texts.get(&key).ok_or_else(|| {
            corrupt(format!(
                "the row of version key {key} has no version_text: versions are never \
                 negative, and Cairn writes a negative key only with the text of a dotted or \
                 repeatable version; correct or delete the row by hand"
            ))
        })?;
        let version: Version = text.parse().map_err(|e| {
            corrupt(format!(
                "version_text {text:?} of version key {key} is not a version ({e}); correct or \
                 delete the row by hand"
            ))
        })?;
        if version.key() != key {
            return Err(corrupt(format!(
                "version_text {text:?} does not belong to version key {key} (it gives {}); \
                 correct or delete the row by hand",
                version.key()
            )));
        }
        Ok(version)
    }
}

/// Whether `text` is an RFC 3339 time: `YYYY-MM-DDTHH:MM:SS[.fraction]`
/// followed by `Z` or an offset `±HH:MM` (Cairn writes UTC with milliseconds).
fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>, max: u32| -> bool {
        b.get(range.clone()).is_some_and(|digits| {
            digits.iter().all(u8::is_ascii_digit)
                && std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse::<u32>().ok())
                    .is_some_and(|n| n <= max)
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let date_time = num(0..4, 9999)
        && at(4, b'-')
        && num(5..7, 12)
        && !(at(5, b'0') && at(6, b'0'))
        && at(7, b'-')
        && num(8..10, 31)
        && !(at(8, b'0') && at(9, b'0'))
        && (at(10, b'T') || at(10, b't') || at(10, b' '))
        && num(11..13, 23)
        && at(13, b':')
        && num(14..16, 59)
        && at(16, b':')
        && num(17..19, 60);
    if !date_time {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        i += 1 + digits;
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len() && num(i + 1..i + 3, 23) && at(i + 3, b':') && num(i + 4..i + 6, 59)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> HistoryRow {
        HistoryRow {
            version: crate::migration::Version::from(20260101000000),
            name: "it's \\ done".to_owned(),
            kind: HistoryKind::Sql,
            checksum: "ab".repeat(32),
            state: HistoryState::Failed,
            applied_at: "2026-11-25T10:00:00.000Z".to_owned(),
            execution_ms: 12,
            applied_by: "ci".to_owned(),
            cairn_version: "0.1.0".to_owned(),
            statements_done: Some(2),
            statements_checksum: None,
            error: Some(RowError::Other("boom".to_owned())),
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
    fn the_shape_table_sits_beside_the_history_on_every_engine() {
        let table = HistoryTable {
            schema: Some("ops".to_owned()),
            name: "hist".to_owned(),
        };
        let cases = [
            (Engine::Postgres, "\"ops\".\"hist_shape\""),
            (Engine::Mysql, "`ops`.`hist_shape`"),
            (Engine::Sqlite, "\"hist_shape\""),
        ];
        for (engine, qualified) in cases {
            let sql = HistorySql::new(for_engine(engine), &table);
            assert_eq!(sql.shapes_table(), qualified);
            let create = sql.create_shapes();
            assert!(
                create.starts_with(&format!("CREATE TABLE IF NOT EXISTS {qualified} (")),
                "{create}"
            );
            assert!(
                create.contains("PRIMARY KEY (version, position)"),
                "{create}"
            );
            let insert = sql.insert_shape(
                crate::migration::Version::from(7),
                0,
                "users",
                "{\"a\":\"it's\"}",
            );
            assert!(
                insert.contains(&string_literal(engine, "{\"a\":\"it's\"}")),
                "{insert}"
            );
            assert_eq!(
                sql.select_shapes(crate::migration::Version::from(7)),
                format!(
                    "SELECT table_name, shape FROM {qualified} WHERE version = 7 ORDER BY position"
                )
            );
            assert_eq!(
                sql.delete_shapes(crate::migration::Version::from(7)),
                format!("DELETE FROM {qualified} WHERE version = 7")
            );
        }
    }

    #[test]
    fn schema_qualifies_on_servers_only() {
        let table = HistoryTable {
            schema: Some("ops".to_owned()),
            name: "hist".to_owned(),
        };
        assert_eq!(
            HistorySql::new(for_engine(Engine::Postgres), &table).table(),
            "\"ops\".\"hist\""
        );
        assert_eq!(
            HistorySql::new(for_engine(Engine::Mysql), &table).table(),
            "`ops`.`hist`"
        );
        assert_eq!(
            HistorySql::new(for_engine(Engine::Sqlite), &table).table(),
            "\"hist\""
        );
    }

    #[test]
    fn decode_reads_what_insert_writes() {
        let sql = HistorySql::new(for_engine(Engine::Sqlite), &HistoryTable::default());
        let row = row();
        let cells = vec![
            Some(row.version.to_string()),
            Some(row.name.clone()),
            Some(row.kind.as_str().to_owned()),
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
        let sql = HistorySql::new(for_engine(Engine::Sqlite), &HistoryTable::default());
        let mut cells: Vec<Option<String>> = vec![Some("1".to_owned()); 12];
        cells[4] = Some("weird".to_owned());
        let err = sql.decode(vec![cells]).unwrap_err().to_string();
        assert!(
            err.contains("row of version 1: column state holds \"weird\""),
            "{err}"
        );
    }

    fn cells(row: &HistoryRow) -> Vec<Option<String>> {
        vec![
            Some(row.version.to_string()),
            Some(row.name.clone()),
            Some(row.kind.as_str().to_owned()),
            Some(row.checksum.clone()),
            Some(row.state.as_str().to_owned()),
            Some(row.applied_at.clone()),
            Some(row.execution_ms.to_string()),
            Some(row.applied_by.clone()),
            Some(row.cairn_version.clone()),
            row.statements_done.map(|n| n.to_string()),
            row.statements_checksum.clone(),
            row.error.as_ref().map(ToString::to_string),
        ]
    }

    #[test]
    fn dotted_and_repeatable_versions_round_trip_through_their_key_and_text() {
        let sql = HistorySql::new(for_engine(Engine::Sqlite), &HistoryTable::default());
        let integral = row();
        let mut dotted = row();
        dotted.version = "1.1".parse().unwrap();
        dotted.name = "add_email".to_owned();
        let mut repeatable = row();
        repeatable.version = Version::repeatable("user_names");
        repeatable.name = "user_names".to_owned();
        // An integral row is written as it always was; the others add their text.
        assert!(!sql.insert(&integral).contains("version_text"));
        let insert = sql.insert(&dotted);
        assert!(
            insert.contains(&format!("VALUES ({}, 'add_email'", dotted.version.key())),
            "{insert}"
        );
        assert!(insert.ends_with(", '1.1')"), "{insert}");
        assert!(sql.insert(&repeatable).ends_with(", 'R__user_names')"));
        assert!(sql
            .delete(dotted.version)
            .ends_with(&format!("WHERE version = {}", dotted.version.key())));

        let rows: Rows = [&repeatable, &integral, &dotted]
            .into_iter()
            .map(|row| {
                let mut cells = cells(row);
                cells[0] = Some(row.version.key().to_string());
                cells
            })
            .collect();
        assert!(HistorySql::needs_version_texts(&rows));
        let texts = sql
            .decode_version_texts(vec![
                vec![Some(dotted.version.key().to_string()), Some("1.1".into())],
                vec![
                    Some(repeatable.version.key().to_string()),
                    Some("R__user_names".into()),
                ],
            ])
            .unwrap();
        let decoded = sql.decode_with_texts(rows.clone(), &texts).unwrap();
        assert_eq!(
            decoded,
            vec![dotted.clone(), integral.clone(), repeatable.clone()]
        );

        // A negative key without its text, or with a text of another version.
        let message = sql.decode(rows.clone()).unwrap_err().to_string();
        assert!(message.contains("has no version_text"), "{message}");
        let mut wrong = texts.clone();
        wrong.insert(dotted.version.key(), "1.2".into());
        let message = sql
            .decode_with_texts(rows.clone(), &wrong)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("does not belong to version key"),
            "{message}"
        );
        wrong.insert(dotted.version.key(), "one.two".into());
        let message = sql.decode_with_texts(rows, &wrong).unwrap_err().to_string();
        assert!(message.contains("is not a version"), "{message}");
        let message = sql
            .decode_version_texts(vec![vec![None, Some("1.1".into())]])
            .unwrap_err()
            .to_string();
        assert!(message.contains("has no version"), "{message}");
        assert_eq!(
            sql.add_version_text(),
            [
                "ALTER TABLE \"cairn_history\" ADD COLUMN version_text VARCHAR(255)",
                "ALTER TABLE \"cairn_history_log\" ADD COLUMN version_text VARCHAR(255)"
            ]
        );
    }

    #[test]
    fn input_tampered_rows_are_refused_naming_table_row_column_and_value() {
        let sql = HistorySql::new(for_engine(Engine::Postgres), &HistoryTable::default());
        let cases: &[(usize, &str, &str)] = &[
            (2, "migration", "kind"),
            (4, "done", "state"),
            (5, "yesterday", "applied_at"),
            (5, "2026-13-01T00:00:00Z", "applied_at"),
            (5, "2026-11-25T10:00:00", "applied_at"),
            (5, "2026-11-25T10:00:00.Z", "applied_at"),
            (6, "-5", "execution_ms"),
            (9, "-1", "statements_done"),
        ];
        for (index, value, column) in cases {
            let mut cells = cells(&row());
            cells[*index] = Some((*value).to_owned());
            let error = sql.decode(vec![cells]).unwrap_err();
            match &error {
                Error::History {
                    version,
                    column: got,
                    value: got_value,
                    ..
                } => {
                    assert_eq!(
                        (version.key(), *got, got_value.as_str()),
                        (20260101000000, *column, *value)
                    );
                }
                other => panic!("{column} = {value}: unexpected {other:?}"),
            }
            let message = error.to_string();
            assert!(message.contains("\"cairn_history\""), "{message}");
            assert!(message.contains(&format!("{value:?}")), "{message}");
            assert!(message.contains("by hand"), "{message}");
        }
        let twice = vec![cells(&row()), cells(&row())];
        let message = sql.decode(twice).unwrap_err().to_string();
        assert!(message.contains("more than one row"), "{message}");
    }

    #[test]
    fn input_history_names_longer_than_the_engine_allows_are_refused() {
        let table = |name: &str, schema: Option<&str>| HistoryTable {
            schema: schema.map(str::to_owned),
            name: name.to_owned(),
        };
        let fits = "h".repeat(54);
        assert!(table(&fits, None)
            .check_names(for_engine(Engine::Postgres))
            .is_ok());
        assert!(table(&format!("{fits}h"), None)
            .check_names(for_engine(Engine::Mysql))
            .is_ok());
        let long = "h".repeat(60);
        assert!(table(&long, None)
            .check_names(for_engine(Engine::Sqlite))
            .is_ok());
        let message = table(&long, None)
            .check_names(for_engine(Engine::Postgres))
            .unwrap_err()
            .to_string();
        for part in [
            "history_table",
            "is 60 bytes long",
            &format!("{long}_backfill"),
            "63 bytes",
            "at most 54 bytes",
            "postgres",
        ] {
            assert!(message.contains(part), "{part}: {message}");
        }
        // Bytes on PostgreSQL, characters on MySQL.
        let wide = "é".repeat(30);
        assert!(table(&wide, None)
            .check_names(for_engine(Engine::Postgres))
            .is_err());
        assert!(table(&wide, None)
            .check_names(for_engine(Engine::Mysql))
            .is_ok());
        let message = table("h", Some(&"s".repeat(65)))
            .check_names(for_engine(Engine::Mysql))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("history_schema") && message.contains("65 characters"),
            "{message}"
        );
    }

    #[test]
    fn rfc3339_times_that_cairn_and_others_write_are_accepted() {
        for text in [
            "2026-11-25T10:00:00.000Z",
            "2026-11-25T10:00:00Z",
            "2026-11-25 10:00:00.123456+01:00",
            "1999-12-31T23:59:60-05:30",
        ] {
            assert!(is_rfc3339(text), "{text}");
        }
        for text in [
            "",
            "2026-11-25",
            "2026-00-10T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T10:00:00+1",
        ] {
            assert!(!is_rfc3339(text), "{text}");
        }
    }

    #[test]
    fn row_errors_read_back_the_text_cairn_writes() {
        let cases = [
            (
                "down in progress: statements_done counts the rollback's statements",
                RowError::RollbackInProgress,
            ),
            (
                "up statement 2 of 3 (m/up.sql:4): boom",
                RowError::Statement {
                    direction: Direction::Up,
                    in_doubt: false,
                    detail: "statement 2 of 3 (m/up.sql:4): boom".to_owned(),
                },
            ),
            (
                "in doubt: up statement 1 of 1 (m/up.sql:1): lost",
                RowError::Statement {
                    direction: Direction::Up,
                    in_doubt: true,
                    detail: "statement 1 of 1 (m/up.sql:1): lost".to_owned(),
                },
            ),
            (
                "down statement 1 of 2 (m/down.sql:1): no",
                RowError::Statement {
                    direction: Direction::Down,
                    in_doubt: false,
                    detail: "statement 1 of 2 (m/down.sql:1): no".to_owned(),
                },
            ),
            (
                "upgrade failed",
                RowError::Other("upgrade failed".to_owned()),
            ),
            ("", RowError::Other(String::new())),
        ];
        for (text, error) in cases {
            assert_eq!(RowError::parse(text), error, "{text}");
            assert_eq!(error.to_string(), text);
        }
        assert!(RowError::RollbackInProgress.is_rollback());
        assert!(RowError::parse("down statement 1 of 1 (x:1): e").is_rollback());
        assert!(!RowError::parse("up statement 1 of 1 (x:1): e").is_rollback());
        assert!(RowError::parse("in doubt: up statement 1 of 1 (x:1): e").is_in_doubt());
        assert!(!RowError::Other("in doubt".to_owned()).is_in_doubt());
    }

    #[test]
    fn history_kinds_are_stored_as_their_names() {
        for kind in HistoryKind::ALL {
            assert_eq!(HistoryKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(HistoryKind::Sql.as_str(), "sql");
        assert_eq!(HistoryKind::Baseline.as_str(), "baseline");
        assert_eq!(HistoryKind::parse("repeatable"), None);
    }

    proptest::proptest! {
        /// Whatever the `error` column holds, it is written back unchanged.
        #[test]
        fn row_error_text_round_trips(text in "(in doubt: )?(up |down )?[ -~]{0,40}") {
            proptest::prop_assert_eq!(RowError::parse(&text).to_string(), text);
        }
    }

    /// The SQL Cairn sends for its bookkeeping, per engine, reviewed like code.
    #[test]
    fn history_sql_snapshots() {
        for engine in Engine::ALL {
            let sql = HistorySql::new(for_engine(engine), &HistoryTable::default());
            let entry = LogEntry {
                version: crate::migration::Version::from(7),
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
                sql.select_version(crate::migration::Version::from(7)),
                sql.insert(&row()),
                sql.update(&row()),
                sql.delete(crate::migration::Version::from(7)),
                sql.log(&entry).replace(crate::CAIRN_VERSION, "<version>"),
            ]);
            insta::assert_snapshot!(format!("history_sql_{engine}"), all.join(";\n\n"));
        }
    }
}

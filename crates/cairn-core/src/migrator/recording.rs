//! A fake [`Driver`] for the migrator's unit tests: it records every call,
//! keeps the history and log tables in memory (reading back the SQLite
//! statements [`HistorySql`] renders), and can be told to fail a statement.
//!
//! It understands only Cairn's own bookkeeping statements; every other
//! statement is a migration's ("user") statement, which it records and, in a
//! transaction, forgets again on rollback. A bookkeeping statement it cannot
//! read panics, so a change of the rendering fails the tests loudly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::driver::{
    Capabilities, Driver, DriverError, DriverErrorKind, LockKind, Rows, SessionSettings,
};
use crate::migration::Version;

/// One call the migrator made, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Call {
    Lock,
    Unlock,
    ApplySettings,
    Begin,
    Commit,
    Rollback,
    /// [`Driver::execute`] with this SQL.
    Execute(String),
    /// [`Driver::execute_many`] with these statements.
    ExecuteMany(Vec<String>),
    /// [`Driver::query`] with this SQL.
    Query(String),
}

impl Call {
    /// Whether the call can change the database or its locks.
    pub(super) fn writes(&self) -> bool {
        !matches!(self, Call::Query(_))
    }
}

/// The columns of the history table, in the order `HistorySql` writes them.
const COLUMNS: [&str; 12] = [
    "version",
    "name",
    "kind",
    "checksum",
    "state",
    "applied_at",
    "execution_ms",
    "applied_by",
    "cairn_version",
    "statements_done",
    "statements_checksum",
    "error",
];

const HISTORY: &str = "\"cairn_history\"";
const LOG: &str = "\"cairn_history_log\"";
const SHAPES: &str = "\"cairn_history_shape\"";
const CHECKPOINTS: &str = "\"cairn_history_backfill\"";
/// A query the fake answers with a row when the quoted user statement took
/// effect: the `done_if` guard of the operation steps the tests compile.
pub(super) const APPLIED_GUARD: &str = "SELECT applied ";

/// What the fake database holds; copied at `BEGIN`, restored on rollback.
#[derive(Clone, Debug, Default)]
pub(super) struct Database {
    /// Whether `CREATE TABLE` of the history ran.
    pub(super) tables: bool,
    /// History rows by version, as the 12 cells of [`COLUMNS`].
    pub(super) history: BTreeMap<Version, Vec<Option<String>>>,
    /// Log rows: `(version, action, outcome)`.
    pub(super) log: Vec<(Version, String, String)>,
    /// The user statements that took effect, in order.
    pub(super) applied: Vec<String>,
    /// Whether `CREATE TABLE` of the before-shape table ran.
    pub(super) shapes_table: bool,
    /// Kept before-shapes by `(version, position)`: `(table_name, shape)`.
    pub(super) shapes: BTreeMap<(Version, i64), (String, String)>,
}

/// The recording fake driver (see the module docs).
#[derive(Debug)]
pub(super) struct RecordingDriver {
    capabilities: Capabilities,
    /// Every call, in order.
    pub(super) calls: Vec<Call>,
    /// The committed state, plus what the open transaction did.
    pub(super) db: Database,
    /// The state at `BEGIN`, while a transaction is open.
    saved: Option<Database>,
    /// User statements sent so far (failed ones included).
    sent: usize,
    /// The 1-based number of the user statement to fail, counted from now.
    fail_at: Option<usize>,
    /// Whether the lock is held.
    locked: bool,
    /// A row another runner writes at the next `BEGIN`: `(version, state)`.
    other_run: Option<(Version, &'static str)>,
    /// User statements containing `.0` fail with kind `.1`, `.2` more times.
    fail_matching: Option<(String, DriverErrorKind, usize)>,
    /// How many of the next updates of the history fail with a lock timeout.
    busy_history: usize,
    /// A user statement containing `.0` raises stop signal `.1` (Ctrl-C
    /// pressed while it runs).
    stop_on: Option<(String, crate::backfill::StopSignal)>,
    /// The dialect it reports, SQLite's unless a test gives another.
    dialect: Option<Arc<dyn crate::dialect::Dialect>>,
    /// Every session setting applied, in order.
    pub(super) settings: Vec<SessionSettings>,
}

impl RecordingDriver {
    /// A driver for an engine with transactional DDL (like PostgreSQL) when
    /// `transactional`, else one that commits each statement (like MySQL);
    /// both with a session lock.
    pub(super) fn new(transactional: bool) -> Self {
        Self::with_capabilities(Capabilities::new(transactional, LockKind::Session).with_run_lock())
    }

    /// A driver with `capabilities`.
    pub(super) fn with_capabilities(capabilities: Capabilities) -> Self {
        RecordingDriver {
            capabilities,
            calls: Vec::new(),
            db: Database::default(),
            saved: None,
            sent: 0,
            fail_at: None,
            locked: false,
            other_run: None,
            fail_matching: None,
            busy_history: 0,
            stop_on: None,
            dialect: None,
            settings: Vec::new(),
        }
    }

    /// Reports `dialect` instead of SQLite's (a test dialect that compiles operations).
    pub(super) fn with_dialect(mut self, dialect: Arc<dyn crate::dialect::Dialect>) -> Self {
        self.dialect = Some(dialect);
        self
    }

    /// Makes the next `times` user statements containing `pattern` fail with `kind`.
    pub(super) fn fail_matching(&mut self, pattern: &str, kind: DriverErrorKind, times: usize) {
        self.fail_matching = Some((pattern.to_owned(), kind, times));
    }

    /// Raises `stop` when a user statement containing `pattern` runs, as
    /// Ctrl-C pressed during that statement would.
    pub(super) fn stop_on(&mut self, pattern: &str, stop: crate::backfill::StopSignal) {
        self.stop_on = Some((pattern.to_owned(), stop));
    }

    /// Makes the next `times` updates of a history row fail with a lock
    /// timeout, as SQLite's busy write lock does.
    pub(super) fn busy_history(&mut self, times: usize) {
        self.busy_history = times;
    }

    /// How many user statements that took effect contain `pattern`.
    pub(super) fn applied_count(&self, pattern: &str) -> usize {
        self.db
            .applied
            .iter()
            .filter(|s| s.contains(pattern))
            .count()
    }

    /// Makes the `n`th user statement from now (1-based) fail.
    pub(super) fn fail_user_statement(&mut self, n: usize) {
        self.fail_at = Some(self.sent + n);
    }

    /// At the next `BEGIN`, another runner records `version` as `state`.
    pub(super) fn other_run_writes(&mut self, version: Version, state: &'static str) {
        self.other_run = Some((version, state));
    }

    /// Forgets the calls recorded so far.
    pub(super) fn clear_calls(&mut self) {
        self.calls.clear();
    }

    /// The user statements that took effect, in order.
    pub(super) fn applied(&self) -> &[String] {
        &self.db.applied
    }

    /// The stored text of `column` in the history row of `version`.
    pub(super) fn cell(&self, version: impl Into<Version>, column: &str) -> Option<String> {
        let version = version.into();
        let index = column_index(column);
        self.db.history.get(&version)?[index].clone()
    }

    fn run(&mut self, sql: &str) -> Result<u64, DriverError> {
        if sql == "BEGIN" {
            // The transaction probe (see `HistorySql::transaction_probe`).
            if self.saved.is_some() {
                return Err(DriverError::new(
                    DriverErrorKind::Statement,
                    "cannot start a transaction within a transaction",
                ));
            }
            self.saved = Some(self.db.clone());
            return Ok(0);
        }
        if sql == "COMMIT" {
            // The end of a packet's transaction (see `super::packet`).
            if let Some((pattern, stop)) = &self.stop_on {
                if pattern == "COMMIT" {
                    stop.stop();
                }
            }
            assert!(self.saved.take().is_some(), "COMMIT without a transaction");
            return Ok(0);
        }
        if sql.starts_with(&format!("CREATE TABLE IF NOT EXISTS {SHAPES}")) {
            self.db.shapes_table = true;
            return Ok(0);
        }
        if sql.starts_with("CREATE TABLE IF NOT EXISTS ") {
            self.db.tables = true;
            return Ok(0);
        }
        if let Some(rest) = sql.strip_prefix(&format!("INSERT INTO {SHAPES} (")) {
            assert!(self.db.shapes_table, "a shape kept before its table exists");
            let cells = insert_values(rest);
            let text = |i: usize| cells[i].clone().unwrap_or_default();
            let position: i64 = text(1).parse().expect("a position");
            self.db
                .shapes
                .insert((version_of(&cells), position), (text(2), text(3)));
            return Ok(1);
        }
        if let Some(version) = sql.strip_prefix(&format!("DELETE FROM {SHAPES} WHERE version = ")) {
            let version: Version = version.parse().expect("a version");
            self.db.shapes.retain(|(v, _), _| *v != version);
            return Ok(0);
        }
        if sql.starts_with(&format!("DELETE FROM {CHECKPOINTS} WHERE version = ")) {
            return Ok(0);
        }
        if let Some(rest) = sql.strip_prefix(&format!("INSERT INTO {HISTORY} (")) {
            let cells = insert_values(rest);
            let version = version_of(&cells);
            assert!(
                self.db.history.insert(version, cells).is_none(),
                "a second history row for version {version}: {sql}"
            );
            return Ok(1);
        }
        if let Some(rest) = sql.strip_prefix(&format!("INSERT INTO {LOG} (")) {
            let cells = insert_values(rest);
            let text = |i: usize| cells[i].clone().unwrap_or_default();
            self.db.log.push((version_of(&cells), text(2), text(3)));
            return Ok(1);
        }
        if let Some(rest) = sql.strip_prefix(&format!("UPDATE {HISTORY} SET ")) {
            if self.busy_history > 0 {
                self.busy_history -= 1;
                return Err(DriverError::new(
                    DriverErrorKind::LockTimeout,
                    "database is locked",
                ));
            }
            let (assignments, version) = rest
                .rsplit_once(" WHERE version = ")
                .unwrap_or_else(|| panic!("an UPDATE without its version: {sql}"));
            let version: Version = version.parse().expect("a version");
            let Some(row) = self.db.history.get_mut(&version) else {
                return Ok(0);
            };
            let mut rest = assignments;
            loop {
                let (column, after) = rest
                    .split_once(" = ")
                    .unwrap_or_else(|| panic!("an assignment in {sql}"));
                let (value, after) = literal(after);
                row[column_index(column.trim())] = value;
                match after.trim_start().strip_prefix(',') {
                    Some(next) => rest = next,
                    None => break,
                }
            }
            return Ok(1);
        }
        if let Some(version) = sql.strip_prefix(&format!("DELETE FROM {HISTORY} WHERE version = "))
        {
            let version: Version = version.parse().expect("a version");
            return Ok(u64::from(self.db.history.remove(&version).is_some()));
        }
        assert!(
            !sql.contains("cairn_history"),
            "a bookkeeping statement the fake cannot read: {sql}"
        );
        self.sent += 1;
        if let Some((pattern, kind, times)) = self.fail_matching.as_mut() {
            if *times > 0 && sql.contains(pattern.as_str()) {
                *times -= 1;
                return Err(DriverError::new(*kind, format!("boom at `{sql}`")));
            }
        }
        if self.fail_at == Some(self.sent) {
            return Err(DriverError::new(
                DriverErrorKind::Statement,
                format!("boom at `{sql}`"),
            ));
        }
        if let Some((pattern, stop)) = &self.stop_on {
            if sql.contains(pattern.as_str()) {
                stop.stop();
            }
        }
        self.db.applied.push(sql.to_owned());
        Ok(0)
    }
}

fn column_index(column: &str) -> usize {
    COLUMNS
        .iter()
        .position(|c| *c == column)
        .unwrap_or_else(|| panic!("no history column {column}"))
}

fn version_of(cells: &[Option<String>]) -> Version {
    cells[0]
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("a version")
}

/// The values of `<columns>) VALUES (<values>)`.
fn insert_values(rest: &str) -> Vec<Option<String>> {
    let (_, values) = rest
        .split_once(") VALUES (")
        .unwrap_or_else(|| panic!("an INSERT without values: {rest}"));
    let mut cells = Vec::new();
    let mut rest = values;
    loop {
        let (value, after) = literal(rest);
        cells.push(value);
        let after = after.trim_start();
        match after.strip_prefix(',') {
            Some(next) => rest = next,
            None => {
                assert_eq!(after, ")", "the end of an INSERT");
                return cells;
            }
        }
    }
}

/// Reads one SQLite literal (`'text'` with `''` for a quote, `NULL`, a
/// number) from the start of `text`; returns it and what follows.
fn literal(text: &str) -> (Option<String>, &str) {
    let text = text.trim_start();
    if let Some(quoted) = text.strip_prefix('\'') {
        let mut value = String::new();
        let mut chars = quoted.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '\'' {
                value.push(c);
            } else if chars.peek().is_some_and(|(_, next)| *next == '\'') {
                value.push('\'');
                chars.next();
            } else {
                return (Some(value), &quoted[i + 1..]);
            }
        }
        panic!("an unterminated literal: {text}");
    }
    let end = text.find([',', ')', ' ']).unwrap_or(text.len());
    let token = &text[..end];
    let value = (token != "NULL").then(|| token.to_owned());
    (value, &text[end..])
}

#[async_trait]
impl Driver for RecordingDriver {
    fn dialect(&self) -> &dyn crate::dialect::Dialect {
        static SQLITE: crate::dialect::sqlite::SqliteDialect =
            crate::dialect::sqlite::SqliteDialect::DEFAULT;
        match &self.dialect {
            Some(dialect) => dialect.as_ref(),
            None => &SQLITE,
        }
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn lock(&mut self, _timeout: Duration) -> Result<(), DriverError> {
        self.calls.push(Call::Lock);
        assert!(!self.locked, "the lock was taken twice");
        self.locked = true;
        Ok(())
    }

    async fn unlock(&mut self) -> Result<(), DriverError> {
        self.calls.push(Call::Unlock);
        assert!(self.locked, "unlock without the lock");
        self.locked = false;
        Ok(())
    }

    async fn apply_settings(&mut self, settings: &SessionSettings) -> Result<(), DriverError> {
        self.calls.push(Call::ApplySettings);
        self.settings.push(*settings);
        Ok(())
    }

    async fn begin(&mut self) -> Result<(), DriverError> {
        self.calls.push(Call::Begin);
        assert!(self.saved.is_none(), "BEGIN inside a transaction");
        self.saved = Some(self.db.clone());
        if let Some((version, state)) = self.other_run.take() {
            let mut cells = vec![Some(String::new()); COLUMNS.len()];
            cells[0] = Some(version.to_string());
            cells[column_index("state")] = Some(state.to_owned());
            self.db.history.insert(version, cells);
            // Another runner committed it: a rollback keeps it.
            if let Some(saved) = self.saved.as_mut() {
                saved.history.clone_from(&self.db.history);
            }
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), DriverError> {
        self.calls.push(Call::Commit);
        assert!(self.saved.take().is_some(), "COMMIT without a transaction");
        Ok(())
    }

    async fn rollback(&mut self) -> Result<(), DriverError> {
        self.calls.push(Call::Rollback);
        if let Some(saved) = self.saved.take() {
            self.db = saved;
        }
        Ok(())
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, DriverError> {
        self.calls.push(Call::Execute(sql.to_owned()));
        self.run(sql)
    }

    async fn execute_many(&mut self, statements: &[&str]) -> Result<(), (usize, DriverError)> {
        self.calls.push(Call::ExecuteMany(
            statements.iter().map(|s| (*s).to_owned()).collect(),
        ));
        for (index, statement) in statements.iter().enumerate() {
            self.run(statement).map_err(|e| (index, e))?;
        }
        Ok(())
    }

    async fn query(&mut self, sql: &str) -> Result<Rows, DriverError> {
        self.calls.push(Call::Query(sql.to_owned()));
        if let Some(quoted) = sql.strip_prefix(APPLIED_GUARD) {
            let (statement, _) = literal(quoted);
            let done = self.db.applied.contains(&statement.unwrap_or_default());
            return Ok(if done {
                vec![vec![Some("1".to_owned())]]
            } else {
                Vec::new()
            });
        }
        if let Some(version) = sql
            .strip_prefix(&format!(
                "SELECT table_name, shape FROM {SHAPES} WHERE version = "
            ))
            .and_then(|rest| rest.strip_suffix(" ORDER BY position"))
        {
            let version: Version = version.parse().expect("a version");
            return Ok(self
                .db
                .shapes
                .iter()
                .filter(|((v, _), _)| *v == version)
                .map(|(_, (table, shape))| vec![Some(table.clone()), Some(shape.clone())])
                .collect());
        }
        if sql.starts_with("SELECT 1 FROM sqlite_master")
            && sql.ends_with("name = 'cairn_history_shape'")
        {
            return Ok(if self.db.shapes_table {
                vec![vec![Some("1".to_owned())]]
            } else {
                Vec::new()
            });
        }
        if sql.starts_with("SELECT 1 FROM sqlite_master") {
            let exists = self.db.tables && sql.ends_with("name = 'cairn_history'");
            return Ok(if exists {
                vec![vec![Some("1".to_owned())]]
            } else {
                Vec::new()
            });
        }
        if let Some(version) =
            sql.strip_prefix(&format!("SELECT state FROM {HISTORY} WHERE version = "))
        {
            let version: Version = version.parse().expect("a version");
            let state = self.cell(version, "state");
            return Ok(self
                .db
                .history
                .contains_key(&version)
                .then(|| vec![state])
                .into_iter()
                .collect());
        }
        if sql.starts_with("SELECT version, name, kind") && sql.contains(HISTORY) {
            return Ok(self.db.history.values().cloned().collect());
        }
        panic!("a query the fake cannot answer: {sql}");
    }
}

//! Cairn's bookkeeping SQL on the Sqlite family.
//!
//! Literals: standard `'...'`; backslashes are never special, and a NUL is
//! kept as `('a' || char(0) || 'b')`. A session needs no settings. A SQLite
//! database has no schemas Cairn qualifies with: a configured history schema
//! is ignored.

use super::SqliteDialect;
use crate::dialect::bookkeeping::{ColumnTypes, IdentifierLimit};
use crate::dialect::Bookkeeping;
use crate::driver::DriverError;
use crate::literal::{quoted, SessionPreconditions};
use crate::split::{Bodies, SplitRules};

/// The splitter's rules for SQLite.
const SPLIT_RULES: SplitRules = SplitRules {
    double_quoted_strings: false,
    backslash_escapes: false,
    escape_strings: false,
    dollar_quotes: false,
    backtick_identifiers: true,
    bracket_identifiers: true,
    dash_comment_needs_space: false,
    hash_comments: false,
    nested_block_comments: false,
    executable_comments: false,
    delimiter_directive: false,
    bodies: Bodies::TriggerBlocks,
};

impl Bookkeeping for SqliteDialect {
    fn qualify(&self, _schema: Option<&str>, name: &str) -> String {
        self.quote_ident(name)
    }

    fn string_literal(&self, value: &str) -> String {
        if !value.contains('\0') {
            return quoted(value);
        }
        let parts: Vec<String> = value.split('\0').map(quoted).collect();
        format!("({})", parts.join(" || char(0) || "))
    }

    fn session_preconditions(&self) -> SessionPreconditions {
        SessionPreconditions::NONE
    }

    /// SQLite keeps names of any length.
    fn identifier_limit(&self) -> Option<IdentifierLimit> {
        None
    }

    /// The log's id is a rowid alias, not AUTOINCREMENT: the log is
    /// append-only, so ids are never reused, and `sqlite_sequence` would cost
    /// a page write per row.
    fn column_types(&self) -> ColumnTypes {
        ColumnTypes {
            integer: "INTEGER",
            text: "TEXT",
            serial_key: "INTEGER PRIMARY KEY",
            table_options: "",
        }
    }

    fn table_exists(&self, _schema: Option<&str>, name: &str) -> String {
        format!(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = {}",
            self.string_literal(name)
        )
    }

    fn column_exists(&self, _schema: Option<&str>, table: &str, column: &str) -> String {
        format!(
            "SELECT 1 FROM pragma_table_info({}) WHERE name = {}",
            self.string_literal(table),
            self.string_literal(column)
        )
    }

    /// BEGIN inside a transaction fails; outside one it opens a transaction,
    /// which the rollback that follows ends.
    fn transaction_probe(&self) -> Option<&'static str> {
        Some("BEGIN")
    }

    fn transaction_still_open(&self, outcome: &Result<u64, DriverError>) -> Option<bool> {
        match outcome {
            Ok(_) => Some(false),
            Err(e) if e.message.contains("within a transaction") => Some(true),
            Err(_) => None,
        }
    }

    fn primary_key_query(&self, table: &str) -> String {
        let name = table.split_once('.').map_or(table, |(_, name)| name);
        format!(
            "SELECT name, type FROM pragma_table_info({}) WHERE pk > 0 ORDER BY pk",
            self.string_literal(name)
        )
    }

    fn lock_blocker_hint(&self) -> &'static str {
        "another connection holds the database's write lock"
    }

    fn split_rules(&self) -> SplitRules {
        SPLIT_RULES
    }
}

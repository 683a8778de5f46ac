//! Cairn's bookkeeping SQL on the Mysql family (MySQL 8, MariaDB 10.11+).
//!
//! Literals: `'...'` (quotes doubled) when the value is ASCII without a
//! backslash or NUL; otherwise the UTF-8 bytes as a hexadecimal literal with a
//! character-set introducer, `_utf8mb4 X'...'`, which neither
//! `NO_BACKSLASH_ESCAPES` nor the connection's character set can change. Like
//! a quoted literal it is *coercible*: compared with a column it takes the
//! column's collation, so keyset bounds compare as the table orders its rows.
//! The driver still removes `NO_BACKSLASH_ESCAPES` from every session's
//! `sql_mode` and checks it, so users' migrations and the splitter see
//! backslash escapes.

use std::fmt::Write as _;
use std::time::Duration;

use super::MysqlDialect;
use crate::dialect::bookkeeping::{ColumnTypes, IdentifierLimit, LengthUnit};
use crate::dialect::Bookkeeping;
use crate::literal::{quoted, SessionPreconditions, SessionSetting, SetStatement};
use crate::split::{Bodies, SplitRules};

fn lacks_no_backslash_escapes(sql_mode: &str) -> bool {
    !sql_mode
        .split(',')
        .any(|flag| flag.trim().eq_ignore_ascii_case("NO_BACKSLASH_ESCAPES"))
}

const SETTINGS: &[SessionSetting] = &[SessionSetting {
    name: "sql_mode",
    // Removes NO_BACKSLASH_ESCAPES and keeps every other flag as the server has it.
    assignment: "sql_mode = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',NO_BACKSLASH_ESCAPES,', ','))",
    read: "@@SESSION.sql_mode",
    required: "without NO_BACKSLASH_ESCAPES",
    holds: lacks_no_backslash_escapes,
}];

/// The splitter's rules for MySQL and MariaDB.
const SPLIT_RULES: SplitRules = SplitRules {
    double_quoted_strings: true,
    backslash_escapes: true,
    escape_strings: false,
    dollar_quotes: false,
    backtick_identifiers: true,
    bracket_identifiers: false,
    dash_comment_needs_space: true,
    hash_comments: true,
    nested_block_comments: false,
    executable_comments: true,
    delimiter_directive: true,
    bodies: Bodies::CompoundStatements,
};

impl Bookkeeping for MysqlDialect {
    fn quote_ident(&self, ident: &str) -> String {
        format!("`{}`", ident.replace('`', "``"))
    }

    fn string_literal(&self, value: &str) -> String {
        let plain = value.bytes().all(|b| b.is_ascii() && b != b'\\' && b != 0);
        if plain {
            return quoted(value);
        }
        let mut out = String::with_capacity(value.len() * 2 + 12);
        out.push_str("_utf8mb4 X'");
        for b in value.bytes() {
            let _ = write!(out, "{b:02x}");
        }
        out.push('\'');
        out
    }

    fn session_preconditions(&self) -> SessionPreconditions {
        SessionPreconditions::new(SETTINGS, SetStatement::Session)
    }

    /// MySQL and MariaDB refuse names over 64 characters.
    fn identifier_limit(&self) -> Option<IdentifierLimit> {
        Some(IdentifierLimit {
            max: 64,
            unit: LengthUnit::Characters,
        })
    }

    fn column_types(&self) -> ColumnTypes {
        ColumnTypes {
            integer: "BIGINT",
            text: "TEXT",
            serial_key: "BIGINT AUTO_INCREMENT PRIMARY KEY",
            table_options: " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        }
    }

    fn table_exists(&self, schema: Option<&str>, name: &str) -> String {
        let schema = schema.map_or_else(|| "DATABASE()".to_owned(), |s| self.string_literal(s));
        format!(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = {schema} AND table_name = {}",
            self.string_literal(name)
        )
    }

    fn column_exists(&self, schema: Option<&str>, table: &str, column: &str) -> String {
        let schema = schema.map_or_else(|| "DATABASE()".to_owned(), |s| self.string_literal(s));
        format!(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = {schema} \
             AND table_name = {} AND column_name = {}",
            self.string_literal(table),
            self.string_literal(column)
        )
    }

    fn primary_key_query(&self, table: &str) -> String {
        let (schema, name) = match table.split_once('.') {
            Some((schema, name)) => (Some(schema), name),
            None => (None, table),
        };
        format!(
            "SELECT k.COLUMN_NAME, c.DATA_TYPE FROM information_schema.KEY_COLUMN_USAGE k \
             JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = k.TABLE_SCHEMA \
             AND c.TABLE_NAME = k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME \
             WHERE k.TABLE_SCHEMA = {} AND k.TABLE_NAME = {} AND k.CONSTRAINT_NAME = 'PRIMARY' \
             ORDER BY k.ORDINAL_POSITION",
            schema.map_or_else(|| "DATABASE()".to_owned(), |s| self.string_literal(s)),
            self.string_literal(name)
        )
    }

    /// `lock_wait_timeout` takes whole seconds: the driver rounds up.
    fn lock_timeout_note(&self, timeout: Duration) -> &'static str {
        if timeout.subsec_nanos() > 0 {
            " (MySQL counts it in whole seconds, rounded up)"
        } else {
            ""
        }
    }

    /// The same statements the driver's `begin` and `commit` send.
    fn packet_transaction(&self) -> Option<(&'static str, &'static str)> {
        Some(("START TRANSACTION", "COMMIT"))
    }

    fn lock_blocker_hint(&self) -> &'static str {
        "find it with `SELECT * FROM information_schema.PROCESSLIST WHERE COMMAND = 'Sleep' OR STATE LIKE '%lock%'` and, for InnoDB transactions, `information_schema.INNODB_TRX`"
    }

    fn split_rules(&self) -> SplitRules {
        SPLIT_RULES
    }
}

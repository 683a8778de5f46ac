//! Cairn's bookkeeping SQL on the Postgres family.
//!
//! Literals: `'...'` (quotes doubled) when the value holds no backslash;
//! otherwise an escape string `E'...'` with `\` and `'` doubled, which the
//! server reads the same under either `standard_conforming_strings`. NUL
//! becomes `\000`, which the server refuses: PostgreSQL text cannot hold it.
//! The driver still establishes `standard_conforming_strings = on` and
//! `client_encoding = UTF8` on every session and checks that they took
//! effect, so users' migrations and the splitter see standard strings.

use super::PostgresDialect;
use crate::backfill::sql::quote_table;
use crate::dialect::bookkeeping::{ColumnTypes, IdentifierLimit, LengthUnit};
use crate::dialect::Bookkeeping;
use crate::driver::DriverError;
use crate::literal::{is_on, quoted, SessionPreconditions, SessionSetting, SetStatement};
use crate::split::{Bodies, SplitRules};

fn is_utf8(value: &str) -> bool {
    value.eq_ignore_ascii_case("UTF8") || value.eq_ignore_ascii_case("UTF-8")
}

const SETTINGS: &[SessionSetting] = &[
    SessionSetting {
        name: "standard_conforming_strings",
        assignment: "standard_conforming_strings = on",
        read: "current_setting('standard_conforming_strings')",
        required: "on",
        holds: is_on,
    },
    SessionSetting {
        name: "client_encoding",
        assignment: "client_encoding = 'UTF8'",
        read: "current_setting('client_encoding')",
        required: "UTF8",
        holds: is_utf8,
    },
];

/// The splitter's rules for PostgreSQL.
const SPLIT_RULES: SplitRules = SplitRules {
    double_quoted_strings: false,
    backslash_escapes: false,
    escape_strings: true,
    dollar_quotes: true,
    backtick_identifiers: false,
    bracket_identifiers: false,
    dash_comment_needs_space: false,
    hash_comments: false,
    nested_block_comments: true,
    executable_comments: false,
    delimiter_directive: false,
    bodies: Bodies::BeginAtomic,
};

impl Bookkeeping for PostgresDialect {
    /// PostgreSQL folds unquoted identifiers to lower case.
    fn fold_unquoted(&self, ident: &str) -> String {
        ident.to_ascii_lowercase()
    }

    fn string_literal(&self, value: &str) -> String {
        if !value.contains(['\\', '\0']) {
            return quoted(value);
        }
        let mut out = String::with_capacity(value.len() + 4);
        out.push_str("E'");
        for c in value.chars() {
            match c {
                '\'' => out.push_str("''"),
                '\\' => out.push_str("\\\\"),
                // Refused by the server: PostgreSQL text cannot hold NUL.
                '\0' => out.push_str("\\000"),
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    }

    fn session_preconditions(&self) -> SessionPreconditions {
        SessionPreconditions::new(SETTINGS, SetStatement::Each)
    }

    /// PostgreSQL silently truncates names to 63 bytes (`NAMEDATALEN - 1`).
    fn identifier_limit(&self) -> Option<IdentifierLimit> {
        Some(IdentifierLimit {
            max: 63,
            unit: LengthUnit::Bytes,
        })
    }

    fn column_types(&self) -> ColumnTypes {
        ColumnTypes {
            integer: "BIGINT",
            text: "TEXT",
            serial_key: "BIGSERIAL PRIMARY KEY",
            table_options: "",
        }
    }

    fn create_schema(&self, schema: &str) -> Option<String> {
        Some(format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            self.quote_ident(schema)
        ))
    }

    /// PostgreSQL has no `HEX()`; `encode(bytea, 'hex')` is its form.
    fn hex_text(&self, expr: &str) -> String {
        format!("encode({expr}, 'hex')")
    }

    fn table_exists(&self, schema: Option<&str>, name: &str) -> String {
        let schema =
            schema.map_or_else(|| "current_schema()".to_owned(), |s| self.string_literal(s));
        format!(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = {schema} AND table_name = {}",
            self.string_literal(name)
        )
    }

    /// The statements Flyway's PostgreSQL parser runs outside a transaction
    /// (`detectCanExecuteInTransaction`): `CREATE [UNIQUE] INDEX
    /// CONCURRENTLY`, `DROP INDEX CONCURRENTLY`, `CREATE`/`DROP` `DATABASE`,
    /// `TABLESPACE` or `SUBSCRIPTION`, `ALTER SYSTEM`, `REINDEX SCHEMA`,
    /// `DATABASE` or `SYSTEM`, `VACUUM`, `DISCARD ALL`, and `ALTER TYPE …
    /// ADD VALUE` on servers older than 12; and `REINDEX … CONCURRENTLY`,
    /// which PostgreSQL 12+ refuses in a transaction block too.
    fn needs_no_transaction(&self, statement: &str) -> bool {
        let words = crate::split::leading_words(statement, 4);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let upper = statement.to_ascii_uppercase();
        let has = |word: &str| {
            upper
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|w| w == word)
        };
        match words.as_slice() {
            ["CREATE", "INDEX", "CONCURRENTLY", ..]
            | ["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY", ..]
            | ["DROP", "INDEX", "CONCURRENTLY", ..]
            | ["CREATE" | "DROP", "DATABASE" | "TABLESPACE" | "SUBSCRIPTION", ..]
            | ["ALTER", "SYSTEM", ..]
            | ["REINDEX", "SCHEMA" | "DATABASE" | "SYSTEM", ..]
            | ["VACUUM", ..]
            | ["DISCARD", "ALL", ..] => true,
            ["REINDEX", ..] => has("CONCURRENTLY"),
            ["ALTER", "TYPE", ..] => {
                let old = self.version.as_ref().is_some_and(|v| v.numbers.0 < 12);
                old && upper
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .windows(2)
                    .any(|w| w == ["ADD", "VALUE"])
            }
            _ => false,
        }
    }

    /// SQLSTATE 25001, active_sql_transaction: "cannot run inside a
    /// transaction block".
    fn cannot_run_in_transaction(&self, error: &DriverError) -> bool {
        error.code.as_deref() == Some("25001")
    }

    /// In a failed transaction every statement but ROLLBACK is refused
    /// (25P02, in_failed_sql_transaction); outside one this succeeds.
    fn transaction_probe(&self) -> Option<&'static str> {
        Some("SELECT 1")
    }

    fn transaction_still_open(&self, outcome: &Result<u64, DriverError>) -> Option<bool> {
        match outcome {
            Ok(_) => Some(false),
            Err(e) if e.code.as_deref() == Some("25P02") => Some(true),
            Err(_) => None,
        }
    }

    /// Row comparison `(a, b) > (1, 2)` uses the index directly.
    fn compares_row_values(&self) -> bool {
        true
    }

    fn primary_key_query(&self, table: &str) -> String {
        format!(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = to_regclass({}) AND i.indisprimary \
             ORDER BY array_position(i.indkey::int2[], a.attnum)",
            self.string_literal(&quote_table(self, table))
        )
    }

    /// The commit need not wait for the WAL flush: a crash loses the last
    /// batches together with their checkpoints, so a resumed run redoes
    /// exactly those. The final history update commits synchronously, which
    /// flushes everything before it.
    fn batch_prelude(&self) -> &'static [&'static str] {
        &["SET LOCAL synchronous_commit = off"]
    }

    fn replication_lag_query(&self) -> Option<&'static str> {
        Some(
            "SELECT COALESCE(EXTRACT(EPOCH FROM MAX(replay_lag)), 0)::text FROM pg_stat_replication",
        )
    }

    fn lock_blocker_hint(&self) -> &'static str {
        "find it with `SELECT pid, state, xact_start, query FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' OR wait_event_type = 'Lock'`"
    }

    fn split_rules(&self) -> SplitRules {
        SPLIT_RULES
    }
}

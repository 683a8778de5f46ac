//! What Cairn writes for itself: the history, log and checkpoint tables, the
//! session preconditions its literals rely on, transaction probes, keyset
//! batches, the batch prelude and the replication-lag query.
//!
//! [`Bookkeeping`] is the only place these differ by engine: the renderers
//! that assemble whole statements ([`crate::history::HistorySql`],
//! [`crate::backfill::sql`]) are written once and ask the dialect for the
//! pieces. A method with a default is standard SQL that most products share;
//! a product that differs overrides that one method.

use std::time::Duration;

use crate::driver::DriverError;
use crate::literal::SessionPreconditions;
use crate::split::SplitRules;

/// How a product limits the length of an identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdentifierLimit {
    /// The longest identifier, in [`IdentifierLimit::unit`]s.
    pub max: usize,
    /// What the limit counts.
    pub unit: LengthUnit,
}

/// What an [`IdentifierLimit`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LengthUnit {
    /// UTF-8 bytes (PostgreSQL's `NAMEDATALEN - 1`).
    Bytes,
    /// Characters (MySQL, MariaDB).
    Characters,
}

impl LengthUnit {
    /// The length of `text` in this unit.
    pub fn length(self, text: &str) -> usize {
        match self {
            LengthUnit::Bytes => text.len(),
            LengthUnit::Characters => text.chars().count(),
        }
    }

    /// The unit's name in messages (`bytes`, `characters`).
    pub fn name(self) -> &'static str {
        match self {
            LengthUnit::Bytes => "bytes",
            LengthUnit::Characters => "characters",
        }
    }
}

/// The column types and table options of Cairn's own tables on one product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnTypes {
    /// A 64-bit integer (`BIGINT`).
    pub integer: &'static str,
    /// Text of any length (`TEXT`).
    pub text: &'static str,
    /// The log's id column: an integer primary key the database numbers.
    pub serial_key: &'static str,
    /// Appended after a `CREATE TABLE`'s closing parenthesis (MySQL's storage
    /// engine and character set), or empty.
    pub table_options: &'static str,
}

/// The SQL of Cairn's own bookkeeping on one product.
pub trait Bookkeeping {
    /// The name an unquoted identifier `ident` is stored under, as another
    /// tool's DDL left it (Liquibase creates `DATABASECHANGELOG` unquoted).
    /// The default keeps it as written (MySQL, SQLite); PostgreSQL folds it
    /// to lower case.
    fn fold_unquoted(&self, ident: &str) -> String {
        ident.to_owned()
    }

    /// Quotes an identifier. The default is standard SQL: `"..."` with `"` doubled.
    fn quote_ident(&self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }

    /// `name` quoted, qualified with `schema` when one is given and the
    /// product has schemas (the default: `"schema"."name"`).
    fn qualify(&self, schema: Option<&str>, name: &str) -> String {
        match schema {
            Some(schema) => format!("{}.{}", self.quote_ident(schema), self.quote_ident(name)),
            None => self.quote_ident(name),
        }
    }

    /// Renders `value` as a string literal that reads back as exactly `value`
    /// under any session setting (see [`crate::literal`]).
    fn string_literal(&self, value: &str) -> String;

    /// What Cairn's SQL assumes of a session, and how a driver establishes
    /// and checks it (see [`crate::literal`]).
    fn session_preconditions(&self) -> SessionPreconditions;

    /// The longest identifier the product keeps intact; `None`: no limit
    /// Cairn needs to check.
    fn identifier_limit(&self) -> Option<IdentifierLimit>;

    /// The column types of the history, log and checkpoint tables.
    fn column_types(&self) -> ColumnTypes;

    /// A statement that creates `schema` (quoted) for the history, or `None`
    /// when the product creates none for Cairn (the default: a MySQL
    /// "schema" is a database the URL already names).
    fn create_schema(&self, schema: &str) -> Option<String> {
        let _ = schema;
        None
    }

    /// `expr` (a binary column of another tool's history table, read by
    /// `cairn adopt`) as hexadecimal text. The default is `HEX(expr)`
    /// (MySQL, SQLite); the case of the digits does not matter.
    fn hex_text(&self, expr: &str) -> String {
        format!("HEX({expr})")
    }

    /// A query returning one row if the table `name` exists in `schema`
    /// (`None`: the connection's default), both unquoted.
    fn table_exists(&self, schema: Option<&str>, name: &str) -> String;

    /// Whether `statement` cannot run inside a transaction block on this
    /// product, so that a migration of only such statements runs outside
    /// one (applied to the Flyway layout, whose tool detects them: see
    /// [`crate::tools::flyway`]), and a script of the layouts whose tools run
    /// it as written runs outside Cairn's transaction (see
    /// [`crate::tools::golang_migrate`]). The default: none.
    fn needs_no_transaction(&self, statement: &str) -> bool {
        let _ = statement;
        false
    }

    /// Whether `error` says that a statement cannot run inside a transaction
    /// block (so the error can say how to run the migration outside one).
    /// The default: never.
    fn cannot_run_in_transaction(&self, error: &DriverError) -> bool {
        let _ = error;
        false
    }

    /// A query returning one row if the table `table` in `schema` (`None`:
    /// the connection's default) has the column `column`, all unquoted. The
    /// default reads `information_schema.columns` with `current_schema()`.
    fn column_exists(&self, schema: Option<&str>, table: &str, column: &str) -> String {
        let schema =
            schema.map_or_else(|| "current_schema()".to_owned(), |s| self.string_literal(s));
        format!(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = {schema} \
             AND table_name = {} AND column_name = {}",
            self.string_literal(table),
            self.string_literal(column)
        )
    }

    /// A statement that tells, after a statement failed inside Cairn's
    /// transaction, whether that transaction is still open; `None` (the
    /// default) when no script runs in Cairn's transaction.
    fn transaction_probe(&self) -> Option<&'static str> {
        None
    }

    /// What the outcome of [`Bookkeeping::transaction_probe`] says:
    /// `Some(true)` if the transaction is still open, `Some(false)` if it had
    /// ended, `None` if the outcome proves neither (the default).
    fn transaction_still_open(&self, outcome: &Result<u64, DriverError>) -> Option<bool> {
        let _ = outcome;
        None
    }

    /// The statements that open and commit a transaction when Cairn sends
    /// it inside a statement packet (see `Driver::execute_packet`), where
    /// the driver's own `begin` and `commit` cannot be called; `None` (the
    /// default) when the product's drivers take no packets.
    fn packet_transaction(&self) -> Option<(&'static str, &'static str)> {
        None
    }

    /// Whether a composite key compares as a row value, `(a, b) > (1, 2)`,
    /// using the index; otherwise keyset bounds are written out as
    /// `a > 1 OR (a = 1 AND b > 2)` (the default, which every planner turns
    /// into a range scan).
    fn compares_row_values(&self) -> bool {
        false
    }

    /// The query for a table's primary key columns and their types, in key
    /// order; `table` is as written in `migration.toml` (`table` or
    /// `schema.table`).
    fn primary_key_query(&self, table: &str) -> String;

    /// Statements that open every backfill batch's transaction (PostgreSQL:
    /// the commit need not wait for the WAL flush). The default has none.
    fn batch_prelude(&self) -> &'static [&'static str] {
        &[]
    }

    /// The query for the worst replica lag in seconds, seen from the primary;
    /// `None` (the default) when replicas must be asked themselves.
    fn replication_lag_query(&self) -> Option<&'static str> {
        None
    }

    /// How the product counts a lock timeout, when it does not honour `timeout`
    /// as given (appended to the error of a statement that gave up); empty by default.
    fn lock_timeout_note(&self, timeout: Duration) -> &'static str {
        let _ = timeout;
        ""
    }

    /// How to find the session that holds a lock a statement waited for.
    fn lock_blocker_hint(&self) -> &'static str;

    /// What the statement splitter must know of the product's lexical rules.
    fn split_rules(&self) -> SplitRules;
}

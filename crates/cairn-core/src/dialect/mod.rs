//! Everything Cairn *says* to a database, one folder per engine family.
//!
//! A [`Dialect`] is the single place where an engine's SQL and quirks live:
//! the history and log tables, keyset and checkpoint SQL, catalog queries,
//! the snapshot written back as DDL, literals and the session settings they
//! rely on, the splitter's rules, scratch databases. The rest of the core asks
//! the dialect and never branches on an engine itself
//! (`tests/architecture.rs::no_engine_branch_outside_dialect` checks it).
//!
//! A dialect is a value, not just a family: a driver detects its server's
//! [`Flavour`] and [`ServerVersion`] once, at connect, and hands the core a
//! dialect built from them, so a product that speaks a family with a
//! difference (MariaDB beside MySQL; later CockroachDB, TiDB, libSQL) adjusts
//! one file. Commands that run without a connection (`validate`, a dry run)
//! use [`for_engine`], the family's dialect with no version known.
//!
//! The trait is split by subject so that each subject reads on its own:
//! [`Bookkeeping`] (what Cairn writes for itself) and [`Schema`] (what it reads
//! of and writes to the user's schema).

use std::fmt;
use std::sync::Arc;

mod bookkeeping;
pub mod engine;
mod online;
mod schema;

pub mod mysql;
pub mod postgres;
pub mod sqlite;

pub use bookkeeping::{Bookkeeping, ColumnTypes, IdentifierLimit, LengthUnit};
pub use online::Online;
pub use schema::Schema;

use crate::engine::Engine;

/// One product of an engine family, as detected by a driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Flavour {
    /// PostgreSQL itself.
    Postgres,
    /// MySQL (Oracle's server).
    Mysql,
    /// MariaDB.
    MariaDb,
    /// SQLite.
    Sqlite,
}

impl Flavour {
    /// The product's name, as reports and errors print it.
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Postgres => "PostgreSQL",
            Flavour::Mysql => "MySQL",
            Flavour::MariaDb => "MariaDB",
            Flavour::Sqlite => "SQLite",
        }
    }
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A server's version as it reported it, with the numbers read from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerVersion {
    /// `major.minor.patch` as far as the text gives them.
    pub numbers: (u32, u32, u32),
    /// The text the server reported (`SELECT VERSION()`, `server_version`).
    pub text: String,
}

impl ServerVersion {
    /// Reads the leading `major.minor.patch` of `text` (missing parts are 0).
    pub fn parse(text: &str) -> ServerVersion {
        let mut parts = text
            .trim()
            .split(|c: char| !c.is_ascii_digit())
            .take_while(|part| !part.is_empty())
            .map(|part| part.parse::<u32>().unwrap_or(0));
        let numbers = (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        );
        ServerVersion {
            numbers,
            text: text.to_owned(),
        }
    }

    /// Whether this version is at least `major.minor`.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.numbers.0, self.numbers.1) >= (major, minor)
    }
}

/// Everything Cairn says to one database product.
///
/// Implemented in this crate for PostgreSQL, MySQL/MariaDB and SQLite; an
/// outside driver for another product returns one of these, or its own.
pub trait Dialect: Bookkeeping + Schema + Online + Send + Sync + fmt::Debug {
    /// The family: which `up.<engine>.sql` override applies.
    fn engine(&self) -> Engine;

    /// The product within the family.
    fn flavour(&self) -> Flavour;

    /// The server's version, when a connection told it.
    fn server_version(&self) -> Option<&ServerVersion>;

    /// A shared copy of this dialect, for values that outlive the borrow of
    /// the driver it came from ([`crate::history::HistorySql`] holds one).
    fn shared(&self) -> Arc<dyn Dialect>;
}

/// The dialect of `engine`'s main product with no server version known, for
/// work done without a connection.
pub fn for_engine(engine: Engine) -> &'static dyn Dialect {
    static POSTGRES: postgres::PostgresDialect = postgres::PostgresDialect::DEFAULT;
    static MYSQL: mysql::MysqlDialect = mysql::MysqlDialect::DEFAULT;
    static SQLITE: sqlite::SqliteDialect = sqlite::SqliteDialect::DEFAULT;
    match engine {
        Engine::Postgres => &POSTGRES,
        Engine::Mysql => &MYSQL,
        Engine::Sqlite => &SQLITE,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::driver::DriverError;
    use crate::history::{HistorySql, HistoryTable};
    use crate::literal::SessionPreconditions;
    use crate::split::SplitRules;

    /// A product that speaks PostgreSQL but keeps names of 30 bytes only:
    /// it overrides one method and delegates the rest to its family.
    #[derive(Clone, Debug)]
    struct ShortNames(postgres::PostgresDialect);

    impl Bookkeeping for ShortNames {
        fn quote_ident(&self, ident: &str) -> String {
            self.0.quote_ident(ident)
        }
        fn qualify(&self, schema: Option<&str>, name: &str) -> String {
            self.0.qualify(schema, name)
        }
        fn string_literal(&self, value: &str) -> String {
            self.0.string_literal(value)
        }
        fn session_preconditions(&self) -> SessionPreconditions {
            self.0.session_preconditions()
        }
        fn identifier_limit(&self) -> Option<IdentifierLimit> {
            Some(IdentifierLimit {
                max: 30,
                unit: LengthUnit::Bytes,
            })
        }
        fn column_types(&self) -> ColumnTypes {
            self.0.column_types()
        }
        fn create_schema(&self, schema: &str) -> Option<String> {
            self.0.create_schema(schema)
        }
        fn table_exists(&self, schema: Option<&str>, name: &str) -> String {
            self.0.table_exists(schema, name)
        }
        fn transaction_probe(&self) -> Option<&'static str> {
            self.0.transaction_probe()
        }
        fn transaction_still_open(&self, outcome: &Result<u64, DriverError>) -> Option<bool> {
            self.0.transaction_still_open(outcome)
        }
        fn compares_row_values(&self) -> bool {
            self.0.compares_row_values()
        }
        fn primary_key_query(&self, table: &str) -> String {
            self.0.primary_key_query(table)
        }
        fn batch_prelude(&self) -> &'static [&'static str] {
            self.0.batch_prelude()
        }
        fn replication_lag_query(&self) -> Option<&'static str> {
            self.0.replication_lag_query()
        }
        fn lock_timeout_note(&self, timeout: Duration) -> &'static str {
            self.0.lock_timeout_note(timeout)
        }
        fn lock_blocker_hint(&self) -> &'static str {
            self.0.lock_blocker_hint()
        }
        fn split_rules(&self) -> SplitRules {
            self.0.split_rules()
        }
    }

    #[async_trait::async_trait]
    impl Schema for ShortNames {
        async fn read_schema(
            &self,
            driver: &mut dyn crate::Driver,
        ) -> Result<crate::schema::Snapshot, crate::Error> {
            self.0.read_schema(driver).await
        }
        fn example_server_url(&self) -> &'static str {
            self.0.example_server_url()
        }
    }

    impl Online for ShortNames {}

    impl Dialect for ShortNames {
        fn engine(&self) -> Engine {
            self.0.engine()
        }
        fn flavour(&self) -> Flavour {
            self.0.flavour()
        }
        fn server_version(&self) -> Option<&ServerVersion> {
            self.0.server_version()
        }
        fn shared(&self) -> Arc<dyn Dialect> {
            Arc::new(self.clone())
        }
    }

    #[test]
    fn a_product_overrides_one_method_of_its_family() {
        let short = ShortNames(postgres::PostgresDialect::DEFAULT);
        let table = HistoryTable {
            schema: Some("ops".to_owned()),
            name: "h".repeat(25),
        };
        assert!(table.check_names(for_engine(Engine::Postgres)).is_ok());
        let message = table.check_names(&short).unwrap_err().to_string();
        for part in [
            "history_table",
            "is 25 bytes long",
            "30 bytes",
            "at most 21 bytes",
            "postgres",
        ] {
            assert!(message.contains(part), "{part}: {message}");
        }
        // Everything else is the family's.
        let ours = HistorySql::new(&short, &HistoryTable::default());
        let family = HistorySql::new(for_engine(Engine::Postgres), &HistoryTable::default());
        assert_eq!(ours.create(), family.create());
        assert_eq!(ours.exists(), family.exists());
        assert_eq!(ours.dialect().flavour(), Flavour::Postgres);
    }

    #[test]
    fn versions_parse_leading_numbers() {
        let v = ServerVersion::parse("10.11.6-MariaDB-0+deb12u1");
        assert_eq!(v.numbers, (10, 11, 6));
        assert!(v.at_least(10, 11));
        assert!(!v.at_least(11, 0));
        assert_eq!(
            ServerVersion::parse("15.4 (Debian 15.4-1)").numbers,
            (15, 4, 0)
        );
        assert_eq!(ServerVersion::parse("garbage").numbers, (0, 0, 0));
    }

    #[test]
    fn every_engine_has_a_dialect_of_its_family() {
        for engine in Engine::ALL {
            assert_eq!(for_engine(engine).engine(), engine);
            assert!(for_engine(engine).server_version().is_none());
        }
    }
}

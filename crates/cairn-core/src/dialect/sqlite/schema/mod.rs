//! Reading and rebuilding a schema on SQLite: the catalog queries are in
//! [`introspect`]; what a dump, the seeder and scratch databases say
//! differently on SQLite is below.

use async_trait::async_trait;

use super::SqliteDialect;
use crate::dialect::Schema;
use crate::driver::Driver;
use crate::engine::Engine;
use crate::error::Error;
use crate::history::string_literal;
use crate::schema::{Snapshot, View};
use crate::verify::seed;

mod introspect;

#[async_trait]
impl Schema for SqliteDialect {
    async fn read_schema(&self, driver: &mut dyn Driver) -> Result<Snapshot, Error> {
        introspect::introspect(driver).await
    }

    /// SQLite keeps no names for unique constraints.
    fn ddl_unique(&self, _name: &str, columns: &str) -> String {
        format!("UNIQUE ({columns})")
    }

    /// SQLite keys an unnamed check by its expression.
    fn ddl_check(&self, name: &str, key: &str, check: &str) -> String {
        if key == check {
            format!("CHECK ({check})")
        } else {
            format!("CONSTRAINT {name} CHECK ({check})")
        }
    }

    /// SQLite cannot add a foreign key to a table that exists.
    fn ddl_foreign_keys_in_table(&self) -> bool {
        true
    }

    /// `pragma_table_info` drops the parentheses an expression needs.
    fn ddl_default(&self, default: &str) -> String {
        format!(" DEFAULT ({default})")
    }

    /// SQLite keeps the whole statement.
    fn ddl_view(&self, _name: &str, view: &View) -> String {
        view.definition.clone()
    }

    /// SQLite accepts any value in any column: pick one by the type's affinity.
    fn seed_any_type(&self, data_type: &str, n: u64) -> Option<String> {
        let literal = if data_type.contains("int") || data_type.is_empty() {
            (1_000_000_000 - n % 1_000_000_000).to_string()
        } else if ["char", "clob", "text"]
            .iter()
            .any(|t| data_type.contains(t))
        {
            string_literal(Engine::Sqlite, &seed::text(n))
        } else if data_type.contains("blob") {
            format!("x'{}'", seed::hex(n))
        } else if data_type.contains("date") || data_type.contains("time") {
            format!("'{}'", seed::date(n))
        } else if data_type.contains("bool") {
            (n % 2).to_string()
        } else {
            n.to_string()
        };
        Some(literal)
    }

    fn relax_durability(&self) -> Option<&'static str> {
        Some("PRAGMA synchronous = OFF")
    }

    fn databases_are_files(&self) -> bool {
        true
    }

    fn example_server_url(&self) -> &'static str {
        "sqlite://scratch.db"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Table, Trigger};

    const LITE: SqliteDialect = SqliteDialect::DEFAULT;

    #[test]
    fn ddl_pieces_are_sqlite_sql() {
        assert!(!LITE.keys_have_schemas());
        assert_eq!(LITE.ddl_primary_key(None, "id"), "PRIMARY KEY (id)");
        assert_eq!(LITE.ddl_unique("\"unique (a)\"", "a"), "UNIQUE (a)");
        assert_eq!(
            LITE.ddl_check("\"a > 0\"", "a > 0", "a > 0"),
            "CHECK (a > 0)"
        );
        assert_eq!(
            LITE.ddl_check("a_pos", "a_pos", "a > 0"),
            "CONSTRAINT a_pos CHECK (a > 0)"
        );
        assert!(LITE.ddl_foreign_keys_in_table());
        assert_eq!(LITE.ddl_default("'x'"), " DEFAULT ('x')");
        assert_eq!(LITE.ddl_identity("always"), None);
        assert!(!LITE.ddl_explicit_null());
        assert_eq!(
            LITE.ddl_key_expression(&Table::default(), "lower(a)", " DESC"),
            "lower(a) DESC"
        );
        let view = View {
            materialized: false,
            definition: "CREATE VIEW v AS SELECT 1".to_owned(),
        };
        assert_eq!(LITE.ddl_view("v", &view), "CREATE VIEW v AS SELECT 1");
        let trigger = Trigger {
            name: "t".to_owned(),
            table: "x".to_owned(),
            timing: "BEFORE".to_owned(),
            events: vec!["INSERT".to_owned()],
            definition: "CREATE TRIGGER t BEFORE INSERT ON x BEGIN SELECT 1; END".to_owned(),
        };
        assert_eq!(LITE.ddl_trigger(&trigger), trigger.definition);
    }

    #[test]
    fn seed_and_scratch_sql() {
        assert_eq!(LITE.seed_boolean(false), "0");
        assert_eq!(LITE.seed_any_type("", 7).as_deref(), Some("999999993"));
        assert_eq!(LITE.seed_any_type("clob", 7).as_deref(), Some("'s7'"));
        assert_eq!(
            LITE.seed_insert_defaults("t"),
            "INSERT INTO t DEFAULT VALUES"
        );
        assert_eq!(LITE.seed_overriding_identity(), None);
        assert_eq!(LITE.relax_durability(), Some("PRAGMA synchronous = OFF"));
        assert!(LITE.databases_are_files());
    }
}

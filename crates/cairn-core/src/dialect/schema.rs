//! What Cairn reads of and writes to the user's schema: catalog queries
//! (introspection into a `Snapshot`), the snapshot written back as DDL, seed
//! literals, scratch databases (create, drop, relaxed durability).
//!
//! The neutral halves stay outside the dialect: the snapshot model and its
//! diff (`crate::schema`), the order and shape of a dump
//! (`crate::schema::ddl`), which rows the seeder generates
//! (`crate::verify::seed`), the scratch lifecycle (`crate::verify::scratch`).
//! Each asks this trait only for what differs between products, so a method
//! here is one quirk, and its doc says which product needs it and why.

use async_trait::async_trait;

use crate::driver::Driver;
use crate::error::Error;
use crate::schema::{Index, Snapshot, Table, Trigger, View};

/// The SQL Cairn uses to read and rebuild a schema on one product.
#[async_trait]
pub trait Schema {
    // ----- introspection -------------------------------------------------

    /// Reads every object of the schema the driver's connection is in, Cairn's
    /// own tables included (the caller filters them out).
    async fn read_schema(&self, driver: &mut dyn Driver) -> Result<Snapshot, Error>;

    /// Whether a snapshot key may carry a schema prefix (`app.users`), so that
    /// it is written as two names (PostgreSQL).
    fn keys_have_schemas(&self) -> bool {
        false
    }

    // ----- DDL: the snapshot written back --------------------------------

    /// The primary key line of `CREATE TABLE`; `name` (quoted) and `columns`
    /// already rendered. By default unnamed: only PostgreSQL keeps a primary
    /// key's name.
    fn ddl_primary_key(&self, _name: Option<&str>, columns: &str) -> String {
        format!("PRIMARY KEY ({columns})")
    }

    /// A unique constraint's line of `CREATE TABLE`; `name` already quoted.
    fn ddl_unique(&self, name: &str, columns: &str) -> String {
        format!("CONSTRAINT {name} UNIQUE ({columns})")
    }

    /// An index written inside `CREATE TABLE`, for products that want it there
    /// (MySQL); `None` writes it as `CREATE INDEX` after every table.
    fn ddl_index_in_table(&self, _name: &str, _index: &Index, _columns: &str) -> Option<String> {
        None
    }

    /// A check constraint's line of `CREATE TABLE`; `name` already quoted,
    /// `key` the snapshot's key of the check, `check` its expression.
    fn ddl_check(&self, name: &str, _key: &str, check: &str) -> String {
        format!("CONSTRAINT {name} CHECK ({check})")
    }

    /// Whether foreign keys are written inside `CREATE TABLE` (SQLite, which
    /// cannot add one later) rather than as `ALTER TABLE` after every table.
    fn ddl_foreign_keys_in_table(&self) -> bool {
        false
    }

    /// A column's `COLLATE` clause.
    fn ddl_collation(&self, collation: &str) -> String {
        format!(" COLLATE {collation}")
    }

    /// A column's `DEFAULT` clause.
    fn ddl_default(&self, default: &str) -> String {
        format!(" DEFAULT {default}")
    }

    /// A column's identity clause for `kind` (`always`, `by default`,
    /// `auto_increment`), where the product has identity columns.
    fn ddl_identity(&self, _kind: &str) -> Option<String> {
        None
    }

    /// Whether a nullable, non-generated column says `NULL` explicitly (MySQL:
    /// a `TIMESTAMP` column is otherwise `NOT NULL` where
    /// `explicit_defaults_for_timestamp` is off).
    fn ddl_explicit_null(&self) -> bool {
        false
    }

    /// A key of an index or constraint that is not one of `table`'s column
    /// names, as read by introspection (an expression, a prefix), followed
    /// by its `order` (` DESC`, options). By default as read.
    fn ddl_key_expression(&self, _table: &Table, expression: &str, order: &str) -> String {
        format!("{expression}{order}")
    }

    /// The statement that creates `view`; `name` already qualified and quoted.
    fn ddl_view(&self, name: &str, view: &View) -> String {
        format!(
            "CREATE {}VIEW {name} AS {}",
            if view.materialized {
                "MATERIALIZED "
            } else {
                ""
            },
            view.definition
        )
    }

    /// The statement that creates `trigger`. By default the definition is
    /// the whole statement (PostgreSQL's `pg_get_triggerdef`, SQLite's text).
    fn ddl_trigger(&self, trigger: &Trigger) -> String {
        trigger.definition.clone()
    }

    // ----- seed rows -----------------------------------------------------

    /// A boolean literal. By default `1` / `0` (MySQL's `tinyint(1)`, SQLite).
    fn seed_boolean(&self, value: bool) -> String {
        u8::from(value).to_string()
    }

    /// A literal for a type no generator knows, where the product accepts
    /// one anyway (SQLite, by the type's affinity); `None` elsewhere.
    fn seed_any_type(&self, _data_type: &str, _n: u64) -> Option<String> {
        None
    }

    /// The statement inserting one row of defaults into `table` (quoted).
    fn seed_insert_defaults(&self, table: &str) -> String {
        format!("INSERT INTO {table} DEFAULT VALUES")
    }

    /// What follows the column list of an `INSERT` into a table with a
    /// `GENERATED ALWAYS` identity column so that it takes the given values
    /// (PostgreSQL `OVERRIDING SYSTEM VALUE`).
    fn seed_overriding_identity(&self) -> Option<&'static str> {
        None
    }

    // ----- scratch databases ---------------------------------------------

    /// The session setting that stops waiting for the disk at each commit,
    /// for a scratch database whose contents are thrown away (SQLite
    /// `synchronous = OFF`, PostgreSQL `synchronous_commit = off`); `None`
    /// where there is no such session setting (MySQL).
    fn relax_durability(&self) -> Option<&'static str> {
        None
    }

    /// Whether a database is a file (SQLite) rather than a database on a
    /// server: a scratch one is then a temporary file, not `CREATE DATABASE`.
    fn databases_are_files(&self) -> bool {
        false
    }

    /// The statement that creates the empty database `name` (quoted) on a
    /// server (not used where [`Schema::databases_are_files`]).
    fn create_database(&self, name: &str) -> String {
        format!("CREATE DATABASE {name}")
    }

    /// The statement that drops the database `name` (quoted) if it exists.
    fn drop_database(&self, name: &str) -> String {
        format!("DROP DATABASE IF EXISTS {name}")
    }

    /// A server URL to show in a message asking for one.
    fn example_server_url(&self) -> &'static str;
}

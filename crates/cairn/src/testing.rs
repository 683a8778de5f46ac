//! A test kit for your own migrations (feature `testing`): a fresh database
//! per test, migrate to a version, put rows in the old shape, migrate on and
//! look; prove that a rollback gives back schema *and* rows, and that a data
//! migration run twice changes nothing the second time.
//!
//! ```
//! use cairn::testing::TestDb;
//!
//! static MIGRATIONS: cairn::embed::EmbeddedMigrations =
//!     cairn::embed_migrations!("../../migrations");
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), cairn::testing::TestError> {
//! let migrator = MIGRATIONS.migrator(cairn::MigratorOptions::default())?;
//! let mut db = TestDb::sqlite(migrator).await?;
//!
//! // The database as it was before the migration under test.
//! db.migrate_to(db.version("create_users")?).await?;
//! db.execute("INSERT INTO users (id, email, name) VALUES (1, 'ada@example.com', 'Ada')")
//!     .await?;
//!
//! // Its rollback must give back the schema and the rows.
//! db.migrate_to(db.version("create_orders")?).await?;
//! db.assert_reversible(db.version("create_orders")?).await?;
//! assert_eq!(db.query("SELECT name FROM users").await?, [[Some("Ada".to_owned())]]);
//! # Ok(()) }
//! ```
//!
//! **Which database.** [`TestDb::sqlite`] makes a SQLite file in a temporary
//! directory; `TestDb::postgres` and `TestDb::mysql` (with the `postgres`
//! and `mysql` features) create a uniquely named database on the server of
//! `CAIRN_TEST_POSTGRES_URL` / `CAIRN_TEST_MYSQL_URL`, or, when that is not
//! set, in a container started through testcontainers. Each database is
//! dropped with its [`TestDb`], so tests run in parallel. A server that cannot
//! be reached fails the test with a message naming both ways to provide one:
//! a test is never skipped silently. [`TestDb::on`] takes any
//! [`TestDatabase`] of `cairn-testkit`.
//!
//! **What is compared.** [`TestDb::assert_reversible`] and
//! [`TestDb::assert_idempotent`] compare the schema as `cairn verify` reads
//! it (introspection, Cairn's own tables left out) and every row of every
//! table, as text, as a multiset: a row that changed, went or appeared is
//! reported with an example. Cairn's own tables (history, log, checkpoints)
//! are never compared.
//!
//! The errors are [`TestError`]s: a test returns `Result<(), TestError>`
//! and `?` reports them with everything they name.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use cairn_core::backfill::{self, DataMigration, Hooks, Transform};
use cairn_core::driver::Rows;
use cairn_core::history::HistorySql;
use cairn_core::schema::{self, Snapshot};
use cairn_core::verify::{self, rows as row_compare};
use cairn_core::{
    DownTarget, Driver, DriverError, DriverErrorKind, Engine, Error, HistoryState, Migration,
    Migrator, RunFailure, RunReport, Version,
};

pub use cairn_testkit::TestDatabase;

/// What went wrong in a migration test.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// Cairn refused or failed: reading migrations, the history, a driver call.
    #[error(transparent)]
    Cairn(Box<Error>),
    /// A migration run failed (what it did before is in the report).
    #[error(transparent)]
    Run(#[from] Box<RunFailure>),
    /// The test database could not be connected to.
    #[error("cannot connect to the test database on {engine}: {message}")]
    Connect {
        /// The engine.
        engine: Engine,
        /// Why (the URL without its password).
        message: String,
    },
    /// A statement the test ran itself failed.
    #[error("{engine}: `{sql}` failed: {cause}")]
    Statement {
        /// The engine.
        engine: Engine,
        /// The statement.
        sql: String,
        /// The driver's error.
        cause: DriverError,
    },
    /// A statement on a connection of the test's own ([`TestDb::connect`]) failed.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// No migration has that name or version.
    #[error("no migration is named {wanted}: the migrations are {known}")]
    UnknownMigration {
        /// The name or version asked for.
        wanted: String,
        /// The migrations there are, `version name`, for the message.
        known: String,
    },
    /// The check cannot run on this migration in this state.
    #[error("{check}({version}) on {engine}: {reason}")]
    NotApplicable {
        /// `assert_reversible` or `assert_idempotent`.
        check: &'static str,
        /// The migration.
        version: Version,
        /// The engine.
        engine: Engine,
        /// Why, and what to do instead.
        reason: String,
    },
    /// Rolling a migration back and applying it again did not give back the
    /// schema or the rows: the rollback loses something.
    #[error("{0}")]
    NotReversible(Findings),
    /// A data migration run a second time changed the data or the schema.
    #[error("{0}")]
    NotIdempotent(Findings),
}

impl From<Error> for TestError {
    fn from(error: Error) -> Self {
        TestError::Cairn(Box::new(error))
    }
}

impl From<RunFailure> for TestError {
    fn from(failure: RunFailure) -> Self {
        TestError::Run(Box::new(failure))
    }
}

/// What [`TestDb::assert_reversible`] or [`TestDb::assert_idempotent`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Findings {
    /// The migration checked.
    pub version: Version,
    /// Its name.
    pub name: String,
    /// The engine.
    pub engine: Engine,
    /// What the check did, for the message (`down and up again`).
    pub what: &'static str,
    /// Each difference, as a sentence: a schema difference, or the rows of
    /// one table that were lost, changed or appeared, with an example.
    pub differences: Vec<String>,
}

impl fmt::Display for Findings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "migration {} ({}) on {}: {} did not give back the database as it was:",
            self.version, self.name, self.engine, self.what
        )?;
        for difference in &self.differences {
            write!(f, "\n  - {difference}")?;
        }
        Ok(())
    }
}

/// A fresh database for one test, with a [`Migrator`] and a connection.
///
/// Dropping it drops the database (on a server) or its directory (SQLite).
pub struct TestDb {
    // Declared first, so that the connection closes before the database is
    // dropped.
    driver: Box<dyn Driver>,
    migrator: Migrator,
    hooks: Hooks,
    database: TestDatabase,
}

impl fmt::Debug for TestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDb")
            .field("database", &self.database)
            .field("migrations", &self.migrator.migrations().len())
            .finish_non_exhaustive()
    }
}

impl TestDb {
    /// A fresh SQLite database in a temporary directory of its own.
    ///
    /// # Errors
    ///
    /// [`TestError::Connect`] if the file cannot be opened.
    #[cfg(feature = "sqlite")]
    pub async fn sqlite(migrator: Migrator) -> Result<TestDb, TestError> {
        TestDb::on(TestDatabase::sqlite(), migrator).await
    }

    /// A fresh database on PostgreSQL: on the server of
    /// `CAIRN_TEST_POSTGRES_URL` if set, else in a container
    /// (`CAIRN_TEST_POSTGRES_IMAGE`, default the official image).
    ///
    /// # Panics
    ///
    /// If neither is reachable: the message names both ways to provide a
    /// server (a test never skips silently).
    ///
    /// # Errors
    ///
    /// [`TestError::Connect`] if the new database cannot be connected to.
    #[cfg(feature = "postgres")]
    pub async fn postgres(migrator: Migrator) -> Result<TestDb, TestError> {
        TestDb::on(cairn_testkit::postgres::database().await, migrator).await
    }

    /// A fresh database on MySQL or MariaDB: on the server of
    /// `CAIRN_TEST_MYSQL_URL` if set, else in a container
    /// (`CAIRN_TEST_MYSQL_IMAGE`, default the official image).
    ///
    /// # Panics
    ///
    /// As `TestDb::postgres`.
    ///
    /// # Errors
    ///
    /// [`TestError::Connect`] if the new database cannot be connected to.
    #[cfg(feature = "mysql")]
    pub async fn mysql(migrator: Migrator) -> Result<TestDb, TestError> {
        TestDb::on(cairn_testkit::mysql::database().await, migrator).await
    }

    /// The test database `database` (any of `cairn-testkit`'s), connected
    /// through [`crate::connect`].
    ///
    /// # Errors
    ///
    /// [`TestError::Connect`] if it cannot be connected to.
    pub async fn on(database: TestDatabase, migrator: Migrator) -> Result<TestDb, TestError> {
        let driver = connect(&database).await?;
        Ok(TestDb {
            driver,
            migrator,
            hooks: Hooks::default(),
            database,
        })
    }

    /// The engine of the database.
    pub fn engine(&self) -> Engine {
        self.database.engine()
    }

    /// The test database (its URL, for an application under test).
    pub fn database(&self) -> &TestDatabase {
        &self.database
    }

    /// The connection the migrations run on.
    pub fn driver(&mut self) -> &mut dyn Driver {
        self.driver.as_mut()
    }

    /// Another connection to the same database: an application version
    /// running beside the migration, say the old one while a zero-downtime
    /// migration is expanded.
    ///
    /// # Errors
    ///
    /// [`TestError::Connect`].
    pub async fn connect(&self) -> Result<Box<dyn Driver>, TestError> {
        connect(&self.database).await
    }

    /// The migrator.
    pub fn migrator(&self) -> &Migrator {
        &self.migrator
    }

    /// Registers a data migration written in Rust under the name its
    /// `migration.toml` gives it (`rust = "<name>"`), for the migrations and
    /// for [`TestDb::assert_idempotent`].
    pub fn register_data_migration(
        &mut self,
        name: impl Into<String>,
        migration: impl DataMigration + 'static,
    ) -> &mut Self {
        let name = name.into();
        let shared: Arc<dyn DataMigration> = Arc::new(migration);
        self.migrator
            .register_data_migration(name.clone(), Shared(Arc::clone(&shared)));
        self.hooks.data_migrations.insert(name, shared);
        self
    }

    /// The version of the migration named `name` (`create_users` for
    /// `20260101090000_create_users/`).
    ///
    /// # Errors
    ///
    /// [`TestError::UnknownMigration`], listing the migrations there are.
    pub fn version(&self, name: &str) -> Result<Version, TestError> {
        self.migrator
            .migrations()
            .iter()
            .find(|migration| migration.name == name)
            .map(|migration| migration.version)
            .ok_or_else(|| self.unknown(name.to_owned()))
    }

    /// Brings the database to `version`: applies the migrations up to it, or
    /// rolls back those after it (their down scripts run).
    ///
    /// A migration with zero-downtime operations stops at `expanded` (both
    /// application versions work): [`TestDb::contract`] finishes it, or set
    /// [`MigratorOptions::contract_after_expand`](crate::MigratorOptions::contract_after_expand).
    ///
    /// # Errors
    ///
    /// [`TestError::UnknownMigration`]; a failed run ([`TestError::Run`]).
    pub async fn migrate_to(
        &mut self,
        version: impl Into<Version>,
    ) -> Result<RunReport, TestError> {
        let version = version.into();
        self.migration(version)?;
        let newer_applied = self
            .applied()
            .await?
            .iter()
            .any(|(applied, _)| *applied > version);
        if newer_applied {
            return Ok(self
                .migrator
                .down(self.driver.as_mut(), DownTarget::To(version))
                .await?);
        }
        Ok(self
            .migrator
            .up(self.driver.as_mut(), Some(version))
            .await?)
    }

    /// Applies every pending migration (stopping at one that expands).
    ///
    /// # Errors
    ///
    /// A failed run ([`TestError::Run`]).
    pub async fn migrate_all(&mut self) -> Result<RunReport, TestError> {
        Ok(self.migrator.up(self.driver.as_mut(), None).await?)
    }

    /// Contracts the expanded migration `version`: what runs once the new
    /// application version is deployed (drops the old structure).
    ///
    /// # Errors
    ///
    /// A failed run ([`TestError::Run`]), or one refused because `version` is
    /// not expanded.
    pub async fn contract(&mut self, version: impl Into<Version>) -> Result<RunReport, TestError> {
        let version = version.into();
        self.migration(version)?;
        Ok(self
            .migrator
            .contract(self.driver.as_mut(), Some(version))
            .await?)
    }

    /// Aborts the expanded (or expanding) migration `version`: undoes its
    /// expand, as `cairn abort` does.
    ///
    /// # Errors
    ///
    /// As [`TestDb::contract`].
    pub async fn abort(&mut self, version: impl Into<Version>) -> Result<RunReport, TestError> {
        let version = version.into();
        self.migration(version)?;
        Ok(self
            .migrator
            .abort(self.driver.as_mut(), Some(version))
            .await?)
    }

    /// The state of migration `version` in the history, `None` if it is not
    /// applied (for a zero-downtime migration: `Expanded` between expand and
    /// contract).
    ///
    /// # Errors
    ///
    /// [`TestError::UnknownMigration`]; reading the history.
    pub async fn state(
        &mut self,
        version: impl Into<Version>,
    ) -> Result<Option<HistoryState>, TestError> {
        let version = version.into();
        self.migration(version)?;
        Ok(self
            .applied()
            .await?
            .into_iter()
            .find(|(applied, _)| *applied == version)
            .map(|(_, state)| state))
    }

    /// Runs one statement on the test connection; the rows it changed.
    ///
    /// # Errors
    ///
    /// [`TestError::Statement`], naming the statement.
    pub async fn execute(&mut self, sql: &str) -> Result<u64, TestError> {
        let engine = self.engine();
        self.driver
            .execute(sql)
            .await
            .map_err(|cause| TestError::Statement {
                engine,
                sql: sql.to_owned(),
                cause,
            })
    }

    /// Runs a query; every value as text (`None` for NULL), rows in the
    /// order the query gives them (say `ORDER BY`).
    ///
    /// # Errors
    ///
    /// [`TestError::Statement`], naming the query.
    pub async fn query(&mut self, sql: &str) -> Result<Rows, TestError> {
        let engine = self.engine();
        self.driver
            .query(sql)
            .await
            .map_err(|cause| TestError::Statement {
                engine,
                sql: sql.to_owned(),
                cause,
            })
    }

    /// The schema (Cairn's own tables left out), as `cairn schema dump`
    /// reads it.
    ///
    /// # Errors
    ///
    /// Introspection failed.
    pub async fn schema(&mut self) -> Result<Snapshot, TestError> {
        let options = verify::introspect_options(&self.migrator);
        Ok(schema::introspect(self.driver.as_mut(), &options).await?)
    }

    /// A SHA-256 of the rows of `table` (as text, in a stable order): equal
    /// checksums mean the same multiset of rows.
    ///
    /// # Errors
    ///
    /// The table does not exist, or cannot be read.
    pub async fn table_checksum(&mut self, table: &str) -> Result<String, TestError> {
        let schema = self.schema().await?;
        let Some(found) = schema.tables.get(table) else {
            let known: Vec<&String> = schema.tables.keys().collect();
            return Err(self.statement_error(
                format!("checksum of table `{table}`"),
                format!("there is no table `{table}` (the tables are {known:?})"),
            ));
        };
        let rows = row_compare::read_rows(self.driver.as_mut(), table, &found.column_order).await?;
        let mut text = found.column_order.join("\u{1f}");
        for row in rows {
            text.push('\u{1e}');
            for value in row {
                match value {
                    Some(value) => text.push_str(&format!("{}:{value}", value.len())),
                    None => text.push('N'),
                }
                text.push('\u{1f}');
            }
        }
        Ok(cairn_core::checksum::checksum(&text))
    }

    /// Asserts that migration `version` rolls back without loss: its down
    /// script, then its up script again, give back the same schema *and*
    /// the same rows in every table.
    ///
    /// If `version` is not applied yet, the migrations before it are applied,
    /// the database as it is then (with the rows the test put in the old
    /// shape) is read, the migration applied, and its down is also checked to
    /// give that database back. If it is
    /// applied, it must be the newest applied migration. The database is
    /// left with `version` applied, except when its down does not give back
    /// the database as it was: that is reported at once, rolled back.
    ///
    /// # Errors
    ///
    /// [`TestError::NotReversible`] with every difference (a column's values
    /// lost by a down that drops it, a table missing its rows, an index not
    /// recreated); [`TestError::NotApplicable`] if a newer migration is
    /// applied; a failed down (no down script) or up ([`TestError::Run`]).
    pub async fn assert_reversible(
        &mut self,
        version: impl Into<Version>,
    ) -> Result<(), TestError> {
        let version = version.into();
        const CHECK: &str = "assert_reversible";
        let migration = self.migration(version)?.clone();
        let applied = self.applied().await?;
        if let Some(newest) = applied
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| *v > version)
            .max()
        {
            return Err(self.not_applicable(
                CHECK,
                version,
                format!("migration {newest}, newer than it, is applied: call it while {version} is the newest applied migration (`db.migrate_to({version})` first, before adding rows in its shape)"),
            ));
        }
        let before = match applied.iter().any(|(v, _)| *v == version) {
            true => None,
            false => {
                // The migrations before it first, so that its down is
                // compared with the database it was applied to.
                let previous = self
                    .migrator
                    .migrations()
                    .iter()
                    .map(|migration| migration.version)
                    .filter(|v| *v < version)
                    .max();
                if let Some(previous) = previous {
                    self.migrator
                        .up(self.driver.as_mut(), Some(previous))
                        .await?;
                }
                let before = self.contents().await?;
                self.migrator
                    .up(self.driver.as_mut(), Some(version))
                    .await?;
                Some(before)
            }
        };
        let at = self.contents().await?;
        self.migrator
            .down(self.driver.as_mut(), DownTarget::Steps(1))
            .await?;
        let engine = self.engine();
        let not_reversible = |what, differences| {
            TestError::NotReversible(Findings {
                version,
                name: migration.name.clone(),
                engine,
                what,
                differences,
            })
        };
        if let Some(before) = &before {
            // Checked before up runs again: what down left behind would
            // often make up fail, hiding the cause.
            let after_down = self.contents().await?;
            let differences = compare(before, &after_down);
            if !differences.is_empty() {
                return Err(not_reversible("down", differences));
            }
        }
        self.migrator
            .up(self.driver.as_mut(), Some(version))
            .await?;
        let again = self.contents().await?;
        let differences = compare(&at, &again);
        match differences.is_empty() {
            true => Ok(()),
            false => Err(not_reversible("down and up again", differences)),
        }
    }

    /// Asserts that the data migration `version` changes nothing when run a
    /// second time: same schema, same rows (the same checksum of every table).
    ///
    /// Applies it first if it is not applied. Run again are its backfills
    /// (`migration.toml`), from the start, in batches as `cairn up` runs them;
    /// a migration without backfills has its up script run again instead (a
    /// data migration in SQL: `UPDATE … WHERE …`, `INSERT … ON CONFLICT`), in
    /// a transaction unless it says `-- cairn:no-transaction`.
    ///
    /// # Errors
    ///
    /// [`TestError::NotIdempotent`] with every difference; the second run's
    /// own error (a `CREATE TABLE` that cannot run twice, say: a schema
    /// migration is not a data migration); [`TestError::NotApplicable`] for a
    /// zero-downtime migration (its backfill is part of its expand: use
    /// [`TestDb::assert_reversible`], which aborts and expands it again).
    pub async fn assert_idempotent(
        &mut self,
        version: impl Into<Version>,
    ) -> Result<(), TestError> {
        let version = version.into();
        const CHECK: &str = "assert_idempotent";
        let migration = self.migration(version)?.clone();
        let has_operations = migration
            .declaration
            .as_ref()
            .is_some_and(|declaration| !declaration.operations.is_empty());
        if has_operations {
            return Err(self.not_applicable(
                CHECK,
                version,
                "it has zero-downtime operations, whose backfill is part of the expand: check it with assert_reversible, which aborts and expands it again".to_owned(),
            ));
        }
        if self.state(version).await?.is_none() {
            self.migrator
                .up(self.driver.as_mut(), Some(version))
                .await?;
        }
        let first = self.contents().await?;
        if migration.backfills().is_empty() {
            self.run_up_script_again(&migration).await?;
        } else {
            self.run_backfills_again(&migration).await?;
        }
        let second = self.contents().await?;
        let differences = compare(&first, &second);
        match differences.is_empty() {
            true => Ok(()),
            false => Err(TestError::NotIdempotent(Findings {
                version,
                name: migration.name,
                engine: self.engine(),
                what: "running it a second time",
                differences,
            })),
        }
    }

    // ----- the machinery -------------------------------------------------

    fn migration(&self, version: Version) -> Result<&Migration, TestError> {
        self.migrator
            .migrations()
            .iter()
            .find(|migration| migration.version == version)
            .ok_or_else(|| self.unknown(format!("with version {version}")))
    }

    fn unknown(&self, wanted: String) -> TestError {
        let known: Vec<String> = self
            .migrator
            .migrations()
            .iter()
            .map(|migration| format!("{} {}", migration.version, migration.name))
            .collect();
        TestError::UnknownMigration {
            wanted: format!("`{wanted}`"),
            known: known.join(", "),
        }
    }

    fn not_applicable(&self, check: &'static str, version: Version, reason: String) -> TestError {
        TestError::NotApplicable {
            check,
            version,
            engine: self.engine(),
            reason,
        }
    }

    fn statement_error(&self, sql: String, message: String) -> TestError {
        TestError::Statement {
            engine: self.engine(),
            sql,
            cause: DriverError::new(DriverErrorKind::Other, message),
        }
    }

    /// The versions in the history with their states.
    async fn applied(&mut self) -> Result<Vec<(Version, HistoryState)>, TestError> {
        Ok(self
            .migrator
            .history(self.driver.as_mut())
            .await?
            .into_iter()
            .map(|row| (row.version, row.state))
            .collect())
    }

    /// The schema and every table's rows.
    async fn contents(&mut self) -> Result<Contents, TestError> {
        let schema = self.schema().await?;
        let mut rows = BTreeMap::new();
        for (name, table) in &schema.tables {
            let read =
                row_compare::read_rows(self.driver.as_mut(), name, &table.column_order).await?;
            rows.insert(name.clone(), (table.column_order.clone(), read));
        }
        Ok(Contents { schema, rows })
    }

    async fn run_up_script_again(&mut self, migration: &Migration) -> Result<(), TestError> {
        let engine = self.engine();
        let Some(script) = migration.up.for_engine(engine) else {
            return Ok(());
        };
        let statements = cairn_core::split::split(&script.text, engine).map_err(|error| {
            self.statement_error(
                format!("the up script of migration {}", migration.version),
                error.to_string(),
            )
        })?;
        let transaction = !script.directives.no_transaction;
        if transaction {
            self.driver
                .begin()
                .await
                .map_err(|cause| self.driver_error("BEGIN", cause))?;
        }
        for statement in &statements {
            if let Err(cause) = self.driver.execute(&statement.sql).await {
                if transaction {
                    // The statement's error is the one to report.
                    let _ = self.driver.rollback().await;
                }
                let location = script.location(statement.line);
                return Err(TestError::Statement {
                    engine,
                    sql: format!(
                        "{} (the up script of migration {} run a second time, {location})",
                        statement.sql, migration.version
                    ),
                    cause,
                });
            }
        }
        if transaction {
            self.driver
                .commit()
                .await
                .map_err(|cause| self.driver_error("COMMIT", cause))?;
        }
        Ok(())
    }

    async fn run_backfills_again(&mut self, migration: &Migration) -> Result<(), TestError> {
        let history = HistorySql::new(self.driver.dialect(), &self.migrator.options().table);
        let checkpoints = history.checkpoints();
        // Its checkpoints say `done`: without them the backfills start over.
        let delete = checkpoints.delete(migration.version);
        self.execute(&delete).await?;
        let options = self.migrator.options();
        let backfills = migration.backfills();
        for (step, declared) in backfills.iter().enumerate() {
            backfill::run(
                self.driver.as_mut(),
                declared,
                &backfill::Context {
                    version: migration.version,
                    migration: &migration.name,
                    step,
                    steps: backfills.len(),
                    checkpoints: &checkpoints,
                    hooks: &self.hooks,
                    lock_retries: options.lock_retries,
                    retry_backoff: options.retry_backoff,
                    retry_backoff_max: options.retry_backoff_max,
                },
            )
            .await?;
        }
        Ok(())
    }

    fn driver_error(&self, sql: &str, cause: DriverError) -> TestError {
        TestError::Statement {
            engine: self.engine(),
            sql: sql.to_owned(),
            cause,
        }
    }
}

async fn connect(database: &TestDatabase) -> Result<Box<dyn Driver>, TestError> {
    crate::connect(database.url())
        .await
        .map_err(|error| TestError::Connect {
            engine: database.engine(),
            message: error.to_string(),
        })
}

/// A database's schema and rows, for a comparison.
struct Contents {
    schema: Snapshot,
    /// By table: its columns in order and its rows (sorted).
    rows: BTreeMap<String, (Vec<String>, Rows)>,
}

/// The differences between two readings of a database, as sentences.
fn compare(before: &Contents, after: &Contents) -> Vec<String> {
    let mut out: Vec<String> = schema::diff(&before.schema, &after.schema)
        .iter()
        .map(ToString::to_string)
        .collect();
    for (table, (columns, rows)) in &before.rows {
        let Some((columns_after, rows_after)) = after.rows.get(table) else {
            if !rows.is_empty() {
                out.push(format!(
                    "table `{table}`: its {} rows are gone with it",
                    rows.len()
                ));
            }
            continue;
        };
        // Compared on the columns both have (a difference in columns is
        // already a schema difference).
        let common: Vec<String> = columns
            .iter()
            .filter(|column| columns_after.contains(column))
            .cloned()
            .collect();
        let before_rows = row_compare::project(rows, columns, &common);
        let after_rows = row_compare::project(rows_after, columns_after, &common);
        if let Some(finding) = row_compare::compare_rows(table, &common, &before_rows, &after_rows)
        {
            out.push(finding.message);
        }
        // Values of a column that is gone are lost too.
        let lost: Vec<&String> = columns
            .iter()
            .filter(|column| !columns_after.contains(column))
            .collect();
        let lost_values = lost.iter().any(|column| {
            let at = columns.iter().position(|c| c == *column);
            rows.iter()
                .any(|row| at.and_then(|i| row.get(i)).is_some_and(Option::is_some))
        });
        if lost_values {
            out.push(format!(
                "table `{table}`: the values of {} are gone",
                lost.iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    out
}

/// A data migration registered twice (with the migrator and the kit's own
/// backfill re-runs), shared.
#[derive(Debug)]
struct Shared(Arc<dyn DataMigration>);

impl DataMigration for Shared {
    fn reads(&self) -> Vec<String> {
        self.0.reads()
    }

    fn transform(&self, row: &[Option<String>]) -> Transform {
        self.0.transform(row)
    }
}

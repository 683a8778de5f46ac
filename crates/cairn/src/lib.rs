//! Cairn, the library: schema migrations for PostgreSQL, MySQL/MariaDB and
//! SQLite from one source.
//!
//! **API boundary**: this crate is what applications, the `cairn` binary,
//! the bench and the end-to-end tests link. It re-exports the parts of
//! cairn-core they use, adds [`connect`] (a URL to a driver, through a
//! [`Registry`] of schemes that an outside crate can extend) and the
//! `cairn.toml` model ([`config`]). The drivers come in by feature:
//! `sqlite` (default), `postgres`, `mysql`, re-exported as [`sqlite`],
//! `postgres`, `mysql`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let migrations = cairn::source::read_dir("migrations".as_ref())?;
//! let migrator = cairn::Migrator::new(migrations, cairn::MigratorOptions::default());
//! let mut driver = cairn::connect("sqlite://app.db").await?;
//! let report = migrator.up(driver.as_mut(), None).await?;
//! # let _ = report; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
pub mod embed;
mod registry;
#[cfg(feature = "testing")]
pub mod testing;

pub use registry::{connect, ConnectError, Connector, Registry};

#[cfg(feature = "macros")]
pub use cairn_macros::embed_migrations;
#[cfg(feature = "mysql")]
pub use cairn_mysql as mysql;
#[cfg(feature = "postgres")]
pub use cairn_postgres as postgres;
#[cfg(feature = "sqlite")]
pub use cairn_sqlite as sqlite;

// `cairn adopt --from <tool>`.
pub use cairn_core::adopt;

// The modules of core that the binary, the bench and the tests use.
pub use cairn_core::{
    backfill, checksum, clock, dialect, directive, driver, engine, error, history, migration,
    migrator, operation, plan, recovery, retry, schema, seed, source, url, verify,
};
// For drivers outside the workspace (cairn-sqlx): the run lock's helpers and reply timeouts.
pub use cairn_core::lock;
pub use cairn_core::timeouts;

pub use cairn_core::{
    Capabilities, Dialect, Direction, DownTarget, Driver, DriverError, DriverErrorKind, Engine,
    Error, Flavour, HistoryRow, HistoryState, HistoryTable, LockKind, Migration, Migrator,
    MigratorOptions, PlanOptions, Problem, Result, RunFailure, RunReport, ServerVersion,
    SessionSettings, State, Version, Workload, CAIRN_VERSION,
};

//! Cairn's dialect-neutral core: migration source, statement splitter,
//! checksums, history model, plan, the [`Driver`] trait and the [`Migrator`]
//! that runs the one migration algorithm on any driver.
//!
//! **Architecture invariant**: this crate depends on no database client. It
//! renders every piece of SQL Cairn sends for its own bookkeeping and decides
//! what runs in which order; drivers only carry statements to their engine.
//! `tests/architecture.rs` at the workspace root checks the dependency rule.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod adopt;
pub mod backfill;
pub mod checksum;
pub mod clock;
pub mod dialect;
pub mod directive;
pub mod driver;
pub mod error;
pub mod history;
pub mod literal;
pub mod lock;
pub mod migration;
pub mod migrator;
pub mod operation;
pub mod plan;
pub mod recovery;
pub mod retry;
pub mod schema;
pub mod source;
pub mod split;
pub mod timeouts;
pub mod tools;
pub mod url;
pub mod verify;
pub mod version;

pub use dialect::engine;
pub use dialect::{Bookkeeping, Dialect, Flavour, ServerVersion};
pub use driver::{
    Capabilities, Driver, DriverError, DriverErrorKind, LockKind, SessionSettings, Workload,
};
pub use engine::Engine;
pub use error::{Error, Location, Result};
pub use history::{HistoryKind, HistoryRow, HistoryState, HistoryTable, RowError};
pub use migration::{Direction, Migration, Version};
pub use migrator::{Migrator, MigratorOptions, RunFailure, RunReport};
pub use plan::{DownTarget, PlanOptions, Problem, State};
pub use verify::seed;

/// The version of Cairn recorded in the history.
pub const CAIRN_VERSION: &str = env!("CARGO_PKG_VERSION");

//! Test support for Cairn and for anyone who writes a Cairn driver.
//!
//! - [`TestDatabase`]: a fresh, uniquely named database for one test, so
//!   tests run in parallel and never see each other's tables.
//! - [`conformance`]: named cases every driver must pass, run by
//!   cairn-sqlite's tests and by any outside driver crate the same way
//!   (see [`conformance_tests!`]).
//! - [`faults`]: the fault suite (the server kills the migrating session),
//!   run by the server drivers' tests and by any outside driver the same way
//!   (see [`fault_tests!`]).
//! - [`fixture`]: write a migrations directory for a test in a few lines.
//! - [`netfault`]: peers that never answer, and a proxy that freezes.
//! - [`online`]: the zero-downtime operations harness — every operation
//!   through expand, abort, contract and un-contract with an old-version
//!   and a new-version connection (see [`online_tests!`]), and its load tests.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod conformance;
pub mod faults;
pub mod fixture;
pub mod introspection;
#[cfg(feature = "mysql")]
pub mod mysql;
pub mod netfault;
pub mod online;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub mod server;

use std::path::{Path, PathBuf};

use cairn_core::Engine;

/// A fresh database for one test, removed when dropped.
pub struct TestDatabase {
    engine: Engine,
    url: String,
    dir: tempfile::TempDir,
    /// The database file, for a database that is a file (SQLite).
    file: Option<PathBuf>,
    cleanup: std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("engine", &self.engine)
            .field("url", &cairn_core::url::redact(&self.url))
            .finish_non_exhaustive()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let cleanup = self
            .cleanup
            .get_mut()
            .map_or_else(|poisoned| poisoned.into_inner().take(), Option::take);
        if let Some(cleanup) = cleanup {
            cleanup();
        }
    }
}

impl TestDatabase {
    /// A new SQLite database file in a temporary directory of its own.
    pub fn sqlite() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("cairn-test-")
            .tempdir()
            .unwrap_or_else(|e| {
                panic!("cannot create a temporary directory for a SQLite test database: {e}")
            });
        let file = dir.path().join("test.db");
        let url = format!("sqlite://{}", file.display());
        TestDatabase {
            engine: Engine::Sqlite,
            url,
            dir,
            file: Some(file),
            cleanup: std::sync::Mutex::new(None),
        }
    }

    /// A database on a server: `url` connects to it, `cleanup` drops it
    /// (it runs in `Drop`, so it must not need an async runtime of the caller's).
    pub fn on_server(engine: Engine, url: String, cleanup: Box<dyn FnOnce() + Send>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("cairn-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        TestDatabase {
            engine,
            url,
            dir,
            file: None,
            cleanup: std::sync::Mutex::new(Some(cleanup)),
        }
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The URL to connect to it (with any password: for drivers, not for printing).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A scratch directory that lives as long as the database (for migrations, say).
    pub fn scratch_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The SQLite file, for SQLite databases.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.file.clone()
    }
}

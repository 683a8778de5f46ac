//! Migrations directories for tests, written in a few lines.
//!
//! ```no_run
//! let dir = cairn_testkit::fixture::Fixture::new()
//!     .migration(1, "create_users", "CREATE TABLE users (id INTEGER PRIMARY KEY);", Some("DROP TABLE users;"))
//!     .build();
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use cairn_core::{Migration, Version};

/// A migrations directory under construction.
#[derive(Debug, Default)]
pub struct Fixture {
    files: Vec<(PathBuf, String)>,
}

/// A built migrations directory, deleted when dropped.
#[derive(Debug)]
pub struct FixtureDir {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `<version>_<name>/up.sql` and, if given, `down.sql`.
    pub fn migration(
        mut self,
        version: impl Into<Version>,
        name: &str,
        up: &str,
        down: Option<&str>,
    ) -> Self {
        let version = version.into();
        let folder = PathBuf::from(format!("{version}_{name}"));
        self.files.push((folder.join("up.sql"), up.to_owned()));
        if let Some(down) = down {
            self.files.push((folder.join("down.sql"), down.to_owned()));
        }
        self
    }

    /// Adds any file, at a path relative to the directory.
    pub fn file(mut self, path: impl Into<PathBuf>, text: &str) -> Self {
        self.files.push((path.into(), text.to_owned()));
        self
    }

    /// Writes the files into a new temporary directory.
    pub fn build(self) -> FixtureDir {
        let dir = tempfile::Builder::new()
            .prefix("cairn-migrations-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary migrations directory: {e}"));
        for (path, text) in &self.files {
            write(&dir.path().join(path), text);
        }
        FixtureDir { dir }
    }
}

impl FixtureDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Reads it as Cairn does; panics with the error if it cannot.
    pub fn read(&self) -> Vec<Migration> {
        cairn_core::source::read_dir(self.path())
            .unwrap_or_else(|e| panic!("fixture does not read: {e}"))
    }

    /// Writes (or overwrites) a file in the directory.
    pub fn write(&self, path: impl AsRef<Path>, text: &str) {
        write(&self.dir.path().join(path), text);
    }
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
    }
    fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

//! Migrations compiled into the binary: what `cairn::embed_migrations!` gives.
//!
//! ```
//! // The directory is relative to the crate's Cargo.toml (here the example
//! // project at the root of Cairn's repository).
//! static MIGRATIONS: cairn::embed::EmbeddedMigrations =
//!     cairn::embed_migrations!("../../migrations");
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let url = format!("sqlite://{}", dir.path().join("app.db").display());
//! let migrator = MIGRATIONS.migrator(cairn::MigratorOptions::default())?;
//! assert_eq!(migrator.migrations()[0].name, "create_users");
//!
//! let mut driver = cairn::connect(&url).await?;
//! let create_orders = migrator.migrations()[2].version;
//! let report = migrator.up(driver.as_mut(), Some(create_orders)).await?;
//! assert_eq!(report.migrations.len(), 3);
//! # Ok(()) }
//! ```
//!
//! At compile time the macro reads the directory as `cairn validate` does —
//! every layout Cairn reads — and any problem is a compile error naming the
//! file and line. Each file it reads is embedded with `include_str!`, so
//! editing one rebuilds the crate; for files added or removed, call
//! `cairn_build::rerun_if_migrations_change` from a build script (the
//! `cairn-build` crate; see `docs/embedding.md`). The binary then needs no
//! migrations directory: [`EmbeddedMigrations::migrations`] assembles the
//! embedded texts with [`crate::source::read_files`], the same code over the
//! same texts, which the macro has already run once at compile time.
//!
//! The expansion names the facade as `::cairn`, so the crate must be a
//! dependency under that name (not renamed in `Cargo.toml`).

use std::path::Path;

use cairn_core::{Error, Migration, Migrator, MigratorOptions};

/// A migrations directory embedded by `cairn::embed_migrations!`: the path as
/// written in the macro call and the text of every file Cairn reads in it.
///
/// It is `const`-constructible, so it can live in a `static`.
#[derive(Clone, Copy, Debug)]
pub struct EmbeddedMigrations {
    dir: &'static str,
    files: &'static [(&'static str, &'static str)],
}

impl EmbeddedMigrations {
    /// What the macro expands to; not for direct use (the files are checked
    /// by the macro, not here).
    #[doc(hidden)]
    pub const fn __new(dir: &'static str, files: &'static [(&'static str, &'static str)]) -> Self {
        EmbeddedMigrations { dir, files }
    }

    /// The directory as written in the macro call, relative to the crate's
    /// `Cargo.toml`: it prefixes the file names in errors and reports.
    pub const fn dir(&self) -> &'static str {
        self.dir
    }

    /// The embedded files: paths relative to [`EmbeddedMigrations::dir`]
    /// (`/`-separated) with their texts as on disk, in listing order.
    pub const fn files(&self) -> &'static [(&'static str, &'static str)] {
        self.files
    }

    /// The migrations, sorted by version, as [`crate::source::read_dir`]
    /// read them from the directory when the crate was compiled.
    ///
    /// # Errors
    ///
    /// None in practice: the macro assembled the same texts at compile time
    /// and refused to compile on any error. A `Result` all the same, because
    /// the assembly is the one the directory reader uses.
    #[expect(
        clippy::result_large_err,
        reason = "the error of the directory reader, as `source::read_dir` returns it"
    )]
    pub fn migrations(&self) -> Result<Vec<Migration>, Error> {
        crate::source::read_files(Path::new(self.dir), self.files)
    }

    /// A [`Migrator`] for the embedded migrations, usable with any driver
    /// (`cairn::connect(url)`, a driver crate's own constructor, an adapter).
    ///
    /// # Errors
    ///
    /// As [`EmbeddedMigrations::migrations`].
    #[expect(
        clippy::result_large_err,
        reason = "the error of the directory reader, as `source::read_dir` returns it"
    )]
    pub fn migrator(&self, options: MigratorOptions) -> Result<Migrator, Error> {
        Ok(Migrator::new(self.migrations()?, options))
    }
}

/// The user guide, `docs/embedding.md`: its examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/embedding.md")]
pub struct Guide;

//! Build-script helper for crates that embed migrations with
//! `cairn::embed_migrations!`.
//!
//! The macro embeds each migration file with `include_str!`, so editing a
//! file rebuilds the crate; but on stable Rust a proc macro cannot ask Cargo
//! to watch a *directory*, so a file added or removed would go unnoticed
//! until something else changed (sqlx#681, refinery#116: the binary then
//! reports an applied migration as missing). A build script that calls
//! [`rerun_if_migrations_change`] closes that gap:
//!
//! ```toml
//! # Cargo.toml
//! [build-dependencies]
//! cairn-build = "0.1"
//! ```
//!
//! ```no_run
//! // build.rs, in its `fn main`:
//! cairn_build::rerun_if_migrations_change("migrations");
//! ```
//!
//! Cargo then re-runs the build script, and so rebuilds the crate, whenever
//! the directory or anything in it changes. Note Cargo's rule: once a build
//! script prints any `rerun-if-changed` line, Cargo stops re-running it on
//! every change to the package, so a build script that relied on that must
//! print its own lines for the other files it reads.
//!
//! This crate has no dependencies, so it costs nothing to build.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fs;
use std::path::{Path, PathBuf};

/// Tells Cargo to re-run the build script, and so rebuild the crate, when a
/// file is added to, removed from or changed in the migrations directory
/// `dir` (relative to the crate's `Cargo.toml`, as the macro takes it).
///
/// Call it from `build.rs`; it prints the lines of [`rerun_lines`].
pub fn rerun_if_migrations_change(dir: impl AsRef<Path>) {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    for line in rerun_lines(manifest_dir.as_deref(), dir.as_ref()) {
        println!("{line}");
    }
}

/// The `cargo:rerun-if-changed` lines for the migrations directory `dir`:
/// the directory itself (Cargo scans a directory's whole contents by
/// modification time) and, the conservative form that older Cargo versions
/// also honour, every entry of it and of its folders. `dir` is taken relative
/// to `manifest_dir` when that is given and `dir` is relative.
///
/// A directory that does not exist yet gets its own line only: Cargo re-runs
/// the script until it exists (the macro then reports it missing).
pub fn rerun_lines(manifest_dir: Option<&Path>, dir: &Path) -> Vec<String> {
    let dir = match manifest_dir {
        Some(base) if dir.is_relative() => base.join(dir),
        _ => dir.to_owned(),
    };
    let mut paths = vec![dir.clone()];
    for entry in sorted_entries(&dir) {
        if entry.is_dir() {
            paths.push(entry.clone());
            paths.extend(sorted_entries(&entry));
        } else {
            paths.push(entry);
        }
    }
    paths
        .into_iter()
        .map(|path| format!("cargo:rerun-if-changed={}", path.display()))
        .collect()
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    entries
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::rerun_lines;

    #[test]
    fn the_directory_and_every_file_in_it_are_watched() {
        let root = tempfile::tempdir().expect("a temporary directory");
        let dir = root.path().join("migrations");
        fs::create_dir_all(dir.join("0001_init")).expect("create folders");
        fs::write(dir.join("0001_init/up.sql"), "SELECT 1;").expect("write");
        fs::write(dir.join("V2__more.sql"), "SELECT 2;").expect("write");

        let lines = rerun_lines(Some(root.path()), Path::new("migrations"));
        let shown = |path: &str| format!("cargo:rerun-if-changed={}", dir.join(path).display());
        assert_eq!(
            lines,
            [
                format!("cargo:rerun-if-changed={}", dir.display()),
                shown("0001_init"),
                shown("0001_init/up.sql"),
                shown("V2__more.sql"),
            ]
        );
    }

    #[test]
    fn a_missing_directory_is_still_watched() {
        let root = tempfile::tempdir().expect("a temporary directory");
        let lines = rerun_lines(None, &root.path().join("nowhere"));
        assert_eq!(
            lines,
            [format!(
                "cargo:rerun-if-changed={}",
                root.path().join("nowhere").display()
            )]
        );
    }
}

//! Reading a migrations directory held in memory: the same layout grammar
//! ([`super::layout`]) and assembly ([`super::assemble`]) as [`super::read_dir`],
//! over files that `cairn::embed_migrations!` compiled into a binary.
//!
//! The walk mirrors `list.rs` step by step (entries in byte order of their
//! names, the same names ignored, the same checks in the same order), so a
//! directory gives the same migrations, or the same first error, either way.
//! The embed macro checks that at compile time for every directory it embeds.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use super::assemble::{self, unrecognised, Assembly, Folder, Unit};
use super::layout::{is_ignored, parse_name};
use super::list::checked_text;
use crate::error::Error;
use crate::migration::Migration;

/// Reads every migration of a directory held in memory, as [`super::read_dir`]
/// reads one on disk, sorted by version.
///
/// `files` are `(path, text)` pairs: `path` is relative to `dir` and
/// `/`-separated (`0001_init/up.sql`, `V2__users.sql`), `text` the file's
/// contents as on disk (a BOM and CRLF line ends are normalised here, as when
/// reading from disk). Their order does not matter. `dir` only prefixes the
/// paths recorded in the migrations and named in errors. Files deeper than a
/// migration folder are ignored, as sub-folders are on disk.
///
/// # Errors
///
/// The errors of [`super::read_dir`] for the same files, except those only
/// the file system can cause; and [`Error::Io`] if a path is empty, absolute,
/// or names both a file and a folder.
pub fn read_files(dir: &Path, files: &[(&str, &str)]) -> Result<Vec<Migration>, Error> {
    let tree = Tree::of(dir, files)?;

    let mut units = Vec::new();
    for (&name, entry) in &tree.top {
        if is_ignored(name) {
            continue;
        }
        let path = dir.join(name);
        let is_dir = matches!(entry, Entry::Folder(_));
        let parsed = parse_name(name, is_dir).map_err(|hint| unrecognised(&path, hint))?;
        let text = match (parsed.kind.is_folder(), entry) {
            (true, _) => None,
            (false, Entry::File(text)) => Some(checked_text(&path, (*text).to_owned())?),
            (false, Entry::Folder(_)) => return Err(invalid(&path, "is a directory")),
        };
        units.push(Unit::new(path, parsed, text));
    }
    assemble::check_one_layout(dir, &units)?;

    let mut assembly = Assembly::default();
    for unit in units {
        assembly.add(unit, |unit| {
            let name = unit.path.file_name().and_then(|name| name.to_str());
            let folder = match name.and_then(|name| tree.top.get(name)) {
                Some(Entry::Folder(folder)) => folder,
                _ => return Err(invalid(&unit.path, "is not a folder")),
            };
            read_folder(unit, folder)
        })?;
    }
    assembly.finish()
}

/// Reads a Cairn or diesel migration folder held in memory, as `list.rs`
/// reads one on disk.
fn read_folder(unit: Unit, files: &BTreeMap<&str, Option<&str>>) -> Result<Migration, Error> {
    let dir = unit.path.clone();
    let mut folder = Folder::new(unit);
    let mut declaration = None;
    for (&name, text) in files {
        // `None`: a sub-folder, skipped as on disk.
        let Some(text) = text else { continue };
        if name.starts_with('.') {
            continue;
        }
        let read = name == "migration.toml"
            || name == "metadata.toml"
            || name.to_ascii_lowercase().ends_with(".sql");
        if !read {
            continue;
        }
        let path = dir.join(name);
        if name == "migration.toml" {
            declaration = Some((path, *text));
            continue;
        }
        if name == "metadata.toml" {
            folder.add_metadata(&path, &checked_text(&path, (*text).to_owned())?)?;
            continue;
        }
        let script = Folder::script_name(&path, Some(name))?;
        folder.add_script(&path, script, checked_text(&path, (*text).to_owned())?)?;
    }
    let declaration = match declaration {
        Some((path, text)) => {
            let text = checked_text(&path, text.to_owned())?;
            Some((path, text))
        }
        None => None,
    };
    folder.finish(declaration)
}

/// The top level of the directory: files, and folders with their files.
struct Tree<'a> {
    top: BTreeMap<&'a str, Entry<'a>>,
}

enum Entry<'a> {
    File(&'a str),
    /// A folder's entries: a file's text, or `None` for a sub-folder.
    Folder(BTreeMap<&'a str, Option<&'a str>>),
}

impl<'a> Tree<'a> {
    fn of(dir: &Path, files: &[(&'a str, &'a str)]) -> Result<Tree<'a>, Error> {
        let mut top = BTreeMap::new();
        for &(path, text) in files {
            let mut parts = path.split('/');
            let first = parts.next().unwrap_or_default();
            if first.is_empty() || parts.clone().any(str::is_empty) {
                return Err(invalid(
                    &dir.join(path),
                    "is not a relative, `/`-separated path",
                ));
            }
            let conflict = || {
                invalid(
                    &dir.join(path),
                    "is given twice, or as both a file and a folder",
                )
            };
            match (parts.next(), parts.next()) {
                (None, _) => {
                    if top.insert(first, Entry::File(text)).is_some() {
                        return Err(conflict());
                    }
                }
                (Some(second), deeper) => {
                    let entry = top
                        .entry(first)
                        .or_insert_with(|| Entry::Folder(BTreeMap::new()));
                    let Entry::Folder(folder) = entry else {
                        return Err(conflict());
                    };
                    let value = deeper.is_none().then_some(text);
                    match folder.insert(second, value) {
                        Some(Some(_)) => return Err(conflict()),
                        Some(None) if value.is_some() => return Err(conflict()),
                        Some(None) | None => {}
                    }
                }
            }
        }
        Ok(Tree { top })
    }
}

fn invalid(path: &Path, what: &str) -> Error {
    Error::Io {
        path: path.to_owned(),
        cause: io::Error::new(io::ErrorKind::InvalidInput, what.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::read_files;
    use crate::source::read_dir;

    /// Writes `files` into a fresh directory, reads it from disk and from
    /// memory, and checks that both give the same migrations or the same error.
    fn same_both_ways(files: &[(&str, &str)]) -> String {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for (path, text) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().expect("a parent")).expect("create a folder");
            fs::write(&path, text).expect("write a file");
        }
        let on_disk = read_dir(dir.path());
        let in_memory = read_files(dir.path(), files);
        match (on_disk, in_memory) {
            (Ok(disk), Ok(memory)) => {
                assert_eq!(disk, memory);
                assert!(!disk.is_empty(), "the fixture has migrations");
                format!("{} migrations", disk.len())
            }
            (Err(disk), Err(memory)) => {
                assert_eq!(disk.to_string(), memory.to_string());
                let prefix = format!("{}/", dir.path().display());
                disk.to_string().replace(&prefix, "")
            }
            (disk, memory) => panic!("read_dir gave {disk:?} but read_files {memory:?}"),
        }
    }

    #[test]
    fn cairn_folders_read_the_same_as_on_disk() {
        let read = same_both_ways(&[
            ("README.md", "# notes"),
            (".gitkeep", ""),
            ("cairn.toml", "[database]\n"),
            (
                "0001_users/up.sql",
                "\u{feff}CREATE TABLE users (id INT);\r\n",
            ),
            ("0001_users/down.sql", "DROP TABLE users;\n"),
            ("0001_users/notes.txt", "not read"),
            ("0001_users/deeper/up.sql", "ignored, as on disk"),
            (
                "0002_index/up.postgres.sql",
                "-- cairn:no-transaction\nCREATE INDEX CONCURRENTLY i ON users (id);\n",
            ),
            ("0002_index/up.sql", "CREATE INDEX i ON users (id);\n"),
            ("0002_index/down.sql", "DROP INDEX i;\n"),
        ]);
        assert_eq!(read, "2 migrations");
    }

    #[test]
    fn flat_and_diesel_layouts_read_the_same_as_on_disk() {
        for files in [
            &[
                ("1_users.up.sql", "CREATE TABLE users (id INT);"),
                ("1_users.down.sql", "DROP TABLE users;"),
                ("2_more.sql", "CREATE TABLE more (id INT);"),
            ][..],
            &[
                ("V1__users.sql", "CREATE TABLE users (id INT);"),
                ("U1__users.sql", "DROP TABLE users;"),
            ][..],
            &[(
                "20240101_users.sql",
                "-- migrate:up\nCREATE TABLE users (id INT);\n-- migrate:down\nDROP TABLE users;\n",
            )][..],
            &[
                (
                    "2024-01-01-000000_users/up.sql",
                    "CREATE TABLE users (id INT);",
                ),
                ("2024-01-01-000000_users/down.sql", "DROP TABLE users;"),
                (
                    "2024-01-01-000000_users/metadata.toml",
                    "run_in_transaction = false\n",
                ),
            ][..],
        ] {
            assert!(same_both_ways(files).ends_with(" migrations"), "{files:?}");
        }
    }

    #[test]
    fn errors_are_the_same_as_on_disk_with_file_and_line() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("0001_a/up.sql", "-- cairn:bogus\nSELECT 1;\n")],
                "0001_a/up.sql:1: unknown directive `cairn:bogus`",
            ),
            (&[("0001_a/up.sql", "SELECT 1;\n\0")], "0001_a/up.sql`:2"),
            (
                &[("0001_a/up.sql", "-- nothing\n")],
                "the up script is empty",
            ),
            (&[("0001_a/seed.sql", "SELECT 1;")], "0001_a/seed.sql"),
            (&[("notes.txt", "hello")], "fits no migration layout"),
            (
                &[("1_a/up.sql", "SELECT 1;"), ("01_b/up.sql", "SELECT 2;")],
                "duplicate version 1",
            ),
            (
                &[("1_a/up.sql", "SELECT 1;"), ("V2__b.sql", "SELECT 2;")],
                "mixes migration layouts",
            ),
            (&[("U1__a.sql", "SELECT 1;")], "U1__a.sql"),
        ];
        for (files, expected) in cases {
            let message = same_both_ways(files);
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }

    #[test]
    fn paths_that_no_directory_can_hold_are_refused() {
        let dir = Path::new("migrations");
        for (files, expected) in [
            (&[("", "SELECT 1;")][..], "not a relative"),
            (&[("/1_a/up.sql", "SELECT 1;")][..], "not a relative"),
            (&[("1_a//up.sql", "SELECT 1;")][..], "not a relative"),
            (
                &[("1_a.sql", "SELECT 1;"), ("1_a.sql", "SELECT 2;")][..],
                "given twice",
            ),
            (
                &[("1_a", "SELECT 1;"), ("1_a/up.sql", "SELECT 2;")][..],
                "both a file and a folder",
            ),
        ] {
            let error = read_files(dir, files).expect_err("refused");
            let message = error.to_string();
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }
}

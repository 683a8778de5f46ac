//! The migration tools teams switch from, one module each: how the tool
//! lays out and runs its files (read in place by [`crate::source`]) and, in
//! its `history` submodule, how `cairn adopt --from <tool>` imports the
//! history table the tool wrote (see docs/adopting.md).

pub mod alembic;
pub mod dbmate;
pub mod diesel;
pub mod flyway;
pub mod golang_migrate;
pub mod knex;
pub mod liquibase;
pub mod prisma;
pub mod rails;
pub mod refinery;
pub mod sqlx;
pub mod typeorm;

/// Whether `text` contains the word `needle` (ASCII, any case, not part of
/// a longer identifier): a cheap test before a script is split.
pub(crate) fn contains_word_ignore_case(text: &str, needle: &str) -> bool {
    let bytes = text.as_bytes();
    let needle = needle.as_bytes();
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    bytes
        .windows(needle.len())
        .enumerate()
        .any(|(start, window)| {
            window.eq_ignore_ascii_case(needle)
                && (start == 0 || !is_word(bytes[start - 1]))
                && bytes
                    .get(start + needle.len())
                    .is_none_or(|&after| !is_word(after))
        })
}

/// Temporary migrations directories for the layouts' tests.
#[cfg(test)]
pub(crate) mod test_support {
    use std::fs;

    use tempfile::TempDir;

    use crate::error::Error;
    use crate::migration::Migration;

    /// A migrations directory holding `files`; a name ending in `/` is a folder.
    pub(crate) fn tree(files: &[(&str, &str)]) -> TempDir {
        let dir = TempDir::new().expect("temp dir");
        for (name, text) in files {
            let path = dir.path().join(name);
            if name.ends_with('/') {
                fs::create_dir_all(&path).expect("create folder");
                continue;
            }
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).expect("create parent");
            }
            fs::write(&path, text).expect("write file");
        }
        dir
    }

    /// The migrations of `dir`, or a panic with the error.
    pub(crate) fn read(dir: &TempDir) -> Vec<Migration> {
        crate::source::read_dir(dir.path()).unwrap_or_else(|error| panic!("{error}"))
    }

    /// The error reading `dir` gives.
    pub(crate) fn fail(dir: &TempDir) -> Error {
        match crate::source::read_dir(dir.path()) {
            Ok(migrations) => panic!("read {} migrations", migrations.len()),
            Err(error) => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::contains_word_ignore_case;
    use super::test_support::{read, tree};

    #[test]
    fn words_are_found_whole_in_any_case() {
        assert!(contains_word_ignore_case("x;\nCommit;", "commit"));
        assert!(contains_word_ignore_case("end", "end"));
        assert!(!contains_word_ignore_case(
            "started_at, end_date, weekend",
            "end"
        ));
        assert!(!contains_word_ignore_case("started_at", "start"));
        assert!(contains_word_ignore_case("(vacuum)", "VACUUM"));
    }
    use crate::engine::Engine;

    /// The "no down script" error of the only migration in a directory of `files`.
    fn no_down(files: &[(&str, &str)]) -> String {
        let dir = tree(files);
        let migrations = read(&dir);
        let message = migrations[0].down_hint(Engine::Postgres);
        message.replace(&format!("{}/", dir.path().display()), "")
    }

    #[test]
    fn no_down_hints_name_the_file_each_layout_expects() {
        const SQL: &str = "CREATE TABLE t (id INT);\n";
        for (files, hint) in [
            (
                &[("V1__a.sql", SQL)][..],
                "write the undo script `U1__a.sql`",
            ),
            (&[("1_a.up.sql", SQL)][..], "write `1_a.down.sql`"),
            (
                &[("1_a.sql", SQL)][..],
                "rename `1_a.sql` to `1_a.up.sql` and write `1_a.down.sql` beside it",
            ),
            (
                &[("1_a.sql", "-- migrate:up\nCREATE TABLE t (id INT);\n")][..],
                "add a `-- migrate:down` section to `1_a.sql`",
            ),
            (
                &[("1_a/up.sql", SQL)][..],
                "write `1_a/down.sql` (or `down.postgres.sql`)",
            ),
        ] {
            let message = no_down(files);
            assert_eq!(message, hint);
        }
    }

    #[test]
    fn the_no_transaction_hint_speaks_each_layouts_form() {
        const SQL: &str = "CREATE TABLE t (id INT);\n";
        for (files, form) in [
            (&[("1_a.sql", SQL)][..], "`-- no-transaction` (sqlx's form)"),
            (
                &[("1_a.sql", "-- migrate:up\nCREATE TABLE t (id INT);\n")][..],
                "`-- migrate:up transaction:false`",
            ),
            (
                &[("2024-01-01-000000_a/up.sql", SQL)][..],
                "`run_in_transaction = false`",
            ),
            (
                &[(
                    "c.sql",
                    "--liquibase formatted sql\n--changeset a:1\nSELECT 1;\n",
                )][..],
                "`runInTransaction:false` to the `--changeset a:1` line",
            ),
            (&[("1_a/up.sql", SQL)][..], "`-- cairn:no-transaction`"),
            (
                &[("1_a/migration.sql", SQL)][..],
                "`-- cairn:no-transaction`",
            ),
        ] {
            let dir = tree(files);
            let migrations = read(&dir);
            let hint = migrations[0].no_transaction_hint();
            assert!(hint.contains(form), "{hint}\nlacks {form}");
        }
    }
}

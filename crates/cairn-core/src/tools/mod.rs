//! The migration tools teams switch from, one module each: how the tool
//! lays out and runs its files (read in place by [`crate::source`]) and, in
//! its `history` submodule, how `cairn adopt --from <tool>` imports the
//! history table the tool wrote (see docs/adopting.md).

pub mod dbmate;
pub mod diesel;
pub mod flyway;
pub mod golang_migrate;
pub mod knex;
pub mod liquibase;
pub mod prisma;
pub mod refinery;
pub mod sqlx;
pub mod typeorm;

/// The first `n` words of a statement, upper-cased, skipping whitespace and
/// `--`/`/* */` comments; stops at anything that is not a word. For the
/// layouts' statement rules (which statements a tool runs outside a
/// transaction).
pub(crate) fn leading_words(sql: &str, n: usize) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = sql;
    while words.len() < n {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, tail)| tail);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, tail)| tail);
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end == 0 {
                break;
            }
            words.push(rest[..end].to_ascii_uppercase());
            rest = &rest[end..];
        }
    }
    words
}

/// Whether `text` contains `needle` (ASCII, any case): a cheap test before
/// a script is split.
pub(crate) fn contains_ignore_case(text: &str, needle: &str) -> bool {
    let needle = needle.as_bytes();
    text.as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
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

//! sqlx: `<version>_<name>.up.sql`/`.down.sql` or an up-only `<version>_<name>.sql`, `-- no-transaction`; history table `_sqlx_migrations` (SHA-384 checksums).
//!
//! # The layout, as sqlx runs it
//!
//! sqlx wraps each script in a transaction, unless the script's text *starts
//! with* `-- no-transaction` (sqlx checks `sql.starts_with("-- no-transaction")`
//! on the file as read). Cairn reads the same files as the sqlx layout, shared
//! with golang-migrate (see [`crate::tools::golang_migrate`] for what that tool
//! adds): such a script runs outside Cairn's transaction, as if it said
//! `-- cairn:no-transaction`. Cairn applies the test to the text after its
//! checksum normalisation (BOM removed, CRLF to LF), so a file saved with a BOM
//! still counts, which sqlx would not notice: sqlx would then run it in a
//! transaction, where PostgreSQL refuses `CREATE INDEX CONCURRENTLY` anyway.
//!
//! An empty or comment-only script is accepted, and recorded as applied: sqlx
//! runs it (an empty query) and records it.

pub mod history;

use crate::source::layout::NameKind;

/// What the rest of a `<version>_<rest>.sql` file name after the version
/// says: `<name>.up` is sqlx's (and golang-migrate's) up script, `<name>.down`
/// its down script, and a plain `<name>` an up-only sqlx script or a dbmate
/// file, told apart by its text ([`crate::tools::dbmate::has_marker`]).
pub(crate) fn file_kind(rest: &str) -> (NameKind, &str) {
    if let Some(name) = rest.strip_suffix(".up") {
        (NameKind::SqlxUp, name)
    } else if let Some(name) = rest.strip_suffix(".down") {
        (NameKind::SqlxDown, name)
    } else {
        (NameKind::PlainSql, rest)
    }
}

/// sqlx's own marker, at the very start of a script.
pub(crate) const NO_TRANSACTION: &str = "-- no-transaction";

/// Whether sqlx runs this script (normalised text) outside a transaction.
pub(crate) fn no_transaction(text: &str) -> bool {
    text.starts_with(NO_TRANSACTION)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::{read, tree};

    #[test]
    fn only_a_leading_marker_turns_the_transaction_off() {
        assert!(no_transaction(
            "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);\n"
        ));
        assert!(no_transaction("-- no-transaction -- needed\nSELECT 1;\n"));
        assert!(!no_transaction("\n-- no-transaction\nSELECT 1;\n"));
        assert!(!no_transaction("SELECT 1;\n-- no-transaction\n"));
        assert!(!no_transaction("--no-transaction\nSELECT 1;\n"));
    }

    #[test]
    fn a_script_starting_with_no_transaction_runs_outside_one() {
        let dir = tree(&[
            (
                "1_index.up.sql",
                "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);\n",
            ),
            (
                "1_index.down.sql",
                "-- no-transaction\nDROP INDEX CONCURRENTLY i;\n",
            ),
            ("2_plain.sql", "CREATE TABLE u (id INT);\n"),
            ("3_later.sql", "SELECT 1;\n-- no-transaction\n"),
            ("4_bom.sql", "\u{feff}-- no-transaction\r\nVACUUM;\r\n"),
        ]);
        let migrations = read(&dir);
        let no_tx: Vec<(bool, bool)> = migrations
            .iter()
            .map(|m| {
                (
                    m.up.plain.as_ref().unwrap().directives.no_transaction,
                    m.down
                        .plain
                        .as_ref()
                        .is_some_and(|down| down.directives.no_transaction),
                )
            })
            .collect();
        assert_eq!(
            no_tx,
            [(true, true), (false, false), (false, false), (true, false)]
        );
    }

    #[test]
    fn empty_and_comment_only_scripts_are_accepted() {
        let dir = tree(&[
            ("1_empty.up.sql", ""),
            ("1_empty.down.sql", ""),
            ("2_comments.sql", "-- nothing to do yet\n/* really */\n"),
        ]);
        let migrations = read(&dir);
        assert_eq!(migrations.len(), 2);
        assert_eq!(migrations[0].up.plain.as_ref().unwrap().text, "");
    }
}

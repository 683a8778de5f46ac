//! golang-migrate: `<version>_<name>.up.sql`/`.down.sql`, files with their own `BEGIN;`/`COMMIT;`; history table `schema_migrations` (version, dirty).
//!
//! # The layout, as golang-migrate runs it
//!
//! The file names are sqlx's (`<version>_<name>.up.sql` and `.down.sql`), and
//! Cairn reads both tools' files as one layout ([`crate::migration::Layout::Sqlx`]).
//! What golang-migrate adds is how a file runs: it sends the whole file as it is
//! and adds no transaction of its own on PostgreSQL and MySQL. Projects rely on
//! that in two ways, and Cairn runs such a script as the project wrote it,
//! outside Cairn's transaction (as `-- cairn:no-transaction` would):
//!
//! - a script that controls its own transaction (`BEGIN;` … `COMMIT;`, see
//!   [`crate::split::transaction_control`]): inside Cairn's transaction its
//!   `COMMIT` would commit Cairn's work half way;
//! - a script holding a statement PostgreSQL cannot run inside a transaction
//!   block (`runs_as_written`): `CREATE INDEX CONCURRENTLY` and the
//!   like, which golang-migrate projects keep in a file of their own.
//!
//! Every other script runs in Cairn's transaction where the engine has
//! transactional DDL, which only adds safety. Empty and comment-only files are
//! accepted and recorded as applied, as golang-migrate does (see
//! [`crate::tools::sqlx`]).

pub mod history;

use crate::engine::Engine;
use crate::split;
use crate::tools::contains_word_ignore_case;

/// Words without which no script needs to be split to be looked at.
const NEEDLES: [&str; 13] = [
    "begin",
    "start",
    "commit",
    "end",
    "rollback",
    "abort",
    "concurrently",
    "vacuum",
    "database",
    "tablespace",
    "system",
    "subscription",
    "discard",
];

/// Whether a script of the sqlx/golang-migrate layout (normalised text) runs
/// outside Cairn's transaction because of what it holds: its own transaction
/// control, or a statement an engine refuses inside a transaction block
/// ([`Bookkeeping::needs_no_transaction`](crate::dialect::Bookkeeping::needs_no_transaction):
/// PostgreSQL's `CREATE INDEX CONCURRENTLY`, `VACUUM`, ...). Each engine's
/// splitter reads the script, so words in its strings, comments and bodies
/// do not count.
///
/// A script an engine's splitter cannot split is left as it is there:
/// running it reports the splitter's error with its line.
pub(crate) fn runs_as_written(text: &str) -> bool {
    if !NEEDLES
        .iter()
        .any(|needle| contains_word_ignore_case(text, needle))
    {
        return false;
    }
    // Each engine's splitter reads the script its own way; a script holding
    // another dialect's bodies (`$$ ... END $$`) may look like it ends a
    // transaction to one of them. Transaction control counts when every
    // splitter that can split the script sees it; a refused statement when
    // the engine that refuses it sees it.
    let mut own_transaction = None;
    for engine in Engine::ALL {
        let dialect = crate::dialect::for_engine(engine);
        let Ok(statements) = split::split_with(text, &dialect.split_rules()) else {
            continue;
        };
        if statements
            .iter()
            .any(|statement| dialect.needs_no_transaction(&statement.sql))
        {
            return true;
        }
        let controls = statements
            .iter()
            .any(|statement| split::transaction_control(&statement.sql).is_some());
        own_transaction = Some(own_transaction.unwrap_or(true) && controls);
    }
    own_transaction.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::{read, tree};

    fn refuses(statement: &str) -> bool {
        crate::dialect::for_engine(Engine::Postgres).needs_no_transaction(statement)
    }

    #[test]
    fn statements_postgres_refuses_in_a_transaction_are_recognised() {
        for statement in [
            "CREATE INDEX CONCURRENTLY i ON t (a)",
            "create unique index concurrently i on t (a)",
            "DROP INDEX CONCURRENTLY IF EXISTS i",
            "REINDEX INDEX CONCURRENTLY i",
            "VACUUM ANALYZE t",
            "CREATE DATABASE d",
            "DROP TABLESPACE s",
            "ALTER SYSTEM SET work_mem = '8MB'",
            "DISCARD ALL",
            "-- why\nCREATE INDEX CONCURRENTLY i ON t (a)",
        ] {
            assert!(refuses(statement), "{statement}");
        }
        for statement in [
            "CREATE INDEX i ON t (a)",
            "CREATE TABLE concurrently (a INT)",
            "REINDEX INDEX i",
            "ALTER TABLE t ADD COLUMN system INT",
            "SELECT 'VACUUM'",
        ] {
            assert!(!refuses(statement), "{statement}");
        }
    }

    #[test]
    fn scripts_with_their_own_transaction_or_such_statements_run_as_written() {
        assert!(runs_as_written(
            "BEGIN;\nCREATE TABLE a (id INT);\nCOMMIT;\n"
        ));
        assert!(runs_as_written("CREATE INDEX CONCURRENTLY i ON t (a);\n"));
        assert!(!runs_as_written("CREATE TABLE a (id INT);\n"));
        // Words inside strings, comments and bodies do not count.
        assert!(!runs_as_written(
            "-- BEGIN; COMMIT;\nINSERT INTO t VALUES ('COMMIT');\n"
        ));
        assert!(!runs_as_written(
            "CREATE FUNCTION f() RETURNS INT AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;\n"
        ));
    }

    #[test]
    fn such_files_read_as_no_transaction_scripts() {
        let dir = tree(&[
            (
                "1_own.up.sql",
                "BEGIN;\nCREATE TABLE a (id INT);\nCOMMIT;\n",
            ),
            ("1_own.down.sql", "BEGIN;\nDROP TABLE a;\nCOMMIT;\n"),
            ("2_index.up.sql", "CREATE INDEX CONCURRENTLY i ON a (id);\n"),
            ("2_index.down.sql", "DROP INDEX i;\n"),
            ("3_plain.up.sql", "CREATE TABLE b (id INT);\n"),
        ]);
        let flags: Vec<(bool, bool)> = read(&dir)
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
        assert_eq!(flags, [(true, true), (true, false), (false, false)]);
    }
}

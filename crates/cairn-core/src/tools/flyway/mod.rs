//! Flyway (and refinery's shared `V<version>__<name>.sql` grammar): dotted
//! versions, repeatable `R__` files, `U` undo files, statements Flyway runs
//! outside a transaction; history table `flyway_schema_history`.
//!
//! The layout side, read in place by [`crate::source`] (docs/layouts.md,
//! "Flyway"):
//!
//! - `V<version>__<description>.sql`: a versioned migration. The version is
//!   everything before the first `__`, integers separated by `.` or `_`
//!   (`V2_1__x.sql` is 2.1), compared part by part with missing parts as 0,
//!   as Flyway's `MigrationVersion` does: `1 < 1.1 < 1.2 < 1.10 < 2`, and
//!   `1.0` is `1` (shown as `1`). Leading zeros do not count (`V005` is 5).
//! - `U<version>__<description>.sql`: its undo script, Cairn's down script.
//! - `R__<description>.sql`: a repeatable migration, applied after every
//!   versioned one, in the order of the descriptions, and again whenever
//!   its checksum changes (see [`crate::plan`]). Accepted beside every
//!   layout, Cairn's folders included: that is Cairn's own form of a
//!   repeatable migration too.
//! - Flyway's SQL callbacks (`beforeMigrate.sql`, `afterEachMigrate.sql`, …)
//!   are not migrations: Flyway skips them as migrations, and so does Cairn.
//! - Statements Flyway's PostgreSQL parser runs outside a transaction
//!   (`CREATE INDEX CONCURRENTLY`, `VACUUM`, …) make their migration run
//!   outside one; the rule is the dialect's
//!   ([`Bookkeeping::needs_no_transaction`](crate::dialect::Bookkeeping::needs_no_transaction)),
//!   applied by [`crate::migrator`] to Flyway-layout migrations.

pub mod history;

use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::migration::{Direction, Migration, Script, Version};
use crate::split::Statement;

/// Whether a Flyway-layout script runs in a transaction, as Flyway decides
/// it (with its default `mixed = false`): not when its statements are ones
/// the product cannot run in a transaction block
/// ([`Bookkeeping::needs_no_transaction`](crate::dialect::Bookkeeping::needs_no_transaction));
/// yes otherwise.
///
/// # Errors
///
/// [`Error::MixedTransaction`] when the script holds both kinds.
pub fn runs_in_transaction(
    dialect: &dyn Dialect,
    migration: &Migration,
    direction: Direction,
    script: &Script,
    statements: &[Statement],
) -> Result<bool> {
    let (outside, inside): (Vec<&Statement>, Vec<&Statement>) = statements
        .iter()
        .partition(|statement| dialect.needs_no_transaction(&statement.sql));
    match (outside.first(), inside.first()) {
        (None, _) => Ok(true),
        (Some(_), None) => Ok(false),
        (Some(outside), Some(inside)) => Err(Error::MixedTransaction {
            location: script.location(outside.line),
            statement: outside
                .sql
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            transactional: script.location(inside.line),
            direction,
            version: migration.version,
            name: migration.name.clone(),
            engine: dialect.engine(),
        }),
    }
}

/// The kinds of Flyway file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `V<version>__<description>.sql`.
    Versioned,
    /// `U<version>__<description>.sql`.
    Undo,
    /// `R__<description>.sql`.
    Repeatable,
}

/// A Flyway file name, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// What the file is.
    pub kind: Kind,
    /// Its version ([`Version::repeatable`] of the description for `R__`).
    pub version: Version,
    /// The text after `__`, without `.sql`.
    pub description: String,
}

/// The events Flyway runs SQL callbacks for (`<event>.sql`, or
/// `<event>__<description>.sql`), from Flyway's `Event` enum.
const CALLBACKS: &[&str] = &[
    "beforeMigrate",
    "beforeRepeatables",
    "beforeEachMigrate",
    "beforeEachMigrateStatement",
    "afterEachMigrateStatement",
    "afterEachMigrateStatementError",
    "afterEachMigrate",
    "afterEachMigrateError",
    "afterMigrate",
    "afterMigrateApplied",
    "afterVersioned",
    "afterMigrateError",
    "beforeUndo",
    "beforeEachUndo",
    "beforeEachUndoStatement",
    "afterEachUndoStatement",
    "afterEachUndoStatementError",
    "afterEachUndo",
    "afterEachUndoError",
    "afterUndo",
    "afterUndoError",
    "beforeClean",
    "afterClean",
    "afterCleanError",
    "beforeInfo",
    "afterInfo",
    "afterInfoError",
    "beforeValidate",
    "afterValidate",
    "afterValidateError",
    "beforeBaseline",
    "afterBaseline",
    "afterBaselineError",
    "beforeRepair",
    "afterRepair",
    "afterRepairError",
    "createSchema",
    "beforeConnect",
    "afterConnect",
];

/// Whether `file` is one of Flyway's SQL callbacks, which are not migrations.
pub fn is_callback(file: &str) -> bool {
    let Some(stem) = file.strip_suffix(".sql") else {
        return false;
    };
    let event = stem.split_once("__").map_or(stem, |(event, _)| event);
    CALLBACKS.contains(&event)
}

/// Parses the stem (the name without `.sql`) of a Flyway file: `None` when
/// it is not Flyway's (no `V`/`U` followed by a digit, no `R__`), else the
/// name or the hint saying what is wrong with it.
pub fn parse(stem: &str) -> Option<Result<Name, String>> {
    if let Some(description) = stem.strip_prefix("R__") {
        if description.is_empty() {
            return Some(Err(
                "the description after `R__` is missing (`R__refresh_views.sql`)".to_owned(),
            ));
        }
        return Some(Ok(Name {
            kind: Kind::Repeatable,
            version: Version::repeatable(description),
            description: description.to_owned(),
        }));
    }
    let (kind, rest) = match stem.split_at_checked(1) {
        Some(("V", rest)) => (Kind::Versioned, rest),
        Some(("U", rest)) => (Kind::Undo, rest),
        _ => return None,
    };
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(parse_versioned(kind, rest))
}

fn parse_versioned(kind: Kind, rest: &str) -> Result<Name, String> {
    let Some((version, description)) = rest.split_once("__") else {
        return Err(
            "flyway names separate version and description with two underscores \
             (`V1__create_users.sql`, `V1.1__add_email.sql`)"
                .to_owned(),
        );
    };
    let version = parse_version(version)?;
    if description.is_empty() {
        let prefix = if kind == Kind::Undo { 'U' } else { 'V' };
        return Err(format!(
            "the description after `__` is missing (`{prefix}{version}__create_users.sql`)"
        ));
    }
    Ok(Name {
        kind,
        version,
        description: description.to_owned(),
    })
}

/// A Flyway version: integers separated by `.` or `_` (`_` reads as `.`).
pub fn parse_version(text: &str) -> Result<Version, String> {
    const RULE: &str = "flyway versions are integers separated by `.` or `_` \
                        (`V1__`, `V1.1__`, `V2_1__`)";
    if !text
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'_')
    {
        return Err(format!("flyway version `{text}` is not a version: {RULE}"));
    }
    text.replace('_', ".")
        .parse::<Version>()
        .map_err(|e| format!("flyway version `{text}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(stem: &str) -> String {
        parse(stem).expect(stem).expect(stem).version.to_string()
    }

    #[test]
    fn dotted_and_underscored_versions_read_as_flyway_reads_them() {
        assert_eq!(version("V1__a"), "1");
        assert_eq!(version("V1.1__a"), "1.1");
        assert_eq!(version("V13.1__a"), "13.1");
        assert_eq!(version("V2_1__a"), "2.1");
        assert_eq!(version("V005__a"), "5");
        assert_eq!(version("V1.0__a"), "1");
        assert_eq!(version("V1.2.3.4.5.6.7.8.9__a"), "1.2.3.4.5.6.7.8.9");
        assert_eq!(version("U1.1__a"), "1.1");
        let name = parse("V2_1__add_email").unwrap().unwrap();
        assert_eq!(name.kind, Kind::Versioned);
        assert_eq!(name.description, "add_email");
        assert_eq!(parse("U2_1__add_email").unwrap().unwrap().kind, Kind::Undo);
    }

    #[test]
    fn repeatables_are_named_by_their_description() {
        let name = parse("R__views").unwrap().unwrap();
        assert_eq!(name.kind, Kind::Repeatable);
        assert_eq!(name.version, Version::repeatable("views"));
        assert_eq!(name.description, "views");
        assert!(parse("R__")
            .unwrap()
            .unwrap_err()
            .contains("R__refresh_views"));
    }

    #[test]
    fn bad_names_say_what_is_wrong() {
        for (stem, hint) in [
            ("V1_x", "two underscores"),
            ("V1.a__x", "not a version"),
            ("V1..2__x", "a part is empty"),
            ("V1.__x", "a part is empty"),
            ("V1__", "description after `__` is missing"),
            ("V1.2.3.4.5.6.7.8.9.10.11__x", "at most 10 parts"),
            ("V99999999999999999999__x", "too large"),
        ] {
            let error = parse(stem).expect(stem).expect_err(stem);
            assert!(error.contains(hint), "{stem}: {error}");
        }
        // Not Flyway's at all: left to the other layouts.
        for stem in ["Va__x", "1_x", "Rx", "users"] {
            assert!(parse(stem).is_none(), "{stem}");
        }
    }

    fn pg(version: &str) -> crate::dialect::postgres::PostgresDialect {
        crate::dialect::postgres::PostgresDialect::new(
            crate::Flavour::Postgres,
            Some(crate::ServerVersion::parse(version)),
        )
    }

    #[test]
    fn statements_flyway_runs_outside_a_transaction_on_postgres() {
        use crate::dialect::Bookkeeping;
        let new = pg("15.4");
        for sql in [
            "CREATE INDEX CONCURRENTLY i ON t (a)",
            "create unique index concurrently if not exists i on t (a)",
            "-- a comment\nDROP INDEX CONCURRENTLY IF EXISTS i",
            "VACUUM ANALYZE t",
            "REINDEX DATABASE app",
            "REINDEX (VERBOSE) INDEX CONCURRENTLY i",
            "CREATE DATABASE other",
            "DROP TABLESPACE ts",
            "ALTER SYSTEM SET work_mem = '64MB'",
            "DISCARD ALL",
        ] {
            assert!(new.needs_no_transaction(sql), "{sql}");
        }
        for sql in [
            "CREATE INDEX i ON t (a)",
            "CREATE TABLE concurrently (id int)",
            "REINDEX INDEX i",
            "ALTER TYPE mood ADD VALUE 'ok'",
            "INSERT INTO t VALUES ('VACUUM')",
        ] {
            assert!(!new.needs_no_transaction(sql), "{sql}");
        }
        // Before PostgreSQL 12, ALTER TYPE ... ADD VALUE cannot run in a transaction.
        assert!(pg("11.22").needs_no_transaction("ALTER TYPE mood ADD VALUE 'ok'"));
        assert!(!pg("11.22").needs_no_transaction("ALTER TYPE mood RENAME TO feeling"));
        // Other engines: none (MySQL runs no script in Cairn's transaction).
        for engine in [crate::Engine::Mysql, crate::Engine::Sqlite] {
            assert!(!crate::dialect::for_engine(engine)
                .needs_no_transaction("CREATE INDEX CONCURRENTLY i ON t (a)"));
        }
    }

    fn flyway_migration(text: &str) -> Migration {
        let script = Script {
            path: "V2__index.sql".into(),
            first_line: 1,
            text: text.to_owned(),
            directives: Default::default(),
        };
        Migration {
            version: Version::from(2),
            name: "index".to_owned(),
            layout: crate::migration::Layout::Flyway,
            location: "V2__index.sql".into(),
            up: crate::migration::Scripts {
                plain: Some(script),
                overrides: Default::default(),
            },
            down: Default::default(),
            declaration: None,
        }
    }

    #[test]
    fn a_script_runs_outside_a_transaction_only_when_all_its_statements_must() {
        let dialect = pg("15.4");
        let decide = |text: &str| {
            let m = flyway_migration(text);
            let script = m.up.plain.clone().unwrap();
            let statements = crate::split::split(text, crate::Engine::Postgres).unwrap();
            runs_in_transaction(&dialect, &m, Direction::Up, &script, &statements)
        };
        assert_eq!(
            decide("CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\n").ok(),
            Some(true)
        );
        assert_eq!(
            decide("CREATE INDEX CONCURRENTLY i ON t (a);\nDROP INDEX CONCURRENTLY j;\n").ok(),
            Some(false)
        );
        let error =
            decide("CREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY i ON t (a);\n").unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, Error::MixedTransaction { .. }), "{message}");
        assert!(
            message.starts_with("V2__index.sql:2: `CREATE INDEX CONCURRENTLY"),
            "{message}"
        );
        assert!(message.contains("V2__index.sql:1"), "{message}");
        assert!(message.contains("-- cairn:no-transaction"), "{message}");
    }

    #[test]
    fn callbacks_are_recognised() {
        for file in [
            "beforeMigrate.sql",
            "afterEachMigrate__log.sql",
            "afterMigrate.sql",
        ] {
            assert!(is_callback(file), "{file}");
        }
        for file in ["V1__beforeMigrate.sql", "beforeMigrate.txt", "before.sql"] {
            assert!(!is_callback(file), "{file}");
        }
    }
}

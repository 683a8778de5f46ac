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

use crate::migration::Version;

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

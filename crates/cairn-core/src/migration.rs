//! Migrations as read from disk: versions, scripts and their directives.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::checksum;
use crate::engine::Engine;
use crate::error::Location;

pub use crate::version::{ParseVersionError, Version, MAX_VERSION_PARTS};

/// How a migration folder or file was laid out on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Layout {
    /// Cairn's own: `<version>_<name>/up.sql`, `down.sql`, `up.<engine>.sql`, ...
    Cairn,
    /// diesel: `YYYY-MM-DD-HHMMSS_<name>/up.sql` and `down.sql`.
    Diesel,
    /// sqlx and golang-migrate: `<version>_<name>.up.sql` and `.down.sql`.
    Sqlx,
    /// Flyway and refinery: `V<version>__<name>.sql`, `U<version>__<name>.sql`.
    Flyway,
    /// dbmate: one `<version>_<name>.sql` file with `-- migrate:up` and `-- migrate:down`.
    Dbmate,
    /// Prisma Migrate: `<timestamp>_<name>/migration.sql`, no down scripts.
    Prisma,
    /// Liquibase formatted SQL: one migration per `--changeset author:id`.
    Liquibase,
}

impl Layout {
    /// The name used in messages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Cairn => "cairn",
            Layout::Diesel => "diesel",
            Layout::Sqlx => "sqlx",
            Layout::Flyway => "flyway",
            Layout::Dbmate => "dbmate",
            Layout::Prisma => "prisma",
            Layout::Liquibase => "liquibase",
        }
    }
}

/// Which way a script moves the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Applies the migration.
    Up,
    /// Rolls it back.
    Down,
}

impl Direction {
    /// `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// The `-- cairn:` directives at the top of a script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directives {
    /// `-- cairn:no-transaction`: run the statements outside a transaction.
    pub no_transaction: bool,
    /// `-- cairn:engines postgres,sqlite`: the migration exists only on these engines.
    pub engines: Option<BTreeSet<Engine>>,
    /// `-- cairn:lock-timeout 2s`.
    pub lock_timeout: Option<Duration>,
    /// `-- cairn:statement-timeout 10m`.
    pub statement_timeout: Option<Duration>,
    /// `-- cairn:irreversible`: the migration has no down script on purpose.
    pub irreversible: bool,
}

/// One SQL file (or, for dbmate, one section of a file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The file it was read from.
    pub path: PathBuf,
    /// The 1-based line of the file on which `text` begins (1 except for dbmate sections).
    pub first_line: usize,
    /// The text after checksum normalisation (no BOM, LF line endings).
    pub text: String,
    /// The directives found at its top.
    pub directives: Directives,
}

impl Script {
    /// The SHA-256 of the normalised text (see [`crate::checksum`]).
    pub fn checksum(&self) -> String {
        checksum::checksum(&self.text)
    }

    /// Where a line of this script's text (1-based within `text`) is in its file.
    pub fn location(&self, line: usize) -> Location {
        Location::new(&self.path, self.first_line + line.max(1) - 1)
    }
}

/// The scripts for one direction: a plain one, and overrides per engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scripts {
    /// `up.sql` / `down.sql`: used on every engine without an override.
    pub plain: Option<Script>,
    /// `up.<engine>.sql` / `down.<engine>.sql`.
    pub overrides: BTreeMap<Engine, Script>,
}

impl Scripts {
    /// The effective script on `engine`: its override, else the plain script.
    pub fn for_engine(&self, engine: Engine) -> Option<&Script> {
        self.overrides.get(&engine).or(self.plain.as_ref())
    }

    /// Whether there is no script at all.
    pub fn is_empty(&self) -> bool {
        self.plain.is_none() && self.overrides.is_empty()
    }

    /// Every script, plain first.
    pub fn iter(&self) -> impl Iterator<Item = &Script> {
        self.plain.iter().chain(self.overrides.values())
    }
}

/// A migration read from the migrations directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    /// Its version: the order in which migrations apply.
    pub version: Version,
    /// Its name, from the folder or file name (`add_users`).
    pub name: String,
    /// How it was laid out on disk.
    pub layout: Layout,
    /// The folder (Cairn, diesel) or the up file (flat layouts) it came from.
    pub location: PathBuf,
    /// Up scripts.
    pub up: Scripts,
    /// Down scripts; empty when there are none.
    pub down: Scripts,
    /// Its `migration.toml`, if it has one: backfills that run after its SQL.
    pub declaration: Option<Declaration>,
}

/// A migration's `migration.toml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    /// The file.
    pub path: PathBuf,
    /// Its text after checksum normalisation (part of the migration's checksum).
    pub text: String,
    /// The backfills it declares, in file order.
    pub backfills: Vec<crate::backfill::Backfill>,
    /// The zero-downtime operations it declares, in file order.
    pub operations: Vec<crate::operation::Operation>,
}

impl Migration {
    /// Whether this migration exists on `engine` (`-- cairn:engines` on its up script).
    pub fn applies_to(&self, engine: Engine) -> bool {
        match self.up.for_engine(engine) {
            Some(script) => script
                .directives
                .engines
                .as_ref()
                .is_none_or(|engines| engines.contains(&engine)),
            None => false,
        }
    }

    /// The effective script in `direction` on `engine`.
    pub fn script(&self, direction: Direction, engine: Engine) -> Option<&Script> {
        match direction {
            Direction::Up => self.up.for_engine(engine),
            Direction::Down => self.down.for_engine(engine),
        }
    }

    /// The checksum recorded in the history when this migration is applied on
    /// `engine`: of its effective up script, followed by its `migration.toml`
    /// when it has one (see docs/checksums.md).
    pub fn checksum(&self, engine: Engine) -> Option<String> {
        let script = self.up.for_engine(engine)?;
        Some(match &self.declaration {
            None => script.checksum(),
            Some(declaration) => checksum::checksum(&format!(
                "{}\n-- cairn:migration.toml\n{}",
                script.text, declaration.text
            )),
        })
    }

    /// The backfills that run after its up script (empty for most migrations).
    pub fn backfills(&self) -> &[crate::backfill::Backfill] {
        self.declaration
            .as_ref()
            .map_or(&[], |declaration| &declaration.backfills)
    }

    /// What to write to give this migration a down script, in the file its
    /// layout expects: `down.sql` in its folder, `<v>_<name>.down.sql`,
    /// `U<v>__<name>.sql`, a `-- migrate:down` section, a `--rollback` line;
    /// a repeatable migration has none.
    pub fn down_hint(&self, engine: Engine) -> String {
        let beside = |file: String| match self.location.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(file).display().to_string(),
            _ => file,
        };
        if self.version.is_repeatable() {
            return "a repeatable migration has no down script: `down` leaves it as it is"
                .to_owned();
        }
        match self.layout {
            Layout::Cairn | Layout::Diesel => format!(
                "write `{}` (or `down.{engine}.sql`)",
                self.location.join("down.sql").display()
            ),
            Layout::Sqlx if !self.location.to_string_lossy().ends_with(".up.sql") => format!(
                "rename `{}` to `{}_{}.up.sql` and write `{}` beside it",
                self.location.display(),
                self.version,
                self.name,
                beside(format!("{}_{}.down.sql", self.version, self.name))
            ),
            Layout::Sqlx => format!(
                "write `{}`",
                beside(format!("{}_{}.down.sql", self.version, self.name))
            ),
            Layout::Flyway => format!(
                "write the undo script `{}`",
                beside(format!("U{}__{}.sql", self.version, self.name))
            ),
            Layout::Dbmate => format!(
                "add a `-- migrate:down` section to `{}`",
                self.location.display()
            ),
            Layout::Prisma => format!(
                "Prisma migrations have no down script: write `{}` beside its migration.sql \
                 (Cairn reads it, Prisma ignores it), or undo the change in a new migration",
                self.location.join("down.sql").display()
            ),
            Layout::Liquibase => format!(
                "add `--rollback <statement>` lines (or a `/* liquibase rollback */` block) to \
                 changeset `{}` in `{}`",
                self.name,
                self.location.display()
            ),
        }
    }

    /// How to make this migration run outside a transaction, in its layout's
    /// own form.
    pub fn no_transaction_hint(&self) -> String {
        match self.layout {
            Layout::Diesel => format!(
                "put `run_in_transaction = false` in `{}`",
                self.location.join("metadata.toml").display()
            ),
            Layout::Dbmate => format!(
                "write `-- migrate:up transaction:false` in `{}`",
                self.location.display()
            ),
            Layout::Sqlx => format!(
                "start `{}` with `-- no-transaction` (sqlx's form) or `-- cairn:no-transaction`",
                self.location.display()
            ),
            Layout::Liquibase => format!(
                "add `runInTransaction:false` to the `--changeset {}` line in `{}`",
                self.name,
                self.location.display()
            ),
            Layout::Cairn | Layout::Flyway | Layout::Prisma => {
                "put `-- cairn:no-transaction` at the top of its script".to_owned()
            }
        }
    }

    /// Whether the up script declares `-- cairn:irreversible`.
    pub fn is_irreversible(&self, engine: Engine) -> bool {
        self.up
            .for_engine(engine)
            .is_some_and(|script| script.directives.irreversible)
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(layout: Layout, version: Version, name: &str, location: &str) -> Migration {
        Migration {
            version,
            name: name.to_owned(),
            layout,
            location: PathBuf::from(location),
            up: Scripts::default(),
            down: Scripts::default(),
            declaration: None,
        }
    }

    #[test]
    fn hints_name_the_file_the_layout_expects() {
        let pg = Engine::Postgres;
        let v = Version::from(7);
        let cases = [
            (
                migration(Layout::Cairn, v, "a", "m/7_a"),
                "write `m/7_a/down.sql` (or `down.postgres.sql`)",
            ),
            (
                migration(Layout::Sqlx, v, "a", "m/7_a.up.sql"),
                "write `m/7_a.down.sql`",
            ),
            (
                migration(Layout::Flyway, "1.1".parse().unwrap(), "a", "m/V1_1__a.sql"),
                "write the undo script `m/U1.1__a.sql`",
            ),
            (
                migration(Layout::Dbmate, v, "a", "m/7_a.sql"),
                "add a `-- migrate:down` section to `m/7_a.sql`",
            ),
        ];
        for (m, hint) in cases {
            assert_eq!(m.down_hint(pg), hint);
        }
        let r = migration(Layout::Flyway, Version::repeatable("v"), "v", "m/R__v.sql");
        assert!(r.down_hint(pg).contains("repeatable"));
        assert_eq!(
            migration(Layout::Diesel, v, "a", "m/2024-01-01-000000_a").no_transaction_hint(),
            "put `run_in_transaction = false` in `m/2024-01-01-000000_a/metadata.toml`"
        );
        assert!(migration(Layout::Dbmate, v, "a", "m/7_a.sql")
            .no_transaction_hint()
            .contains("transaction:false"));
        assert!(migration(Layout::Sqlx, v, "a", "m/7_a.sql")
            .no_transaction_hint()
            .contains("-- cairn:no-transaction"));
    }
}

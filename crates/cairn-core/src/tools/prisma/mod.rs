//! Prisma Migrate: `prisma/migrations/<timestamp>_<name>/migration.sql`, `migration_lock.toml`; history table `_prisma_migrations` (SHA-256 checksums).
//!
//! # The layout, as Prisma runs it
//!
//! - A migration is a folder `<timestamp>_<name>/` holding `migration.sql`;
//!   its version is the 14-digit timestamp and its name the rest, as for
//!   Cairn's own folders. `--dir` may point at `prisma/migrations`, or at
//!   `prisma/` itself (a directory holding `migrations/migration_lock.toml`).
//! - `migration.sql` is run as Prisma runs it: Prisma adds no transaction, so a
//!   script with its own `BEGIN;`/`COMMIT;`, or with a statement PostgreSQL
//!   refuses in a transaction, runs outside Cairn's transaction (the rule of
//!   `crate::tools::golang_migrate::runs_as_written`); any other script runs
//!   in Cairn's transaction where the engine has transactional DDL.
//! - `migration_lock.toml` names the provider the migrations were written for
//!   (Prisma reads the first line starting with `provider`). `check_provider`
//!   (through [`crate::source::check_engine`]) refuses a database of another engine, before anything runs, with the line
//!   of the file.
//! - Prisma has no down scripts: `cairn down` refuses with a hint, and `cairn
//!   verify` reports the migration as irreversible. A `down.sql` written beside
//!   `migration.sql` (Prisma ignores it) is read as the down script.
//! - A folder may not hold both `migration.sql` and Cairn's `up.sql`, and a
//!   directory may not mix Prisma folders with other layouts.
//! - Two folders with one timestamp: Prisma accepts them (it orders by folder
//!   name and matches its history by name), so Cairn does too: in folder-name
//!   order the first keeps version `<timestamp>`, the next ones become
//!   `<timestamp>.1`, `<timestamp>.2`, … (dotted versions, as Flyway's), which
//!   sort between `<timestamp>` and the next timestamp (`number_duplicates`).
//!   `cairn adopt --from prisma` matches `_prisma_migrations.migration_name`
//!   to the folder of that name ([`history::match_folders`]).

pub mod history;

use std::path::Path;

use crate::engine::Engine;
use crate::error::{Error, Location};
use crate::migration::{Layout, Migration, Script, Scripts};

/// The script of a Prisma migration folder.
pub(crate) const SCRIPT: &str = "migration.sql";

/// The lock file beside the migration folders.
pub(crate) const LOCK_FILE: &str = "migration_lock.toml";

/// Makes a folder holding `migration.sql` a Prisma migration: the script
/// becomes its up script.
pub(crate) fn take_up_script(
    layout: &mut Layout,
    up: &mut Scripts,
    prisma: Script,
) -> Result<(), Error> {
    if let Some(other) = up.iter().next() {
        return Err(Error::UnrecognisedName {
            path: other.path.clone(),
            hint: format!(
                "this folder holds Prisma's `{SCRIPT}` and Cairn's up script: keep one \
                 (a Prisma migration is `migration.sql`, with an optional `down.sql`)"
            ),
        });
    }
    *layout = Layout::Prisma;
    up.plain = Some(prisma);
    Ok(())
}

/// Refuses a directory mixing Prisma folders with other migrations.
pub(crate) fn check_not_mixed(migrations: &[Migration]) -> Result<(), Error> {
    let prisma = migrations.iter().find(|m| m.layout == Layout::Prisma);
    let other = migrations.iter().find(|m| m.layout != Layout::Prisma);
    match (prisma, other) {
        (Some(prisma), Some(other)) => {
            let (first, second) = if prisma.location < other.location {
                (prisma, other)
            } else {
                (other, prisma)
            };
            Err(Error::MixedLayouts {
                dir: first
                    .location
                    .parent()
                    .map(Path::to_owned)
                    .unwrap_or_default(),
                first: first.location.clone(),
                first_layout: first.layout.as_str(),
                second: second.location.clone(),
                second_layout: second.layout.as_str(),
            })
        }
        _ => Ok(()),
    }
}

/// Gives Prisma folders that share a timestamp versions of their own: in
/// `migrations` (sorted by version, and among equal versions in folder-name
/// order), the second folder of a timestamp gets `<timestamp>.1`, the third
/// `<timestamp>.2`, and so on. Other layouts are left as they are (their
/// duplicates are refused).
pub(crate) fn number_duplicates(migrations: &mut [Migration]) {
    let mut index = 0;
    while index < migrations.len() {
        let version = migrations[index].version;
        let run = migrations[index..]
            .iter()
            .take_while(|m| m.version == version && m.layout == Layout::Prisma)
            .count();
        if let (true, Some(timestamp)) = (run > 1, version.as_i64()) {
            for (part, migration) in (1..).zip(&mut migrations[index + 1..index + run]) {
                if let Ok(dotted) = crate::migration::Version::from_parts(&[timestamp, part]) {
                    migration.version = dotted;
                }
            }
        }
        index += run.max(1);
    }
}

/// The engine a Prisma `provider` value names (`postgresql`, `mysql`, `sqlite`).
fn provider_engine(provider: &str) -> Option<Engine> {
    provider.parse().ok()
}

/// Checks the provider of the Prisma lock file at `path` (its `text`) against
/// the engine of the database: Prisma's migrations are written for one
/// provider. A file without a `provider` line passes, as in Prisma.
///
/// # Errors
///
/// [`Error::BadDirective`] at the provider's line when it names another engine
/// or one Cairn does not run (`sqlserver`, `mongodb`, `cockroachdb`).
pub(crate) fn check_provider(path: &Path, text: &str, engine: Engine) -> Result<(), Error> {
    let Some((index, line)) = text
        .lines()
        .enumerate()
        .find(|(_, line)| line.trim_start().starts_with("provider"))
    else {
        return Ok(());
    };
    let provider = line
        .trim_start()
        .trim_start_matches("provider")
        .trim_start()
        .trim_start_matches('=')
        .trim()
        .trim_matches('"');
    let message = match provider_engine(provider) {
        Some(theirs) if theirs == engine => return Ok(()),
        Some(theirs) => format!(
            "these Prisma migrations were written for {theirs} (provider = \"{provider}\"), but \
             the database is {engine}: nothing was run; point --database-url at a {theirs} \
             database, or regenerate the migrations for {engine} with Prisma"
        ),
        None => format!(
            "these Prisma migrations were written for provider \"{provider}\", which Cairn does \
             not run (it runs postgresql, mysql and sqlite): nothing was run"
        ),
    };
    Err(Error::BadDirective {
        location: Location::new(path, index + 1),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::{fail, read, tree};

    const LOCK: &str = "# Please do not edit this file manually\n\
                        # It should be added in your version-control system (e.g., Git)\n\
                        provider = \"postgresql\"\n";

    #[test]
    fn prisma_folders_read_as_up_scripts_without_down() {
        let dir = tree(&[
            ("migration_lock.toml", LOCK),
            (
                "20210313140442_init/migration.sql",
                "-- CreateTable\nCREATE TABLE \"User\" (id SERIAL PRIMARY KEY);\n",
            ),
            (
                "20210314090000_index/migration.sql",
                "CREATE INDEX CONCURRENTLY \"User_idx\" ON \"User\" (id);\n",
            ),
            (
                "20210315090000_job_title/migration.sql",
                "ALTER TABLE \"User\" ADD COLUMN job TEXT;\n",
            ),
            (
                "20210315090000_job_title/down.sql",
                "ALTER TABLE \"User\" DROP COLUMN job;\n",
            ),
        ]);
        let migrations = read(&dir);
        let summary: Vec<_> = migrations
            .iter()
            .map(|m| {
                (
                    m.version.key(),
                    m.name.as_str(),
                    m.layout,
                    m.down.is_empty(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (20210313140442, "init", Layout::Prisma, true),
                (20210314090000, "index", Layout::Prisma, true),
                (20210315090000, "job_title", Layout::Prisma, false),
            ]
        );
        let no_tx: Vec<bool> = migrations
            .iter()
            .map(|m| m.up.plain.as_ref().unwrap().directives.no_transaction)
            .collect();
        assert_eq!(no_tx, [false, true, false]);
        let hint = migrations[0].down_hint(Engine::Postgres);
        assert!(
            hint.contains("Prisma migrations have no down script"),
            "{hint}"
        );
        assert!(hint.contains("20210313140442_init"), "{hint}");
    }

    #[test]
    fn the_prisma_folder_itself_may_be_pointed_at() {
        let dir = tree(&[
            ("schema.prisma", "datasource db { provider = \"sqlite\" }\n"),
            ("migrations/migration_lock.toml", LOCK),
            (
                "migrations/20210313140442_init/migration.sql",
                "SELECT 1;\n",
            ),
        ]);
        assert_eq!(read(&dir).len(), 1);
        crate::source::check_engine(dir.path(), Engine::Postgres).expect("postgresql is postgres");
    }

    #[test]
    fn the_provider_is_checked_against_the_engine() {
        let dir = tree(&[
            ("migration_lock.toml", LOCK),
            ("20210313140442_init/migration.sql", "SELECT 1;\n"),
        ]);
        crate::source::check_engine(dir.path(), Engine::Postgres).expect("same engine");
        let error =
            crate::source::check_engine(dir.path(), Engine::Sqlite).expect_err("another engine");
        let message = error.to_string();
        assert!(message.contains("migration_lock.toml:3"), "{message}");
        assert!(message.contains("written for postgres"), "{message}");
        assert!(message.contains("the database is sqlite"), "{message}");

        let dir = tree(&[("migration_lock.toml", "provider = \"sqlserver\"\n")]);
        let message = crate::source::check_engine(dir.path(), Engine::Mysql)
            .expect_err("not run by cairn")
            .to_string();
        assert!(
            message.contains("\"sqlserver\", which Cairn does not run"),
            "{message}"
        );

        let dir = tree(&[("20210313140442_init/migration.sql", "SELECT 1;\n")]);
        crate::source::check_engine(dir.path(), Engine::Mysql).expect("no lock file, no check");
    }

    #[test]
    fn a_folder_with_both_scripts_or_a_mixed_directory_is_refused() {
        let dir = tree(&[
            ("1_a/migration.sql", "SELECT 1;\n"),
            ("1_a/up.sql", "SELECT 1;\n"),
        ]);
        assert!(matches!(fail(&dir), Error::UnrecognisedName { .. }));
        let dir = tree(&[
            ("1_a/migration.sql", "SELECT 1;\n"),
            ("2_b/up.sql", "SELECT 1;\n"),
        ]);
        let message = fail(&dir).to_string();
        assert!(message.contains("is prisma but"), "{message}");
    }

    #[test]
    fn a_new_migration_beside_prisma_folders_is_a_prisma_folder() {
        let dir = tree(&[
            ("migration_lock.toml", LOCK),
            ("20210313140442_init/migration.sql", "SELECT 1;\n"),
        ]);
        let survey = crate::source::survey(dir.path()).unwrap();
        assert_eq!(survey.shape, crate::source::NewShape::PrismaFolder);
        assert_eq!(survey.versions, [20210313140442]);
        let made = survey
            .shape
            .files(crate::Version::from(20260131120000), "add_users");
        let names: Vec<String> = made
            .files
            .iter()
            .map(|(path, _)| path.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "20260131120000_add_users/migration.sql",
                "20260131120000_add_users/down.sql"
            ]
        );
    }

    #[test]
    fn an_empty_migration_sql_is_refused() {
        let dir = tree(&[("20210313140442_init/migration.sql", "-- nothing\n")]);
        assert!(matches!(fail(&dir), Error::EmptyScript { .. }));
    }

    #[test]
    fn duplicate_timestamps_get_dotted_versions_in_folder_name_order() {
        let dir = tree(&[
            ("20210313140442_init/migration.sql", "SELECT 1;\n"),
            (
                "20210313140442_added_job_title/migration.sql",
                "SELECT 2;\n",
            ),
            ("20210313140442_zz/migration.sql", "SELECT 3;\n"),
            ("20210313140443_next/migration.sql", "SELECT 4;\n"),
        ]);
        let versions: Vec<(String, &str)> = read(&dir)
            .iter()
            .map(|m| (m.version.to_string(), ""))
            .collect();
        let names: Vec<String> = read(&dir).iter().map(|m| m.name.clone()).collect();
        assert_eq!(
            versions.iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>(),
            [
                "20210313140442",
                "20210313140442.1",
                "20210313140442.2",
                "20210313140443"
            ]
        );
        assert_eq!(names, ["added_job_title", "init", "zz", "next"]);
        // Other layouts still refuse a duplicate.
        let dir = tree(&[
            ("20210313140442_a/up.sql", "SELECT 1;\n"),
            ("20210313140442_b/up.sql", "SELECT 2;\n"),
        ]);
        assert!(matches!(
            fail(&dir),
            Error::DuplicateVersion {
                version,
                ..
            } if version == 20210313140442
        ));
    }
}

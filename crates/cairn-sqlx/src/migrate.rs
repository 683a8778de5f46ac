//! An existing `sqlx::migrate!()` set as Cairn migrations, so a sqlx
//! project switches to Cairn without moving a file.
//!
//! Each sqlx migration maps to the Cairn migration that Cairn's own reader
//! makes of the same files (`cairn::source::read_dir` on the directory):
//!
//! | sqlx | Cairn |
//! |---|---|
//! | `version` | the version |
//! | `description` (`add users`, sqlx turns `_` into spaces) | the name, `add_users` |
//! | `Simple` / `ReversibleUp` `sql` | the up script |
//! | `ReversibleDown` `sql` | the down script (none: the migration cannot be rolled back) |
//! | `no_tx` (`-- no-transaction` on the first line) | the no-transaction directive |
//!
//! The scripts' texts are normalised as Cairn normalises files (BOM removed,
//! CRLF to LF), and their `-- cairn:` directives are read, so the Cairn
//! checksums are those of `cairn::source::read_dir` on the same directory,
//! and the same `cairn_history` serves either. sqlx's own SHA-384 checksums
//! are not used here: they matter when `cairn adopt --from sqlx` imports
//! `_sqlx_migrations` (docs/sqlx.md).
//!
//! A database that sqlx migrated has its history in `_sqlx_migrations`,
//! which Cairn does not read: [`ensure_adopted`] refuses such a database
//! until that history has been imported, so nothing is applied twice.

// The errors are Cairn's own `cairn::Error`, as `cairn::source::read_dir` returns them.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use cairn::checksum;
use cairn::migration::{Layout, Migration, Script, Scripts};
use cairn::{Driver, DriverError, DriverErrorKind, HistoryTable};
use sqlx::migrate::{MigrationType, Migrator};

/// The migrations of `migrator` (a `sqlx::migrate!()` value, or one built
/// with `Migrator::new`) as Cairn migrations, sorted by version.
///
/// An error names the migration (version and file) when a `-- cairn:`
/// directive in it is wrong, when a version has two up or two down scripts,
/// or a down script without an up script.
pub fn migrations(migrator: &Migrator) -> Result<Vec<Migration>, cairn::Error> {
    migrations_from(migrator.iter())
}

/// [`migrations`] for any list of sqlx migrations.
pub fn migrations_from<'m>(
    sqlx_migrations: impl IntoIterator<Item = &'m sqlx::migrate::Migration>,
) -> Result<Vec<Migration>, cairn::Error> {
    #[derive(Default)]
    struct Pair<'m> {
        up: Option<&'m sqlx::migrate::Migration>,
        down: Option<&'m sqlx::migrate::Migration>,
    }
    let mut pairs: BTreeMap<i64, Pair<'m>> = BTreeMap::new();
    for migration in sqlx_migrations {
        let pair = pairs.entry(migration.version).or_default();
        let slot = if migration.migration_type.is_down_migration() {
            &mut pair.down
        } else {
            &mut pair.up
        };
        if slot.is_some() {
            let which = if migration.migration_type.is_down_migration() {
                "down"
            } else {
                "up"
            };
            return Err(unrecognised(
                file_name(migration),
                format!(
                    "the sqlx migrations hold two {which} scripts of version {}: keep one",
                    migration.version
                ),
            ));
        }
        *slot = Some(migration);
    }
    pairs
        .into_iter()
        .map(|(version, pair)| {
            let Some(up) = pair.up else {
                let down = pair.down.map(file_name).unwrap_or_default();
                return Err(unrecognised(
                    down,
                    format!("a down script needs an up script `{version}_<name>.up.sql` of the same version"),
                ));
            };
            let down = match pair.down {
                Some(down) => Scripts {
                    plain: Some(script(down)?),
                    overrides: BTreeMap::new(),
                },
                None => Scripts::default(),
            };
            Ok(Migration {
                version: version.into(),
                name: up.description.replace(' ', "_"),
                layout: Layout::Sqlx,
                location: file_name(up),
                up: Scripts {
                    plain: Some(script(up)?),
                    overrides: BTreeMap::new(),
                },
                down,
                declaration: None,
            })
        })
        .collect()
}

/// Refuses a database whose migrations sqlx applied and Cairn does not know
/// yet: `sqlx_migrator`'s history table (`_sqlx_migrations`) holds applied
/// migrations while Cairn's history table `cairn_table` does not exist.
/// Cairn would see every migration as pending and apply it a second time;
/// the error says to import sqlx's history first (`cairn adopt --from sqlx`,
/// docs/sqlx.md) and changes nothing. Call it before the first `up`:
///
/// ```no_run
/// # #[cfg(feature = "sqlite")]
/// # async fn run(pool: sqlx::SqlitePool, sqlx_set: sqlx::migrate::Migrator) -> Result<(), Box<dyn std::error::Error>> {
/// let options = cairn::MigratorOptions::default();
/// let mut driver = cairn_sqlx::SqlxDriver::from_pool(&pool).await?;
/// cairn_sqlx::ensure_adopted(&mut driver, &sqlx_set, &options.table).await?;
/// let migrator = cairn::Migrator::new(cairn_sqlx::migrations(&sqlx_set)?, options);
/// migrator.up(&mut driver, None).await?;
/// # Ok(()) }
/// ```
pub async fn ensure_adopted(
    driver: &mut dyn Driver,
    sqlx_migrator: &Migrator,
    cairn_table: &HistoryTable,
) -> Result<(), DriverError> {
    let dialect = driver.dialect();
    let exists = |schema: Option<&str>, name: &str| dialect.table_exists(schema, name);
    let cairn_exists = exists(cairn_table.schema.as_deref(), &cairn_table.name);
    let sqlx_table = sqlx_migrator.table_name.as_ref();
    let (sqlx_schema, sqlx_name) = match sqlx_table.split_once('.') {
        Some((schema, name)) => (Some(schema), name),
        None => (None, sqlx_table),
    };
    let sqlx_exists = exists(sqlx_schema, sqlx_name);
    let quoted = match sqlx_schema {
        Some(schema) => format!(
            "{}.{}",
            dialect.quote_ident(schema),
            dialect.quote_ident(sqlx_name)
        ),
        None => dialect.quote_ident(sqlx_name),
    };
    let count = format!("SELECT COUNT(*), MAX(version) FROM {quoted} WHERE success");
    if !driver.query(&cairn_exists).await?.is_empty()
        || driver.query(&sqlx_exists).await?.is_empty()
    {
        return Ok(());
    }
    let rows = driver.query(&count).await?;
    let row = rows.into_iter().next().unwrap_or_default();
    let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    let applied: u64 = field(0).parse().unwrap_or_default();
    if applied == 0 {
        return Ok(());
    }
    Err(DriverError::new(
        DriverErrorKind::Other,
        format!(
            "sqlx has applied {applied} migration(s) to this database (up to version {}, recorded in `{sqlx_table}`) but Cairn's history `{}` does not exist yet: Cairn would apply them again. Import sqlx's history first with `cairn adopt --from sqlx` (docs/sqlx.md); nothing was changed",
            field(1),
            cairn_table.name
        ),
    ))
}

/// The file sqlx read the migration from, as `sqlx migrate add` names it.
fn file_name(migration: &sqlx::migrate::Migration) -> PathBuf {
    let name = migration.description.replace(' ', "_");
    let suffix = match migration.migration_type {
        MigrationType::Simple => ".sql",
        MigrationType::ReversibleUp => ".up.sql",
        MigrationType::ReversibleDown => ".down.sql",
    };
    PathBuf::from(format!("{}_{name}{suffix}", migration.version))
}

fn script(migration: &sqlx::migrate::Migration) -> Result<Script, cairn::Error> {
    let path = file_name(migration);
    let text = checksum::normalize(migration.sql.as_str());
    let mut directives = cairn::directive::parse(&text, &path, 1)?;
    directives.no_transaction |= migration.no_tx;
    Ok(Script {
        path,
        first_line: 1,
        text,
        directives,
    })
}

fn unrecognised(path: PathBuf, hint: String) -> cairn::Error {
    cairn::Error::UnrecognisedName { path, hint }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use sqlx::migrate::Migration as SqlxMigration;
    use sqlx::{AssertSqlSafe, SqlSafeStr as _};

    fn sqlx_migration(
        version: i64,
        description: &str,
        kind: MigrationType,
        sql: &str,
    ) -> SqlxMigration {
        SqlxMigration::new(
            version,
            Cow::Owned(description.to_owned()),
            kind,
            AssertSqlSafe(sql.to_owned()).into_sql_str(),
            false,
        )
    }

    #[test]
    fn pairs_become_one_migration_and_names_keep_their_underscores() {
        let set = [
            sqlx_migration(
                2,
                "add email",
                MigrationType::Simple,
                "ALTER TABLE users ADD email TEXT;",
            ),
            sqlx_migration(
                1,
                "create users",
                MigrationType::ReversibleUp,
                "CREATE TABLE users (id INT);\r\n",
            ),
            sqlx_migration(
                1,
                "create users",
                MigrationType::ReversibleDown,
                "DROP TABLE users;",
            ),
        ];
        let migrations = migrations_from(&set).expect("maps");
        assert_eq!(migrations.len(), 2);
        let first = &migrations[0];
        assert_eq!(
            (first.version, first.name.as_str()),
            (cairn::Version::from(1), "create_users")
        );
        assert_eq!(first.layout, Layout::Sqlx);
        let up = first.up.plain.as_ref().expect("up");
        assert_eq!(up.text, "CREATE TABLE users (id INT);\n", "normalised");
        assert_eq!(up.path, PathBuf::from("1_create_users.up.sql"));
        assert!(first.down.plain.is_some());
        assert!(migrations[1].down.plain.is_none());
    }

    #[test]
    fn a_down_without_an_up_is_an_error_naming_the_file() {
        let set = [sqlx_migration(
            3,
            "x",
            MigrationType::ReversibleDown,
            "SELECT 1;",
        )];
        let err = migrations_from(&set).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("3_x.down.sql"), "{text}");
        assert!(text.contains("needs an up script"), "{text}");
    }
}

//! `cairn verify` of migrations with `[[operation]]`s on real SQLite files,
//! beyond the cases every driver runs (`cairn_testkit::online::verify_cases`):
//! a way back that loses rows, a failed expand or abort, and a rename onto a
//! table that exists.

use cairn_core::url::DatabaseUrl;
use cairn_core::verify::{self, Outcome, VerifyOptions, VerifyReport};
use cairn_core::{Migrator, MigratorOptions};
use cairn_sqlite::SqliteDriver;
use cairn_testkit::fixture::{Fixture, FixtureDir};
use cairn_testkit::TestDatabase;

const USERS: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);";

fn users() -> Fixture {
    Fixture::new().migration(1, "users", USERS, Some("DROP TABLE users;"))
}

async fn run(dir: &FixtureDir, options: MigratorOptions) -> VerifyReport {
    let db = TestDatabase::sqlite();
    let url = DatabaseUrl::parse(db.url()).expect("a sqlite URL");
    let mut driver = SqliteDriver::connect(&url).await.expect("SQLite opens");
    let migrator = Migrator::new(dir.read(), options);
    let verify_options = VerifyOptions {
        seed_data: true,
        ..VerifyOptions::default()
    };
    verify::verify(&migrator, &mut driver, &verify_options, &mut |_| {})
        .await
        .expect("verify runs")
}

#[tokio::test]
async fn a_way_back_that_loses_rows_is_a_rows_difference() {
    // The schema comes back, the rows `up` deleted do not.
    let dir = users()
        .file(
            "2_purge/migration.toml",
            "[[operation]]\nkind = \"raw_sql\"\nup = \"DELETE FROM users\"\ndown = \"SELECT 1\"\n",
        )
        .build();
    let report = run(&dir, MigratorOptions::default()).await;
    let m = &report.migrations[1];
    assert_eq!(m.outcome, Outcome::RowsDiffer, "{report:#?}");
    assert!(m.differences.is_empty(), "{m:#?}");
    assert!(
        m.rows[0].message.starts_with("after expand → abort: "),
        "{:?}",
        m.rows
    );
    assert_eq!(m.rows[0].table, "users");
    assert!(m.rows[0].missing > 0, "{m:#?}");
}

#[tokio::test]
async fn a_failed_expand_or_abort_ends_the_run_naming_the_phase() {
    // No primary key: the rename's backfill cannot page through the table.
    let dir = Fixture::new()
        .migration(1, "logs", "CREATE TABLE logs (at TEXT, line TEXT);", Some("DROP TABLE logs;"))
        .file(
            "2_rename/migration.toml",
            "[[operation]]\nkind = \"rename_column\"\ntable = \"logs\"\ncolumn = \"line\"\nto = \"text\"\n",
        )
        .migration(3, "later", "CREATE TABLE later (id INTEGER PRIMARY KEY);", Some("DROP TABLE later;"))
        .build();
    let report = run(&dir, MigratorOptions::default()).await;
    let m = &report.migrations[1];
    assert_eq!(m.outcome, Outcome::Error, "{report:#?}");
    let error = m.error.as_deref().unwrap_or_default();
    assert!(error.starts_with("expand failed: "), "{error}");
    assert!(error.contains("has no primary key"), "{error}");
    assert_eq!(report.unchecked, [3]);

    let dir = users()
        .file(
            "2_raw/migration.toml",
            "[[operation]]\nkind = \"raw_sql\"\nup = \"SELECT 1\"\ndown = \"DROP TABLE missing\"\n",
        )
        .build();
    let report = run(&dir, MigratorOptions::default()).await;
    let m = &report.migrations[1];
    assert_eq!(m.outcome, Outcome::Error, "{report:#?}");
    let error = m.error.as_deref().unwrap_or_default();
    assert!(error.starts_with("abort after expand failed: "), "{error}");
    assert!(error.contains("missing"), "{error}");
    assert!(report.error().is_some());
}

#[tokio::test]
async fn a_rename_onto_an_existing_table_is_refused_before_anything_changes() {
    let dir = users()
        .migration(
            2,
            "people",
            "CREATE TABLE people (id INTEGER PRIMARY KEY);",
            Some("DROP TABLE people;"),
        )
        .file(
            "3_rename/migration.toml",
            "[[operation]]\nkind = \"rename_table\"\ntable = \"users\"\nto = \"people\"\n",
        )
        .build();
    let report = run(&dir, MigratorOptions::default()).await;
    let m = &report.migrations[2];
    assert_eq!(m.outcome, Outcome::Error, "{report:#?}");
    let error = m.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("3_rename/migration.toml:1: operation `rename_table` on sqlite: table `people` exists already: choose another `to`"),
        "{error}"
    );
}

//! `cairn verify` of migrations with `[[operation]]`s on real SQLite files:
//! expand → abort and expand → contract → down → abort give back the schema
//! and the rows from before, and a way back that leaves something behind is
//! reported with the path that led to it.

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

fn outcomes(report: &VerifyReport) -> Vec<(i64, Outcome)> {
    report
        .migrations
        .iter()
        .map(|m| (m.version.key(), m.outcome))
        .collect()
}

#[tokio::test]
async fn a_rename_and_an_added_column_come_back_exactly() {
    let dir = users()
        .file(
            "2_rename/migration.toml",
            "[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\ncolumn = \"name\"\nto = \"full_name\"\n",
        )
        .file(
            "3_display/migration.toml",
            "[[operation]]\nkind = \"add_column\"\ntable = \"users\"\ncolumn = \"display\"\ntype = \"TEXT\"\nnot_null = true\nup = \"'~' || full_name\"\n",
        )
        .migration(4, "after", "CREATE INDEX users_display ON users (display);", Some("DROP INDEX users_display;"))
        .build();
    let report = run(&dir, MigratorOptions::default()).await;
    assert_eq!(
        outcomes(&report),
        [
            (1, Outcome::Ok),
            (2, Outcome::Ok),
            (3, Outcome::Ok),
            (4, Outcome::Ok)
        ],
        "{report:#?}"
    );
    assert!(report
        .migrations
        .iter()
        .all(|m| m.differences.is_empty() && m.rows.is_empty()));
    assert!(report.unchecked.is_empty());
}

#[tokio::test]
async fn up_with_contract_is_verified_the_same_way() {
    let dir = users()
        .file(
            "2_rename/migration.toml",
            "[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\ncolumn = \"name\"\nto = \"full_name\"\n",
        )
        .build();
    let options = MigratorOptions {
        contract_after_expand: true,
        ..MigratorOptions::default()
    };
    let report = run(&dir, options).await;
    assert_eq!(
        outcomes(&report),
        [(1, Outcome::Ok), (2, Outcome::Ok)],
        "{report:#?}"
    );
}

#[tokio::test]
async fn an_abort_that_leaves_a_table_behind_is_a_rollback_difference() {
    // `down` forgets to drop what `up` made.
    let dir = users()
        .file(
            "2_raw/migration.toml",
            "[[operation]]\nkind = \"raw_sql\"\nup = \"CREATE TABLE extra (id INTEGER PRIMARY KEY)\"\ndown = \"SELECT 1\"\n",
        )
        .migration(3, "later", "CREATE TABLE later (id INTEGER PRIMARY KEY);", Some("DROP TABLE later;"))
        .build();
    let report = run(&dir, MigratorOptions::default()).await;
    let m = &report.migrations[1];
    assert_eq!(m.outcome, Outcome::RollbackDiffers, "{report:#?}");
    assert!(
        m.differences[0]
            .message
            .starts_with("after expand → abort: "),
        "{:?}",
        m.differences
    );
    assert!(
        m.differences[0].message.contains("extra"),
        "{:?}",
        m.differences
    );
    // The second expand trips over the table left behind: the later
    // migration cannot be checked.
    assert!(
        m.error.as_deref().is_some_and(|e| e.contains("failed")),
        "{m:#?}"
    );
    assert_eq!(report.unchecked, [3]);
    assert!(report.has_failures());
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

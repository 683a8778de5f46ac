//! `cairn verify` of migrations with `[[operation]]`s, for any driver:
//! expand → abort and expand → contract → down → abort give back the schema
//! and the rows from before, and a way back that leaves something behind is
//! reported with the path that led to it. [`online_tests!`](crate::online_tests)
//! runs each of [`VERIFY_CASES`] on the driver's [`Target`].

use cairn_core::verify::{self, Outcome, VerifyOptions, VerifyReport};
use cairn_core::{Engine, Migrator, MigratorOptions};

use super::Sql;
use crate::conformance::Target;
use crate::fixture::{Fixture, FixtureDir};

/// The names of the cases, in the order `online_tests!` expands them.
pub const VERIFY_CASES: &[&str] = &[
    "verify_a_rename_and_an_added_column_come_back_exactly",
    "verify_up_with_contract_the_same_way",
    "verify_an_abort_that_leaves_a_table_behind_is_a_rollback_difference",
];

fn users(engine: Engine) -> Fixture {
    let users = Sql::new("CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL, email TEXT);")
        .on(
            Engine::Mysql,
            "CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(100));",
        )
        .on(
            Engine::Sqlite,
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);",
        );
    Fixture::new().migration(
        1,
        "users",
        users.for_engine(engine),
        Some("DROP TABLE users;"),
    )
}

const RENAME: &str =
    "[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\ncolumn = \"name\"\nto = \"full_name\"\n";

/// The engine of the target's databases, and `cairn verify` of `dir` on a
/// fresh one, with seed data.
async fn engine(target: &dyn Target) -> Engine {
    target.fresh().await.connect().await.dialect().engine()
}

async fn run(target: &dyn Target, dir: &FixtureDir, options: MigratorOptions) -> VerifyReport {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let migrator = Migrator::new(dir.read(), options);
    let verify_options = VerifyOptions {
        seed_data: true,
        ..VerifyOptions::default()
    };
    verify::verify(&migrator, driver.as_mut(), &verify_options, &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("verify runs: {e}"))
}

fn outcomes(report: &VerifyReport) -> Vec<(i64, Outcome)> {
    report
        .migrations
        .iter()
        .map(|m| (m.version.key(), m.outcome))
        .collect()
}

/// A rename and an added `NOT NULL` column computed from it verify clean, and
/// so does the plain migration after them.
pub async fn verify_a_rename_and_an_added_column_come_back_exactly(target: &dyn Target) {
    let engine = engine(target).await;
    let add = Sql::new(
        "[[operation]]\nkind = \"add_column\"\ntable = \"users\"\ncolumn = \"display\"\ntype = \"TEXT\"\nnot_null = true\nup = \"'~' || full_name\"\n",
    )
    .on(
        Engine::Mysql,
        "[[operation]]\nkind = \"add_column\"\ntable = \"users\"\ncolumn = \"display\"\ntype = \"VARCHAR(120)\"\nnot_null = true\nup = \"CONCAT('~', full_name)\"\n",
    );
    let drop_index = Sql::new("DROP INDEX users_display;")
        .on(Engine::Mysql, "DROP INDEX users_display ON users;");
    let dir = users(engine)
        .file("2_rename/migration.toml", RENAME)
        .file("3_display/migration.toml", add.for_engine(engine))
        .migration(
            4,
            "after",
            "CREATE INDEX users_display ON users (display);",
            Some(drop_index.for_engine(engine)),
        )
        .build();
    let report = run(target, &dir, MigratorOptions::default()).await;
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

/// `up --contract` (contract right after expand) is verified the same way.
pub async fn verify_up_with_contract_the_same_way(target: &dyn Target) {
    let engine = engine(target).await;
    let dir = users(engine)
        .file("2_rename/migration.toml", RENAME)
        .build();
    let options = MigratorOptions {
        contract_after_expand: true,
        ..MigratorOptions::default()
    };
    let report = run(target, &dir, options).await;
    assert_eq!(
        outcomes(&report),
        [(1, Outcome::Ok), (2, Outcome::Ok)],
        "{report:#?}"
    );
}

/// A `down` that forgets what `up` made is a rollback difference named by
/// the path that led to it, and the migration after it is left unchecked.
pub async fn verify_an_abort_that_leaves_a_table_behind_is_a_rollback_difference(
    target: &dyn Target,
) {
    let engine = engine(target).await;
    let dir = users(engine)
        .file(
            "2_raw/migration.toml",
            "[[operation]]\nkind = \"raw_sql\"\nup = \"CREATE TABLE extra (id INTEGER PRIMARY KEY)\"\ndown = \"SELECT 1\"\n",
        )
        .migration(
            3,
            "later",
            "CREATE TABLE later (id INTEGER PRIMARY KEY);",
            Some("DROP TABLE later;"),
        )
        .build();
    let report = run(target, &dir, MigratorOptions::default()).await;
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

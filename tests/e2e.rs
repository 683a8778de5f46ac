//! End-to-end tests of the `cairn` binary on the example project in
//! `migrations/`, on every engine: apply, inspect, roll back completely,
//! re-apply; and eight `cairn up` processes at once.
//!
//! This file is compiled as an integration test of cairn-cli (see its
//! Cargo.toml), which gives it the path of the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_core::url::DatabaseUrl;
use cairn_core::Driver;
use cairn_testkit::conformance::{log_count, table_exists};
use cairn_testkit::TestDatabase;

fn example_migrations() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations")
}

fn cairn(db: &TestDatabase, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["--database-url", db.url(), "--dir"])
        .arg(example_migrations())
        .args(args)
        .current_dir(db.scratch_dir())
        .env_remove("CAIRN_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .output()
        .expect("the cairn binary runs")
}

fn ok(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "cairn failed with {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

async fn connect(db: &TestDatabase) -> Box<dyn Driver> {
    let url = DatabaseUrl::parse(db.url()).expect("test URL parses");
    match url.engine() {
        cairn_core::Engine::Sqlite => Box::new(
            cairn_sqlite::SqliteDriver::connect(&url)
                .await
                .expect("sqlite opens"),
        ),
        cairn_core::Engine::Postgres => Box::new(
            cairn_postgres::PgDriver::connect(&url)
                .await
                .expect("postgres connects"),
        ),
        cairn_core::Engine::Mysql => Box::new(
            cairn_mysql::MySqlDriver::connect(&url)
                .await
                .expect("mysql connects"),
        ),
    }
}

const TABLES: [&str; 3] = ["users", "addresses", "orders"];
const VERSIONS: [i64; 4] = [
    20260101090000,
    20260101090100,
    20260101090200,
    20260101090300,
];

fn states(db: &TestDatabase) -> Vec<(i64, String)> {
    let json: serde_json::Value =
        serde_json::from_str(&ok(&cairn(db, &["status", "--format", "json"])))
            .expect("status prints JSON");
    json["migrations"]
        .as_array()
        .expect("a migrations array")
        .iter()
        .map(|m| {
            (
                m["version"].as_i64().expect("version"),
                m["state"].as_str().expect("state").to_owned(),
            )
        })
        .collect()
}

/// Up, status, validate, down --all, up again: the example project on one engine.
async fn round_trip(db: TestDatabase) {
    let pending: Vec<(i64, String)> = VERSIONS
        .iter()
        .map(|v| (*v, "pending".to_owned()))
        .collect();
    assert_eq!(states(&db), pending);
    let stdout = ok(&cairn(&db, &["up"]));
    assert!(stdout.contains("4 migrations applied"), "{stdout}");
    let applied: Vec<(i64, String)> = VERSIONS
        .iter()
        .map(|v| (*v, "applied".to_owned()))
        .collect();
    assert_eq!(states(&db), applied);
    ok(&cairn(&db, &["validate"]));
    let mut driver = connect(&db).await;
    for table in TABLES {
        assert!(
            table_exists(driver.as_mut(), table).await,
            "{table} after up"
        );
    }
    ok(&cairn(&db, &["down", "--all"]));
    for table in TABLES {
        assert!(
            !table_exists(driver.as_mut(), table).await,
            "{table} after down --all"
        );
    }
    assert_eq!(states(&db), pending);
    ok(&cairn(&db, &["up"]));
    ok(&cairn(&db, &["redo"]));
    assert_eq!(states(&db), applied);
    for version in VERSIONS {
        assert_eq!(
            log_count(driver.as_mut(), version, "down").await,
            if version == VERSIONS[3] { 2 } else { 1 }
        );
    }
}

/// `cairn verify` on a fresh database: every example migration rolls back to
/// the schema before it and applies again to the same schema; then the
/// database holds the migrations, so `cairn drift` against a second fresh
/// database finds no drift.
async fn verify_example_project(db: TestDatabase, scratch: TestDatabase) {
    let stdout = ok(&cairn(&db, &["verify"]));
    for version in VERSIONS {
        assert!(stdout.contains(&format!("ok {version} ")), "{stdout}");
    }
    assert!(stdout.contains("4 ok, 0 failed"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&cairn(&db, &["schema", "dump", "--format", "json"])))
            .expect("schema dump prints JSON");
    for table in TABLES {
        assert!(json["tables"][table].is_object(), "{table} in {json}");
    }
    let stdout = ok(&cairn(&db, &["drift", "--scratch-url", scratch.url()]));
    assert!(stdout.contains("no drift"), "{stdout}");
}

/// Eight `cairn up` processes started at once apply every migration once.
async fn eight_at_once(db: TestDatabase) {
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_cairn"))
                .args(["--database-url", db.url(), "--dir"])
                .arg(example_migrations())
                .arg("up")
                .current_dir(db.scratch_dir())
                .env_remove("CAIRN_DATABASE_URL")
                .env_remove("DATABASE_URL")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("cairn starts")
        })
        .collect();
    for child in children {
        ok(&child.wait_with_output().expect("cairn finishes"));
    }
    let mut driver = connect(&db).await;
    for version in VERSIONS {
        assert_eq!(
            log_count(driver.as_mut(), version, "up").await,
            1,
            "ups logged for {version}"
        );
    }
    let applied: Vec<(i64, String)> = VERSIONS
        .iter()
        .map(|v| (*v, "applied".to_owned()))
        .collect();
    assert_eq!(states(&db), applied);
}

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn example_project_round_trip() {
        round_trip(TestDatabase::sqlite()).await;
    }

    #[tokio::test]
    async fn eight_runners_apply_each_migration_once() {
        eight_at_once(TestDatabase::sqlite()).await;
    }

    #[tokio::test]
    async fn example_project_passes_verify() {
        verify_example_project(TestDatabase::sqlite(), TestDatabase::sqlite()).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test]
    async fn example_project_round_trip() {
        round_trip(cairn_testkit::postgres::database().await).await;
    }

    #[tokio::test]
    async fn eight_runners_apply_each_migration_once() {
        eight_at_once(cairn_testkit::postgres::database().await).await;
    }

    #[tokio::test]
    async fn example_project_passes_verify() {
        verify_example_project(
            cairn_testkit::postgres::database().await,
            cairn_testkit::postgres::database().await,
        )
        .await;
    }
}

mod mysql {
    use super::*;

    #[tokio::test]
    async fn example_project_round_trip() {
        round_trip(cairn_testkit::mysql::database().await).await;
    }

    #[tokio::test]
    async fn eight_runners_apply_each_migration_once() {
        eight_at_once(cairn_testkit::mysql::database().await).await;
    }

    #[tokio::test]
    async fn example_project_passes_verify() {
        verify_example_project(
            cairn_testkit::mysql::database().await,
            cairn_testkit::mysql::database().await,
        )
        .await;
    }
}

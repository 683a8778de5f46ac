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
    cairn_in(db, &example_migrations(), args)
}

/// `cairn` with the migrations directory `dir` instead of the example project.
fn cairn_in(db: &TestDatabase, dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["--database-url", db.url(), "--dir"])
        .arg(dir)
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

/// One `cairn verify` case: the migrations directory's files (relative
/// paths and their text), the exit code expected and words stdout must hold.
struct VerifyCase {
    files: Vec<(String, String)>,
    exit: i32,
    words: Vec<&'static str>,
}

/// Builds a case from `(version, name, up, down)` migrations.
fn case(
    migrations: &[(i64, &str, &str, Option<&str>)],
    exit: i32,
    words: &[&'static str],
) -> VerifyCase {
    let mut files = Vec::new();
    for (version, name, up, down) in migrations {
        files.push((format!("{version}_{name}/up.sql"), format!("{up}\n")));
        if let Some(down) = down {
            files.push((format!("{version}_{name}/down.sql"), format!("{down}\n")));
        }
    }
    VerifyCase {
        files,
        exit,
        words: words.to_vec(),
    }
}

/// The `cairn verify` cases every engine must pass, by name: correct
/// rollbacks, rollbacks that forget or over-do something, and a migration
/// without a down script. The SQL differs only where the engines do.
fn rollback_faults(engine: cairn_core::Engine) -> Vec<(&'static str, VerifyCase)> {
    use cairn_core::Engine;
    let create_t: (i64, &str, &str, Option<&str>) = (
        1,
        "create_t",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER);",
        Some("DROP TABLE t;"),
    );
    let drop_index = match engine {
        Engine::Mysql => "DROP INDEX t_a ON t;",
        _ => "DROP INDEX t_a;",
    };
    let set_default = match engine {
        // SQLite cannot alter a default: rebuild the table.
        Engine::Sqlite => {
            "CREATE TABLE t_new (id INTEGER PRIMARY KEY, a INTEGER DEFAULT 5);\n\
             INSERT INTO t_new (id, a) SELECT id, a FROM t;\n\
             DROP TABLE t;\n\
             ALTER TABLE t_new RENAME TO t;"
        }
        _ => "ALTER TABLE t ALTER COLUMN a SET DEFAULT 5;",
    };
    let create_ab: (i64, &str, &str, Option<&str>) = (
        1,
        "create_a_b",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);\n\
         CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER, \
         CONSTRAINT b_a_fk FOREIGN KEY (a_id) REFERENCES a (id));",
        Some("DROP TABLE b;\nDROP TABLE a;"),
    );
    let drop_fk = match engine {
        Engine::Sqlite => {
            "CREATE TABLE b_new (id INTEGER PRIMARY KEY, a_id INTEGER);\n\
             INSERT INTO b_new (id, a_id) SELECT id, a_id FROM b;\n\
             DROP TABLE b;\n\
             ALTER TABLE b_new RENAME TO b;"
        }
        Engine::Postgres => "ALTER TABLE b DROP CONSTRAINT b_a_fk;",
        Engine::Mysql => "ALTER TABLE b DROP FOREIGN KEY b_a_fk;",
    };
    vec![
        (
            "correct_rollback",
            case(
                &[
                    create_t,
                    (2, "index_t", "CREATE INDEX t_a ON t (a);", Some(drop_index)),
                ],
                0,
                &["ok 1 create_t", "ok 2 index_t", "2 ok, 0 failed"],
            ),
        ),
        (
            "forgotten_index",
            case(
                &[
                    create_t,
                    (
                        2,
                        "index_t",
                        "CREATE INDEX t_a ON t (a);",
                        Some("SELECT 1;"),
                    ),
                ],
                3,
                &[
                    "ok 1 create_t",
                    "FAILED 2 index_t",
                    "index `t_a` added",
                    "1 ok, 1 failed",
                ],
            ),
        ),
        (
            "leftover_column",
            case(
                &[
                    create_t,
                    (
                        2,
                        "add_c",
                        "ALTER TABLE t ADD COLUMN c INTEGER;",
                        Some("SELECT 1;"),
                    ),
                ],
                3,
                &["FAILED 2 add_c", "column `c` added"],
            ),
        ),
        (
            "changed_default",
            case(
                &[create_t, (2, "default_a", set_default, Some("SELECT 1;"))],
                3,
                &["FAILED 2 default_a", "column `a` default changed"],
            ),
        ),
        (
            "dropped_foreign_key",
            case(
                &[create_ab, (2, "noop", "SELECT 1;", Some(drop_fk))],
                3,
                &[
                    "ok 1 create_a_b",
                    "FAILED 2 noop",
                    "table `b`",
                    "foreign key",
                    "removed",
                ],
            ),
        ),
        (
            "forgotten_view",
            case(
                &[
                    create_t,
                    (
                        2,
                        "view_v",
                        "CREATE VIEW v AS SELECT id FROM t;",
                        Some("SELECT 1;"),
                    ),
                ],
                3,
                &["FAILED 2 view_v", "view `v` added"],
            ),
        ),
        (
            "no_down_script",
            case(
                &[
                    create_t,
                    (2, "seed", "INSERT INTO t (id, a) VALUES (1, 2);", None),
                    (
                        3,
                        "add_b",
                        "ALTER TABLE t ADD COLUMN b INTEGER;",
                        Some("ALTER TABLE t DROP COLUMN b;"),
                    ),
                ],
                0,
                &[
                    "irreversible 2 seed",
                    "ok 3 add_b",
                    "2 ok, 0 failed, 1 irreversible",
                ],
            ),
        ),
    ]
}

/// Runs the verify case `name` on the fresh database `db`: writes its
/// migrations into the scratch directory and checks `cairn verify`.
fn verify_case(db: TestDatabase, name: &str) {
    let (_, case) = rollback_faults(db.engine())
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no verify case named {name}"));
    let dir = db.scratch_dir().join("migrations");
    for (path, text) in &case.files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a migration folder"))
            .expect("the migration folder is created");
        std::fs::write(&path, text).expect("the migration is written");
    }
    let output = cairn_in(&db, &dir, &["verify"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(case.exit),
        "{name} on {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        db.engine()
    );
    for word in &case.words {
        assert!(
            stdout.contains(word),
            "{name} on {:?}: `{word}` not in stdout:\n{stdout}\nstderr:\n{stderr}",
            db.engine()
        );
    }
}

/// `cairn schema dump` of the example project after `up`, as an insta
/// snapshot per engine.
fn example_schema_snapshot(db: TestDatabase, engine: &str) {
    ok(&cairn(&db, &["up"]));
    let text = ok(&cairn(&db, &["schema", "dump"]));
    insta::assert_snapshot!(format!("example_schema_{engine}"), text);
}

/// One test per [`rollback_faults`] case, each on its own fresh database
/// from `$db`, plus the example schema snapshot.
macro_rules! verify_tests {
    ($engine:literal, $db:expr) => {
        #[tokio::test]
        async fn verify_passes_a_correct_rollback() {
            verify_case($db, "correct_rollback");
        }

        #[tokio::test]
        async fn verify_catches_a_forgotten_index() {
            verify_case($db, "forgotten_index");
        }

        #[tokio::test]
        async fn verify_catches_a_leftover_column() {
            verify_case($db, "leftover_column");
        }

        #[tokio::test]
        async fn verify_catches_a_changed_default() {
            verify_case($db, "changed_default");
        }

        #[tokio::test]
        async fn verify_catches_a_dropped_foreign_key() {
            verify_case($db, "dropped_foreign_key");
        }

        #[tokio::test]
        async fn verify_catches_a_forgotten_view() {
            verify_case($db, "forgotten_view");
        }

        #[tokio::test]
        async fn verify_reports_a_missing_down_as_irreversible() {
            verify_case($db, "no_down_script");
        }

        #[tokio::test]
        async fn example_schema_dump_snapshot() {
            example_schema_snapshot($db, $engine);
        }
    };
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

    verify_tests!("sqlite", TestDatabase::sqlite());
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

    verify_tests!("postgres", cairn_testkit::postgres::database().await);
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

    verify_tests!("mysql", cairn_testkit::mysql::database().await);
}

//! End-to-end tests of the `cairn` binary on the example project in
//! `migrations/`, on every engine: apply, inspect, roll back completely,
//! re-apply; and eight `cairn up` processes at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn::Driver;
use cairn_testkit::conformance::{log_count, table_exists};
use cairn_testkit::TestDatabase;

fn example_migrations() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations")
}

/// The last migration of the example project written as SQL: the tests of
/// this module apply up to it (`up --to`, `verify --to`); the zero-downtime
/// operations after it (`20260101090500_rename_users_name`,
/// `20260101090600_add_users_mailbox`) have their own life-cycle tests in
/// `online.rs`.
pub(crate) const LAST_SQL_EXAMPLE: &str = "20260101090400";

/// A copy of the example project without its operations, in `db`'s scratch
/// directory, for `cairn drift` (which applies every migration to its scratch database).
fn sql_example(db: &TestDatabase) -> PathBuf {
    let dir = db.scratch_dir().join("sql-example");
    for entry in std::fs::read_dir(example_migrations()).expect("the example project") {
        let entry = entry.expect("an example migration");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.as_str() > LAST_SQL_EXAMPLE && !name.starts_with(LAST_SQL_EXAMPLE) {
            continue;
        }
        let target = dir.join(&name);
        std::fs::create_dir_all(&target).expect("the copy's folder");
        for file in std::fs::read_dir(entry.path()).expect("the migration's files") {
            let file = file.expect("a file");
            std::fs::copy(file.path(), target.join(file.file_name())).expect("copied");
        }
    }
    dir
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
    crate::support::connect(db).await
}

const TABLES: [&str; 3] = ["users", "addresses", "orders"];
const VERSIONS: [i64; 5] = [
    20260101090000,
    20260101090100,
    20260101090200,
    20260101090300,
    20260101090400,
];

/// The states of the example's migrations written as SQL ([`VERSIONS`]).
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
        .filter(|(version, _)| VERSIONS.contains(version))
        .collect()
}

/// Up, status, validate, down --all, up again: the example project on one engine.
async fn round_trip(db: TestDatabase) {
    let pending: Vec<(i64, String)> = VERSIONS
        .iter()
        .map(|v| (*v, "pending".to_owned()))
        .collect();
    assert_eq!(states(&db), pending);
    let stdout = ok(&cairn(&db, &["up", "--to", LAST_SQL_EXAMPLE]));
    assert!(stdout.contains("5 migrations applied"), "{stdout}");
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
    ok(&cairn(&db, &["up", "--to", LAST_SQL_EXAMPLE]));
    ok(&cairn(&db, &["redo"]));
    assert_eq!(states(&db), applied);
    for version in VERSIONS {
        assert_eq!(
            log_count(driver.as_mut(), version, "down").await,
            if version == VERSIONS[VERSIONS.len() - 1] {
                2
            } else {
                1
            }
        );
    }
}

/// `cairn verify` on a fresh database: every example migration rolls back to
/// the schema before it and applies again to the same schema; then the
/// database holds the migrations, so `cairn drift` against a second fresh
/// database finds no drift.
async fn verify_example_project(db: TestDatabase, scratch: TestDatabase) {
    let stdout = ok(&cairn(&db, &["verify", "--to", LAST_SQL_EXAMPLE]));
    for version in VERSIONS {
        assert!(stdout.contains(&format!("ok {version} ")), "{stdout}");
    }
    assert!(stdout.contains("5 ok, 0 failed"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&cairn(&db, &["schema", "dump", "--format", "json"])))
            .expect("schema dump prints JSON");
    for table in TABLES {
        assert!(json["tables"][table].is_object(), "{table} in {json}");
    }
    let stdout = ok(&cairn_in(
        &db,
        &sql_example(&db),
        &["drift", "--scratch-url", scratch.url()],
    ));
    assert!(stdout.contains("no drift"), "{stdout}");
}

/// Eight `cairn up` processes started at once apply every migration once.
async fn eight_at_once(db: TestDatabase) {
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_cairn"))
                .args(["--database-url", db.url(), "--dir"])
                .arg(example_migrations())
                .args(["up", "--to", LAST_SQL_EXAMPLE])
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
fn rollback_faults(engine: cairn::Engine) -> Vec<(&'static str, VerifyCase)> {
    use cairn::Engine;
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
        other => panic!("this test knows no {other} databases"),
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
            "changed_view",
            case(
                &[
                    create_t,
                    (
                        2,
                        "view_v",
                        "CREATE VIEW v AS SELECT id FROM t;",
                        Some("DROP VIEW v;"),
                    ),
                    (
                        3,
                        "widen_v",
                        "DROP VIEW v;\nCREATE VIEW v AS SELECT id, a FROM t WHERE a > 0;",
                        Some("DROP VIEW v;\nCREATE VIEW v AS SELECT id, a FROM t;"),
                    ),
                ],
                3,
                &[
                    "FAILED 3 widen_v",
                    "view `v` definition changed:\n      - ",
                    "\n      + ",
                ],
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

/// The `cairn verify --seed-data` cases every engine must pass: down and up
/// again that lose the rows of a table that was there before (the table
/// recreated; a column dropped and added again) are caught though the schema
/// comes back the same, and a set that keeps its rows passes.
fn seed_faults(engine: cairn::Engine) -> Vec<(&'static str, VerifyCase)> {
    use cairn::Engine;
    let create_t: (i64, &str, &str, Option<&str>) = (
        1,
        "create_t",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER);",
        Some("DROP TABLE t;"),
    );
    let recreate_a = match engine {
        Engine::Mysql => {
            "DROP INDEX t_a ON t;\nALTER TABLE t DROP COLUMN a;\nALTER TABLE t ADD COLUMN a INTEGER;"
        }
        _ => "DROP INDEX t_a;\nALTER TABLE t DROP COLUMN a;\nALTER TABLE t ADD COLUMN a INTEGER;",
    };
    vec![
        (
            "rows_lost_by_a_recreated_table",
            case(
                &[
                    create_t,
                    (
                        2,
                        "add_b",
                        "ALTER TABLE t ADD COLUMN b INTEGER;",
                        Some("DROP TABLE t;\nCREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER);"),
                    ),
                ],
                3,
                &[
                    "ok 1 create_t",
                    "FAILED 2 add_b",
                    "table `t`: 3 of 3 rows lost by down and up again",
                    "1 ok, 1 failed",
                ],
            ),
        ),
        (
            "rows_changed_by_a_recreated_column",
            case(
                &[
                    create_t,
                    (2, "index_a", "CREATE INDEX t_a ON t (a);", Some(recreate_a)),
                ],
                3,
                &[
                    "FAILED 2 index_a",
                    "table `t`: 3 of 3 rows changed or lost by down and up again",
                    "a=NULL)",
                ],
            ),
        ),
        (
            "rows_the_migration_inserts",
            case(
                &[
                    (
                        1,
                        "create_settings",
                        "CREATE TABLE settings (id INTEGER PRIMARY KEY, at TIMESTAMP NULL);",
                        Some("DROP TABLE settings;"),
                    ),
                    (
                        2,
                        "insert_setting",
                        "INSERT INTO settings (id, at) VALUES (1, CURRENT_TIMESTAMP);",
                        Some("DELETE FROM settings WHERE id = 1;"),
                    ),
                ],
                0,
                &[
                    "ok 1 create_settings",
                    "ok 2 insert_setting",
                    "2 ok, 0 failed",
                ],
            ),
        ),
        (
            "rows_kept",
            case(
                &[
                    create_t,
                    (
                        2,
                        "add_b",
                        "ALTER TABLE t ADD COLUMN b INTEGER DEFAULT 0;",
                        Some("ALTER TABLE t DROP COLUMN b;"),
                    ),
                    (
                        3,
                        "shift_a",
                        "UPDATE t SET a = a + 1;",
                        Some("UPDATE t SET a = a - 1;"),
                    ),
                ],
                0,
                &["ok 2 add_b", "ok 3 shift_a", "3 ok, 0 failed"],
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
    check_case(db, name, &case, &["verify"]);
}

/// Runs the `--seed-data` case `name` of [`seed_faults`] on `db`; no table
/// may be left unseeded.
fn seed_case(db: TestDatabase, name: &str) {
    let (_, case) = seed_faults(db.engine())
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no seed case named {name}"));
    let stdout = check_case(db, name, &case, &["verify", "--seed-data"]);
    assert!(!stdout.contains("not seeded"), "{name}:\n{stdout}");
}

/// Writes `case`'s migrations into `db`'s scratch directory, runs `cairn`
/// with `args` and checks the exit code and words; returns stdout.
fn check_case(db: TestDatabase, name: &str, case: &VerifyCase, args: &[&str]) -> String {
    let dir = db.scratch_dir().join("migrations");
    for (path, text) in &case.files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a migration folder"))
            .expect("the migration folder is created");
        std::fs::write(&path, text).expect("the migration is written");
    }
    let output = cairn_in(&db, &dir, args);
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
    stdout.into_owned()
}

/// `cairn schema dump --format sql` of the example project applied to a
/// fresh database (as a migration, through `cairn up`) rebuilds the same
/// schema: the JSON dumps of both are identical. The SQL is an insta
/// snapshot per engine.
fn example_sql_dump_round_trip(db: TestDatabase, copy: TestDatabase, engine: &str) {
    ok(&cairn(&db, &["up", "--to", LAST_SQL_EXAMPLE]));
    let sql = ok(&cairn(&db, &["schema", "dump", "--format", "sql"]));
    let dir = copy.scratch_dir().join("dump");
    std::fs::create_dir_all(dir.join("1_dump")).expect("the dump migration folder");
    std::fs::write(dir.join("1_dump/up.sql"), &sql).expect("the dump is written");
    ok(&cairn_in(&copy, &dir, &["up"]));
    let original = ok(&cairn(&db, &["schema", "dump", "--format", "json"]));
    let rebuilt = ok(&cairn_in(
        &copy,
        &dir,
        &["schema", "dump", "--format", "json"],
    ));
    assert_eq!(
        original, rebuilt,
        "the dump did not rebuild the schema:\n{sql}"
    );
    insta::assert_snapshot!(format!("example_sql_dump_{engine}"), sql);
}

/// `cairn drift` finds nothing on a database the migrations built, and a
/// column added by hand once there is one; each run uses an empty scratch database.
async fn drift_finds_a_hand_made_column(
    db: TestDatabase,
    first: TestDatabase,
    second: TestDatabase,
) {
    let dir = sql_example(&db);
    ok(&cairn_in(&db, &dir, &["up"]));
    let stdout = ok(&cairn_in(
        &db,
        &dir,
        &["drift", "--scratch-url", first.url()],
    ));
    assert!(stdout.contains("no drift"), "{stdout}");
    let mut driver = connect(&db).await;
    driver
        .execute("ALTER TABLE users ADD COLUMN nickname VARCHAR(20)")
        .await
        .expect("the column is added by hand");
    let output = cairn_in(
        &db,
        &dir,
        &["drift", "--scratch-url", second.url(), "--format", "json"],
    );
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("drift prints JSON");
    assert_eq!(json["drift"], true);
    let messages: Vec<&str> = json["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .filter_map(|d| d["message"].as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "table `users`: column `nickname` added: varchar(20) null".replace(
                "varchar(20)",
                match db.engine() {
                    cairn::Engine::Postgres => "character varying(20)",
                    _ => "varchar(20)",
                }
            )
        ],
        "{json}"
    );
}

/// `cairn verify` on a database that holds a table refuses, and changes
/// nothing: no history table appears, the table stays.
async fn verify_refuses_a_full_database(db: TestDatabase) {
    let mut driver = connect(&db).await;
    driver
        .execute("CREATE TABLE keep_me (id INTEGER)")
        .await
        .expect("the table is created");
    let output = cairn(&db, &["verify"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not empty") && stderr.contains("keep_me"),
        "{stderr}"
    );
    assert!(table_exists(driver.as_mut(), "keep_me").await);
    assert!(!table_exists(driver.as_mut(), "cairn_history").await);
}

/// A down that drops a column and adds it back changes the column order:
/// reported as `column order changed`, accepted with `--ignore-column-order`.
fn reordered_columns(db: TestDatabase, ignore: bool) {
    let migrations = [
        (
            1,
            "create_t",
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER);",
            Some("DROP TABLE t;"),
        ),
        (
            2,
            "add_c",
            "ALTER TABLE t ADD COLUMN c INTEGER;",
            Some(
                "ALTER TABLE t DROP COLUMN c;\nALTER TABLE t DROP COLUMN a;\nALTER TABLE t ADD COLUMN a INTEGER;",
            ),
        ),
    ];
    if ignore {
        let case = case(&migrations, 0, &["ok 2 add_c", "2 ok, 0 failed"]);
        check_case(
            db,
            "ignored column order",
            &case,
            &["verify", "--ignore-column-order"],
        );
    } else {
        let case = case(
            &migrations,
            3,
            &[
                "FAILED 2 add_c",
                "table `t`: column order changed from `id, a, b` to `id, b, a`",
            ],
        );
        let stdout = check_case(db, "column order", &case, &["verify"]);
        assert!(!stdout.contains("order order"), "{stdout}");
    }
}

/// The header counts every migration verify set out to check, also when it
/// stops early at one that fails.
fn header_counts_every_migration(db: TestDatabase) {
    let case = case(
        &[
            (
                1,
                "create_t",
                "CREATE TABLE t (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE t;"),
            ),
            (
                2,
                "broken",
                "SELECT * FROM no_such_table;",
                Some("SELECT 1;"),
            ),
            (
                3,
                "create_u",
                "CREATE TABLE u (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE u;"),
            ),
        ],
        1,
        &[
            "verifying 3 migrations on",
            "ok 1 create_t",
            "ERROR 2 broken",
            "not checked: 3",
        ],
    );
    check_case(db, "header", &case, &["verify"]);
}

/// The first value of the first row of `sql` on `db`.
async fn scalar(db: &TestDatabase, sql: &str) -> String {
    let mut driver = connect(db).await;
    let rows = driver.query(sql).await.expect("the query runs");
    rows.first()
        .and_then(|row| row.first().cloned().flatten())
        .unwrap_or_default()
}

/// Runs `statements` on `db`, each one on its own.
async fn execute_all(db: &TestDatabase, statements: &[&str]) {
    let mut driver = connect(db).await;
    for statement in statements {
        driver
            .execute(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// Writes `migrations` (as [`case`] takes them) into a directory of `db`'s
/// scratch directory and returns it.
fn write_migrations(db: &TestDatabase, migrations: &[(i64, &str, &str, Option<&str>)]) -> PathBuf {
    let dir = db.scratch_dir().join("migrations");
    for (path, text) in case(migrations, 0, &[]).files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a migration folder"))
            .expect("the migration folder is created");
        std::fs::write(&path, text).expect("the migration is written");
    }
    dir
}

/// A PostgreSQL schema beyond `public`: schema `app` with an enum, a table
/// with a trigram (`gin_trgm_ops`) and a `text_pattern_ops` index, a view,
/// a sequence and a trigger function; in `public` a table with a foreign key
/// into `app`, a column and an index with their own collations.
const PG_SCHEMAS_UP: &str = "CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('ok', 'meh');
CREATE TABLE app.users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, mood app.mood);
CREATE TABLE posts (id SERIAL PRIMARY KEY, user_id INTEGER REFERENCES app.users (id), title TEXT COLLATE \"C\");
CREATE INDEX users_name_trgm ON app.users USING gin (name gin_trgm_ops);
CREATE INDEX users_name_pattern ON app.users (name text_pattern_ops);
CREATE INDEX posts_title_posix ON posts (title COLLATE \"POSIX\");
CREATE SEQUENCE app.counter;
CREATE VIEW app.names AS SELECT name FROM app.users;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER touch BEFORE INSERT ON app.users FOR EACH ROW EXECUTE FUNCTION app.touch();";
const PG_SCHEMAS_DOWN: &str = "DROP TABLE posts;
DROP SCHEMA app CASCADE;
DROP EXTENSION pg_trgm;";

/// `cairn verify` (with `--seed-data`) sees and passes a schema spread over
/// two schemas; `schema dump` shows it qualified, and its SQL rebuilds it
/// on an empty database, trigram index and all.
async fn pg_schemas_round_trip(db: TestDatabase, copy: TestDatabase) {
    let dir = write_migrations(&db, &[(1, "schemas", PG_SCHEMAS_UP, Some(PG_SCHEMAS_DOWN))]);
    let stdout = ok(&cairn_in(&db, &dir, &["verify", "--seed-data"]));
    assert!(stdout.contains("1 ok, 0 failed"), "{stdout}");
    assert!(!stdout.contains("not seeded"), "{stdout}");
    ok(&cairn_in(&db, &dir, &["up"]));
    let text = ok(&cairn_in(&db, &dir, &["schema", "dump"]));
    for word in [
        "schema app\n",
        "extension pg_trgm in public\n",
        "enum app.mood ('ok', 'meh')",
        "sequence app.counter ",
        "function app.touch() ",
        "table app.users\n",
        "table posts\n",
        "index users_name_trgm (name gin_trgm_ops) using gin",
        "index users_name_pattern (name text_pattern_ops)",
        "index posts_title_posix (title collate \"POSIX\")",
        "references app.users (id)",
        "view app.names ",
        "trigger app.users.touch ",
    ] {
        assert!(text.contains(word), "`{word}` not in:\n{text}");
    }
    assert!(
        !text.contains("similarity"),
        "pg_trgm's own functions show:\n{text}"
    );
    let sql = ok(&cairn_in(&db, &dir, &["schema", "dump", "--format", "sql"]));
    let dump = copy.scratch_dir().join("dump");
    std::fs::create_dir_all(dump.join("1_dump")).expect("the dump migration folder");
    std::fs::write(dump.join("1_dump/up.sql"), &sql).expect("the dump is written");
    ok(&cairn_in(&copy, &dump, &["up"]));
    let original = ok(&cairn_in(
        &db,
        &dir,
        &["schema", "dump", "--format", "json"],
    ));
    let rebuilt = ok(&cairn_in(
        &copy,
        &dump,
        &["schema", "dump", "--format", "json"],
    ));
    assert_eq!(
        original, rebuilt,
        "the dump did not rebuild the schema:\n{sql}"
    );
}

/// The data loss: 1,000 rows in `app.users` (schema `app`), a
/// migration whose down drops the schema. `verify` refuses before running
/// anything: exit 1, a message naming the schema and what to do, every row
/// still there.
async fn pg_verify_refuses_rows_in_another_schema(db: TestDatabase) {
    execute_all(
        &db,
        &[
            "CREATE SCHEMA app",
            "CREATE TABLE app.users (id INTEGER PRIMARY KEY, name TEXT)",
            "INSERT INTO app.users SELECT g, 'user ' || g FROM generate_series(1, 1000) g",
        ],
    )
    .await;
    let dir = write_migrations(
        &db,
        &[(
            1,
            "app_schema",
            "CREATE SCHEMA IF NOT EXISTS app;",
            Some("DROP SCHEMA app CASCADE;"),
        )],
    );
    let output = cairn_in(&db, &dir, &["verify"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not empty")
            && stderr.contains("schema `app`")
            && stderr.contains("table `app.users`")
            && stderr.contains("nothing was changed: give an empty, disposable database"),
        "{stderr}"
    );
    assert_eq!(scalar(&db, "SELECT count(*) FROM app.users").await, "1000");
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'cairn_history'"
        )
        .await,
        "0"
    );
}

/// Objects an extension owns (the views and functions of
/// `pg_stat_statements`) do not make a database "not empty"; the extension
/// itself is in the snapshot, not its objects.
async fn pg_extension_objects_are_not_user_objects(db: TestDatabase) {
    execute_all(&db, &["CREATE EXTENSION pg_stat_statements"]).await;
    let dir = write_migrations(
        &db,
        &[(
            1,
            "create_t",
            "CREATE TABLE t (id INTEGER);",
            Some("DROP TABLE t;"),
        )],
    );
    let stdout = ok(&cairn_in(&db, &dir, &["verify"]));
    assert!(stdout.contains("1 ok, 0 failed"), "{stdout}");
    let text = ok(&cairn_in(&db, &dir, &["schema", "dump"]));
    assert!(
        text.contains("extension pg_stat_statements in public"),
        "{text}"
    );
    assert!(!text.contains("view pg_stat_statements"), "{text}");
    assert!(!text.contains("function pg_stat_statements"), "{text}");
}

/// A down that forgets `DROP SCHEMA` is caught.
fn pg_verify_catches_a_forgotten_schema(db: TestDatabase) {
    let case = case(
        &[(
            1,
            "app",
            "CREATE SCHEMA app;\nCREATE TABLE app.t (id INTEGER PRIMARY KEY);",
            Some("DROP TABLE app.t;"),
        )],
        3,
        &["FAILED 1 app", "schema `app` added"],
    );
    check_case(db, "forgotten schema", &case, &["verify"]);
}

const PG_PATTERN_INDEX: (i64, &str, &str, Option<&str>) = (
    1,
    "create_t",
    "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT);\nCREATE INDEX t_a ON t (a text_pattern_ops);",
    Some("DROP TABLE t;"),
);

/// A down that rebuilds an index without its operator class is caught.
fn pg_verify_catches_a_lost_operator_class(db: TestDatabase) {
    let case = case(
        &[
            PG_PATTERN_INDEX,
            (
                2,
                "index_id",
                "CREATE INDEX t_id ON t (id);",
                Some("DROP INDEX t_id;\nDROP INDEX t_a;\nCREATE INDEX t_a ON t (a);"),
            ),
        ],
        3,
        &[
            "FAILED 2 index_id",
            "table `t`: index `t_a` columns changed from `a text_pattern_ops` to `a`",
        ],
    );
    check_case(db, "operator class", &case, &["verify"]);
}

/// `drift` finds an index rebuilt by hand without its operator class.
async fn pg_drift_catches_a_lost_operator_class(db: TestDatabase, scratch: TestDatabase) {
    let dir = write_migrations(&db, &[PG_PATTERN_INDEX]);
    ok(&cairn_in(&db, &dir, &["up"]));
    execute_all(&db, &["DROP INDEX t_a", "CREATE INDEX t_a ON t (a)"]).await;
    let output = cairn_in(&db, &dir, &["drift", "--scratch-url", scratch.url()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("index `t_a` columns changed from `a text_pattern_ops` to `a`"),
        "{stdout}"
    );
}

/// `cairn schema dump` of the example project after `up`, as an insta
/// snapshot per engine.
fn example_schema_snapshot(db: TestDatabase, engine: &str) {
    ok(&cairn(&db, &["up", "--to", LAST_SQL_EXAMPLE]));
    let text = ok(&cairn(&db, &["schema", "dump"]));
    insta::assert_snapshot!(format!("example_schema_{engine}"), text);
}

/// A transactional script with its own `BEGIN`/`COMMIT` is refused by
/// `validate`, `up --dry-run` and `up` before anything is created; marked
/// `-- cairn:no-transaction`, it applies.
async fn transaction_control_is_refused(db: TestDatabase) {
    let dir = db.scratch_dir().join("wrapped");
    let write = |file: &str, text: &str| {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let wrapped = "START TRANSACTION;\nCREATE TABLE wrapped (id INTEGER);\nCOMMIT;\n";
    let wrapped = if db.engine() == cairn::Engine::Sqlite {
        wrapped.replace("START TRANSACTION", "BEGIN IMMEDIATE")
    } else {
        wrapped.to_owned()
    };
    write("1_first/up.sql", "CREATE TABLE first_t (id INTEGER);\n");
    write("2_wrapped/up.sql", &wrapped);
    for args in [&["validate"][..], &["up", "--dry-run"], &["up"]] {
        let output = cairn_in(&db, &dir, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("2_wrapped/up.sql:1: `"), "{stderr}");
        assert!(
            stderr.contains(&format!("would end Cairn's transaction on {}", db.engine())),
            "{stderr}"
        );
        assert!(stderr.contains("-- cairn:no-transaction"), "{stderr}");
    }
    let mut driver = connect(&db).await;
    for table in ["first_t", "wrapped", "cairn_history"] {
        assert!(
            !table_exists(driver.as_mut(), table).await,
            "{table} was created"
        );
    }
    write(
        "2_wrapped/up.sql",
        &format!("-- cairn:no-transaction\n{wrapped}"),
    );
    ok(&cairn_in(&db, &dir, &["up"]));
    assert!(table_exists(driver.as_mut(), "wrapped").await);
}

/// The check behind "the transaction was rolled back": after a failed
/// statement, the probe tells Cairn's open transaction from one a statement ended.
async fn transaction_probe_tells_open_from_ended(db: TestDatabase) {
    use cairn::history::HistorySql;
    let mut driver = connect(&db).await;
    let sql = HistorySql::new(driver.dialect(), &Default::default());
    let probe = sql.transaction_probe().expect("a probe on this engine");
    driver.begin().await.unwrap();
    assert!(driver.execute("SELECT * FROM no_such_table").await.is_err());
    let outcome = driver.execute(probe).await;
    assert_eq!(
        sql.transaction_still_open(&outcome),
        Some(true),
        "{outcome:?}"
    );
    driver.rollback().await.unwrap();

    driver.begin().await.unwrap();
    driver
        .execute("CREATE TABLE committed_early (id INTEGER)")
        .await
        .unwrap();
    driver.execute("COMMIT").await.unwrap();
    assert!(driver.execute("SELECT * FROM no_such_table").await.is_err());
    let outcome = driver.execute(probe).await;
    assert_eq!(
        sql.transaction_still_open(&outcome),
        Some(false),
        "{outcome:?}"
    );
    driver.rollback().await.unwrap();
    // What the probe said is true: the table survived the rollback.
    assert!(table_exists(driver.as_mut(), "committed_early").await);
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

        #[tokio::test]
        async fn verify_seed_data_catches_rows_lost_by_a_recreated_table() {
            seed_case($db, "rows_lost_by_a_recreated_table");
        }

        #[tokio::test]
        async fn verify_seed_data_catches_rows_changed_by_a_recreated_column() {
            seed_case($db, "rows_changed_by_a_recreated_column");
        }

        #[tokio::test]
        async fn verify_seed_data_passes_a_set_that_keeps_its_rows() {
            seed_case($db, "rows_kept");
        }

        #[tokio::test]
        async fn example_project_passes_verify_with_seed_data() {
            let db = $db;
            let stdout = ok(&cairn(
                &db,
                &["verify", "--seed-data", "--to", LAST_SQL_EXAMPLE],
            ));
            assert!(stdout.contains(" ok, 0 failed"), "{stdout}");
            assert!(!stdout.contains("not seeded"), "{stdout}");
        }

        #[tokio::test]
        async fn example_sql_dump_rebuilds_the_schema() {
            example_sql_dump_round_trip($db, $db, $engine);
        }

        #[tokio::test]
        async fn drift_finds_a_column_added_by_hand() {
            drift_finds_a_hand_made_column($db, $db, $db).await;
        }

        #[tokio::test]
        async fn verify_refuses_a_database_that_is_not_empty() {
            verify_refuses_a_full_database($db).await;
        }

        #[tokio::test]
        async fn verify_shows_a_changed_view_as_a_line_diff() {
            verify_case($db, "changed_view");
        }

        #[tokio::test]
        async fn verify_seed_data_ignores_rows_the_migration_inserts() {
            seed_case($db, "rows_the_migration_inserts");
        }

        #[tokio::test]
        async fn verify_reports_a_changed_column_order() {
            reordered_columns($db, false);
        }

        #[tokio::test]
        async fn verify_ignore_column_order_accepts_it() {
            reordered_columns($db, true);
        }

        #[tokio::test]
        async fn verify_header_counts_every_migration() {
            header_counts_every_migration($db);
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

    #[tokio::test]
    async fn input_transaction_control_is_refused_before_anything_changes() {
        transaction_control_is_refused(TestDatabase::sqlite()).await;
    }

    #[tokio::test]
    async fn input_transaction_probe_tells_open_from_ended() {
        transaction_probe_tells_open_from_ended(TestDatabase::sqlite()).await;
    }

    /// SQLite keeps no catalog of constraint names: they are read from the
    /// `CREATE TABLE` text, so a down that rebuilds a table with its foreign
    /// key under another name is caught.
    #[tokio::test]
    async fn schemas_sqlite_verify_catches_a_renamed_foreign_key() {
        let rebuild = "CREATE TABLE c_new (id INTEGER PRIMARY KEY, p_id INTEGER, \
                       CONSTRAINT c_parent FOREIGN KEY (p_id) REFERENCES p (id));\n\
                       INSERT INTO c_new SELECT id, p_id FROM c;\n\
                       DROP TABLE c;\n\
                       ALTER TABLE c_new RENAME TO c;";
        let case = case(
            &[
                (
                    1,
                    "create_p_c",
                    "CREATE TABLE p (id INTEGER PRIMARY KEY);\n\
                     CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER, \
                     CONSTRAINT c_p FOREIGN KEY (p_id) REFERENCES p (id));",
                    Some("DROP TABLE c;\nDROP TABLE p;"),
                ),
                (2, "noop", "SELECT 1;", Some(rebuild)),
            ],
            3,
            &[
                "FAILED 2 noop",
                "foreign key `(p_id) references p (id)` name changed from `c_p` to `c_parent`",
            ],
        );
        check_case(
            TestDatabase::sqlite(),
            "renamed foreign key",
            &case,
            &["verify"],
        );
    }
}

#[cfg(feature = "servers")]
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

    #[tokio::test]
    async fn input_transaction_control_is_refused_before_anything_changes() {
        transaction_control_is_refused(cairn_testkit::postgres::database().await).await;
    }

    #[tokio::test]
    async fn input_transaction_probe_tells_open_from_ended() {
        transaction_probe_tells_open_from_ended(cairn_testkit::postgres::database().await).await;
    }

    #[tokio::test]
    async fn schemas_every_schema_is_verified_dumped_and_rebuilt() {
        pg_schemas_round_trip(
            cairn_testkit::postgres::database().await,
            cairn_testkit::postgres::database().await,
        )
        .await;
    }

    #[tokio::test]
    async fn verify_refuses_rows_in_another_schema_and_keeps_them() {
        pg_verify_refuses_rows_in_another_schema(cairn_testkit::postgres::database().await).await;
    }

    #[tokio::test]
    async fn schemas_extension_objects_do_not_count_as_user_objects() {
        pg_extension_objects_are_not_user_objects(cairn_testkit::postgres::database().await).await;
    }

    #[tokio::test]
    async fn schemas_verify_catches_a_forgotten_drop_schema() {
        pg_verify_catches_a_forgotten_schema(cairn_testkit::postgres::database().await);
    }

    #[tokio::test]
    async fn verify_catches_a_lost_operator_class() {
        pg_verify_catches_a_lost_operator_class(cairn_testkit::postgres::database().await);
    }

    #[tokio::test]
    async fn schemas_drift_catches_a_lost_operator_class() {
        pg_drift_catches_a_lost_operator_class(
            cairn_testkit::postgres::database().await,
            cairn_testkit::postgres::database().await,
        )
        .await;
    }
}

#[cfg(feature = "servers")]
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

/// `cairn verify --engines sqlite,postgres,mysql`: a disposable database per
/// engine, made on the servers the tests use (through
/// `CAIRN_VERIFY_POSTGRES_URL` / `CAIRN_VERIFY_MYSQL_URL`) and dropped after.
#[cfg(feature = "servers")]
mod engines {
    use super::*;
    use cairn::Engine;

    async fn admin(engine: Engine) -> String {
        cairn_testkit::server::admin_url(engine).await
    }

    async fn verify_everywhere(case: &VerifyCase, args: &[&str]) -> (Output, serde_json::Value) {
        let project = TestDatabase::sqlite();
        let dir = project.scratch_dir().join("migrations");
        for (path, text) in &case.files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder");
            std::fs::write(&path, text).expect("migration");
        }
        let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .arg("--dir")
            .arg(&dir)
            .args([
                "verify",
                "--engines",
                "sqlite,postgres,mysql",
                "--format",
                "json",
            ])
            .args(args)
            .current_dir(project.scratch_dir())
            .env_remove("CAIRN_DATABASE_URL")
            .env_remove("DATABASE_URL")
            .env("CAIRN_VERIFY_POSTGRES_URL", admin(Engine::Postgres).await)
            .env("CAIRN_VERIFY_MYSQL_URL", admin(Engine::Mysql).await)
            .output()
            .expect("the cairn binary runs");
        let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}):\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output, json)
    }

    /// Whether the database `name` still exists on `engine`'s server.
    async fn exists(engine: Engine, name: &str) -> bool {
        let mut driver = cairn::connect(&admin(engine).await)
            .await
            .expect("connects");
        let sql = match engine {
            Engine::Postgres => {
                format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'")
            }
            _ => format!(
                "SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'"
            ),
        };
        let rows = driver.query(&sql).await.expect("the catalog answers");
        rows[0][0].as_deref() != Some("0")
    }

    #[tokio::test]
    async fn a_faulty_set_fails_on_every_engine_and_leaves_no_database() {
        let (_, case) = seed_faults(Engine::Sqlite)
            .into_iter()
            .find(|(n, _)| *n == "rows_lost_by_a_recreated_table")
            .expect("the case");
        let (output, json) = verify_everywhere(&case, &["--seed-data"]).await;
        assert_eq!(output.status.code(), Some(3), "{json}");
        assert_eq!(json["ok"], false);
        let engines = json["engines"].as_array().expect("engines");
        let names: Vec<&str> = engines
            .iter()
            .filter_map(|e| e["engine"].as_str())
            .collect();
        assert_eq!(names, ["sqlite", "postgres", "mysql"]);
        for (engine, result) in [Engine::Sqlite, Engine::Postgres, Engine::Mysql]
            .into_iter()
            .zip(engines)
        {
            assert_eq!(result["ok"], false, "{result}");
            assert_eq!(result["error"], serde_json::Value::Null, "{result}");
            let migrations = &result["report"]["migrations"];
            assert_eq!(migrations[0]["outcome"], "ok", "{result}");
            assert_eq!(migrations[1]["outcome"], "rows-differ", "{result}");
            assert_eq!(migrations[1]["rows"][0]["missing"], 3, "{result}");
            let database = result["database"].as_str().expect("a database URL");
            if engine != Engine::Sqlite {
                let name = database.rsplit('/').next().expect("a database name");
                assert!(name.starts_with("cairn_verify_"), "{database}");
                assert!(!exists(engine, name).await, "{database} was not dropped");
            }
        }
    }

    #[tokio::test]
    async fn a_correct_set_passes_on_every_engine() {
        let (_, case) = rollback_faults(Engine::Sqlite)
            .into_iter()
            .find(|(n, _)| *n == "no_down_script")
            .expect("the case");
        let (output, json) = verify_everywhere(&case, &[]).await;
        assert_eq!(output.status.code(), Some(0), "{json}");
        assert_eq!(json["ok"], true);
        for result in json["engines"].as_array().expect("engines") {
            let outcomes: Vec<&str> = result["report"]["migrations"]
                .as_array()
                .expect("migrations")
                .iter()
                .filter_map(|m| m["outcome"].as_str())
                .collect();
            assert_eq!(outcomes, ["ok", "irreversible", "ok"], "{result}");
        }
    }
}

//! A Flyway project read in place, end to end on every engine: dotted and
//! underscored versions in Flyway's order, a repeatable `R__` view applied
//! after them and again when it changes, an undo file as the down script,
//! the history's in-place upgrade for versions that are not one integer,
//! and (PostgreSQL) `CREATE INDEX CONCURRENTLY` run outside a transaction.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_testkit::TestDatabase;
use serde_json::Value;

fn cairn(db: &TestDatabase, dir: &Path, args: &[&str]) -> Output {
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

fn json(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cairn failed with {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The `version` of each migration a report lists, as JSON shows it.
fn versions(report: &Value) -> Vec<Value> {
    report["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .map(|m| m["version"].clone())
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("a fixture file");
}

const VIEW_V1: &str =
    "DROP VIEW IF EXISTS user_names;\nCREATE VIEW user_names AS SELECT id, name FROM users;\n";
const VIEW_V2: &str = "DROP VIEW IF EXISTS user_names;\nCREATE VIEW user_names AS SELECT id, name, email FROM users;\n";

/// The first cell of `sql` on a new connection (a connection of its own
/// each time: SQLite compiles against the schema it last read, and the
/// `cairn` processes change it).
async fn cell(db: &TestDatabase, sql: &str) -> Option<String> {
    let mut driver = crate::support::connect(db).await;
    let rows = driver
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter()
        .next()
        .and_then(|row| row.into_iter().next().flatten())
}

async fn has_version_text(db: &TestDatabase) -> bool {
    let mut driver = crate::support::connect(db).await;
    let sql = driver
        .dialect()
        .column_exists(None, "cairn_history", "version_text");
    !driver
        .query(&sql)
        .await
        .expect("the column query")
        .is_empty()
}

/// The Flyway project, applied in two steps so that the history is first
/// created as for any Cairn project, then upgraded in place.
async fn flyway_project(db: TestDatabase) -> (TestDatabase, PathBuf) {
    let dir = db.scratch_dir().join("flyway");
    std::fs::create_dir_all(&dir).expect("the project folder");
    write(
        &dir,
        "V1__users.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);\n",
    );
    let first = json(&cairn(&db, &dir, &["up", "--format", "json"]));
    assert_eq!(versions(&first), [Value::from(1)]);
    assert!(
        !has_version_text(&db).await,
        "a history of integral versions is created as it always was"
    );

    write(
        &dir,
        "V1.1__add_email.sql",
        "ALTER TABLE users ADD COLUMN email VARCHAR(200);\n",
    );
    write(
        &dir,
        "V1.10__seed.sql",
        "INSERT INTO users (id, name, email) VALUES (1, 'ada', 'ada@example.com');\n",
    );
    write(
        &dir,
        "V1_2__nickname.sql",
        "ALTER TABLE users ADD COLUMN nickname VARCHAR(100);\n",
    );
    write(
        &dir,
        "V2_1__orders.sql",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL);\n",
    );
    write(&dir, "U2_1__orders.sql", "DROP TABLE orders;\n");
    write(&dir, "R__user_names.sql", VIEW_V1);
    write(&dir, "beforeMigrate.sql", "SELECT 1;\n");

    let second = json(&cairn(&db, &dir, &["up", "--format", "json"]));
    assert_eq!(
        versions(&second),
        [
            Value::from("1.1"),
            Value::from("1.2"),
            Value::from("1.10"),
            Value::from("2.1"),
            Value::from("R__user_names"),
        ],
        "Flyway's order, the repeatable last: {second}"
    );
    assert!(has_version_text(&db).await, "upgraded in place");
    assert_eq!(
        cell(&db, "SELECT name FROM user_names WHERE id = 1")
            .await
            .as_deref(),
        Some("ada")
    );
    assert_eq!(
        cell(
            &db,
            "SELECT version_text FROM cairn_history WHERE name = 'add_email'"
        )
        .await
        .as_deref(),
        Some("1.1")
    );
    assert_eq!(
        cell(
            &db,
            "SELECT version FROM cairn_history WHERE name = 'users'"
        )
        .await
        .as_deref(),
        Some("1"),
        "an integral version keeps its row as it was"
    );

    let status = json(&cairn(&db, &dir, &["status", "--format", "json"]));
    let states: Vec<(Value, String)> = status["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .map(|m| {
            (
                m["version"].clone(),
                m["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(states.len(), 6, "{status}");
    assert!(
        states.iter().all(|(_, state)| state == "applied"),
        "{status}"
    );
    assert_eq!(states[0].0, Value::from(1));

    // The view changes: the next `up` applies it again, and only it.
    write(&dir, "R__user_names.sql", VIEW_V2);
    let status = json(&cairn(&db, &dir, &["status", "--format", "json"]));
    assert_eq!(status["migrations"][5]["state"], "outdated", "{status}");
    let third = json(&cairn(&db, &dir, &["up", "--format", "json"]));
    assert_eq!(versions(&third), [Value::from("R__user_names")]);
    assert_eq!(
        cell(&db, "SELECT email FROM user_names WHERE id = 1")
            .await
            .as_deref(),
        Some("ada@example.com")
    );
    let fourth = json(&cairn(&db, &dir, &["up", "--format", "json"]));
    assert_eq!(
        versions(&fourth),
        Vec::<Value>::new(),
        "nothing left: {fourth}"
    );
    assert_eq!(
        cell(
            &db,
            "SELECT COUNT(*) FROM cairn_history WHERE version_text = 'R__user_names'"
        )
        .await
        .as_deref(),
        Some("1"),
        "one row per repeatable"
    );

    // `down` rolls back the newest version with its undo file; the view stays.
    let down = json(&cairn(&db, &dir, &["down", "--format", "json"]));
    assert_eq!(versions(&down), [Value::from("2.1")]);
    assert!(
        !cairn_testkit::conformance::table_exists(
            crate::support::connect(&db).await.as_mut(),
            "orders"
        )
        .await,
        "U2_1__orders.sql ran"
    );
    assert_eq!(
        cell(&db, "SELECT COUNT(*) FROM user_names")
            .await
            .as_deref(),
        Some("1")
    );
    let again = json(&cairn(&db, &dir, &["up", "--format", "json"]));
    assert_eq!(versions(&again), [Value::from("2.1")]);
    (db, dir)
}

/// `CREATE INDEX CONCURRENTLY` in a Flyway file runs outside a transaction,
/// as Flyway runs it (inside one, PostgreSQL refuses it with 25001); mixed
/// with a statement that runs in one, the file is refused with both lines
/// and nothing changes.
async fn concurrently(db: TestDatabase, dir: &Path) {
    write(dir, "V3__mixed.sql", "ALTER TABLE users ADD COLUMN age INTEGER;\nCREATE INDEX CONCURRENTLY users_age ON users (age);\n");
    let refused = cairn(&db, dir, &["up"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("V3__mixed.sql:2"), "{stderr}");
    assert!(stderr.contains("V3__mixed.sql:1"), "{stderr}");
    assert!(stderr.contains("-- cairn:no-transaction"), "{stderr}");
    std::fs::remove_file(dir.join("V3__mixed.sql")).expect("removed");

    write(
        dir,
        "V3__email_index.sql",
        "CREATE INDEX CONCURRENTLY users_email ON users (email);\n",
    );
    let report = json(&cairn(&db, dir, &["up", "--format", "json"]));
    assert_eq!(versions(&report), [Value::from(3)]);
    assert_eq!(report["migrations"][0]["transactional"], false, "{report}");
    assert_eq!(
        cell(
            &db,
            "SELECT indexname FROM pg_indexes WHERE indexname = 'users_email'"
        )
        .await
        .as_deref(),
        Some("users_email")
    );
}

/// In Cairn's own layout nothing is detected: PostgreSQL's 25001 then says
/// how to run the migration outside a transaction, in the layout's form.
/// (The sqlx/golang-migrate layout runs such a file as written: see
/// tests/layouts.rs.)
async fn cannot_run_in_a_transaction_says_what_to_write(db: TestDatabase) {
    let dir = db.scratch_dir().join("cairn");
    for folder in ["1_t", "2_t_a"] {
        std::fs::create_dir_all(dir.join(folder)).expect("a migration folder");
    }
    write(&dir, "1_t/up.sql", "CREATE TABLE t (a INTEGER);\n");
    write(
        &dir,
        "2_t_a/up.sql",
        "CREATE INDEX CONCURRENTLY t_a ON t (a);\n",
    );
    let failed = cairn(&db, &dir, &["up"]);
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("CONCURRENTLY"), "{stderr}");
    assert!(
        stderr.contains("to run this migration outside a transaction, put `-- cairn:no-transaction` at the top of its script"),
        "{stderr}"
    );
}

/// A baseline at a dotted version upgrades the history first; the versions
/// up to it count as applied, the rest (and the repeatable) apply.
async fn baseline_at_a_dotted_version(db: TestDatabase) {
    let dir = db.scratch_dir().join("baseline");
    std::fs::create_dir_all(&dir).expect("the project folder");
    write(
        &dir,
        "V1__users.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
    );
    write(
        &dir,
        "V1.1__email.sql",
        "ALTER TABLE users ADD COLUMN email VARCHAR(200);\n",
    );
    write(
        &dir,
        "V1.2__name.sql",
        "ALTER TABLE users ADD COLUMN name VARCHAR(100);\n",
    );
    write(
        &dir,
        "R__user_ids.sql",
        "DROP VIEW IF EXISTS user_ids;\nCREATE VIEW user_ids AS SELECT id FROM users;\n",
    );
    let output = cairn(&db, &dir, &["baseline", "--version", "1.1"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The baselined schema exists already (as it would on a database Flyway migrated).
    let mut driver = crate::support::connect(&db).await;
    driver
        .execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))")
        .await
        .expect("the existing schema");
    drop(driver);
    let status = json(&cairn(&db, &dir, &["status", "--format", "json"]));
    let states: Vec<String> = status["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .map(|m| format!("{} {}", m["version"], m["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            "1 baselined",
            "\"1.1\" baseline",
            "\"1.2\" pending",
            "\"R__user_ids\" pending"
        ],
        "{status}"
    );
    let up = json(&cairn(&db, &dir, &["up", "--format", "json"]));
    assert_eq!(
        versions(&up),
        [Value::from("1.2"), Value::from("R__user_ids")]
    );
}

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn a_baseline_at_a_dotted_version() {
        baseline_at_a_dotted_version(TestDatabase::sqlite()).await;
    }

    #[tokio::test]
    async fn a_flyway_project_reads_in_place() {
        flyway_project(TestDatabase::sqlite()).await;
    }
}

#[cfg(feature = "servers")]
mod postgres {
    use super::*;

    #[tokio::test]
    async fn a_baseline_at_a_dotted_version() {
        baseline_at_a_dotted_version(cairn_testkit::postgres::database().await).await;
    }

    #[tokio::test]
    async fn a_flyway_project_reads_in_place() {
        flyway_project(cairn_testkit::postgres::database().await).await;
    }

    #[tokio::test]
    async fn a_25001_error_says_to_run_outside_a_transaction() {
        cannot_run_in_a_transaction_says_what_to_write(cairn_testkit::postgres::database().await)
            .await;
    }

    #[tokio::test]
    async fn create_index_concurrently_runs_outside_a_transaction() {
        let (db, dir) = flyway_project(cairn_testkit::postgres::database().await).await;
        concurrently(db, &dir).await;
    }
}

#[cfg(feature = "servers")]
mod mysql {
    use super::*;

    #[tokio::test]
    async fn a_baseline_at_a_dotted_version() {
        baseline_at_a_dotted_version(cairn_testkit::mysql::database().await).await;
    }

    #[tokio::test]
    async fn a_flyway_project_reads_in_place() {
        flyway_project(cairn_testkit::mysql::database().await).await;
    }
}

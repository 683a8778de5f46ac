//! End-to-end tests of the `cairn` binary on SQLite.
//!
//! Each test runs the real binary in its own temporary directory (the current
//! directory of the process), with `CAIRN_DATABASE_URL` and `DATABASE_URL`
//! removed, and inspects the database file with rusqlite.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;

/// A temporary project directory.
pub(crate) struct Project {
    dir: TempDir,
}

/// What one run of `cairn` did.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub(crate) fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn nowhere(&self, needle: &str) -> &Self {
        assert!(
            !self.stdout.contains(needle) && !self.stderr.contains(needle),
            "{needle:?} was printed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl Project {
    pub(crate) fn new() -> Self {
        Project {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub(crate) fn cairn(&self, args: &[&str]) -> Run {
        self.cairn_env(args, &[])
    }

    pub(crate) fn cairn_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("CAIRN_DATABASE_URL")
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG")
            .env("USER", "tester")
            .env("HOSTNAME", "ci");
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().expect("run cairn");
        Run {
            code: output.status.code().expect("exit code"),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub(crate) fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Writes `migrations/<version>_<name>/up.sql` and, if given, `down.sql`.
    pub(crate) fn migration(&self, version: i64, name: &str, up: &str, down: Option<&str>) {
        self.write(&format!("migrations/{version}_{name}/up.sql"), up);
        if let Some(down) = down {
            self.write(&format!("migrations/{version}_{name}/down.sql"), down);
        }
    }

    pub(crate) fn db_at(&self, file: &str) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path(file)).unwrap()
    }

    /// The user tables of `file` (Cairn's own included), sorted.
    pub(crate) fn tables_in(&self, file: &str) -> Vec<String> {
        if !self.path(file).exists() {
            return Vec::new();
        }
        let db = self.db_at(file);
        let mut statement = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .unwrap();
        let rows = statement.query_map([], |row| row.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    pub(crate) fn tables(&self) -> Vec<String> {
        self.tables_in("cairn.db")
    }

    pub(crate) fn has_table(&self, table: &str) -> bool {
        self.tables().iter().any(|t| t == table)
    }

    /// Versions in the history of `cairn.db`, in order.
    pub(crate) fn history(&self) -> Vec<i64> {
        let db = self.db_at("cairn.db");
        let mut statement = db
            .prepare("SELECT version FROM cairn_history ORDER BY version")
            .unwrap();
        let rows = statement.query_map([], |row| row.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    /// Three migrations: users, posts, and an index on posts.
    pub(crate) fn three_migrations(&self) {
        self.migration(
            1,
            "create_users",
            "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
            Some("DROP TABLE users;\n"),
        );
        self.migration(
            2,
            "create_posts",
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id));\n",
            Some("DROP TABLE posts;\n"),
        );
        self.migration(
            3,
            "index_posts",
            "CREATE INDEX posts_user ON posts (user_id);\nCREATE TABLE tags (id INTEGER);\n",
            Some("DROP TABLE tags;\nDROP INDEX posts_user;\n"),
        );
    }
}

fn states(status: &Value) -> Vec<(i64, String)> {
    status["migrations"]
        .as_array()
        .expect("migrations array")
        .iter()
        .map(|m| {
            (
                m["version"].as_i64().unwrap(),
                m["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(i64, &str)]) -> Vec<(i64, String)> {
    list.iter().map(|(v, s)| (*v, (*s).to_owned())).collect()
}

#[test]
fn init_new_up_status_down_redo_round_trip() {
    let p = Project::new();
    p.cairn(&["init"])
        .code(0)
        .stdout_has("created migrations")
        .stdout_has("created cairn.toml");
    assert!(p.path("migrations").is_dir());
    // Idempotent, and says so.
    p.cairn(&["init"])
        .code(0)
        .stdout_has("exists migrations")
        .stdout_has("exists cairn.toml");

    let run = p.cairn(&["new", "Create users", "--sequential"]);
    run.code(0).stdout_has("migrations/1_create_users");
    p.cairn(&["new", "add-email", "--sequential"])
        .code(0)
        .stdout_has("migrations/2_add_email");
    let up1 = p.path("migrations/1_create_users/up.sql");
    let header = std::fs::read_to_string(&up1).unwrap();
    assert!(header.starts_with("-- 1 create_users"), "{header}");
    assert!(p.path("migrations/2_add_email/down.sql").is_file());
    std::fs::write(
        &up1,
        format!("{header}CREATE TABLE users (id INTEGER PRIMARY KEY);\n"),
    )
    .unwrap();
    p.write("migrations/1_create_users/down.sql", "DROP TABLE users;\n");
    p.write(
        "migrations/2_add_email/up.sql",
        "ALTER TABLE users ADD COLUMN email TEXT;\n",
    );
    p.write(
        "migrations/2_add_email/down.sql",
        "ALTER TABLE users DROP COLUMN email;\n",
    );

    let status = p.cairn(&["status", "--format", "json"]);
    let json = status.code(0).json();
    assert_eq!(json["engine"], "sqlite");
    assert_eq!(json["database"], "sqlite://cairn.db");
    assert_eq!(states(&json), pairs(&[(1, "pending"), (2, "pending")]));
    assert!(json["migrations"][0]["applied_at"].is_null());
    assert_eq!(json["problems"], Value::Array(vec![]));

    p.cairn(&["up"])
        .code(0)
        .stdout_has("applied 1 create_users")
        .stdout_has("applied 2 add_email")
        .stdout_has("2 migrations applied");
    assert!(p.has_table("users"));
    assert_eq!(p.history(), vec![1, 2]);

    let json = p.cairn(&["status", "--format", "json"]).code(0).json();
    assert_eq!(states(&json), pairs(&[(1, "applied"), (2, "applied")]));
    let applied_at = json["migrations"][1]["applied_at"]
        .as_str()
        .expect("applied_at is a string");
    assert!(
        applied_at.ends_with('Z') && applied_at.len() == 24,
        "{applied_at}"
    );
    assert_eq!(json["migrations"][1]["applied_by"], "tester@ci");
    p.cairn(&["status"])
        .code(0)
        .stdout_has("VERSION")
        .stdout_has("add_email")
        .stdout_has("applied");

    p.cairn(&["down"])
        .code(0)
        .stdout_has("rolled back 2 add_email")
        .stdout_has("1 migration rolled back");
    assert_eq!(p.history(), vec![1]);
    let json = p.cairn(&["status", "--format", "json"]).code(0).json();
    assert_eq!(states(&json), pairs(&[(1, "applied"), (2, "pending")]));

    p.cairn(&["redo"])
        .code(0)
        .stdout_has("rolled back 1 create_users")
        .stdout_has("applied 1 create_users");
    assert_eq!(p.history(), vec![1]);
    assert!(p.has_table("users"));

    let json = p.cairn(&["up", "--format", "json"]).code(0).json();
    assert_eq!(json["migrations"][0]["version"], 2);
    assert_eq!(json["migrations"][0]["direction"], "up");
    p.cairn(&["up"]).code(0).stdout_has("nothing to apply");
    p.cairn(&["validate"]).code(0).stdout_has("ok");
    p.cairn(&["down", "--all"])
        .code(0)
        .stdout_has("2 migrations rolled back");
    assert_eq!(p.history(), Vec::<i64>::new());
    assert!(!p.has_table("users"));
}

#[test]
fn new_sequential_numbers_after_the_highest_version() {
    let p = Project::new();
    p.cairn(&["init"]).code(0);
    p.cairn(&["new", "first", "--sequential"])
        .code(0)
        .stdout_has("1_first");
    p.migration(41, "imported", "SELECT 1;\n", None);
    p.cairn(&["new", "next", "--sequential"])
        .code(0)
        .stdout_has("42_next");
    assert!(p.path("migrations/42_next/up.sql").is_file());
    assert!(p.path("migrations/42_next/down.sql").is_file());

    // Without --sequential the version is a UTC timestamp.
    let run = p.cairn(&["new", "stamped"]);
    run.code(0);
    let folder = run.stdout.trim().rsplit('/').next().unwrap().to_owned();
    let (version, name) = folder.split_once('_').unwrap();
    assert_eq!(name, "stamped");
    assert_eq!(version.len(), 14, "{folder}");
    assert!(version.starts_with("20"), "{folder}");

    p.cairn(&["new", "drop;table"])
        .code(1)
        .stderr_has("invalid migration name `drop;table`");
    p.cairn(&["new", "  "])
        .code(1)
        .stderr_has("invalid migration name");
}

#[test]
fn new_without_a_migrations_dir_suggests_init() {
    let p = Project::new();
    p.cairn(&["new", "x"]).code(1).stderr_has("cairn init");
    assert!(!p.path("migrations").exists());
}

/// Issue 10 item 8: `cairn new` follows the layout of the migrations already
/// in the directory, so the next command does not fail with mixed layouts.
#[test]
fn new_follows_the_layout_of_the_directory() {
    let create = "CREATE TABLE t (id INTEGER);\n";
    // (layout, the files already there, the files `cairn new` writes)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case<'_>; 6] = [
        (
            "cairn",
            &[("1_first/up.sql", create)],
            &["2_second/up.sql", "2_second/down.sql"],
        ),
        (
            "diesel",
            &[("2024-01-31-120000_first/up.sql", create)],
            &[
                "2024-01-31-120001_second/up.sql",
                "2024-01-31-120001_second/down.sql",
            ],
        ),
        (
            "sqlx",
            &[("1_first.up.sql", create), ("1_first.down.sql", "")],
            &["2_second.up.sql", "2_second.down.sql"],
        ),
        ("sqlx", &[("1_first.sql", create)], &["2_second.sql"]),
        (
            "flyway",
            &[("V1__first.sql", create)],
            &["V2__second.sql", "U2__second.sql"],
        ),
        (
            "dbmate",
            &[(
                "1_first.sql",
                "-- migrate:up\nCREATE TABLE t (id INTEGER);\n",
            )],
            &["2_second.sql"],
        ),
    ];
    for (layout, existing, expected) in cases {
        let p = Project::new();
        for (file, text) in existing {
            p.write(&format!("migrations/{file}"), text);
        }
        let json = p
            .cairn(&["new", "second", "--sequential", "--format", "json"])
            .code(0)
            .json();
        assert_eq!(json["layout"], layout, "{existing:?}: {json}");
        let files: Vec<String> = json["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| f.as_str().unwrap().to_owned())
            .collect();
        let expected: Vec<String> = expected.iter().map(|f| format!("migrations/{f}")).collect();
        assert_eq!(files, expected, "{existing:?}");
        for file in &expected {
            assert!(p.path(file).is_file(), "{file} was written");
        }
        // Fresh, the new migration is refused as empty, by name (except in
        // the sqlx/golang-migrate layout, whose tools apply an empty file:
        // docs/layouts.md); with a statement written into its up script, the
        // directory validates.
        if layout == "sqlx" {
            p.cairn(&["validate"]).code(0);
        } else {
            p.cairn(&["validate"])
                .code(1)
                .stderr_has(&format!("{}`: the up script is empty", expected[0]))
                .nowhere("mixed layouts");
        }
        let up = p.path(&expected[0]);
        let text = std::fs::read_to_string(&up).unwrap();
        let text = if layout == "dbmate" {
            assert!(text.starts_with("-- migrate:up\n"), "{text}");
            assert!(text.contains("\n-- migrate:down\n"), "{text}");
            text.replacen(
                "-- migrate:down",
                "CREATE TABLE u (id INTEGER);\n-- migrate:down",
                1,
            )
        } else {
            format!("{text}CREATE TABLE u (id INTEGER);\n")
        };
        std::fs::write(&up, text).unwrap();
        p.cairn(&["validate"]).code(0).stdout_has("ok");
        p.cairn(&["up"]).code(0).stdout_has("2 migrations applied");
        if expected.len() == 2 {
            let version = json["version"].as_i64().expect("a version");
            p.cairn(&["down"])
                .code(0)
                .stdout_has(&format!("rolled back {version} second ("));
        }
    }
}

/// Issue 10 item 8: a fresh `cairn new` in an empty directory is a Cairn
/// folder whose templates say what to write; `cairn validate` names the empty
/// up script until a statement is written, and the comment-only down script
/// is accepted.
#[test]
fn a_fresh_migration_says_its_up_script_is_empty_until_written() {
    let p = Project::new();
    p.cairn(&["init"]).code(0);
    p.cairn(&["new", "first", "--sequential"])
        .code(0)
        .stdout_has("created migrations/1_first");
    let up = std::fs::read_to_string(p.path("migrations/1_first/up.sql")).unwrap();
    assert!(
        up.contains("refuse this\n-- migration as an empty up script"),
        "{up}"
    );
    let down = std::fs::read_to_string(p.path("migrations/1_first/down.sql")).unwrap();
    assert!(
        down.contains("With comments only, rolling back changes nothing"),
        "{down}"
    );
    p.cairn(&["validate"]).code(1).stderr_has(
        "migrations/1_first/up.sql`: the up script is empty: write the migration's SQL",
    );
    p.write(
        "migrations/1_first/up.sql",
        &format!("{up}CREATE TABLE t (id INTEGER);\n"),
    );
    p.cairn(&["validate"]).code(0).stdout_has("ok");
    p.cairn(&["up"]).code(0).stdout_has("applied 1 first");
    p.cairn(&["down"]).code(0).stdout_has("rolled back 1 first");
}

#[test]
fn up_dry_run_prints_the_sql_and_changes_nothing() {
    let p = Project::new();
    p.three_migrations();
    let run = p.cairn(&["up", "--dry-run"]);
    run.code(0)
        .stdout_has("-- 1 create_users (migrations/1_create_users/up.sql:1)")
        .stdout_has("CREATE TABLE users (id INTEGER PRIMARY KEY);")
        .stdout_has("-- 3 index_posts (migrations/3_index_posts/up.sql:2)")
        .stdout_has("BEGIN;")
        .stdout_has("COMMIT;")
        .stdout_has("INSERT INTO \"cairn_history\"");
    assert_eq!(p.tables(), Vec::<String>::new());

    let json = p
        .cairn(&["up", "--dry-run", "--to", "2", "--format", "json"])
        .code(0)
        .json();
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["migrations"].as_array().unwrap().len(), 2);
    assert_eq!(p.tables(), Vec::<String>::new());

    p.cairn(&["up"]).code(0);
    p.cairn(&["down", "--to", "1", "--dry-run"])
        .code(0)
        .stdout_has("DROP INDEX posts_user;")
        .stdout_has("DROP TABLE posts;")
        .stdout_has("DELETE FROM \"cairn_history\"");
    assert_eq!(p.history(), vec![1, 2, 3]);
}

#[test]
fn up_to_an_unknown_version_names_it_and_applies_nothing() {
    let p = Project::new();
    p.three_migrations();
    p.cairn(&["up", "--to", "1"])
        .code(0)
        .stdout_has("1 migration applied");
    // An unknown target is an error (1), not a validation problem (3).
    p.cairn(&["up", "--to", "999"])
        .code(1)
        .stderr_has("error: there is no migration with version 999")
        .stderr_has("cairn status");
    assert_eq!(p.history(), vec![1]);
    assert!(!p.has_table("posts"));
}

#[test]
fn down_without_a_down_script_names_the_migration_and_rolls_back_nothing() {
    let p = Project::new();
    p.three_migrations();
    std::fs::remove_file(p.path("migrations/2_create_posts/down.sql")).unwrap();
    p.cairn(&["up"]).code(0);
    p.cairn(&["down", "--steps", "2"])
        .code(1)
        .stderr_has("migration 2 (create_posts) has no down script");
    assert_eq!(p.history(), vec![1, 2, 3]);
    assert!(
        p.has_table("tags"),
        "migration 3 must not be rolled back: {:?}",
        p.tables()
    );
}

#[test]
fn an_edited_applied_migration_fails_validation_until_repaired() {
    let p = Project::new();
    p.three_migrations();
    p.cairn(&["up", "--to", "2"]).code(0);
    p.write(
        "migrations/1_create_users/up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n",
    );

    p.cairn(&["up"])
        .code(3)
        .stderr_has("migration 1 (create_users) was modified")
        .stderr_has("cairn repair");
    assert_eq!(p.history(), vec![1, 2]);
    p.cairn(&["validate"])
        .code(3)
        .stdout_has("migration 1 (create_users) was modified");
    let json = p.cairn(&["validate", "--format", "json"]).code(3).json();
    assert_eq!(json["problems"][0]["problem"], "modified");
    assert_eq!(json["problems"][0]["version"], 1);
    let json = p.cairn(&["status", "--format", "json"]).code(3).json();
    assert_eq!(
        states(&json),
        pairs(&[(1, "modified"), (2, "applied"), (3, "pending")])
    );

    p.cairn(&["repair"])
        .code(0)
        .stdout_has("repaired 1 create_users: accepted the new checksum");
    p.cairn(&["validate"]).code(0).stdout_has("ok");
    p.cairn(&["repair"]).code(0).stdout_has("nothing to repair");
    p.cairn(&["up"]).code(0).stdout_has("applied 3 index_posts");
}

#[test]
fn a_failing_statement_rolls_back_its_whole_migration() {
    let p = Project::new();
    p.migration(
        1,
        "broken",
        "CREATE TABLE one (id INTEGER);\nCREATE TABLE two (id INTEGER);\nINSERT INTO missing_table VALUES (1);\n",
        Some("DROP TABLE two;\nDROP TABLE one;\n"),
    );
    p.cairn(&["up"])
        .code(1)
        .stderr_has("error: ")
        .stderr_has("1_broken/up.sql:3")
        .stderr_has("no such table: missing_table")
        .stderr_has("rolled back");
    let tables = p.tables();
    assert!(
        !tables.contains(&"one".to_owned()) && !tables.contains(&"two".to_owned()),
        "{tables:?}"
    );
    assert_eq!(p.history(), Vec::<i64>::new());
}

#[test]
fn a_failing_run_reports_what_completed_first() {
    let p = Project::new();
    p.migration(1, "good", "CREATE TABLE good (id INTEGER);\n", None);
    p.migration(2, "bad", "SELEKT 1;\n", None);
    p.cairn(&["up"])
        .code(1)
        .stdout_has("applied 1 good")
        .stderr_has("2_bad/up.sql:1");
    assert_eq!(p.history(), vec![1]);
    let json = p.cairn(&["up", "--format", "json"]).code(1).json();
    assert_eq!(json["ok"], false);
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("migration 2 (bad)"),
        "{json}"
    );
}

#[test]
fn an_unknown_scheme_is_named_without_the_password() {
    let p = Project::new();
    p.three_migrations();
    for run in [
        p.cairn(&["--database-url", "oracle://u:hunter2@h/db", "status"]),
        p.cairn_env(
            &["up"],
            &[("CAIRN_DATABASE_URL", "oracle://u:hunter2@h/db")],
        ),
        p.cairn_env(
            &["-vvv", "up"],
            &[("DATABASE_URL", "oracle://u:hunter2@h/db")],
        ),
    ] {
        run.code(1)
            .stderr_has("unknown database URL scheme `oracle`")
            .stderr_has("u:***@h")
            .nowhere("hunter2");
    }
}

#[test]
fn a_server_password_is_never_printed() {
    let p = Project::new();
    p.three_migrations();
    let url = "postgres://u:hunter2@127.0.0.1:1/db";
    let mysql = "mysql://u:hunter2@127.0.0.1:1/db";
    p.cairn(&["--database-url", mysql, "up"])
        .code(1)
        .stderr_has("mysql://u:***@127.0.0.1:1/db")
        .nowhere("hunter2");
    for args in [
        &["status"][..],
        &["up"],
        &["up", "--dry-run"],
        &["-vvv", "validate"],
        &["status", "--format", "json"],
    ] {
        let mut argv = vec!["--database-url", url];
        argv.extend_from_slice(args);
        p.cairn(&argv)
            .code(1)
            .stderr_has("postgres://u:***@127.0.0.1:1/db")
            .nowhere("hunter2");
    }
    p.cairn_env(
        &["-vv", "status"],
        &[("DATABASE_URL", url), ("RUST_LOG", "trace")],
    )
    .code(1)
    .nowhere("hunter2");
}

#[test]
fn a_missing_migrations_dir_suggests_init() {
    let p = Project::new();
    p.cairn(&["up"])
        .code(1)
        .stderr_has("`migrations` does not exist")
        .stderr_has("cairn init");
    p.cairn(&["--dir", "elsewhere", "status"])
        .code(1)
        .stderr_has("`elsewhere`")
        .stderr_has("cairn init");
    assert!(
        !p.path("cairn.db").exists(),
        "no database is created before the migrations are read"
    );
}

#[test]
fn cairn_toml_is_honoured_and_the_environment_overrides_it() {
    let p = Project::new();
    p.write("cairn.toml", "database_url = \"sqlite://from_toml.db\"\nmigrations_dir = \"db/migs\"\nhistory_table = \"schema_log\"\n");
    p.write(
        "db/migs/1_create_users/up.sql",
        "CREATE TABLE users (id INTEGER);\n",
    );
    p.cairn(&["up"])
        .code(0)
        .stdout_has("applied 1 create_users");
    assert_eq!(
        p.tables_in("from_toml.db"),
        ["schema_log", "schema_log_log", "users"]
    );
    assert!(!p.path("cairn.db").exists());

    let env = [
        ("CAIRN_DATABASE_URL", "sqlite://from_env.db"),
        ("DATABASE_URL", "sqlite://ignored.db"),
    ];
    let json = p
        .cairn_env(&["status", "--format", "json"], &env)
        .code(0)
        .json();
    assert_eq!(json["database"], "sqlite://from_env.db");
    assert_eq!(states(&json), pairs(&[(1, "pending")]));
    p.cairn_env(&["up"], &env).code(0);
    assert!(p.tables_in("from_env.db").contains(&"users".to_owned()));
    assert!(!p.path("ignored.db").exists());

    let json = p
        .cairn_env(
            &[
                "--database-url",
                "sqlite://from_flag.db",
                "status",
                "--format",
                "json",
            ],
            &env,
        )
        .code(0)
        .json();
    assert_eq!(json["database"], "sqlite://from_flag.db");

    p.write(
        "cairn.toml",
        "database_url = \"sqlite://x.db\"\nmigration_dir = \"db\"\n",
    );
    p.cairn(&["status"])
        .code(1)
        .stderr_has("cairn.toml")
        .stderr_has("migration_dir");
    p.cairn(&["--config", "nope.toml", "status"])
        .code(1)
        .stderr_has("nope.toml");
}

#[test]
fn baseline_then_up_skips_baselined_migrations() {
    let p = Project::new();
    p.three_migrations();
    // An existing database that already has users and posts.
    p.db_at("cairn.db")
        .execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY); CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER);")
        .unwrap();
    p.cairn(&["baseline", "--version", "2"])
        .code(0)
        .stdout_has("baseline recorded at version 2");
    p.cairn(&["up"])
        .code(0)
        .stdout_has("applied 3 index_posts")
        .stdout_has("1 migration applied");
    let json = p.cairn(&["status", "--format", "json"]).code(0).json();
    assert_eq!(
        states(&json),
        pairs(&[(1, "baselined"), (2, "baseline"), (3, "applied")])
    );
    p.cairn(&["baseline", "--version", "3"])
        .code(1)
        .stderr_has("cannot baseline");
}

#[test]
fn bad_usage_exits_2() {
    let p = Project::new();
    p.cairn(&["down", "--steps", "1", "--all"])
        .code(2)
        .stderr_has("cannot be used with");
    p.cairn(&["down", "--to", "1", "--steps", "2"]).code(2);
    p.cairn(&["down", "--steps", "0"]).code(2);
    p.cairn(&["up", "--to", "soon"]).code(2);
    p.cairn(&["frobnicate"]).code(2);
    p.cairn(&["--format", "yaml", "status"]).code(2);
}

#[test]
fn help_documents_the_exit_codes() {
    let p = Project::new();
    p.cairn(&["--help"])
        .code(0)
        .stdout_has("Exit codes")
        .stdout_has("3  validation problem found")
        .stdout_has("4  timed out waiting for the migration lock");
}

#[test]
fn colour_is_off_when_stdout_is_not_a_terminal() {
    let p = Project::new();
    p.three_migrations();
    let run = p.cairn(&["up"]);
    run.code(0);
    assert!(!run.stdout.contains('\x1b'), "{:?}", run.stdout);
}

#[test]
fn a_database_locked_by_another_session_exits_4_after_retries() {
    let p = Project::new();
    p.three_migrations();
    p.write("cairn.toml", "lock_timeout = \"100ms\"\n");
    p.cairn(&["up", "--to", "1"]).code(0);
    // Another session holds SQLite's write lock for the whole run.
    let blocker = p.db_at("cairn.db");
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    p.cairn(&["up"])
        .code(4)
        .stderr_has("migration 2")
        .stderr_has("database is locked");
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    assert_eq!(p.history(), [1], "nothing was applied while locked");
    p.cairn(&["up"]).code(0);
    assert_eq!(p.history(), [1, 2, 3]);
}

/// `cairn verify`, `cairn schema dump` and `cairn drift` on SQLite.
mod verify_cli {
    use super::*;

    fn example_migrations() -> PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations")
    }

    /// A table the faulty migrations below change.
    fn base(p: &Project) {
        p.migration(
            1,
            "create_t",
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER);\n",
            Some("DROP TABLE t;\n"),
        );
    }

    #[test]
    fn verify_passes_a_correct_set() {
        let p = Project::new();
        p.three_migrations();
        p.cairn(&["verify"])
            .code(0)
            .stdout_has("ok 1 create_users")
            .stdout_has("ok 3 index_posts")
            .stdout_has("3 ok, 0 failed")
            // stderr is not a terminal here: no progress lines.
            .nowhere("verifying 1/3");
        let json = p.cairn(&["verify", "--format", "json"]);
        // The database now holds the migrations: a second run refuses.
        json.code(1);
        let q = Project::new();
        q.three_migrations();
        let json = q.cairn(&["verify", "--format", "json"]).code(0).json();
        assert_eq!(json["ok"], true);
        assert_eq!(json["report"]["migrations"][2]["outcome"], "ok");
    }

    #[test]
    fn verify_catches_a_rollback_that_forgets_an_index() {
        let p = Project::new();
        base(&p);
        p.migration(
            2,
            "index_t",
            "CREATE INDEX t_a ON t (a);\n",
            Some("-- forgot it\n"),
        );
        p.cairn(&["verify"])
            .code(3)
            .stdout_has("ok 1 create_t")
            .stdout_has("FAILED 2 index_t")
            .stdout_has("index `t_a`")
            .stdout_has("1 ok, 1 failed");
        let q = Project::new();
        base(&q);
        q.migration(
            2,
            "index_t",
            "CREATE INDEX t_a ON t (a);\n",
            Some("-- forgot it\n"),
        );
        let json = q.cairn(&["verify", "--format", "json"]).code(3).json();
        let m = &json["report"]["migrations"][1];
        assert_eq!(m["outcome"], "rollback-differs");
        assert_eq!(m["differences"][0]["stage"], "rollback");
        assert_eq!(m["differences"][0]["difference"]["change"], "added");
    }

    #[test]
    fn verify_catches_a_rollback_that_leaves_a_column() {
        let p = Project::new();
        base(&p);
        p.migration(
            2,
            "add_c",
            "ALTER TABLE t ADD COLUMN c INTEGER;\n",
            Some("-- nothing\n"),
        );
        p.cairn(&["verify"])
            .code(3)
            .stdout_has("FAILED 2 add_c")
            .stdout_has("column `c`");
    }

    #[test]
    fn verify_catches_a_down_that_drops_a_view_it_did_not_create() {
        let p = Project::new();
        base(&p);
        p.migration(
            2,
            "view_v",
            "CREATE VIEW v AS SELECT id FROM t;\n",
            Some("DROP VIEW v;\n"),
        );
        p.migration(
            3,
            "add_b",
            "ALTER TABLE t ADD COLUMN b INTEGER;\n",
            Some("ALTER TABLE t DROP COLUMN b;\nDROP VIEW v;\n"),
        );
        p.cairn(&["verify"])
            .code(3)
            .stdout_has("ok 2 view_v")
            .stdout_has("FAILED 3 add_b")
            .stdout_has("view `v`");
    }

    #[test]
    fn verify_catches_a_down_that_forgets_a_trigger() {
        let p = Project::new();
        base(&p);
        p.migration(
            2,
            "trigger_t",
            "CREATE TABLE audit (id INTEGER);\nCREATE TRIGGER t_audit AFTER INSERT ON t BEGIN INSERT INTO audit (id) VALUES (NEW.id); END;\n",
            Some("DROP TABLE audit;\n"),
        );
        p.migration(
            3,
            "add_b",
            "ALTER TABLE t ADD COLUMN b INTEGER;\n",
            Some("ALTER TABLE t DROP COLUMN b;\n"),
        );
        p.cairn(&["verify"])
            .code(3)
            .stdout_has("FAILED 2 trigger_t")
            .stdout_has("trigger `t_audit` added")
            .stdout_has("applying it again failed")
            .stdout_has("unchecked: verification stopped, 1 migration not checked: 3");
    }

    #[test]
    fn verify_reports_a_migration_without_down_as_irreversible() {
        let p = Project::new();
        base(&p);
        p.migration(
            2,
            "seed",
            "-- cairn:irreversible\nINSERT INTO t (id, a) VALUES (1, 2);\n",
            None,
        );
        p.migration(
            3,
            "add_b",
            "ALTER TABLE t ADD COLUMN b INTEGER;\n",
            Some("ALTER TABLE t DROP COLUMN b;\n"),
        );
        p.cairn(&["verify"])
            .code(0)
            .stdout_has("irreversible 2 seed")
            .stdout_has("ok 3 add_b")
            .stdout_has("2 ok, 0 failed, 1 irreversible");
    }

    #[test]
    fn verify_refuses_a_database_that_is_not_empty() {
        let p = Project::new();
        p.three_migrations();
        p.db_at("cairn.db")
            .execute_batch("CREATE TABLE keep_me (id INTEGER);")
            .unwrap();
        let before = p.tables();
        p.cairn(&["verify"])
            .code(1)
            .stderr_has("not empty")
            .stderr_has("keep_me");
        assert_eq!(p.tables(), before);
        assert_eq!(before, vec!["keep_me".to_owned()]);
    }

    #[test]
    fn verify_from_and_to_limit_the_checks() {
        let p = Project::new();
        p.three_migrations();
        p.cairn(&["verify", "--from", "2", "--to", "2"])
            .code(0)
            .stdout_has("verifying 1 migration")
            .stdout_has("1 older migration applied first")
            .stdout_has("ok 2 create_posts")
            .nowhere("index_posts");
    }

    fn dump_example() -> String {
        let p = Project::new();
        let dir = example_migrations();
        let dir = dir.to_str().unwrap();
        // The example written as SQL; its operations are online.rs's.
        p.cairn(&["--dir", dir, "up", "--to", "20260101090400"])
            .code(0);
        let first = p.cairn(&["schema", "dump"]).code(0).stdout.clone();
        let second = p.cairn(&["schema", "dump"]).code(0).stdout.clone();
        assert_eq!(first, second, "two dumps differ");
        let json = p
            .cairn(&["schema", "dump", "--format", "json"])
            .code(0)
            .json();
        assert_eq!(json["engine"], "sqlite");
        assert!(json["tables"]["users"]["columns"]["email"].is_object());
        assert!(json["tables"].get("cairn_history").is_none());
        first
    }

    #[test]
    fn schema_dump_of_the_example_project() {
        let text = dump_example();
        assert!(!text.contains("cairn_history"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn drift_finds_a_column_added_by_hand() {
        let p = Project::new();
        p.three_migrations();
        p.cairn(&["up"]).code(0);
        p.cairn(&["drift"]).code(0).stdout_has("no drift");
        p.db_at("cairn.db")
            .execute_batch("ALTER TABLE users ADD COLUMN nickname TEXT;")
            .unwrap();
        p.cairn(&["drift"])
            .code(3)
            .stdout_has("table `users`: column `nickname` added");
        let json = p.cairn(&["drift", "--format", "json"]).code(3).json();
        assert_eq!(json["drift"], true);
        assert_eq!(json["differences"][0]["difference"]["change"], "added");
    }

    #[test]
    fn drift_uses_a_given_scratch_database_and_refuses_a_full_one() {
        let p = Project::new();
        p.three_migrations();
        p.cairn(&["up"]).code(0);
        p.cairn(&["drift", "--scratch-url", "sqlite://scratch.db"])
            .code(0)
            .stdout_has("no drift");
        // scratch.db now holds the migrations: not a scratch database any more.
        p.cairn(&["drift", "--scratch-url", "sqlite://scratch.db"])
            .code(1)
            .stderr_has("scratch database is not empty");
    }

    /// The variables that name servers for `verify --engines`, removed.
    const NO_SERVERS: [(&str, &str); 2] = [
        ("CAIRN_VERIFY_POSTGRES_URL", ""),
        ("CAIRN_VERIFY_MYSQL_URL", ""),
    ];

    #[test]
    fn verify_engines_sqlite_uses_a_disposable_file_and_not_the_database_url() {
        let p = Project::new();
        p.three_migrations();
        let json = p
            .cairn_env(
                &["verify", "--engines", "sqlite", "--format", "json"],
                &NO_SERVERS,
            )
            .code(0)
            .json();
        assert_eq!(json["ok"], true);
        assert_eq!(json["engines"][0]["engine"], "sqlite");
        assert_eq!(
            json["engines"][0]["report"]["migrations"][2]["outcome"],
            "ok"
        );
        let file = json["engines"][0]["database"].as_str().expect("a database");
        let path = file.strip_prefix("sqlite://").expect("a sqlite URL");
        assert!(
            !std::path::Path::new(path).exists(),
            "{path} was left behind"
        );
        // The configured database (sqlite://cairn.db) was never opened.
        assert!(!p.path("cairn.db").exists());
        p.cairn_env(&["verify", "--engines", "sqlite"], &NO_SERVERS)
            .code(0)
            .stdout_has("== sqlite")
            .stdout_has("3 ok, 0 failed")
            .stdout_has("engines: sqlite ok");
    }

    #[test]
    fn verify_engines_names_the_variable_for_a_missing_server() {
        let p = Project::new();
        p.three_migrations();
        p.cairn_env(&["verify", "--engines", "sqlite,postgres"], &NO_SERVERS)
            .code(1)
            .stderr_has("no postgres server")
            .stderr_has("set CAIRN_VERIFY_POSTGRES_URL")
            // Nothing ran: not even the SQLite part.
            .nowhere("== sqlite");
        p.cairn_env(&["verify", "--engines", "mysql"], &NO_SERVERS)
            .code(1)
            .stderr_has("CAIRN_VERIFY_MYSQL_URL");
        p.cairn_env(&["verify", "--engines", "oracle"], &NO_SERVERS)
            .code(2)
            .stderr_has("unknown engine `oracle`");
    }

    #[test]
    fn verify_engines_reports_an_unreachable_server_without_its_password() {
        let p = Project::new();
        p.three_migrations();
        // Port 1: nothing listens there.
        let env = [
            (
                "CAIRN_VERIFY_POSTGRES_URL",
                "postgres://admin:hunter2@127.0.0.1:1/postgres",
            ),
            ("CAIRN_VERIFY_MYSQL_URL", ""),
        ];
        let run = p.cairn_env(
            &["verify", "--engines", "postgres,sqlite", "--format", "json"],
            &env,
        );
        run.code(1)
            .stderr_has("verification did not complete on postgres")
            .stderr_has("CAIRN_VERIFY_POSTGRES_URL")
            .nowhere("hunter2");
        let json = run.json();
        assert_eq!(json["ok"], false);
        assert_eq!(json["engines"][0]["ok"], false);
        assert!(json["engines"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot reach")));
        // The other engine still ran.
        assert_eq!(json["engines"][1]["ok"], true);
    }

    #[test]
    fn verify_seed_data_catches_rows_lost_by_down_and_up() {
        let p = Project::new();
        base(&p);
        p.migration(
            2,
            "add_b",
            "ALTER TABLE t ADD COLUMN b INTEGER;\n",
            Some("DROP TABLE t;\nCREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER);\n"),
        );
        // The schema is restored: without seed data verify passes.
        p.cairn(&["verify", "--engines", "sqlite"]).code(0);
        let run = p.cairn(&[
            "verify",
            "--engines",
            "sqlite",
            "--seed-data",
            "--format",
            "json",
        ]);
        let json = run.code(3).json();
        let m = &json["engines"][0]["report"]["migrations"][1];
        assert_eq!(m["outcome"], "rows-differ");
        assert_eq!(m["rows"][0]["table"], "t");
        assert_eq!(m["rows"][0]["missing"], 3);
        p.cairn(&["verify", "--engines", "sqlite", "--seed-data"])
            .code(3)
            .stdout_has("FAILED 2 add_b")
            .stdout_has("table `t`: 3 of 3 rows lost by down and up again");
    }

    #[test]
    fn verify_seed_data_names_a_table_it_cannot_fill() {
        let p = Project::new();
        p.migration(
            1,
            "strict",
            "CREATE TABLE strict_t (id INTEGER PRIMARY KEY, code TEXT NOT NULL CHECK (code = 'x'));\n",
            Some("DROP TABLE strict_t;\n"),
        );
        p.cairn(&["verify", "--seed-data"])
            .code(0)
            .stdout_has("ok 1 strict")
            .stdout_has("table `strict_t` not seeded")
            .stdout_has("CHECK constraint failed");
    }

    #[test]
    fn format_sql_is_only_for_schema_dump() {
        let p = Project::new();
        p.three_migrations();
        p.cairn(&["status", "--format", "sql"])
            .code(1)
            .stderr_has("--format sql is only for `cairn schema dump`");
        p.cairn(&["up"]).code(0);
        p.cairn(&["schema", "dump", "--format", "sql"])
            .code(0)
            .stdout_has("CREATE TABLE users (")
            .nowhere("cairn_history");
    }
}

#[test]
fn resume_refuses_a_rollback_that_failed_part_way() {
    let p = Project::new();
    p.migration(
        1,
        "two_tables",
        "-- cairn:no-transaction\nCREATE TABLE a (id INTEGER PRIMARY KEY);\nCREATE TABLE b (id INTEGER PRIMARY KEY);\n",
        Some("-- cairn:no-transaction\nDROP TABLE b;\nDROP TABLE no_such_table;\n"),
    );
    p.cairn(&["up"]).code(0);
    p.cairn(&["down"])
        .code(1)
        .stderr_has("rollback ran outside a transaction")
        .stderr_has("cairn repair");
    // The up script must not run again over a half-rolled-back migration.
    p.cairn(&["up", "--resume"])
        .code(1)
        .stderr_has("failed while rolling back");
    assert!(p.has_table("a"), "resume re-ran or undid something");
    assert!(!p.has_table("b"));
}

/// A table to backfill, with three rows, as migration 1.
fn backfill_project(toml: &str) -> Project {
    let p = Project::new();
    p.migration(
        1,
        "items",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, v INTEGER);\nINSERT INTO items (id, n) VALUES (1, 1), (2, 2), (3, 3);\n",
        Some("DROP TABLE items;\n"),
    );
    p.write("migrations/2_fill/migration.toml", toml);
    p
}

#[test]
fn a_backfill_runs_and_backfill_status_reports_it() {
    let p = backfill_project(
        "[[backfill]]\ntable = \"items\"\nset = \"v = n * 2\"\nwhere = \"v IS NULL\"\nbatch_size = 2\n",
    );
    p.cairn(&["backfill", "status"])
        .code(0)
        .stdout_has("no backfill has run");
    p.cairn(&["up"])
        .code(0)
        .stdout_has("applied 2 fill")
        .stdout_has("backfilled 3 rows")
        .stderr_has("backfill 2 (1/1) items: 3/3 rows (100%)");
    p.cairn(&["backfill", "status"])
        .code(0)
        .stdout_has("2 #1 items: done — 3/3 rows (100%), 3 changed, 0 rejected, 2 batches");
    let status = p.cairn(&["backfill", "status", "--format", "json"]).json();
    assert_eq!(status["backfills"][0]["rows_done"], 3, "{status}");
    assert_eq!(status["backfills"][0]["last_key"][0], "3", "{status}");
    let sum: i64 = p
        .db_at("cairn.db")
        .query_row("SELECT SUM(v) FROM items", [], |row| row.get(0))
        .unwrap();
    assert_eq!(sum, 12);
}

#[test]
fn an_unregistered_rust_backfill_names_the_file_and_writes_nothing() {
    let p = backfill_project("[[backfill]]\ntable = \"items\"\nrust = \"nope\"\n");
    p.cairn(&["up"])
        .code(1)
        .stderr_has("2_fill/migration.toml:1")
        .stderr_has("no data migration named `nope` is registered")
        .stderr_has("nothing was written");
    let filled: i64 = p
        .db_at("cairn.db")
        .query_row("SELECT COUNT(v) FROM items", [], |row| row.get(0))
        .unwrap();
    assert_eq!(filled, 0);
}

#[test]
fn a_bad_migration_toml_is_refused_before_anything_runs() {
    let p = backfill_project("[[backfill]]\ntable = \"items\"\nset = \"v = 1\"\nbatchsize = 5\n");
    p.cairn(&["up"])
        .code(1)
        .stderr_has("2_fill/migration.toml:4: migration.toml: unknown field `batchsize`");
    assert!(
        !p.path("cairn.db").exists() || p.tables().is_empty(),
        "{:?}",
        p.tables()
    );
}

#[test]
fn a_backfill_on_a_table_without_a_primary_key_is_refused() {
    let p = Project::new();
    p.migration(
        1,
        "loose",
        "CREATE TABLE loose (n INTEGER, v INTEGER);\n",
        Some("DROP TABLE loose;\n"),
    );
    p.write(
        "migrations/2_fill/migration.toml",
        "[[backfill]]\ntable = \"loose\"\nset = \"v = n\"\n",
    );
    p.cairn(&["up"])
        .code(1)
        .stderr_has("table `loose` has no primary key")
        .stderr_has("nothing was written");
}

#[test]
fn unusable_replica_urls_are_refused_with_their_origin() {
    let p = backfill_project("[[backfill]]\ntable = \"items\"\nset = \"v = n\"\n");
    p.cairn(&["up", "--replica-url", "oracle://secret:hunter2@db/x"])
        .code(1)
        .stderr_has("a --replica-url is not usable")
        .nowhere("hunter2");
    p.write("cairn.toml", "replica_urls = [\"nope\"]\n");
    p.cairn(&["up"])
        .code(1)
        .stderr_has("cairn.toml`: an entry of `replica_urls` is not usable");
    assert!(!p.path("cairn.db").exists(), "nothing may be created");
}

/// Scripts and history that would make Cairn lie: each is refused before
/// anything changes, or reported as what it is.
mod input {
    use super::*;

    const WRAPPED: &str = "BEGIN;\nCREATE TABLE wrapped (id INTEGER);\nCOMMIT;\n";

    #[test]
    fn input_transaction_control_in_a_transactional_script_is_refused_before_anything_changes() {
        let p = Project::new();
        p.migration(
            1,
            "first",
            "CREATE TABLE first (id INTEGER);\n",
            Some("DROP TABLE first;\n"),
        );
        p.migration(2, "wrapped", WRAPPED, Some("DROP TABLE wrapped;\n"));
        for args in [&["validate"][..], &["up", "--dry-run"], &["up"]] {
            p.cairn(args)
                .code(1)
                .stderr_has("migrations/2_wrapped/up.sql:1: `BEGIN` in the up script of migration 2 (wrapped)")
                .stderr_has("would end Cairn's transaction on sqlite")
                .stderr_has("nothing was changed")
                .stderr_has("-- cairn:no-transaction");
            assert_eq!(
                p.tables(),
                Vec::<String>::new(),
                "{args:?} changed the database"
            );
        }

        // Marked no-transaction, the script's own transaction is its business.
        p.migration(
            2,
            "wrapped",
            &format!("-- cairn:no-transaction\n{WRAPPED}"),
            Some("DROP TABLE wrapped;\n"),
        );
        p.cairn(&["validate"]).code(0);
        p.cairn(&["up"]).code(0).stdout_has("applied 2 wrapped");
        assert!(p.has_table("wrapped"));
        assert_eq!(p.history(), vec![1, 2]);

        // A down script is checked before it runs too; SAVEPOINTs are fine.
        p.migration(
            2,
            "wrapped",
            &format!("-- cairn:no-transaction\n{WRAPPED}"),
            Some("SAVEPOINT s;\nDROP TABLE wrapped;\nRELEASE s;\nEND TRANSACTION;\n"),
        );
        p.cairn(&["down"])
            .code(1)
            .stderr_has("migrations/2_wrapped/down.sql:4: `END TRANSACTION` in the down script");
        assert!(p.has_table("wrapped"));
        assert_eq!(p.history(), vec![1, 2]);
    }

    #[test]
    fn input_a_transaction_ended_by_the_engine_is_never_reported_as_rolled_back() {
        let p = Project::new();
        // `OR ROLLBACK` makes SQLite end the whole transaction on the conflict.
        p.migration(
            1,
            "conflict",
            "CREATE TABLE a (id INTEGER PRIMARY KEY);\nINSERT INTO a VALUES (1);\nINSERT OR ROLLBACK INTO a VALUES (1);\n",
            None,
        );
        p.cairn(&["up"])
            .code(1)
            .stderr_has("1_conflict/up.sql:3")
            .stderr_has("UNIQUE constraint failed")
            .stderr_has("Cairn's transaction had already ended when this statement failed")
            .stderr_has("Check the database")
            .nowhere("the database and the history are unchanged");
        assert_eq!(p.history(), Vec::<i64>::new());
    }

    #[test]
    fn input_a_nul_character_in_a_script_is_refused_with_its_line_and_column() {
        let p = Project::new();
        p.migration(
            1,
            "nul",
            "CREATE TABLE t (a TEXT);\nINSERT INTO t VALUES ('x\0y');\n",
            None,
        );
        for args in [&["status"][..], &["up"]] {
            p.cairn(args)
                .code(1)
                .stderr_has("migrations/1_nul/up.sql`:2:25 contains a NUL character");
        }
        assert_eq!(p.tables(), Vec::<String>::new());
    }

    /// Runs `cairn` and fails (killing it) if it has not finished within a minute.
    fn cairn_or_hang(p: &Project, args: &[&str]) -> Run {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(args)
            .current_dir(p.dir.path())
            .env_remove("CAIRN_DATABASE_URL")
            .env_remove("DATABASE_URL")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run cairn");
        let started = std::time::Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if started.elapsed() > std::time::Duration::from_secs(60) {
                let _ = child.kill();
                panic!("`cairn {args:?}` hung on a FIFO");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let output = child.wait_with_output().expect("output");
        Run {
            code: output.status.code().expect("exit code"),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    #[test]
    fn input_a_fifo_named_like_a_script_is_refused_without_hanging() {
        let p = Project::new();
        std::fs::create_dir_all(p.path("migrations/1_pipe")).unwrap();
        let made = Command::new("mkfifo")
            .arg(p.path("migrations/1_pipe/up.sql"))
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        for args in [&["status"][..], &["validate"], &["up"]] {
            let run = cairn_or_hang(&p, args);
            run.code(1)
                .stderr_has("migrations/1_pipe/up.sql` is a FIFO (named pipe), not a regular file")
                .stderr_has("did not open it");
        }
        assert_eq!(p.tables(), Vec::<String>::new());
    }

    #[test]
    fn input_history_names_too_long_for_the_engine_are_refused_before_connecting() {
        let p = Project::new();
        p.three_migrations();
        let long = "h".repeat(60);
        p.write("cairn.toml", &format!("history_table = \"{long}\"\n"));
        p.cairn(&[
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
            "status",
        ])
        .code(1)
        .stderr_has("cairn.toml`: history_table")
        .stderr_has("is 60 bytes long")
        .stderr_has(&format!("`{long}_backfill`"))
        .stderr_has("must fit in 63 bytes")
        .stderr_has("on postgres");
        p.write(
            "cairn.toml",
            &format!(
                "history_table = \"h\"\nhistory_schema = \"{}\"\n",
                "s".repeat(65)
            ),
        );
        p.cairn(&["--database-url", "mysql://nobody@127.0.0.1:1/none", "up"])
            .code(1)
            .stderr_has("history_schema")
            .stderr_has("65 characters long")
            .stderr_has("64 characters");
        // SQLite has no limit.
        p.write("cairn.toml", &format!("history_table = \"{long}\"\n"));
        p.cairn(&["up"]).code(0);
        assert!(p.has_table(&format!("{long}_log")));
    }

    #[test]
    fn input_new_sequential_after_the_largest_version_is_refused() {
        let p = Project::new();
        p.cairn(&["init"]).code(0);
        p.migration(i64::MAX, "last", "SELECT 1;\n", None);
        p.cairn(&["new", "next", "--sequential"])
            .code(1)
            .stderr_has("cannot number a new migration after version 9223372036854775807")
            .nowhere("-9223372036854775808");
        let entries: Vec<_> = std::fs::read_dir(p.path("migrations")).unwrap().collect();
        assert_eq!(entries.len(), 1, "a folder was created");
    }

    /// Applies one migration, then changes its history row with `sql`.
    fn tampered(sql: &str) -> Project {
        let p = Project::new();
        p.migration(
            1,
            "users",
            "-- cairn:no-transaction\nCREATE TABLE users (id INTEGER);\n",
            Some("DROP TABLE users;\n"),
        );
        p.cairn(&["up"]).code(0);
        p.db_at("cairn.db").execute_batch(sql).unwrap();
        p
    }

    #[test]
    fn input_tampered_history_rows_are_refused_by_every_command_that_reads_them() {
        let cases = [
            (
                "UPDATE cairn_history SET statements_done = -1",
                "statements_done",
                "\"-1\"",
            ),
            (
                "UPDATE cairn_history SET execution_ms = -7",
                "execution_ms",
                "\"-7\"",
            ),
            (
                "UPDATE cairn_history SET kind = 'script'",
                "kind",
                "\"script\"",
            ),
            (
                "UPDATE cairn_history SET state = 'done'",
                "state",
                "\"done\"",
            ),
            (
                "UPDATE cairn_history SET applied_at = 'yesterday'",
                "applied_at",
                "\"yesterday\"",
            ),
            (
                "CREATE TABLE copy AS SELECT * FROM cairn_history; DROP TABLE cairn_history; \
                 ALTER TABLE copy RENAME TO cairn_history; \
                 INSERT INTO cairn_history SELECT * FROM cairn_history",
                "version",
                "\"1\"",
            ),
        ];
        for (sql, column, value) in cases {
            let p = tampered(sql);
            for args in [
                &["status"][..],
                &["validate"],
                &["up"],
                &["down"],
                &["repair"],
            ] {
                p.cairn(args)
                    .code(1)
                    .stderr_has("history table `\"cairn_history\"` on sqlite, row of version 1")
                    .stderr_has(&format!("column {column} holds {value}"))
                    .stderr_has("by hand")
                    .nowhere("18446744073709551615");
            }
            assert!(p.has_table("users"), "{sql}: something was rolled back");
        }
    }

    #[test]
    fn input_down_refuses_more_steps_than_applied_and_a_target_not_applied() {
        let p = Project::new();
        p.three_migrations();
        p.migration(
            4,
            "pending",
            "CREATE TABLE later (id INTEGER);\n",
            Some("DROP TABLE later;\n"),
        );
        p.cairn(&["up", "--to", "3"]).code(0);
        for args in [
            &["down", "--steps", "999"][..],
            &["down", "--steps", "4", "--dry-run"],
        ] {
            p.cairn(args)
                .code(1)
                .stderr_has("only 3 applied; nothing was rolled back. Use --all, or --steps 3");
        }
        p.cairn(&["down", "--to", "4"])
            .code(1)
            .stderr_has("migration 4 is not applied and no applied migration is newer than it");
        assert_eq!(p.history(), vec![1, 2, 3]);
        p.cairn(&["down", "--steps", "3"]).code(0);
        assert_eq!(p.history(), Vec::<i64>::new());
    }
}

/// Issue 9: names and error texts with backslashes reach the history exactly
/// on PostgreSQL with `standard_conforming_strings = off` (set on the
/// database, as legacy servers do) and on MariaDB when a migration enables
/// `NO_BACKSLASH_ESCAPES` on the session Cairn records it on.
#[cfg(feature = "servers")]
mod literal {
    use cairn::{Driver, Engine};
    use cairn_testkit::TestDatabase;

    use super::*;

    async fn connect(db: &TestDatabase) -> Box<dyn Driver> {
        crate::support::connect(db).await
    }

    /// `ALTER DATABASE <db> SET standard_conforming_strings = off`: every
    /// session that connects afterwards starts with legacy strings.
    async fn legacy_strings(db: &TestDatabase) {
        let mut driver = connect(db).await;
        let rows = driver
            .query("SELECT current_database()")
            .await
            .expect("current_database()");
        let name = rows[0][0].clone().expect("a database name");
        driver
            .execute(&format!(
                "ALTER DATABASE {} SET standard_conforming_strings = off",
                cairn::history::quote_ident(Engine::Postgres, &name)
            ))
            .await
            .expect("ALTER DATABASE ... SET standard_conforming_strings = off");
    }

    async fn text_rows(driver: &mut dyn Driver, sql: &str) -> Vec<Vec<Option<String>>> {
        driver
            .query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The names in the history and in the log, and `cairn status`'s name.
    async fn names(p: &Project, db: &TestDatabase, version: i64) -> (String, String, String) {
        let mut driver = connect(db).await;
        let history = text_rows(
            driver.as_mut(),
            &format!("SELECT name FROM cairn_history WHERE version = {version}"),
        )
        .await;
        let log = text_rows(
            driver.as_mut(),
            &format!("SELECT DISTINCT name FROM cairn_history_log WHERE version = {version}"),
        )
        .await;
        let status = p
            .cairn(&["--database-url", db.url(), "status", "--format", "json"])
            .code(0)
            .json();
        let shown = status["migrations"]
            .as_array()
            .expect("a migrations array")
            .iter()
            .find(|m| m["version"].as_i64() == Some(version))
            .and_then(|m| m["name"].as_str())
            .expect("the migration in status")
            .to_owned();
        let one = |rows: Vec<Vec<Option<String>>>| {
            assert_eq!(rows.len(), 1, "{rows:?}");
            rows[0][0].clone().expect("a name")
        };
        (one(history), one(log), shown)
    }

    /// Case 3: a folder name ending in `\` (a legal Cairn name) is stored
    /// and shown exactly.
    async fn a_name_ending_in_a_backslash(db: TestDatabase) {
        let p = Project::new();
        p.write(
            "migrations/20260101000000_x\\/up.sql",
            "CREATE TABLE t (id INTEGER);\n",
        );
        p.write("migrations/20260101000000_x\\/down.sql", "DROP TABLE t;\n");
        p.cairn(&["--database-url", db.url(), "up"])
            .code(0)
            .stdout_has("1 migration applied");
        assert_eq!(
            names(&p, &db, 20260101000000).await,
            ("x\\".to_owned(), "x\\".to_owned(), "x\\".to_owned())
        );
        p.cairn(&["--database-url", db.url(), "validate"]).code(0);
    }

    #[tokio::test]
    async fn literal_a_name_ending_in_a_backslash_on_postgres_with_legacy_strings() {
        let db = cairn_testkit::postgres::database().await;
        legacy_strings(&db).await;
        a_name_ending_in_a_backslash(db).await;
    }

    #[tokio::test]
    async fn literal_a_name_ending_in_a_backslash_on_mysql() {
        a_name_ending_in_a_backslash(cairn_testkit::mysql::database().await).await;
    }

    const NO_BACKSLASH_ESCAPES: &str =
        "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES');\n";

    /// Case 4: a migration that enables `NO_BACKSLASH_ESCAPES` and whose name
    /// holds backslashes is recorded with its exact name.
    #[tokio::test]
    async fn literal_a_migration_enabling_no_backslash_escapes_is_recorded_exactly_on_mysql() {
        let db = cairn_testkit::mysql::database().await;
        let p = Project::new();
        p.write(
            "migrations/20260101000000_a\\b\\/up.sql",
            &format!("{NO_BACKSLASH_ESCAPES}CREATE TABLE t (id INTEGER);\n"),
        );
        p.write(
            "migrations/20260101000000_a\\b\\/down.sql",
            "DROP TABLE t;\n",
        );
        p.cairn(&["--database-url", db.url(), "up"]).code(0);
        assert_eq!(
            names(&p, &db, 20260101000000).await,
            (
                "a\\b\\".to_owned(),
                "a\\b\\".to_owned(),
                "a\\b\\".to_owned()
            )
        );
        p.cairn(&["--database-url", db.url(), "validate"]).code(0);
    }

    /// Case 4: a no-transaction migration that fails after enabling
    /// `NO_BACKSLASH_ESCAPES` leaves its error text exactly as the server gave it.
    #[tokio::test]
    async fn literal_an_error_after_enabling_no_backslash_escapes_is_stored_exactly_on_mysql() {
        let db = cairn_testkit::mysql::database().await;
        let p = Project::new();
        p.write(
            "migrations/20260101000000_c\\d/up.sql",
            &format!("-- cairn:no-transaction\n{NO_BACKSLASH_ESCAPES}SELECT * FROM `no\\such`;\n"),
        );
        let run = p.cairn(&["--database-url", db.url(), "up"]);
        assert_ne!(run.code, 0, "{run:?}");
        let mut driver = connect(&db).await;
        let rows = text_rows(
            driver.as_mut(),
            "SELECT name, state, error FROM cairn_history WHERE version = 20260101000000",
        )
        .await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        let [name, state, error] = [0, 1, 2].map(|i| rows[0][i].clone().unwrap_or_default());
        assert_eq!((name.as_str(), state.as_str()), ("c\\d", "failed"));
        assert!(
            error.contains("no\\such") && !error.contains("no\\\\such"),
            "the error names the table with one backslash: {error}"
        );
        let log = text_rows(
            driver.as_mut(),
            "SELECT name, detail FROM cairn_history_log WHERE version = 20260101000000",
        )
        .await;
        for row in &log {
            assert_eq!(row[0].as_deref(), Some("c\\d"), "{log:?}");
            let detail = row[1].clone().unwrap_or_default();
            assert!(
                !detail.contains("no\\\\such"),
                "no doubled backslash in the log: {detail}"
            );
        }
        assert!(
            run.stderr.contains("no\\such"),
            "the error is shown with the table's name: {run:?}"
        );
    }
}

/// Connections that cannot hang and URLs that mean what they say (issue 9
/// item 6, parts of 10), through the binary.
mod conn {
    use std::time::{Duration, Instant};

    use cairn_testkit::netfault::SilentServer;

    use super::*;

    #[test]
    fn conn_sqlite_commands_that_change_nothing_create_no_file() {
        let p = Project::new();
        p.three_migrations();
        let runs: Vec<(&[&str], Option<i32>)> = vec![
            (&["status"], Some(0)),
            (&["status", "--format", "json"], Some(0)),
            (&["validate"], None),
            (&["up", "--dry-run"], Some(0)),
            (&["down", "--dry-run"], None),
            (&["up", "--to", "999"], None),
            (&["redo"], Some(1)),
            (&["backfill", "status"], None),
            (&["schema", "dump"], Some(0)),
        ];
        for (args, code) in runs {
            let run = p.cairn(args);
            if let Some(code) = code {
                run.code(code);
            }
            assert!(
                !p.path("cairn.db").exists(),
                "`cairn {}` created cairn.db\n{run:?}",
                args.join(" ")
            );
        }
        // The missing file reads as an empty database: everything pending.
        let status = p.cairn(&["status", "--format", "json"]).code(0).json();
        assert_eq!(
            states(&status),
            pairs(&[(1, "pending"), (2, "pending"), (3, "pending")])
        );
        // The first write creates it.
        p.cairn(&["up", "--to", "1"]).code(0);
        assert_eq!(p.history(), vec![1]);
    }

    #[test]
    fn conn_sqlite_mode_ro_reads_and_refuses_writes() {
        let p = Project::new();
        p.three_migrations();
        p.cairn(&["up", "--to", "1"]).code(0);
        let url = "sqlite://cairn.db?mode=ro";
        p.cairn(&["--database-url", url, "status"])
            .code(0)
            .stdout_has("pending");
        p.cairn(&["--database-url", url, "up"])
            .code(1)
            .stderr_has("readonly database")
            .stderr_has("mode=ro");
        assert_eq!(p.history(), vec![1]);
        assert!(!p.has_table("posts"), "{:?}", p.tables());
        // An absolute path, read-only too.
        let absolute = format!("sqlite://{}?mode=ro", p.path("cairn.db").display());
        p.cairn(&["--database-url", &absolute, "up"])
            .code(1)
            .stderr_has("mode=ro");
        assert_eq!(p.history(), vec![1]);
    }

    #[test]
    fn conn_sqlite_mode_rw_needs_the_file_and_unknown_parameters_are_refused() {
        let p = Project::new();
        p.three_migrations();
        p.cairn(&["--database-url", "sqlite://new.db?mode=rw", "up"])
            .code(1)
            .stderr_has(
                "SQLite database `new.db` does not exist: mode=rw opens an existing file only",
            );
        p.cairn(&["--database-url", "sqlite://new.db?mode=ro", "status"])
            .code(1)
            .stderr_has("does not exist: mode=ro");
        p.cairn(&["--database-url", "sqlite://new.db?journal=wal", "up"])
            .code(1)
            .stderr_has("unknown parameter `journal`")
            .stderr_has("mode=ro, mode=rw or mode=rwc");
        p.cairn(&["--database-url", "sqlite://new.db?mode=wrc", "up"])
            .code(1)
            .stderr_has("unknown mode `wrc`");
        assert!(!p.path("new.db").exists(), "a refused URL created the file");
        // mode=rw on an existing file writes.
        p.cairn(&["up", "--to", "1"]).code(0);
        p.cairn(&["--database-url", "sqlite://cairn.db?mode=rw", "up"])
            .code(0);
        assert_eq!(p.history(), vec![1, 2, 3]);
    }

    #[test]
    fn conn_a_server_that_never_answers_ends_status_within_connect_timeout() {
        let p = Project::new();
        p.three_migrations();
        let silent = SilentServer::start();
        for (scheme, server) in [("postgres", "PostgreSQL"), ("mysql", "MySQL")] {
            let url = format!(
                "{scheme}://app:hunter2@127.0.0.1:{}/x?connect_timeout=2",
                silent.port()
            );
            let started = Instant::now();
            let run = p.cairn(&["status", "--database-url", &url]);
            let took = started.elapsed();
            assert!(took < Duration::from_secs(20), "{scheme}: took {took:?}");
            run.code(1)
                .stderr_has(&format!("{scheme}://app:***@127.0.0.1:{}/x", silent.port()))
                .stderr_has(&format!("no answer from a {server} server within 2 s"))
                .stderr_has("connect_timeout")
                .nowhere("hunter2");
        }
    }

    #[test]
    fn conn_an_unencoded_password_gets_a_hint_and_is_never_printed() {
        let p = Project::new();
        p.three_migrations();
        for url in [
            "postgres://app:hunt@er2/x@127.0.0.1:5432/db",
            "postgres://app:hunt#er2@127.0.0.1:5432/db",
            "mysql://root:hunt@er2/x@127.0.0.1:3306/test",
            "mysql://root:hunt?er2@127.0.0.1:3306/test",
        ] {
            p.cairn(&["status", "--database-url", url])
                .code(1)
                .stderr_has("percent-encode it (e.g. @ → %40")
                .nowhere("hunt")
                .nowhere("er2");
        }
    }
}

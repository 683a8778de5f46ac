//! The zero-downtime life cycle through the `cairn` binary (ZERO-DOWNTIME.md
//! §3), on the example project's operations: `20260101090500_rename_users_name`
//! (`users.name` → `full_name`) and `20260101090600_add_users_mailbox` (a
//! column computed from two others).
//!
//! - `cairn up` stops at `expanded` and says what to do next; both
//!   application versions work meanwhile (an old-version and a new-version
//!   write, each read back through the other's column).
//! - `cairn status` (text and JSON) lists the expanded migration, what each
//!   version may use, and the next command.
//! - `cairn contract`, `cairn down` (un-contract, back to `expanded`) and
//!   `cairn abort`, each with `--dry-run` (changes nothing) and `--format json`.
//! - `cairn up --contract` goes through every phase at once.
//! - A table lock held by another session: exit 4, and the message says how
//!   to continue or undo the phase; running the same command continues it.
//! - Bad operations (an unknown kind, a missing `up`, a column that does not
//!   exist) are refused naming `migration.toml:<line>`, the database unchanged.

use std::path::{Path, PathBuf};

use crate::support::{cairn, connect, spawn_in, write, Finished};
use cairn::Driver;
use cairn_testkit::TestDatabase;

const RENAME: &str = "20260101090500";
const MAILBOX: &str = "20260101090600";
/// The last example migration written as SQL.
const LAST_SQL: &str = "20260101090400";

/// A copy of the example project in `db`'s scratch directory.
fn example(db: &TestDatabase) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let to = db.scratch_dir().join("migrations");
    for entry in std::fs::read_dir(&from).expect("the example project") {
        let entry = entry.expect("an example migration");
        let target = to.join(entry.file_name());
        std::fs::create_dir_all(&target).expect("the copy's folder");
        for file in std::fs::read_dir(entry.path()).expect("its files") {
            let file = file.expect("a file");
            std::fs::copy(file.path(), target.join(file.file_name())).expect("copied");
        }
    }
    to
}

fn json(finished: &Finished) -> serde_json::Value {
    serde_json::from_str(&finished.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{finished}"))
}

/// The state of `version` in `cairn status --format json`.
async fn state(db: &TestDatabase, dir: &Path, version: &str) -> String {
    let status = cairn(db, dir, &["status", "--format", "json"]).await;
    let value = json(&status);
    value["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .find(|m| m["version"].as_i64() == version.parse().ok())
        .and_then(|m| m["state"].as_str())
        .unwrap_or_else(|| panic!("{version} not in {value}"))
        .to_owned()
}

/// The one value `sql` returns, or the error.
async fn value(driver: &mut dyn Driver, sql: &str) -> Result<Option<String>, String> {
    driver
        .query(sql)
        .await
        .map(|rows| {
            rows.into_iter()
                .next()
                .and_then(|row| row.into_iter().next().flatten())
        })
        .map_err(|e| e.to_string())
}

async fn text(driver: &mut dyn Driver, sql: &str) -> String {
    value(driver, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: no value"))
}

/// Whether `users` has the column `column`.
async fn has_column(driver: &mut dyn Driver, column: &str) -> bool {
    value(driver, &format!("SELECT {column} FROM users WHERE 1 = 0"))
        .await
        .is_ok()
}

/// The example applied up to its SQL part, with one user (Ada) written by
/// the old application version.
async fn before_the_rename(db: &TestDatabase) -> PathBuf {
    let dir = example(db);
    cairn(db, &dir, &["up", "--to", LAST_SQL]).await.success();
    let mut driver = connect(db).await;
    driver
        .execute(
            "INSERT INTO users (id, email, name) VALUES (1, 'ada@example.com', 'Ada Lovelace')",
        )
        .await
        .expect("the old version inserts Ada");
    dir
}

const NEXT: &str = "next: deploy the new application version (it uses users.full_name), then run `cairn contract 20260101090500`; `cairn abort 20260101090500` undoes the expand";

/// up (expanded) → both versions write → status → contract → down (back to
/// expanded) → abort: each step's output, state and columns.
async fn life_cycle(db: TestDatabase) {
    let dir = before_the_rename(&db).await;
    // up --dry-run names the phase it would run, not only the direction.
    let dry = cairn(&db, &dir, &["up", "--dry-run"]).await;
    assert!(
        dry.success()
            .contains(&format!("-- expand {RENAME} rename_users_name")),
        "{dry}"
    );
    assert_eq!(state(&db, &dir, RENAME).await, "pending");
    let up = cairn(&db, &dir, &["up"]).await;
    let stdout = up.success();
    assert!(
        stdout.contains(&format!("expanded {RENAME} rename_users_name")),
        "{up}"
    );
    assert!(stdout.contains("1 migration expanded"), "{up}");
    assert!(stdout.contains(NEXT), "{up}");
    assert_eq!(state(&db, &dir, RENAME).await, "expanded");
    assert_eq!(
        state(&db, &dir, MAILBOX).await,
        "pending",
        "up does not apply later migrations over an expanded one"
    );

    // Both application versions work, each sees the other's writes.
    let mut app = connect(&db).await;
    assert_eq!(
        text(app.as_mut(), "SELECT full_name FROM users WHERE id = 1").await,
        "Ada Lovelace",
        "the backfill copied the old rows"
    );
    app.execute(
        "INSERT INTO users (id, email, full_name) VALUES (2, 'bob@example.com', 'Bob Babbage')",
    )
    .await
    .expect("the new version inserts Bob");
    assert_eq!(
        text(app.as_mut(), "SELECT name FROM users WHERE id = 2").await,
        "Bob Babbage",
        "the old version reads what the new one wrote"
    );
    app.execute("UPDATE users SET name = 'Ada King' WHERE id = 1")
        .await
        .expect("the old version updates Ada");
    assert_eq!(
        text(app.as_mut(), "SELECT full_name FROM users WHERE id = 1").await,
        "Ada King",
        "the new version reads what the old one wrote"
    );

    // A second `up` applies nothing over the expanded migration, and says why.
    let again = cairn(&db, &dir, &["up"]).await;
    assert!(
        format!("{}{}", again.stdout, again.stderr).contains(&format!("cairn contract {RENAME}")),
        "{again}"
    );
    assert_eq!(state(&db, &dir, MAILBOX).await, "pending");

    let status = cairn(&db, &dir, &["status"]).await;
    for part in [
        "zero-downtime: 20260101090500 rename_users_name is expanded",
        "the old application version may use: users.name",
        "the new application version may use: users.full_name",
        NEXT,
    ] {
        assert!(status.stdout.contains(part), "{part:?} missing\n{status}");
    }

    // contract --dry-run prints the phase's SQL and changes nothing.
    let dry = cairn(&db, &dir, &["contract", "--dry-run"]).await;
    let sql = dry.success();
    assert!(sql.starts_with("-- dry run: nothing was changed"), "{dry}");
    assert!(
        sql.contains(&format!("-- contract {RENAME} rename_users_name")),
        "{dry}"
    );
    assert!(sql.to_lowercase().contains("drop"), "{dry}");
    assert_eq!(state(&db, &dir, RENAME).await, "expanded");
    assert!(has_column(app.as_mut(), "name").await);

    let contract = cairn(&db, &dir, &["contract", RENAME]).await;
    assert!(
        contract
            .success()
            .contains(&format!("contracted {RENAME} rename_users_name")),
        "{contract}"
    );
    assert_eq!(state(&db, &dir, RENAME).await, "applied");
    assert!(!has_column(app.as_mut(), "name").await, "name is dropped");
    assert_eq!(
        text(app.as_mut(), "SELECT full_name FROM users WHERE id = 2").await,
        "Bob Babbage"
    );

    // down --dry-run shows the un-contract and changes nothing.
    let dry = cairn(&db, &dir, &["down", "--dry-run"]).await;
    assert!(
        dry.success()
            .contains(&format!("-- uncontract {RENAME} rename_users_name")),
        "{dry}"
    );
    assert_eq!(state(&db, &dir, RENAME).await, "applied");
    assert!(!has_column(app.as_mut(), "name").await);

    // down of a contracted migration un-contracts: back to expanded.
    let down = cairn(&db, &dir, &["down"]).await;
    let stdout = down.success();
    assert!(
        stdout.contains(&format!("un-contracted {RENAME} rename_users_name")),
        "{down}"
    );
    assert!(stdout.contains("back to expanded"), "{down}");
    assert_eq!(state(&db, &dir, RENAME).await, "expanded");
    assert_eq!(
        text(app.as_mut(), "SELECT name FROM users WHERE id = 2").await,
        "Bob Babbage",
        "un-contract restores the old column from the new"
    );

    // abort --dry-run changes nothing; abort undoes the expand.
    let dry = cairn(&db, &dir, &["abort", "--dry-run", RENAME]).await;
    assert!(
        dry.success()
            .contains(&format!("-- abort {RENAME} rename_users_name")),
        "{dry}"
    );
    assert_eq!(state(&db, &dir, RENAME).await, "expanded");
    let abort = cairn(&db, &dir, &["abort"]).await;
    let stdout = abort.success();
    assert!(
        stdout.contains(&format!("aborted {RENAME} rename_users_name")),
        "{abort}"
    );
    assert!(stdout.contains("the expand is undone"), "{abort}");
    assert_eq!(state(&db, &dir, RENAME).await, "pending");
    assert!(
        !has_column(app.as_mut(), "full_name").await,
        "full_name is gone"
    );
    assert_eq!(
        text(app.as_mut(), "SELECT name FROM users WHERE id = 1").await,
        "Ada King"
    );
    assert_eq!(
        text(app.as_mut(), "SELECT name FROM users WHERE id = 2").await,
        "Bob Babbage",
        "rows the new version wrote survive the abort, in the old shape"
    );
}

/// The same life cycle with `--format json`: phases, states and next steps.
async fn life_cycle_json(db: TestDatabase) {
    let dir = before_the_rename(&db).await;
    let up = json(&cairn(&db, &dir, &["up", "--format", "json"]).await);
    assert_eq!(up["ok"], true, "{up}");
    assert_eq!(up["format_version"], 1, "{up}");
    let phases: Vec<(String, String)> = up["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .filter(|m| !m["phase"].is_null())
        .map(|m| {
            (
                m["version"].to_string(),
                m["phase"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(phases, [(RENAME.to_owned(), "expand".to_owned())], "{up}");
    assert_eq!(up["expanded"][0]["version"].to_string(), RENAME, "{up}");
    assert_eq!(up["expanded"][0]["state"], "expanded", "{up}");
    assert!(
        up["expanded"][0]["next"]
            .as_str()
            .is_some_and(|n| n.contains(&format!("cairn contract {RENAME}"))),
        "{up}"
    );

    let status = json(&cairn(&db, &dir, &["status", "--format", "json"]).await);
    let expanded = &status["expanded"][0];
    assert_eq!(expanded["name"], "rename_users_name", "{status}");
    assert_eq!(
        expanded["versions"]["old"],
        serde_json::json!(["users.name"]),
        "{status}"
    );
    assert_eq!(
        expanded["versions"]["new"],
        serde_json::json!(["users.full_name"]),
        "{status}"
    );

    let dry = json(&cairn(&db, &dir, &["contract", "--dry-run", "--format", "json"]).await);
    assert_eq!(dry["dry_run"], true, "{dry}");
    assert_eq!(dry["phase"], "contract", "{dry}");
    assert!(
        !dry["migrations"][0]["statements"]
            .as_array()
            .expect("statements")
            .is_empty(),
        "{dry}"
    );

    for (args, phase, after) in [
        (&["contract", "--format", "json"][..], "contract", "applied"),
        (&["down", "--format", "json"][..], "uncontract", "expanded"),
        (&["abort", "--format", "json"][..], "abort", "pending"),
    ] {
        let run = json(&cairn(&db, &dir, args).await);
        assert_eq!(run["ok"], true, "{args:?}: {run}");
        assert_eq!(run["migrations"][0]["phase"], phase, "{args:?}: {run}");
        assert_eq!(state(&db, &dir, RENAME).await, after, "{args:?}");
        assert_eq!(
            run["expanded"].as_array().map(Vec::len),
            Some(usize::from(after == "expanded")),
            "{args:?}: {run}"
        );
    }
}

/// `cairn up --contract` runs every phase of both operations; the computed
/// column holds `full_name <email>` for old rows, and is NOT NULL.
async fn up_contract(db: TestDatabase) {
    let dir = before_the_rename(&db).await;
    let up = cairn(&db, &dir, &["up", "--contract"]).await;
    let stdout = up.success();
    assert!(stdout.contains(&format!("contracted {RENAME}")), "{up}");
    assert!(stdout.contains(&format!("contracted {MAILBOX}")), "{up}");
    assert!(!stdout.contains("next:"), "{up}");
    assert_eq!(state(&db, &dir, RENAME).await, "applied");
    assert_eq!(state(&db, &dir, MAILBOX).await, "applied");
    let mut app = connect(&db).await;
    assert_eq!(
        text(app.as_mut(), "SELECT mailbox FROM users WHERE id = 1").await,
        "Ada Lovelace <ada@example.com>"
    );
    assert!(
        app.execute("INSERT INTO users (id, email, full_name) VALUES (3, 'c@example.com', 'C')")
            .await
            .is_err(),
        "mailbox is NOT NULL after contract"
    );
}

/// The computed column while expanded: rows the old version writes (which
/// does not know `mailbox`) get `up`; contract makes it NOT NULL.
async fn computed_column(db: TestDatabase) {
    let dir = before_the_rename(&db).await;
    cairn(&db, &dir, &["up"]).await.success();
    cairn(&db, &dir, &["contract"]).await.success();
    let up = cairn(&db, &dir, &["up"]).await;
    let stdout = up.success();
    assert!(
        stdout.contains(&format!("expanded {MAILBOX} add_users_mailbox")),
        "{up}"
    );
    assert!(
        stdout.contains(&format!(
            "next: deploy the new application version (it uses users.mailbox), then run `cairn contract {MAILBOX}`"
        )),
        "{up}"
    );
    let mut app = connect(&db).await;
    assert_eq!(
        text(app.as_mut(), "SELECT mailbox FROM users WHERE id = 1").await,
        "Ada Lovelace <ada@example.com>",
        "the backfill filled the old rows"
    );
    app.execute("INSERT INTO users (id, email, full_name) VALUES (2, 'bob@example.com', 'Bob')")
        .await
        .expect("the old version inserts without mailbox");
    assert_eq!(
        text(app.as_mut(), "SELECT mailbox FROM users WHERE id = 2").await,
        "Bob <bob@example.com>",
        "up fills the old version's rows"
    );
    cairn(&db, &dir, &["contract", MAILBOX]).await.success();
    assert_eq!(state(&db, &dir, MAILBOX).await, "applied");
}

/// Another session holds `users` in an open transaction: the expand gives
/// up after its retries with exit 4 and says how to go on; once the session
/// ends, the same command continues the phase.
async fn a_held_lock_exits_4(db: TestDatabase) {
    let dir = before_the_rename(&db).await;
    let config = db.scratch_dir().join("conf/cairn.toml");
    write(&config, "lock_retries = 1\n");
    let config_arg = config.display().to_string();
    let mut blocker = connect(&db).await;
    blocker.begin().await.expect("the blocker's transaction");
    blocker
        .query("SELECT count(*) FROM users")
        .await
        .expect("the blocker reads users");
    let up = spawn_in(
        &db,
        db.scratch_dir(),
        &dir,
        &["--config", &config_arg],
        &["up", "--operation-lock-timeout", "200ms"],
    )
    .finish()
    .await;
    assert_eq!(up.code(), Some(4), "{up}");
    for part in [
        "running `cairn up` again",
        &format!("`cairn abort {RENAME}`"),
    ] {
        assert!(up.stderr.contains(part), "{part:?} missing\n{up}");
    }
    blocker.commit().await.expect("the blocker ends");
    let again = cairn(&db, &dir, &["up"]).await;
    assert!(again.success().contains(NEXT), "{again}");
    assert_eq!(state(&db, &dir, RENAME).await, "expanded");
}

/// The same for contract: exit 4, then `cairn contract` again finishes it.
async fn a_held_lock_stops_contract_with_4(db: TestDatabase) {
    let dir = before_the_rename(&db).await;
    cairn(&db, &dir, &["up"]).await.success();
    let config = db.scratch_dir().join("conf/cairn.toml");
    write(
        &config,
        "lock_retries = 1\noperation_lock_timeout = \"200ms\"\n",
    );
    let config_arg = config.display().to_string();
    let mut blocker = connect(&db).await;
    blocker.begin().await.expect("the blocker's transaction");
    blocker
        .query("SELECT count(*) FROM users")
        .await
        .expect("the blocker reads users");
    let contract = spawn_in(
        &db,
        db.scratch_dir(),
        &dir,
        &["--config", &config_arg],
        &["contract"],
    )
    .finish()
    .await;
    assert_eq!(contract.code(), Some(4), "{contract}");
    assert!(
        contract
            .stderr
            .contains(&format!("running `cairn contract {RENAME}` again")),
        "{contract}"
    );
    blocker.commit().await.expect("the blocker ends");
    cairn(&db, &dir, &["contract"]).await.success();
    assert_eq!(state(&db, &dir, RENAME).await, "applied");
}

/// SQLite: another connection holds the write lock in an open transaction.
/// `cairn up` gives up after the busy timeout with exit 4 before the expand
/// starts (nothing recorded, nothing to abort); once the transaction ends,
/// `cairn up` expands.
async fn a_held_write_lock_exits_4_on_sqlite(db: TestDatabase) {
    let dir = before_the_rename(&db).await;
    let mut blocker = connect(&db).await;
    blocker.begin().await.expect("the blocker's transaction");
    blocker
        .execute("INSERT INTO users (id, email, name) VALUES (9, 'x@example.com', 'X')")
        .await
        .expect("the blocker writes users");
    let up = cairn(&db, &dir, &["up", "--operation-lock-timeout", "200ms"]).await;
    assert_eq!(up.code(), Some(4), "{up}");
    assert!(up.stderr.contains("database is locked"), "{up}");
    blocker.rollback().await.expect("the blocker ends");
    assert_eq!(state(&db, &dir, RENAME).await, "pending");
    let again = cairn(&db, &dir, &["up"]).await;
    assert!(again.success().contains(NEXT), "{again}");
}

/// A migration with `migration_toml` after a table `t (id, a)`: the run is
/// refused with exit 1 naming `migration.toml:3` and `words`, and changes
/// nothing (migration 2 pending, `t` as it was, no Cairn object).
async fn refused(db: TestDatabase, migration_toml: &str, words: &[&str]) {
    let dir = db.scratch_dir().join("bad");
    write(
        &dir.join("1_create_t/up.sql"),
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER);\n",
    );
    cairn(&db, &dir, &["up"]).await.success();
    write(
        &dir.join("2_change_t/migration.toml"),
        &format!("# a bad operation\n\n{migration_toml}"),
    );
    for args in [&["up"][..], &["up", "--dry-run"], &["up", "--contract"]] {
        let run = cairn(&db, &dir, args).await;
        assert_eq!(run.code(), Some(1), "{args:?}\n{run}");
        let location = Path::new("2_change_t").join("migration.toml:3");
        assert!(
            run.stderr.contains(&location.display().to_string()),
            "{args:?}: no {} in\n{run}",
            location.display()
        );
        for word in words {
            assert!(
                run.stderr.contains(word),
                "{args:?}: {word:?} missing\n{run}"
            );
        }
    }
    // Read directly: `status` itself refuses a migration.toml it cannot read.
    let mut check = connect(&db).await;
    assert_eq!(
        crate::support::count(check.as_mut(), "SELECT count(*) FROM cairn_history").await,
        1,
        "only migration 1 is recorded"
    );
    check
        .query("SELECT id, a FROM t")
        .await
        .expect("t is unchanged");
    let dump = cairn(&db, &dir, &["schema", "dump"]).await;
    assert!(!dump.success().contains("cairn_"), "{dump}");
}

async fn an_unknown_kind_is_refused(db: TestDatabase) {
    refused(
        db,
        "[[operation]]\nkind = \"rename_colum\"\ntable = \"t\"\ncolumn = \"a\"\nto = \"b\"\n",
        &["rename_colum", "rename_column"],
    )
    .await;
}

async fn a_missing_up_is_refused(db: TestDatabase) {
    refused(
        db,
        "[[operation]]\nkind = \"set_not_null\"\ntable = \"t\"\ncolumn = \"a\"\n",
        &["set_not_null", "`up`"],
    )
    .await;
}

async fn a_wrong_column_is_refused(db: TestDatabase) {
    refused(
        db,
        "[[operation]]\nkind = \"rename_column\"\ntable = \"t\"\ncolumn = \"nope\"\nto = \"b\"\n",
        &["rename_column", "nope"],
    )
    .await;
}

/// `contract` and `abort` with nothing in a phase fail and say so; nothing changes.
async fn nothing_to_contract_or_abort(db: TestDatabase) {
    let dir = before_the_rename(&db).await;
    for command in ["contract", "abort"] {
        let run = cairn(&db, &dir, &[command]).await;
        assert_eq!(run.code(), Some(1), "{command}\n{run}");
        assert!(
            run.stderr.contains(&format!("nothing to {command}")),
            "{command}\n{run}"
        );
        assert_eq!(state(&db, &dir, RENAME).await, "pending", "{command}");
    }
}

/// A bad `--operation-lock-timeout` (0, not a duration) or
/// `CAIRN_OPERATION_LOCK_TIMEOUT` is refused before the database is touched.
#[tokio::test]
async fn a_bad_operation_lock_timeout_is_refused() {
    let db = TestDatabase::sqlite();
    let dir = example(&db);
    for (value, words) in [
        ("0", "`--operation-lock-timeout` is 0"),
        (
            "soon",
            "--operation-lock-timeout is `soon`, which is not a duration",
        ),
    ] {
        for command in ["up", "contract", "abort", "down"] {
            let run = cairn(&db, &dir, &[command, "--operation-lock-timeout", value]).await;
            assert_eq!(run.code(), Some(1), "{command} {value}\n{run}");
            assert!(run.stderr.contains(words), "{command} {value}\n{run}");
        }
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["--database-url", db.url(), "--dir"])
        .arg(&dir)
        .arg("up")
        .current_dir(db.scratch_dir())
        .env("CAIRN_OPERATION_LOCK_TIMEOUT", "5 s")
        .output()
        .expect("cairn runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("CAIRN_OPERATION_LOCK_TIMEOUT is `5 s`")
    );
    let mut driver = connect(&db).await;
    assert_eq!(
        crate::support::table_count(driver.as_mut()).await,
        0,
        "a refused run changed the database"
    );
}

/// `cairn init` documents `operation_lock_timeout`, and cairn.toml's value is used.
#[tokio::test]
async fn the_config_template_documents_the_operation_lock_timeout() {
    let db = TestDatabase::sqlite();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("init")
        .current_dir(db.scratch_dir())
        .output()
        .expect("cairn runs");
    assert_eq!(output.status.code(), Some(0));
    let template = std::fs::read_to_string(db.scratch_dir().join("cairn.toml")).expect("written");
    assert!(
        template.contains("# operation_lock_timeout = \"500ms\""),
        "{template}"
    );
}

/// `cairn verify --seed-data` on the whole example: the SQL migrations by
/// down and up again, the operations by expand → abort and expand →
/// contract → down → abort, each compared with the schema and rows before.
async fn verify_the_whole_example(db: TestDatabase) {
    let dir = example(&db);
    let verify = cairn(&db, &dir, &["verify", "--seed-data"]).await;
    let stdout = verify.success();
    for version in [RENAME, MAILBOX] {
        assert!(stdout.contains(&format!("ok {version} ")), "{verify}");
    }
    assert!(stdout.contains("7 ok, 0 failed"), "{verify}");
}

/// The tests every engine runs, each on its own fresh database from `$db`.
macro_rules! online_cli_tests {
    ($db:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_example_goes_through_expand_contract_uncontract_and_abort() {
            life_cycle($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_life_cycle_in_json() {
            life_cycle_json($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn up_contract_runs_every_phase() {
            up_contract($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_computed_column_fills_old_writers_rows() {
            computed_column($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn input_an_unknown_kind_is_refused_before_anything_changes() {
            an_unknown_kind_is_refused($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn input_a_missing_up_is_refused_before_anything_changes() {
            a_missing_up_is_refused($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn input_a_wrong_column_is_refused_before_anything_changes() {
            a_wrong_column_is_refused($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn verify_checks_every_phase_of_the_example() {
            verify_the_whole_example($db).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn contract_and_abort_with_nothing_expanded_fail() {
            nothing_to_contract_or_abort($db).await;
        }
    };
}

mod sqlite {
    use super::*;

    online_cli_tests!(TestDatabase::sqlite());

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lockq_a_held_write_lock_exits_4_and_up_continues() {
        a_held_write_lock_exits_4_on_sqlite(TestDatabase::sqlite()).await;
    }
}

#[cfg(feature = "servers")]
mod postgres {
    use super::*;

    online_cli_tests!(cairn_testkit::postgres::database().await);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lockq_a_held_table_stops_the_expand_with_exit_4_and_up_continues_it() {
        a_held_lock_exits_4(cairn_testkit::postgres::database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lockq_a_held_table_stops_the_contract_with_exit_4_and_contract_continues_it() {
        a_held_lock_stops_contract_with_4(cairn_testkit::postgres::database().await).await;
    }
}

#[cfg(feature = "servers")]
mod mysql {
    use super::*;

    online_cli_tests!(cairn_testkit::mysql::database().await);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lockq_a_held_table_stops_the_expand_with_exit_4_and_up_continues_it() {
        a_held_lock_exits_4(cairn_testkit::mysql::database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lockq_a_held_table_stops_the_contract_with_exit_4_and_contract_continues_it() {
        a_held_lock_stops_contract_with_4(cairn_testkit::mysql::database().await).await;
    }
}

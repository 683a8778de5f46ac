//! Recovery and concurrency of the `cairn` binary (issue 9, items 7 and 8),
//! on every engine, following the advice Cairn prints.
//!
//! - `concurrent_*`: `up` ‖ `down`, and four `down --steps 1` at once, give
//!   the same result on SQLite as on PostgreSQL and MariaDB: whole runs are
//!   serialised, so there is never a hole in the history.
//! - `recover_*`: a run that dies after a statement completed on the server
//!   but before its progress was recorded (made deterministic by holding a
//!   lock on the history row from another session while the statement runs,
//!   then `kill -9` of the process and/or killing its session on the
//!   server), a lock timeout at a migration's first statement, and a SQLite
//!   no-transaction migration killed mid-statement. Each follows the printed
//!   advice to all-applied with the expected schema.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cairn::{Driver, Engine};
use cairn_testkit::TestDatabase;

/// How long any wait in these tests may take before it fails.
const DEADLINE: Duration = Duration::from_secs(60);

/// A project: a database and a migrations directory beside it.
struct Project {
    db: TestDatabase,
    dir: PathBuf,
}

/// What one run of `cairn` did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    #[track_caller]
    fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, Some(expected), "{self}");
        self
    }

    /// Asserts that stdout or stderr contains `needle`.
    #[track_caller]
    fn says(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle) || self.stderr.contains(needle),
            "the output lacks {needle:?}\n{self}"
        );
        self
    }
}

/// A `cairn` process, killed by its id if the test ends before it does.
struct Running(Option<Child>);

impl Running {
    fn kill_9(mut self) {
        let mut child = self.0.take().expect("the process");
        child.kill().expect("SIGKILL cairn");
        child.wait().expect("reap cairn");
    }

    fn finish(mut self) -> Run {
        Run::from(
            self.0
                .take()
                .expect("the process")
                .wait_with_output()
                .expect("cairn ends"),
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Project {
    fn new(db: TestDatabase) -> Self {
        let dir = db.scratch_dir().join("migrations");
        std::fs::create_dir_all(&dir).expect("migrations directory");
        Project { db, dir }
    }

    fn migration(&self, version: i64, name: &str, up: &str, down: &str) {
        let folder = self.dir.join(format!("{version}_{name}"));
        std::fs::create_dir_all(&folder).expect("migration folder");
        std::fs::write(folder.join("up.sql"), up).expect("up.sql");
        std::fs::write(folder.join("down.sql"), down).expect("down.sql");
    }

    /// `cairn.toml` in the directory `cairn` runs in.
    fn config(&self, text: &str) {
        std::fs::write(self.db.scratch_dir().join("cairn.toml"), text).expect("cairn.toml");
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command
            .args(["--database-url", self.db.url(), "--dir"])
            .arg(&self.dir)
            .args(args)
            .current_dir(self.db.scratch_dir())
            .env_remove("CAIRN_DATABASE_URL")
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        command
    }

    fn cairn(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("cairn runs"))
    }

    fn spawn(&self, args: &[&str]) -> Running {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cairn starts");
        Running(Some(child))
    }

    /// `(version, state)` of every migration, from `cairn status --format json`.
    fn states(&self) -> Vec<(i64, String)> {
        let run = self.cairn(&["status", "--format", "json"]);
        let json: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("status is not JSON ({e})\n{run}"));
        json["migrations"]
            .as_array()
            .unwrap_or_else(|| panic!("no migrations array\n{run}"))
            .iter()
            .map(|m| {
                (
                    m["version"].as_i64().expect("version"),
                    m["state"].as_str().expect("state").to_owned(),
                )
            })
            .collect()
    }

    /// The applied versions, checking that `status` reports no problem.
    #[track_caller]
    fn applied(&self) -> Vec<i64> {
        self.cairn(&["status"]).code(0);
        self.states()
            .into_iter()
            .filter(|(_, state)| state == "applied")
            .map(|(version, _)| version)
            .collect()
    }

    async fn connect(&self) -> Box<dyn Driver> {
        crate::support::connect(&self.db).await
    }
}

/// The first value of the first row of `sql`, `None` on no row or an error.
async fn scalar(driver: &mut dyn Driver, sql: &str) -> Option<String> {
    driver
        .query(sql)
        .await
        .ok()?
        .into_iter()
        .next()?
        .into_iter()
        .next()?
}

/// Polls `sql` until its first value satisfies `ok`; returns that value.
async fn wait_for(driver: &mut dyn Driver, sql: &str, ok: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        if let Some(value) = scalar(driver, sql).await {
            if ok(&value) {
                return value;
            }
        }
        assert!(started.elapsed() < DEADLINE, "waited in vain for {sql}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Five migrations, each creating one table.
fn five_tables(p: &Project) {
    for v in 1..=5 {
        p.migration(
            v,
            &format!("t{v}"),
            &format!("CREATE TABLE t{v} (id INT PRIMARY KEY);\n"),
            &format!("DROP TABLE t{v};\n"),
        );
    }
}

/// `up` and `down` started together: one runs after the other, so the
/// history is 1..=4 or 1..=5 without a hole, `status` reports nothing, and
/// a plain `up` then applies the rest.
async fn up_and_down_leave_no_hole(make: impl AsyncFn() -> TestDatabase, trials: usize) {
    for trial in 0..trials {
        let p = Project::new(make().await);
        five_tables(&p);
        p.cairn(&["up", "--to", "3"]).code(0);
        let up = p.spawn(&["up"]);
        let down = p.spawn(&["down"]);
        let (up, down) = (up.finish(), down.finish());
        up.code(0);
        down.code(0);
        let applied = p.applied();
        assert!(
            applied == [1, 2, 3, 4] || applied == [1, 2, 3, 4, 5],
            "trial {trial}: applied {applied:?}\n--- up:\n{up}\n--- down:\n{down}"
        );
        p.cairn(&["up"]).code(0);
        assert_eq!(p.applied(), [1, 2, 3, 4, 5], "trial {trial}");
    }
}

/// Four `down --steps 1` at once from five applied roll back exactly four.
async fn four_downs_roll_back_four(make: impl AsyncFn() -> TestDatabase, trials: usize) {
    for trial in 0..trials {
        let p = Project::new(make().await);
        five_tables(&p);
        p.cairn(&["up"]).code(0);
        let downs: Vec<Running> = (0..4).map(|_| p.spawn(&["down", "--steps", "1"])).collect();
        for run in downs {
            run.finish().code(0).says("1 migration rolled back");
        }
        assert_eq!(p.applied(), [1], "trial {trial}");
    }
}

/// What the statement in doubt does, and how the test holds it back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum InDoubtCase {
    /// `ALTER TABLE … ADD COLUMN`, held back by a transaction that read the
    /// table; running it again answers "duplicate column".
    AddColumn,
    /// `INSERT` of a key, held back by a transaction that inserted the same
    /// key; running it again answers "duplicate key", which proves nothing.
    Insert,
}

/// The id of the server session (other than ours) running `like`.
async fn session_running(driver: &mut dyn Driver, like: &str) -> String {
    let sql = match driver.dialect().engine() {
        Engine::Postgres => format!(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '{like}%'"
        ),
        _ => format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE '{like}%'"
        ),
    };
    wait_for(driver, &sql, |_| true).await
}

/// Waits until session `id` runs a statement starting with `like`.
async fn session_runs(driver: &mut dyn Driver, id: &str, like: &str) {
    let sql = match driver.dialect().engine() {
        Engine::Postgres => format!(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = {id} AND query LIKE '{like}%' AND wait_event_type = 'Lock'"
        ),
        _ => format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id} AND INFO LIKE '{like}%'"
        ),
    };
    wait_for(driver, &sql, |n| n == "1").await;
}

/// Ends server session `id` and waits until it is gone.
async fn end_session(driver: &mut dyn Driver, id: &str) {
    let (kill, alive) = match driver.dialect().engine() {
        Engine::Postgres => (
            format!("SELECT pg_terminate_backend({id})"),
            format!("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = {id}"),
        ),
        _ => (
            format!("KILL {id}"),
            format!("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id}"),
        ),
    };
    driver
        .query(&kill)
        .await
        .unwrap_or_else(|e| panic!("{kill}: {e}"));
    wait_for(driver, &alive, |n| n == "0").await;
}

/// Migration 2's first statement completes on the server, but its progress
/// write waits for a lock on the history row that the test holds; then the
/// run dies: `kill -9` of the process and its session ended on the server
/// (`kill_9`), or only its session ended (the run reports a lost
/// connection). Returns the project with migration 2 left `running` after
/// 0 statements, statement 1 completed.
async fn statement_done_progress_lost(
    db: TestDatabase,
    case: InDoubtCase,
    kill_9: bool,
) -> Project {
    let p = Project::new(db);
    // Waits for the locks the test holds must outlast the test's steps.
    p.config("lock_timeout = \"30s\"\n");
    p.migration(
        1,
        "t1",
        "CREATE TABLE t1 (id INT PRIMARY KEY, n INT);\n",
        "DROP TABLE t1;\n",
    );
    let (first, held_by) = match case {
        InDoubtCase::AddColumn => ("ALTER TABLE t1 ADD COLUMN c INT", "SELECT COUNT(*) FROM t1"),
        InDoubtCase::Insert => (
            "INSERT INTO t1 (id, n) VALUES (1, 1)",
            "INSERT INTO t1 (id, n) VALUES (1, 0)",
        ),
    };
    let second = match case {
        InDoubtCase::AddColumn => "CREATE INDEX t1_c ON t1 (c)",
        InDoubtCase::Insert => "UPDATE t1 SET n = n + 1 WHERE id = 1",
    };
    p.migration(
        2,
        "in_doubt",
        &format!("-- cairn:no-transaction\n{first};\n{second};\n"),
        "-- cairn:no-transaction\nDROP TABLE t1;\nCREATE TABLE t1 (id INT PRIMARY KEY, n INT);\n",
    );
    p.cairn(&["up", "--to", "1"]).code(0);

    let mut observer = p.connect().await;
    let mut statement_lock = p.connect().await;
    statement_lock.begin().await.expect("begin");
    statement_lock.execute(held_by).await.expect(held_by);
    let run = p.spawn(&["up"]);
    let session = session_running(observer.as_mut(), first).await;
    // The `running` row is committed; hold it so that the progress write waits.
    let mut row_lock = p.connect().await;
    row_lock.begin().await.expect("begin");
    let state = scalar(
        row_lock.as_mut(),
        "SELECT state FROM cairn_history WHERE version = 2 FOR UPDATE",
    )
    .await;
    assert_eq!(state.as_deref(), Some("running"));
    statement_lock.rollback().await.expect("rollback");
    session_runs(observer.as_mut(), &session, "UPDATE").await;
    if kill_9 {
        run.kill_9();
        end_session(observer.as_mut(), &session).await;
    } else {
        end_session(observer.as_mut(), &session).await;
        let failed = run.finish();
        failed
            .code(1)
            .says("recording progress after statement 1 of 2 of migration 2")
            .says("the statement completed")
            .says("cairn up --resume --skip-in-doubt");
    }
    row_lock.rollback().await.expect("rollback");
    let row = scalar(
        observer.as_mut(),
        "SELECT CONCAT(state, ' ', statements_done) FROM cairn_history WHERE version = 2",
    )
    .await;
    let row = match row {
        Some(row) => row,
        // PostgreSQL: CONCAT of text and bigint is fine; a NULL would show here.
        None => panic!("no history row for migration 2"),
    };
    assert_eq!(row, "running 0");

    // `status` and a plain `up` name the statement in doubt and what to run.
    let status = p.cairn(&["status"]);
    status
        .code(3)
        .says("statement 1 of 2 (")
        .says(&format!("up.sql:2: `{first}`"))
        .says("may or may not have completed")
        .says("cairn up --resume");
    p.cairn(&["up"])
        .code(3)
        .says("may or may not have completed")
        .says("cairn up --resume");
    p
}

/// A DDL statement that completed after its client died: `cairn up --resume`
/// runs it again, the database answers that the column exists, and the run
/// counts it as completed and finishes.
async fn kill_9_after_ddl_resumes(db: TestDatabase) {
    let p = statement_done_progress_lost(db, InDoubtCase::AddColumn, true).await;
    p.cairn(&["up", "--resume"])
        .code(0)
        .says("counted as completed")
        .says("1 migration applied");
    assert_eq!(p.applied(), [1, 2]);
    let mut driver = p.connect().await;
    assert_eq!(
        scalar(driver.as_mut(), "SELECT COUNT(c) FROM t1")
            .await
            .as_deref(),
        Some("0"),
        "column c exists"
    );
    // The index of statement 2 exists: creating it again fails.
    assert!(driver.execute("CREATE INDEX t1_c ON t1 (c)").await.is_err());
}

/// An INSERT that completed after its client died: running it again fails
/// (duplicate key proves nothing), the failure says `--skip-in-doubt`, and
/// that converges with the row inserted once.
async fn kill_9_after_insert_skips(db: TestDatabase) {
    let p = statement_done_progress_lost(db, InDoubtCase::Insert, true).await;
    p.cairn(&["up", "--resume"])
        .code(1)
        .says("was in doubt after an interrupted run, and running it again failed")
        .says("cairn up --resume --skip-in-doubt");
    p.cairn(&["status"])
        .code(3)
        .says("statement 1 of 2")
        .says("may or may not have completed")
        .says("--skip-in-doubt");
    converge_with_skip(&p).await;
}

/// The session is killed on the server after the INSERT completed: the run
/// says the statement completed and to use `--skip-in-doubt`, which converges.
async fn lost_connection_after_insert_skips(db: TestDatabase) {
    let p = statement_done_progress_lost(db, InDoubtCase::Insert, false).await;
    converge_with_skip(&p).await;
}

async fn converge_with_skip(p: &Project) {
    p.cairn(&["up", "--resume", "--skip-in-doubt"])
        .code(0)
        .says("recorded as completed without running it")
        .says("1 migration applied");
    assert_eq!(p.applied(), [1, 2]);
    let mut driver = p.connect().await;
    assert_eq!(
        scalar(driver.as_mut(), "SELECT COUNT(*) FROM t1")
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        scalar(driver.as_mut(), "SELECT n FROM t1 WHERE id = 1")
            .await
            .as_deref(),
        Some("2")
    );
}

/// A lock timeout at a no-transaction migration's first statement changes
/// nothing, so the history goes back to what it was: a plain retry heals,
/// for `up` (no row left) and for `down` (the row is applied again).
async fn lock_timeout_first_statement_retries(db: TestDatabase) {
    let p = Project::new(db);
    p.migration(
        1,
        "t1",
        "CREATE TABLE t1 (id INT PRIMARY KEY);\n",
        "DROP TABLE t1;\n",
    );
    p.migration(
        2,
        "add_c",
        "-- cairn:no-transaction\n-- cairn:lock-timeout 1s\nALTER TABLE t1 ADD COLUMN c INT;\nCREATE INDEX t1_c ON t1 (c);\n",
        "-- cairn:no-transaction\n-- cairn:lock-timeout 1s\nALTER TABLE t1 DROP COLUMN c;\n",
    );
    p.cairn(&["up", "--to", "1"]).code(0);
    let mut blocker = p.connect().await;

    blocker.begin().await.expect("begin");
    blocker
        .query("SELECT COUNT(*) FROM t1")
        .await
        .expect("read t1");
    p.cairn(&["up"])
        .code(4)
        .says("statement 1 (")
        .says("timed out waiting for a lock")
        .says("nothing changed and the history no longer mentions it")
        .says("retrying is safe: run cairn up again");
    assert_eq!(p.applied(), [1], "status reports no problem, 2 is pending");
    blocker.rollback().await.expect("rollback");
    p.cairn(&["up"]).code(0).says("1 migration applied");
    assert_eq!(p.applied(), [1, 2]);

    blocker.begin().await.expect("begin");
    blocker
        .query("SELECT COUNT(*) FROM t1")
        .await
        .expect("read t1");
    p.cairn(&["down"])
        .code(4)
        .says("nothing changed and the history marks it applied again")
        .says("retrying is safe");
    assert_eq!(p.applied(), [1, 2], "status reports no problem");
    blocker.rollback().await.expect("rollback");
    p.cairn(&["down"]).code(0).says("1 migration rolled back");
    assert_eq!(p.applied(), [1]);
}

macro_rules! server_tests {
    ($make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_up_and_down_leave_no_hole() {
            up_and_down_leave_no_hole(async || $make, 3).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_downs_roll_back_exactly_four() {
            four_downs_roll_back_four(async || $make, 3).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn recover_kill_9_after_a_ddl_statement_completed_resumes() {
            kill_9_after_ddl_resumes($make).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn recover_kill_9_after_an_insert_completed_skips_in_doubt() {
            kill_9_after_insert_skips($make).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn recover_lost_connection_after_an_insert_completed_skips_in_doubt() {
            lost_connection_after_insert_skips($make).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn recover_lock_timeout_at_the_first_statement_changes_nothing() {
            lock_timeout_first_statement_retries($make).await;
        }
    };
}

#[cfg(feature = "servers")]
mod postgres {
    use super::*;

    server_tests!(cairn_testkit::postgres::database().await);
}

#[cfg(feature = "servers")]
mod mysql {
    use super::*;

    server_tests!(cairn_testkit::mysql::database().await);
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_up_and_down_leave_no_hole() {
        up_and_down_leave_no_hole(async || TestDatabase::sqlite(), 5).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_downs_roll_back_exactly_four() {
        four_downs_roll_back_four(async || TestDatabase::sqlite(), 5).await;
    }

    /// A no-transaction migration killed during its second statement: the
    /// advice chain (`status` → `up --resume`) converges, whichever way the
    /// statement went.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recover_killed_no_transaction_migration_follows_the_advice() {
        let p = Project::new(TestDatabase::sqlite());
        p.migration(
            1,
            "big",
            "-- cairn:no-transaction\nCREATE TABLE a (id INTEGER PRIMARY KEY);\nCREATE TABLE big AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT x FROM c;\n",
            "DROP TABLE big;\nDROP TABLE a;\n",
        );
        let run = p.spawn(&["up"]);
        let mut observer = p.connect().await;
        wait_for(
            observer.as_mut(),
            "SELECT statements_done FROM cairn_history WHERE version = 1",
            |done| done == "1",
        )
        .await;
        run.kill_9();
        drop(observer);

        p.cairn(&["status"])
            .code(3)
            .says("after 1 statement(s) completed, and statement 2 of 2 (")
            .says("up.sql:3: `CREATE TABLE big AS WITH RECURSIVE")
            .says("may or may not have completed")
            .says("cairn up --resume");
        p.cairn(&["up"]).code(3).says("cairn up --resume");
        p.cairn(&["up", "--resume"])
            .code(0)
            .says("1 migration applied");
        assert_eq!(p.applied(), [1]);
        let mut driver = p.connect().await;
        assert_eq!(
            scalar(driver.as_mut(), "SELECT COUNT(*) FROM big")
                .await
                .as_deref(),
            Some("3000000")
        );
    }

    /// `--skip-in-doubt` on a statement that failed with an error (so did not
    /// complete) is refused and changes nothing; without `--resume` it is a
    /// usage error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recover_skip_in_doubt_refuses_a_statement_that_failed() {
        let p = Project::new(TestDatabase::sqlite());
        p.migration(
            1,
            "typo",
            "-- cairn:no-transaction\nCREATE TABLE a (id INTEGER PRIMARY KEY);\nINSERT INTO a_typo VALUES (1);\n",
            "DROP TABLE a;\n",
        );
        p.cairn(&["up"])
            .code(1)
            .says("fix the failing statement (leave the 1 before it unchanged) and run `cairn up --resume`");
        p.cairn(&["status"])
            .code(3)
            .says("failed part way after 1 statement(s) completed")
            .says("cairn up --resume");
        p.cairn(&["up", "--resume", "--skip-in-doubt"])
            .code(1)
            .says("has no statement in doubt: statement 2 failed with an error")
            .says("nothing was changed");
        p.cairn(&["up", "--skip-in-doubt"]).code(2).says("--resume");
        let states = p.states();
        assert_eq!(states, [(1, "failed".to_owned())]);
    }
}

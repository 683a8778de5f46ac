//! The crash suite: `kill -9` of `cairn up` at random points, on SQLite,
//! PostgreSQL and MySQL/MariaDB, then recovery by the advice Cairn prints.
//!
//! Per engine, one uninterrupted run gives the reference schema and how long a
//! whole `cairn up` takes; then [`TRIALS`] trials each get a fresh database,
//! start `cairn up` on the same migrations (transactional and
//! `-- cairn:no-transaction` ones, with slow-ish statements between the DDL)
//! and `kill -9` it after a random delay within that time. The delays come
//! from a seed, `CAIRN_CRASH_SEED` when set (to replay a failure), else the
//! clock; it is printed with every trial.
//!
//! Right after the kill the database must be **consistent** with its history:
//!
//! - a migration without a history row (pending) left none of its objects;
//! - an `applied` migration's objects all exist;
//! - only a `-- cairn:no-transaction` migration (every migration on MySQL) can
//!   be left `running` or `failed`, at most one, and applied migrations come
//!   first (no applied migration after an unfinished or pending one).
//!
//! Then it must **converge**: `cairn status` is read, the first `cairn …`
//! command it quotes in backticks is run (`cairn up` when it only lists
//! pending migrations), at most [`MAX_STEPS`] times, until every migration is
//! applied; the schema (`cairn schema dump --format json`) must then equal
//! the uninterrupted run's. A failure prints the seed, the delay and the whole
//! chain of advice followed, with each command's output.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{cairn, mix, seed, spawn, write, Finished};
use cairn::Engine;
use cairn_testkit::TestDatabase;

/// Trials per engine and run.
const TRIALS: u64 = 4;
/// Advice followed at most, per trial, before the trial counts as not converging.
const MAX_STEPS: usize = 3;

/// A statement that takes a while and changes nothing.
fn slow(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "SELECT pg_sleep(0.2);",
        Engine::Mysql => "SELECT SLEEP(0.2);",
        // SQLite has no sleep: count through a recursive CTE.
        Engine::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT count(*) FROM c;"
        }
        other => panic!("this test knows no {other} databases"),
    }
}

/// One migration of the set: its folder, whether it runs outside a
/// transaction, its statements, and the objects it creates (`table` or
/// `table.column`), for the consistency checks.
struct Step {
    folder: &'static str,
    no_transaction: bool,
    statements: Vec<String>,
    creates: &'static [&'static str],
}

fn steps(engine: Engine) -> Vec<Step> {
    let s = slow(engine).to_owned();
    let stmt = |text: &str| text.to_owned();
    vec![
        Step {
            folder: "1_base",
            no_transaction: false,
            statements: vec![
                stmt("CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER);"),
                stmt("INSERT INTO a (id, n) VALUES (1, 1), (2, 2), (3, 3);"),
                s.clone(),
            ],
            creates: &["a", "a.n"],
        },
        Step {
            folder: "2_b_outside",
            no_transaction: true,
            statements: vec![
                s.clone(),
                stmt("CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER);"),
                s.clone(),
                stmt("CREATE INDEX b_a ON b (a_id);"),
                s.clone(),
            ],
            creates: &["b", "b.a_id"],
        },
        Step {
            folder: "3_alter_a",
            no_transaction: false,
            statements: vec![
                stmt("ALTER TABLE a ADD COLUMN m INTEGER;"),
                s.clone(),
                stmt("UPDATE a SET m = n * 2;"),
                s.clone(),
            ],
            creates: &["a.m"],
        },
        Step {
            folder: "4_c_outside",
            no_transaction: true,
            statements: vec![
                stmt("CREATE TABLE c (id INTEGER PRIMARY KEY);"),
                s.clone(),
                stmt("ALTER TABLE c ADD COLUMN note VARCHAR(20);"),
                s.clone(),
            ],
            creates: &["c", "c.note"],
        },
        Step {
            folder: "5_d",
            no_transaction: false,
            statements: vec![s, stmt("CREATE TABLE d (id INTEGER PRIMARY KEY);")],
            creates: &["d"],
        },
    ]
}

/// Writes the migration set into the database's scratch directory.
fn project(db: &TestDatabase) -> PathBuf {
    let dir = db.scratch_dir().join("migrations");
    for step in steps(db.engine()) {
        let mut text = String::new();
        if step.no_transaction {
            text.push_str("-- cairn:no-transaction\n");
        }
        for statement in &step.statements {
            text.push_str(statement);
            text.push('\n');
        }
        write(&dir.join(step.folder).join("up.sql"), &text);
    }
    dir
}

/// `cairn schema dump --format json`, parsed.
async fn dump(db: &TestDatabase, dir: &Path) -> serde_json::Value {
    let out = cairn(db, dir, &["schema", "dump", "--format", "json"]).await;
    serde_json::from_str(out.success())
        .unwrap_or_else(|e| panic!("schema dump is not JSON ({e})\n{out}"))
}

/// Whether `object` (`table` or `table.column`) exists in `schema`.
fn exists(schema: &serde_json::Value, object: &str) -> bool {
    let (table, column) = match object.split_once('.') {
        Some((table, column)) => (table, Some(column)),
        None => (object, None),
    };
    let Some(table) = schema["tables"].get(table) else {
        return false;
    };
    column.is_none_or(|c| table["columns"].get(c).is_some())
}

/// Each migration's state from `cairn status --format json`, by folder order.
async fn states(db: &TestDatabase, dir: &Path) -> (Vec<String>, Finished) {
    let out = cairn(db, dir, &["status", "--format", "json"]).await;
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("status does not print JSON ({e})\n{out}"));
    let states = json["migrations"]
        .as_array()
        .unwrap_or_else(|| panic!("no migrations array\n{out}"))
        .iter()
        .map(|m| m["state"].as_str().unwrap_or("?").to_owned())
        .collect();
    (states, out)
}

/// The consistency of the history with the schema right after a kill; the
/// violations found.
fn inconsistencies(engine: Engine, states: &[String], schema: &serde_json::Value) -> Vec<String> {
    let steps = steps(engine);
    let mut found = Vec::new();
    if states.len() != steps.len() {
        found.push(format!(
            "status lists {} migrations, not {}",
            states.len(),
            steps.len()
        ));
        return found;
    }
    let mut unfinished = 0;
    let mut seen_not_applied = false;
    for (step, state) in steps.iter().zip(states) {
        match state.as_str() {
            "pending" => {
                for object in step.creates {
                    if exists(schema, object) {
                        found.push(format!("{} is pending but `{object}` exists", step.folder));
                    }
                }
            }
            "applied" => {
                if seen_not_applied {
                    found.push(format!(
                        "{} is applied after an unfinished or pending migration",
                        step.folder
                    ));
                }
                for object in step.creates {
                    if !exists(schema, object) {
                        found.push(format!(
                            "{} is applied but `{object}` does not exist",
                            step.folder
                        ));
                    }
                }
            }
            "running" | "failed" => {
                unfinished += 1;
                let outside = step.no_transaction || engine == Engine::Mysql;
                if !outside {
                    found.push(format!(
                        "{} ran in a transaction but is {state}",
                        step.folder
                    ));
                }
            }
            other => found.push(format!(
                "{} is in an unexpected state `{other}`",
                step.folder
            )),
        }
        if state != "applied" {
            seen_not_applied = true;
        }
    }
    if unfinished > 1 {
        found.push(format!("{unfinished} migrations are unfinished at once"));
    }
    found
}

/// The first `cairn …` command quoted in backticks in `text`, other than
/// `cairn status`, split into arguments.
fn advice(text: &str) -> Option<Vec<String>> {
    let mut rest = text;
    while let Some(start) = rest.find("`cairn ") {
        let after = &rest[start + 1..];
        let end = after.find('`')?;
        let command = &after[..end];
        rest = &after[end + 1..];
        if command.trim() == "cairn status" || command.contains('<') {
            continue;
        }
        return Some(
            command
                .split_whitespace()
                .skip(1)
                .map(str::to_owned)
                .collect(),
        );
    }
    None
}

/// One trial: kill after `delay`, check consistency, follow the advice, compare.
async fn trial(
    db: TestDatabase,
    reference: &serde_json::Value,
    label: &str,
    delay: Duration,
) -> Result<String, String> {
    let engine = db.engine();
    let dir = project(&db);
    let up = spawn(&db, &dir, &["up"]);
    tokio::time::sleep(delay).await;
    let killed = up.kill_9();
    let mut chain = format!(
        "{label}: `cairn up` killed after {delay:?} ({})\n--- its stdout:\n{}--- its stderr:\n{}",
        killed.status, killed.stdout, killed.stderr
    );

    let (after_kill, status_json) = states(&db, &dir).await;
    let schema = dump(&db, &dir).await;
    let _ = writeln!(chain, "states after the kill: {after_kill:?}");
    let problems = inconsistencies(engine, &after_kill, &schema);
    if !problems.is_empty() {
        return Err(format!(
            "{chain}INCONSISTENT after the kill: {problems:?}\n{status_json}"
        ));
    }

    let mut steps_taken = 0;
    loop {
        let (now, _) = states(&db, &dir).await;
        if now.iter().all(|s| s == "applied") {
            break;
        }
        if steps_taken == MAX_STEPS {
            return Err(format!(
                "{chain}DID NOT CONVERGE within {MAX_STEPS} steps: states {now:?}"
            ));
        }
        let status = cairn(&db, &dir, &["status"]).await;
        let text = format!("{}\n{}", status.stdout, status.stderr);
        let args = match advice(&text) {
            Some(args) => args,
            None if now.iter().any(|s| s == "pending") => vec!["up".to_owned()],
            None => {
                return Err(format!(
                    "{chain}NO ADVICE in `cairn status` for states {now:?}:\n{status}"
                ));
            }
        };
        let _ = writeln!(chain, "--- `cairn status` said:\n{}", text.trim_end());
        let args_ref: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = cairn(&db, &dir, &args_ref).await;
        let _ = writeln!(chain, "--- followed: `cairn {}`\n{ran}", args.join(" "));
        steps_taken += 1;
    }
    let converged = dump(&db, &dir).await;
    if &converged != reference {
        return Err(format!(
            "{chain}CONVERGED TO A DIFFERENT SCHEMA than an uninterrupted run:\n--- got:\n{converged:#}\n--- expected:\n{reference:#}"
        ));
    }
    Ok(format!("{label}: killed after {delay:?}, states {after_kill:?}, converged in {steps_taken} step(s)"))
}

/// The reference run and the trials on one engine; every trial runs, and the
/// test fails at the end naming each that did not hold up.
async fn crash_suite<F, Fut>(new_db: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = TestDatabase>,
{
    let reference_db = new_db().await;
    let engine = reference_db.engine();
    let dir = project(&reference_db);
    let started = Instant::now();
    cairn(&reference_db, &dir, &["up"]).await.success();
    let whole = started.elapsed();
    let reference = dump(&reference_db, &dir).await;
    drop(reference_db);

    let seed = seed("CAIRN_CRASH_SEED");
    let mut failures = Vec::new();
    for i in 0..TRIALS {
        let range = u64::try_from(whole.as_millis()).unwrap_or(u64::MAX).max(1);
        let delay = Duration::from_millis(20 + mix(seed.wrapping_add(i)) % range);
        let label = format!("{engine} trial {} of {TRIALS} (seed {seed})", i + 1);
        match trial(new_db().await, &reference, &label, delay).await {
            Ok(summary) => println!("{summary}"),
            Err(failure) => {
                println!("{label}: FAILED");
                failures.push(failure);
            }
        }
    }
    println!(
        "{engine}: an uninterrupted `cairn up` took {whole:?}; {} of {TRIALS} trials held up",
        TRIALS as usize - failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {TRIALS} crash trials on {engine} failed (replay with CAIRN_CRASH_SEED={seed}):\n\n{}",
        failures.len(),
        failures.join("\n\n==========\n\n")
    );
}

#[test]
fn advice_is_the_first_quoted_cairn_command_but_status() {
    assert_eq!(
        advice("run `cairn status`, then `cairn up --resume` or `cairn repair`"),
        Some(vec!["up".to_owned(), "--resume".to_owned()])
    );
    assert_eq!(advice("create one with `cairn new <name>`"), None);
    assert_eq!(advice("nothing to do"), None);
}

#[test]
fn a_pending_migration_with_its_table_is_inconsistent() {
    let schema = serde_json::json!({"tables": {"a": {"columns": {"n": {}}}, "b": {"columns": {}}}});
    let states: Vec<String> = ["applied", "pending", "pending", "pending", "pending"]
        .map(str::to_owned)
        .to_vec();
    let found = inconsistencies(Engine::Postgres, &states, &schema);
    assert_eq!(
        found,
        vec!["2_b_outside is pending but `b` exists".to_owned()]
    );
    let states: Vec<String> = ["applied", "applied", "running", "pending", "pending"]
        .map(str::to_owned)
        .to_vec();
    let found = inconsistencies(Engine::Postgres, &states, &schema);
    assert!(
        found
            .iter()
            .any(|f| f.contains("3_alter_a ran in a transaction but is running")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains("2_b_outside is applied but `b.a_id`")),
        "{found:?}"
    );
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_kill_9_at_random_points_is_consistent_and_converges_by_the_advice() {
        crash_suite(|| async { TestDatabase::sqlite() }).await;
    }
}

#[cfg(feature = "servers")]
mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_kill_9_at_random_points_is_consistent_and_converges_by_the_advice() {
        crash_suite(cairn_testkit::postgres::database).await;
    }
}

#[cfg(feature = "servers")]
mod mysql {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_kill_9_at_random_points_is_consistent_and_converges_by_the_advice() {
        crash_suite(cairn_testkit::mysql::database).await;
    }
}

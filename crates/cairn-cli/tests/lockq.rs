//! The lock queue (issue 9 item 9) end to end, through the `cairn` binary.
//!
//! - `lockq_*` (PostgreSQL, MariaDB): a session holds a transaction that read
//!   table `t`; `cairn up` runs `ALTER TABLE t ADD COLUMN …`, which waits
//!   behind it, while an "application" keeps reading `t` on other
//!   connections. Every new read queues behind the waiting `ALTER`, so the
//!   longest read measures how long Cairn lets a blocked statement stand in
//!   the queue: about one lock timeout (1 s by default), never the whole wait.
//!   When the blocker commits, the migration applies.
//! - When the retries run out, `cairn up` exits 4 and says how many attempts
//!   it made, how long each waited and what to raise.
//! - A lock timeout of 0, in cairn.toml or in a directive, is refused on every
//!   engine before anything is changed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{cairn, connect, spawn, spawn_in, table_count, write};
use cairn_testkit::TestDatabase;

/// The default lock timeout the tests rely on.
const LOCK_TIMEOUT: Duration = Duration::from_secs(1);

/// Migration 1: the table, applied before the blocker starts.
const CREATE_T: &str =
    "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER);\nINSERT INTO t (id, v) VALUES (1, 1), (2, 2);\n";
/// Migration 2: DDL that needs an exclusive lock on `t`.
const ALTER_T: &str = "ALTER TABLE t ADD COLUMN w INTEGER;\n";

/// A migrations directory with migration 1 applied and migration 2 written.
async fn prepared(db: &TestDatabase) -> PathBuf {
    let dir = db.scratch_dir().join("migrations");
    write(&dir.join("1_create_t/up.sql"), CREATE_T);
    cairn(db, &dir, &["up"]).await.success();
    write(&dir.join("2_add_w/up.sql"), ALTER_T);
    dir
}

/// The application: `readers` connections reading `t` in a loop until
/// stopped; the longest read in microseconds, and how many reads ran.
struct Application {
    stop: Arc<AtomicBool>,
    longest_us: Arc<AtomicU64>,
    reads: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    async fn start(db: &TestDatabase, readers: usize) -> Application {
        let stop = Arc::new(AtomicBool::new(false));
        let longest_us = Arc::new(AtomicU64::new(0));
        let reads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..readers {
            let mut driver = connect(db).await;
            let (stop, longest_us, reads) = (stop.clone(), longest_us.clone(), reads.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    driver
                        .query("SELECT count(*) FROM t")
                        .await
                        .expect("the application's read");
                    let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    longest_us.fetch_max(us, Ordering::Relaxed);
                    reads.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }));
        }
        Application {
            stop,
            longest_us,
            reads,
            tasks,
        }
    }

    /// Stops the readers (each finishes its read in flight) and returns the
    /// longest read and the number of reads.
    async fn stop(self) -> (Duration, usize) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("a reader task");
        }
        (
            Duration::from_micros(self.longest_us.load(Ordering::Relaxed)),
            self.reads.load(Ordering::Relaxed),
        )
    }
}

/// The lock-queue case: the blocker holds `t` for `hold`, `cairn up` waits
/// behind it with the default settings, the application keeps reading.
async fn application_waits_about_one_lock_timeout(db: TestDatabase) {
    let hold = Duration::from_secs(5);
    let dir = prepared(&db).await;
    let mut blocker = connect(&db).await;
    blocker.begin().await.expect("the blocker's transaction");
    blocker
        .query("SELECT count(*) FROM t")
        .await
        .expect("the blocker reads t");
    let app = Application::start(&db, 2).await;
    let started = Instant::now();
    let mut up = spawn(&db, &dir, &["up"]);
    tokio::time::sleep(hold).await;
    assert!(
        !up.has_exited(),
        "cairn up finished while the blocker still held t"
    );
    blocker.commit().await.expect("the blocker commits");
    let finished = up.finish().await;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (longest, reads) = app.stop().await;
    println!(
        "{}: longest application read {longest:?} ({:.2}x the lock timeout) over {reads} reads; cairn up took {took:?}",
        db.engine(),
        longest.as_secs_f64() / LOCK_TIMEOUT.as_secs_f64()
    );
    let out = finished.success();
    assert!(out.contains("applied 2 add_w"), "{finished}");
    assert!(reads > 20, "the application hardly ran: {reads} reads");
    let bound = LOCK_TIMEOUT * 3 + Duration::from_secs(1);
    assert!(
        longest <= bound,
        "an application read waited {longest:?} behind the blocked migration, more than {bound:?} (the lock timeout is {LOCK_TIMEOUT:?})\n{finished}"
    );
    let mut check = connect(&db).await;
    check
        .query("SELECT w FROM t")
        .await
        .expect("the column was added");
}

/// The retries run out while the blocker stays: exit 4, the attempts, the
/// timeout and the way out in the message; the column is not there.
async fn giving_up_exits_4_and_says_what_it_tried(db: TestDatabase) {
    let dir = prepared(&db).await;
    let config = db.scratch_dir().join("cairn.toml");
    write(&config, "lock_retries = 2\n");
    let mut blocker = connect(&db).await;
    blocker.begin().await.expect("the blocker's transaction");
    blocker
        .query("SELECT count(*) FROM t")
        .await
        .expect("the blocker reads t");
    let started = Instant::now();
    let config_arg = config.display().to_string();
    let finished = spawn_in(
        &db,
        db.scratch_dir(),
        &dir,
        &["--config", &config_arg],
        &["up"],
    )
    .finish()
    .await;
    let took = started.elapsed();
    assert_eq!(finished.code(), Some(4), "{finished}");
    for part in [
        "migration 2 (add_w)",
        "3 attempt(s)",
        "1000 ms each",
        "lock_retries",
        "cairn:lock-timeout",
    ] {
        assert!(
            finished.stderr.contains(part),
            "{part:?} missing\n{finished}"
        );
    }
    // Three waits of 1 s and two short pauses: well under the old 23 s.
    assert!(took < Duration::from_secs(15), "took {took:?}\n{finished}");
    blocker.commit().await.expect("the blocker commits");
    let mut check = connect(&db).await;
    let err = check
        .query("SELECT w FROM t")
        .await
        .expect_err("the column must not exist");
    assert!(!err.message.is_empty());
}

/// `lock_timeout = "0"` in cairn.toml and `-- cairn:lock-timeout 0` in a
/// migration are refused, naming where, before the database is touched.
async fn a_zero_lock_timeout_is_refused(db: TestDatabase) {
    let dir = db.scratch_dir().join("migrations");
    write(&dir.join("1_create_t/up.sql"), CREATE_T);
    // Not in the working directory, where the second run would find it.
    let config = db.scratch_dir().join("conf/cairn.toml");
    write(&config, "lock_timeout = \"0\"\n");
    let config_arg = config.display().to_string();
    let finished = spawn_in(
        &db,
        db.scratch_dir(),
        &dir,
        &["--config", &config_arg],
        &["up"],
    )
    .finish()
    .await;
    assert_eq!(finished.code(), Some(1), "{finished}");
    assert!(
        finished.stderr.contains("`lock_timeout` in `")
            && finished.stderr.contains("cairn.toml` is 0")
            && finished.stderr.contains("`1s`"),
        "{finished}"
    );

    write(
        &dir.join("2_add_w/up.sql"),
        &format!("-- cairn:lock-timeout 0\n{ALTER_T}"),
    );
    let finished = cairn(&db, &dir, &["up"]).await;
    assert_ne!(finished.code(), Some(0), "{finished}");
    let location = Path::new("2_add_w").join("up.sql");
    assert!(
        finished
            .stderr
            .contains(&format!("{}:1", location.display()))
            && finished.stderr.contains("`cairn:lock-timeout` is 0"),
        "{finished}"
    );
    let mut check = connect(&db).await;
    assert_eq!(
        table_count(check.as_mut()).await,
        0,
        "a refused run created tables"
    );
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_zero_lock_timeout_is_refused_and_changes_nothing() {
        a_zero_lock_timeout_is_refused(TestDatabase::sqlite()).await;
    }
}

#[cfg(feature = "servers")]
mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn lockq_application_waits_about_one_lock_timeout_behind_a_blocked_alter() {
        application_waits_about_one_lock_timeout(cairn_testkit::postgres::database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lockq_giving_up_exits_4_and_says_what_it_tried() {
        giving_up_exits_4_and_says_what_it_tried(cairn_testkit::postgres::database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_zero_lock_timeout_is_refused_and_changes_nothing() {
        a_zero_lock_timeout_is_refused(cairn_testkit::postgres::database().await).await;
    }
}

#[cfg(feature = "servers")]
mod mysql {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn lockq_application_waits_about_one_lock_timeout_behind_a_blocked_alter() {
        application_waits_about_one_lock_timeout(cairn_testkit::mysql::database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lockq_giving_up_exits_4_and_says_what_it_tried() {
        giving_up_exits_4_and_says_what_it_tried(cairn_testkit::mysql::database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_zero_lock_timeout_is_refused_and_changes_nothing() {
        a_zero_lock_timeout_is_refused(cairn_testkit::mysql::database().await).await;
    }
}

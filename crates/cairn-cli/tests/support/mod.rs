//! What the lock-queue and crash suites share: running the `cairn` binary with
//! its output in files, connecting a driver to a test database, a seeded
//! random number generator, and a few helpers for reading the database.

#![allow(dead_code, reason = "each suite uses its own part of the helpers")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cairn::{Driver, Engine};
use cairn_testkit::TestDatabase;

/// How long any one `cairn` process may take before the test gives up on it:
/// a deadline against hangs, not a measure of speed.
pub const DEADLINE: Duration = Duration::from_secs(180);

/// A finished `cairn` process.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts exit 0 and returns stdout.
    pub fn success(&self) -> &str {
        assert_eq!(self.code(), Some(0), "cairn failed\n{self}");
        &self.stdout
    }
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status: {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// A `cairn` process started by a test; killed (by its id) if the test ends
/// before it does.
pub struct Running {
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Running {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the process").id()
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    pub fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT failed: {status}");
    }

    /// What it has written to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        read(&self.stderr)
    }

    /// Whether it has exited (without collecting it).
    pub fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .expect("the process")
            .try_wait()
            .expect("try_wait")
            .is_some()
    }

    /// Waits (polling, so the runtime keeps running other tasks) for the
    /// process to end, at most [`DEADLINE`].
    pub async fn finish(mut self) -> Finished {
        let started = Instant::now();
        let mut child = self.child.take().expect("the process");
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if started.elapsed() > DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "cairn did not finish within {DEADLINE:?}\n--- stderr:\n{}",
                    read(&self.stderr)
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        Finished {
            status,
            stdout: read(&self.stdout),
            stderr: read(&self.stderr),
        }
    }

    /// `kill -9`: the process gets no chance to clean up.
    pub fn kill_9(mut self) -> Finished {
        let mut child = self.child.take().expect("the process");
        // It may have finished already; then the kill is a no-op.
        let _ = child.kill();
        let status = child.wait().expect("reap the process");
        Finished {
            status,
            stdout: read(&self.stdout),
            stderr: read(&self.stderr),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create the directory");
    std::fs::write(path, text).expect("write the file");
}

/// Starts `cairn <global> --database-url <db> --dir <dir> <args>` in `cwd`
/// (the database's scratch directory unless given), output into files.
pub fn spawn_in(
    db: &TestDatabase,
    cwd: &Path,
    dir: &Path,
    global: &[&str],
    args: &[&str],
) -> Running {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let stdout = db.scratch_dir().join(format!("cairn-{n}.stdout"));
    let stderr = db.scratch_dir().join(format!("cairn-{n}.stderr"));
    let child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(global)
        .args(["--database-url", db.url(), "--dir"])
        .arg(dir)
        .args(args)
        .current_dir(cwd)
        .env_remove("CAIRN_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("the cairn binary starts");
    Running {
        child: Some(child),
        stdout,
        stderr,
    }
}

pub fn spawn(db: &TestDatabase, dir: &Path, args: &[&str]) -> Running {
    spawn_in(db, db.scratch_dir(), dir, &[], args)
}

/// Runs `cairn` to the end.
pub async fn cairn(db: &TestDatabase, dir: &Path, args: &[&str]) -> Finished {
    spawn(db, dir, args).finish().await
}

/// A new connection to the test database.
pub async fn connect(db: &TestDatabase) -> Box<dyn Driver> {
    cairn::connect(db.url())
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the {} test database: {e}", db.engine()))
}

/// The one number `sql` returns.
pub async fn count(driver: &mut dyn Driver, sql: &str) -> i64 {
    let rows = driver
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.first()
        .and_then(|row| row.first().cloned().flatten())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{sql}: not a count: {rows:?}"))
}

/// How many tables the database has (Cairn's own included).
pub async fn table_count(driver: &mut dyn Driver) -> i64 {
    let sql = match driver.dialect().engine() {
        Engine::Sqlite => "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
        Engine::Postgres => {
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        }
        Engine::Mysql => {
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
        }
        other => panic!("this test knows no {other} databases"),
    };
    count(driver, sql).await
}

/// A seed: the variable `var` when set (to replay a failure), else the
/// clock. Printed either way.
pub fn seed(var: &str) -> u64 {
    let seed = std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("a clock after 1970")
                .as_nanos() as u64
        });
    println!("seed {seed} (replay with {var}={seed})");
    seed
}

/// splitmix64: one well-mixed number from a seed.
pub fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

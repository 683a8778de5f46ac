//! Lock helpers for drivers: the polling loop behind a session lock, and the
//! file lock that keeps runners apart on an engine without a lock between
//! transactions.
//!
//! Both are what the bundled drivers use, kept here so an adapter for another
//! client or engine reuses them instead of writing its own:
//!
//! - [`poll`] tries a lock ([`TryLock::try_lock`]) until it is taken or the
//!   timeout passes, pausing with a capped doubling backoff ([`Pauses`]), and
//!   then fails with [`DriverErrorKind::LockHeld`] saying who holds it
//!   ([`TryLock::holder`]). PostgreSQL's `pg_try_advisory_lock` and MySQL's
//!   `GET_LOCK` run through it.
//! - [`FileLock`] locks `<database>-cairn-backfill.lock` beside a database
//!   file (SQLite's run lock), with the standard library's advisory file
//!   locks: the operating system releases it when the process ends, even by
//!   `kill -9`, so a resumed run never waits for a dead one. The file holds
//!   the holder's process id and start time for the message another runner
//!   shows. It keeps its old name so that a Cairn that locked it only for
//!   backfills still excludes a newer one.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::clock::UtcTime;
use crate::driver::{DriverError, DriverErrorKind};

/// The pauses between two tries: the first, doubling up to the longest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pauses {
    /// The pause after the first failed try.
    pub first: Duration,
    /// The longest pause.
    pub max: Duration,
}

impl Pauses {
    /// The same pause every time.
    pub const fn constant(pause: Duration) -> Self {
        Pauses {
            first: pause,
            max: pause,
        }
    }
}

/// A lock that can be tried without waiting (or waiting at most a given time).
#[async_trait]
pub trait TryLock: Send {
    /// Tries once to take the lock; returns whether it was taken. It may
    /// itself wait up to `wait`, the time left before the timeout (MySQL's
    /// `GET_LOCK` waits on the server); [`Duration::MAX`] means no timeout.
    async fn try_lock(&mut self, wait: Duration) -> Result<bool, DriverError>;

    /// Who holds the lock, in words, for the [`DriverErrorKind::LockHeld`]
    /// error once the wait is over.
    async fn holder(&mut self) -> Result<String, DriverError>;
}

/// Tries `lock` until it is taken, pausing as `pauses` says, for at most
/// `timeout` (a timeout too large to add to now waits forever); then fails
/// with [`DriverErrorKind::LockHeld`] and the holder's description. It tries
/// at least once, so a zero timeout takes a free lock.
pub async fn poll(
    lock: &mut dyn TryLock,
    timeout: Duration,
    pauses: Pauses,
) -> Result<(), DriverError> {
    let deadline = Instant::now().checked_add(timeout);
    let remaining = || {
        deadline.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        })
    };
    let mut pause = pauses.first;
    loop {
        if lock.try_lock(remaining()).await? {
            return Ok(());
        }
        let left = remaining();
        if left.is_zero() {
            let holder = lock.holder().await?;
            return Err(DriverError::new(DriverErrorKind::LockHeld, holder));
        }
        tokio::time::sleep(pause.min(left)).await;
        pause = pause.saturating_mul(2).min(pauses.max.max(pauses.first));
    }
}

/// How often [`FileLock::acquire`] tries the file.
const FILE_POLL: Pauses = Pauses::constant(Duration::from_millis(50));

/// An exclusive lock on a file beside a database, held until it is
/// [released](FileLock::release) or dropped, or the process ends.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// `<database>-cairn-backfill.lock`, beside the database file.
    pub fn path_beside(database: &Path) -> PathBuf {
        let mut name = database.as_os_str().to_owned();
        name.push("-cairn-backfill.lock");
        PathBuf::from(name)
    }

    /// Locks the file at `path` (creating it), waiting at most `timeout`;
    /// fails with [`DriverErrorKind::LockHeld`] naming the file and, as far
    /// as it says, the process that holds it.
    pub async fn acquire(path: &Path, timeout: Duration) -> Result<FileLock, DriverError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| {
                DriverError::new(
                    DriverErrorKind::Other,
                    format!(
                        "cannot open the backfill lock file `{}`: {e}",
                        path.display()
                    ),
                )
                .with_source(e)
            })?;
        poll(&mut LockFile { file: &file, path }, timeout, FILE_POLL).await?;
        // Who holds it, for the message another runner shows; best effort.
        let note = format!(
            "process {} since {}",
            std::process::id(),
            UtcTime::now().rfc3339()
        );
        let _ = file.set_len(0);
        let _ = (&file).write_all(note.as_bytes());
        Ok(FileLock {
            file,
            path: path.to_owned(),
        })
    }

    /// The locked file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Empties the file and releases the lock.
    pub fn release(self) -> Result<(), DriverError> {
        let _ = self.file.set_len(0);
        self.file.unlock().map_err(|e| {
            DriverError::new(
                DriverErrorKind::Other,
                format!(
                    "cannot unlock the backfill lock `{}`: {e}",
                    self.path.display()
                ),
            )
            .with_source(e)
        })
    }
}

/// The file being locked, as [`poll`] tries it.
struct LockFile<'f> {
    file: &'f File,
    path: &'f Path,
}

#[async_trait]
impl TryLock for LockFile<'_> {
    async fn try_lock(&mut self, _wait: Duration) -> Result<bool, DriverError> {
        match self.file.try_lock() {
            Ok(()) => Ok(true),
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(DriverError::new(
                DriverErrorKind::Other,
                format!("cannot lock `{}`: {e}", self.path.display()),
            )
            .with_source(e)),
        }
    }

    async fn holder(&mut self) -> Result<String, DriverError> {
        let holder = std::fs::read_to_string(self.path).unwrap_or_default();
        let holder = holder.trim();
        Ok(format!(
            "another cairn run holds the migration and backfill lock `{}`{}",
            self.path.display(),
            if holder.is_empty() {
                String::new()
            } else {
                format!(" ({holder})")
            }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Free after `busy` tries; counts tries and records the waits offered.
    struct Counted {
        busy: usize,
        tries: usize,
        waits: Vec<Duration>,
    }

    #[async_trait]
    impl TryLock for Counted {
        async fn try_lock(&mut self, wait: Duration) -> Result<bool, DriverError> {
            self.tries += 1;
            self.waits.push(wait);
            Ok(self.tries > self.busy)
        }
        async fn holder(&mut self) -> Result<String, DriverError> {
            Ok(format!("held by the test after {} tries", self.tries))
        }
    }

    fn counted(busy: usize) -> Counted {
        Counted {
            busy,
            tries: 0,
            waits: Vec::new(),
        }
    }

    const FAST: Pauses = Pauses {
        first: Duration::from_millis(1),
        max: Duration::from_millis(4),
    };

    #[tokio::test]
    async fn a_lock_freed_before_the_timeout_is_taken() {
        let mut lock = counted(3);
        poll(&mut lock, Duration::from_secs(5), FAST)
            .await
            .expect("taken");
        assert_eq!(lock.tries, 4);
    }

    #[tokio::test]
    async fn a_zero_timeout_tries_once() {
        let mut free = counted(0);
        poll(&mut free, Duration::ZERO, FAST).await.expect("taken");
        let mut held = counted(usize::MAX);
        let err = poll(&mut held, Duration::ZERO, FAST)
            .await
            .expect_err("held");
        assert_eq!(held.tries, 1);
        assert_eq!(err.kind, DriverErrorKind::LockHeld);
        assert_eq!(err.message, "held by the test after 1 tries");
    }

    #[tokio::test]
    async fn a_held_lock_fails_with_its_holder_after_the_timeout() {
        let mut held = counted(usize::MAX);
        let started = Instant::now();
        let err = poll(&mut held, Duration::from_millis(100), FAST)
            .await
            .expect_err("held");
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(held.tries > 3, "polled {} times", held.tries);
        assert_eq!(err.kind, DriverErrorKind::LockHeld);
        assert!(err.message.starts_with("held by the test"), "{err}");
        // Each try is offered the time left, which shrinks.
        assert!(
            held.waits.windows(2).all(|w| w[1] <= w[0]),
            "{:?}",
            held.waits
        );
        assert!(held.waits[0] <= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn an_endless_timeout_offers_endless_waits() {
        let mut lock = counted(1);
        poll(&mut lock, Duration::MAX, FAST).await.expect("taken");
        assert_eq!(lock.waits, vec![Duration::MAX, Duration::MAX]);
    }

    #[tokio::test]
    async fn an_error_while_trying_ends_the_wait() {
        struct Broken;
        #[async_trait]
        impl TryLock for Broken {
            async fn try_lock(&mut self, _: Duration) -> Result<bool, DriverError> {
                Err(DriverError::new(DriverErrorKind::Connection, "gone"))
            }
            async fn holder(&mut self) -> Result<String, DriverError> {
                Ok(String::new())
            }
        }
        let err = poll(&mut Broken, Duration::from_secs(5), FAST)
            .await
            .expect_err("broken");
        assert_eq!(err.kind, DriverErrorKind::Connection);
    }

    #[tokio::test]
    async fn the_file_lock_excludes_a_second_holder_until_released() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = FileLock::path_beside(&dir.path().join("app.db"));
        assert_eq!(
            path.file_name().and_then(|n| n.to_str()),
            Some("app.db-cairn-backfill.lock")
        );
        let first = FileLock::acquire(&path, Duration::from_secs(5))
            .await
            .expect("first");
        assert_eq!(first.path(), path);
        let err = FileLock::acquire(&path, Duration::from_millis(200))
            .await
            .expect_err("a second holder took a held lock");
        assert_eq!(err.kind, DriverErrorKind::LockHeld);
        assert!(
            err.message.starts_with(&format!(
                "another cairn run holds the migration and backfill lock `{}` (process {} since ",
                path.display(),
                std::process::id()
            )),
            "{err}"
        );
        first.release().expect("release");
        let second = FileLock::acquire(&path, Duration::from_secs(5))
            .await
            .expect("free after release");
        drop(second);
        // Dropped is released too.
        FileLock::acquire(&path, Duration::ZERO)
            .await
            .expect("free after drop")
            .release()
            .expect("release");
    }

    #[tokio::test]
    async fn a_lock_file_that_cannot_be_opened_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("missing").join("db-cairn-backfill.lock");
        let err = FileLock::acquire(&path, Duration::ZERO)
            .await
            .expect_err("opened a file in a missing directory");
        assert_eq!(err.kind, DriverErrorKind::Other);
        assert!(
            err.message.starts_with(&format!(
                "cannot open the backfill lock file `{}`: ",
                path.display()
            )),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }
}

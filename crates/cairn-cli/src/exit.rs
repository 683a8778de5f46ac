//! How a run ends: the exit code, and the error on stderr.
//!
//! | code | meaning                                                          |
//! |------|------------------------------------------------------------------|
//! | 0    | success                                                          |
//! | 1    | error                                                            |
//! | 2    | bad usage (clap's own code for bad arguments)                    |
//! | 3    | problems found: validation (`Error::Validation`, `status`/`validate`), a rollback or re-apply that differs (`verify`), drift (`drift`) |
//! | 4    | timed out waiting for a lock held by another runner, or a zero-downtime phase's table lock after its retries |
//! | 130  | stopped by Ctrl-C or SIGTERM at a backfill batch boundary        |

use std::io::Write as _;
use std::process::ExitCode;

use cairn::{DriverError, DriverErrorKind, Error};

use crate::commands::Outcome;

/// Success.
pub const OK: u8 = 0;
/// Any error.
pub const ERROR: u8 = 1;
/// Validation problems found.
pub const PROBLEMS: u8 = 3;
/// A lock could not be taken in time.
pub const LOCK_TIMEOUT: u8 = 4;
/// Stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;

/// Prints the error, if any, and returns the exit code.
pub fn finish(result: anyhow::Result<Outcome>) -> ExitCode {
    match result {
        Ok(Outcome::Success) => ExitCode::from(OK),
        Ok(Outcome::ProblemsFound) => ExitCode::from(PROBLEMS),
        Err(error) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {}", message(&error));
            ExitCode::from(code(&error))
        }
    }
}

/// A core error with what to do next, said after it; the exit code is the error's.
#[derive(Debug)]
pub struct WithHint {
    /// The error.
    pub error: Error,
    /// What to do next.
    pub hint: String,
}

impl std::fmt::Display for WithHint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n  {}", self.error, self.hint)
    }
}

impl std::error::Error for WithHint {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The exit code for an error.
pub fn code(error: &anyhow::Error) -> u8 {
    match error.chain().find_map(|e| e.downcast_ref::<Error>()) {
        Some(error) => code_of(error),
        None => ERROR,
    }
}

/// The exit code for a core error.
pub fn code_of(error: &Error) -> u8 {
    match error {
        Error::Validation(_) => PROBLEMS,
        Error::LockTimeout { .. } => LOCK_TIMEOUT,
        Error::Interrupted { .. } | Error::Stopped { .. } | Error::PhaseStopped { .. } => {
            INTERRUPTED
        }
        Error::Driver { cause, .. } if cause.kind == DriverErrorKind::LockTimeout => LOCK_TIMEOUT,
        Error::Statement { kind, .. } if *kind == DriverErrorKind::LockTimeout => LOCK_TIMEOUT,
        _ => ERROR,
    }
}

/// The error and its causes joined with `: `, leaving out a cause that the
/// message before it already quotes (core errors include their source), and
/// stopping at a driver's error: it already says what its client said, and
/// its sources (the client's own errors) would only say it again in other words.
pub fn message(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        if cause.is::<DriverError>() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;
    use cairn::Engine;

    #[test]
    fn causes_are_joined_once() {
        let driver = DriverError::new(DriverErrorKind::Statement, "disk I/O error");
        let core = Error::Driver {
            engine: Engine::Sqlite,
            context: "reading history".to_owned(),
            cause: driver,
        };
        let error = Err::<(), _>(core).context("cannot check").unwrap_err();
        assert_eq!(
            message(&error),
            "cannot check: sqlite: reading history: disk I/O error"
        );
        assert_eq!(code(&error), ERROR);
    }

    #[test]
    fn a_driver_errors_source_is_not_repeated() {
        let client = std::io::Error::other("db error: ERROR: relation \"t\" does not exist");
        let driver = DriverError::new(DriverErrorKind::Statement, "relation \"t\" does not exist")
            .with_source(client);
        let error = anyhow::Error::from(driver).context("cannot check");
        assert_eq!(
            message(&error),
            "cannot check: relation \"t\" does not exist"
        );
    }

    #[test]
    fn lock_timeouts_and_validation_have_their_codes() {
        let lock = anyhow::Error::from(Error::LockTimeout {
            engine: Engine::Postgres,
            waited_ms: 10,
            holder: "pid 7".to_owned(),
        });
        assert_eq!(code(&lock), LOCK_TIMEOUT);
        let busy = anyhow::Error::from(Error::Driver {
            engine: Engine::Sqlite,
            context: "starting the transaction".to_owned(),
            cause: DriverError::new(DriverErrorKind::LockTimeout, "database is locked"),
        });
        assert_eq!(code(&busy), LOCK_TIMEOUT);
        let problems = anyhow::Error::from(Error::Validation(cairn::error::Problems(vec![])));
        assert_eq!(code(&problems), PROBLEMS);
    }

    #[test]
    fn a_hint_follows_the_error_and_keeps_its_code() {
        let error = Error::Driver {
            engine: Engine::Postgres,
            context: "add column users.full_name".to_owned(),
            cause: DriverError::new(
                DriverErrorKind::LockTimeout,
                "canceling statement due to lock timeout",
            ),
        };
        let hinted = anyhow::Error::new(WithHint {
            error,
            hint: "run it again".to_owned(),
        });
        assert_eq!(code(&hinted), LOCK_TIMEOUT);
        assert_eq!(
            message(&hinted),
            "postgres: add column users.full_name: canceling statement due to lock timeout\n  run it again"
        );
    }
}

//! `-- cairn:` directives: per-script options written as SQL comments.
//!
//! Directives live in the *header* of a script: the leading run of lines that are
//! blank or `--` comments. The first line that is anything else (a statement, a
//! `/* */` comment) ends the header, and a `-- cairn:` line after it is an ordinary
//! comment. Keeping directives at the top means a reader sees how a script runs
//! before reading what it does, and a commented-out statement further down can
//! never change how the script runs.
//!
//! | directive                           | effect                                          |
//! |-------------------------------------|-------------------------------------------------|
//! | `-- cairn:no-transaction`           | run the statements outside a transaction        |
//! | `-- cairn:engines postgres,sqlite`  | the migration exists only on these engines      |
//! | `-- cairn:lock-timeout 2s`          | lock timeout while the script runs              |
//! | `-- cairn:statement-timeout 10m`    | statement timeout while the script runs         |
//! | `-- cairn:irreversible`             | the migration has no down script on purpose     |
//!
//! Decisions:
//!
//! - `-- cairn: no-transaction` (a space after the colon) and `--cairn:...` are
//!   accepted; the prefix `cairn:` itself is case-sensitive, so prose such as
//!   `-- Cairn: see ticket 12` is just a comment.
//! - A trailing `-- ...` comment on a directive line is ignored
//!   (`-- cairn:no-transaction -- needed for CREATE INDEX CONCURRENTLY`).
//! - An unknown `cairn:` name is an error, not a silent no-op: a misspelt
//!   `-- cairn:no-transation` would otherwise run a script inside a transaction.
//! - Giving the same directive twice is an error, so two conflicting
//!   `cairn:engines` lines cannot silently shadow each other.
//! - `cairn:engines` accepts engine names comma and/or space separated, with the
//!   aliases [`Engine`]'s `FromStr` accepts (`pg`, `mariadb`, ...).
//! - Durations are whole numbers with a unit (see [`parse_duration`]); fractions
//!   are not accepted (`1500ms`, not `1.5s`).
//! - `cairn:lock-timeout 0` is refused: zero meant a different thing on each
//!   engine (see [`crate::retry`]).
//!
//! Directives work the same in every layout (Cairn, diesel, sqlx, Flyway, dbmate);
//! for a dbmate section they are read from the lines after its `-- migrate:up` or
//! `-- migrate:down` marker.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::engine::Engine;
use crate::error::{Error, Location};
use crate::migration::Directives;

/// The prefix of a directive inside a `--` comment.
const PREFIX: &str = "cairn:";

/// The duration forms accepted, for messages.
const DURATION_FORMS: &str =
    "a whole number with a unit: `500ms`, `2s`, `10m` or `1h` (a plain number is seconds)";

/// Parses the `-- cairn:` directives at the top of a script: the leading run of
/// lines that are blank or `--` comments.
///
/// A `-- cairn:NAME [ARGS]` line later in the file (after the first statement
/// line) is ignored: it is just a comment. `path` and `first_line` (the 1-based
/// line of the file on which `text` begins) are used for the `path:line` of errors.
///
/// # Errors
///
/// [`Error::UnknownDirective`] for a `cairn:` name Cairn does not know, and
/// [`Error::BadDirective`] for a known directive with a bad or missing argument,
/// or one given twice.
pub fn parse(text: &str, path: &Path, first_line: usize) -> Result<Directives, Error> {
    let mut directives = Directives::default();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(comment) = line.strip_prefix("--") else {
            break;
        };
        let Some(rest) = comment.trim_start().strip_prefix(PREFIX) else {
            continue;
        };
        let location = Location::new(path, first_line + index);
        // A trailing `-- reason` comment is not part of the arguments.
        let rest = rest.split_once("--").map_or(rest, |(before, _)| before);
        let rest = rest.trim();
        let (name, args) = match rest.split_once(char::is_whitespace) {
            Some((name, args)) => (name, args.trim()),
            None => (rest, ""),
        };
        if !seen.insert(name.to_owned()) && is_known(name) {
            return Err(bad(
                location,
                format!("`cairn:{name}` is given more than once: keep one"),
            ));
        }
        apply(&mut directives, name, args, location)?;
    }
    Ok(directives)
}

/// Parses a duration: `500ms`, `2s`, `10m`, `1h`, or a plain number of seconds.
///
/// Only whole numbers are accepted; `None` for anything else (an unknown unit, a
/// fraction, a sign, or a value too large for [`Duration`]).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    match unit {
        "" | "s" => Some(Duration::from_secs(n)),
        "ms" => Some(Duration::from_millis(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

fn is_known(name: &str) -> bool {
    matches!(
        name,
        "no-transaction" | "engines" | "lock-timeout" | "statement-timeout" | "irreversible"
    )
}

fn apply(
    directives: &mut Directives,
    name: &str,
    args: &str,
    location: Location,
) -> Result<(), Error> {
    match name {
        "no-transaction" | "irreversible" => {
            if !args.is_empty() {
                return Err(bad(
                    location,
                    format!("`cairn:{name}` takes no argument, found `{args}`"),
                ));
            }
            if name == "no-transaction" {
                directives.no_transaction = true;
            } else {
                directives.irreversible = true;
            }
        }
        "engines" => {
            let mut engines = BTreeSet::new();
            for word in args
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|word| !word.is_empty())
            {
                let engine = word.parse::<Engine>().map_err(|_| {
                    bad(
                        location.clone(),
                        format!(
                            "unknown engine `{word}` in `cairn:engines`: expected postgres, mysql or sqlite"
                        ),
                    )
                })?;
                engines.insert(engine);
            }
            if engines.is_empty() {
                return Err(bad(
                    location,
                    "`cairn:engines` needs at least one engine, e.g. `-- cairn:engines postgres,sqlite`"
                        .to_owned(),
                ));
            }
            directives.engines = Some(engines);
        }
        "lock-timeout" | "statement-timeout" => {
            let duration = parse_duration(args).ok_or_else(|| {
                let found = if args.is_empty() {
                    "nothing".to_owned()
                } else {
                    format!("`{args}`")
                };
                bad(
                    location.clone(),
                    format!("`cairn:{name}` takes {DURATION_FORMS}, found {found}"),
                )
            })?;
            if name == "lock-timeout" {
                let duration = crate::retry::check_lock_timeout(duration, "`cairn:lock-timeout`")
                    .map_err(|message| bad(location, message))?;
                directives.lock_timeout = Some(duration);
            } else {
                directives.statement_timeout = Some(duration);
            }
        }
        _ => {
            return Err(Error::UnknownDirective {
                location,
                directive: name.to_owned(),
            })
        }
    }
    Ok(())
}

fn bad(location: Location, message: String) -> Error {
    Error::BadDirective { location, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> &'static Path {
        Path::new("migrations/1_a/up.sql")
    }

    fn ok(text: &str) -> Directives {
        match parse(text, path(), 1) {
            Ok(directives) => directives,
            Err(error) => panic!("{text:?}: {error}"),
        }
    }

    fn err(text: &str, first_line: usize) -> Error {
        match parse(text, path(), first_line) {
            Ok(directives) => panic!("{text:?} parsed as {directives:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn no_directives_give_the_defaults() {
        assert_eq!(ok(""), Directives::default());
        assert_eq!(ok("CREATE TABLE t (id INT);\n"), Directives::default());
        assert_eq!(
            ok("-- just a comment\n\nSELECT 1;\n"),
            Directives::default()
        );
    }

    #[test]
    fn every_directive_is_read() {
        let text = "\
-- add the users table
-- cairn:no-transaction
--cairn:engines postgres, sqlite
-- cairn:lock-timeout 2s
-- cairn:statement-timeout 10m

-- cairn:irreversible
CREATE TABLE users (id INT);
";
        let directives = ok(text);
        assert!(directives.no_transaction);
        assert!(directives.irreversible);
        assert_eq!(
            directives.engines,
            Some(BTreeSet::from([Engine::Postgres, Engine::Sqlite]))
        );
        assert_eq!(directives.lock_timeout, Some(Duration::from_secs(2)));
        assert_eq!(directives.statement_timeout, Some(Duration::from_secs(600)));
    }

    #[test]
    fn a_space_after_the_colon_is_accepted() {
        assert!(ok("-- cairn: no-transaction\nSELECT 1;").no_transaction);
        assert_eq!(
            ok("--   cairn:  engines   mysql\n").engines,
            Some(BTreeSet::from([Engine::Mysql]))
        );
    }

    #[test]
    fn engines_are_comma_or_space_separated_and_accept_aliases() {
        for text in [
            "-- cairn:engines postgres,sqlite",
            "-- cairn:engines postgres sqlite",
            "-- cairn:engines postgres , sqlite,",
            "-- cairn:engines pg,sqlite3",
        ] {
            assert_eq!(
                ok(text).engines,
                Some(BTreeSet::from([Engine::Postgres, Engine::Sqlite])),
                "{text}"
            );
        }
    }

    #[test]
    fn a_trailing_comment_on_a_directive_line_is_ignored() {
        assert!(ok("-- cairn:no-transaction -- CREATE INDEX CONCURRENTLY\n").no_transaction);
    }

    #[test]
    fn directives_after_the_first_statement_are_comments() {
        let text = "SELECT 1;\n-- cairn:no-transaction\n-- cairn:bogus\n";
        assert_eq!(ok(text), Directives::default());
        let text = "/* header */\n-- cairn:irreversible\n";
        assert_eq!(ok(text), Directives::default());
    }

    #[test]
    fn crlf_text_is_read_too() {
        let directives = ok("-- cairn:no-transaction\r\n-- cairn:lock-timeout 5s\r\nSELECT 1;\r\n");
        assert!(directives.no_transaction);
        assert_eq!(directives.lock_timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn unknown_directive_names_file_and_line() {
        let error = err("-- header\n\n-- cairn:no-transation\n", 1);
        match &error {
            Error::UnknownDirective {
                location,
                directive,
            } => {
                assert_eq!(location.to_string(), "migrations/1_a/up.sql:3");
                assert_eq!(directive, "no-transation");
            }
            other => panic!("unexpected {other:?}"),
        }
        let message = error.to_string();
        assert!(message.contains("migrations/1_a/up.sql:3"), "{message}");
        assert!(message.contains("cairn:no-transation"), "{message}");
    }

    #[test]
    fn the_line_counts_from_first_line() {
        match err("-- cairn:xyz\n", 12) {
            Error::UnknownDirective { location, .. } => {
                assert_eq!(location.to_string(), "migrations/1_a/up.sql:12");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_engine_is_a_bad_directive_naming_it() {
        match err("-- cairn:engines postgres,oracle\n", 1) {
            Error::BadDirective { location, message } => {
                assert_eq!(location.to_string(), "migrations/1_a/up.sql:1");
                assert!(message.contains("`oracle`"), "{message}");
                assert!(message.contains("postgres, mysql or sqlite"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn empty_engine_list_is_a_bad_directive() {
        assert!(matches!(
            err("-- cairn:engines\n", 1),
            Error::BadDirective { .. }
        ));
        assert!(matches!(
            err("-- cairn:engines , ,\n", 1),
            Error::BadDirective { .. }
        ));
    }

    #[test]
    fn a_zero_lock_timeout_is_refused_with_the_fix() {
        for zero in ["0", "0ms", "0s"] {
            let text = format!("-- cairn:lock-timeout {zero}\nSELECT 1;\n");
            let err = parse(&text, Path::new("migrations/1_a/up.sql"), 1).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains("migrations/1_a/up.sql:1")
                    && message.contains("`cairn:lock-timeout` is 0")
                    && message.contains("`1s`"),
                "{message}"
            );
        }
        // A zero statement timeout is the server's "no limit" everywhere: allowed.
        let directives = ok("-- cairn:statement-timeout 0\nSELECT 1;\n");
        assert_eq!(directives.statement_timeout, Some(Duration::ZERO));
    }

    #[test]
    fn bad_duration_says_the_accepted_forms() {
        for text in [
            "-- cairn:lock-timeout soon",
            "-- cairn:lock-timeout",
            "-- cairn:statement-timeout 1.5s",
            "-- cairn:statement-timeout 10 m",
        ] {
            match err(text, 1) {
                Error::BadDirective { location, message } => {
                    assert_eq!(location.to_string(), "migrations/1_a/up.sql:1", "{text}");
                    assert!(
                        message.contains("`500ms`, `2s`, `10m` or `1h`"),
                        "{message}"
                    );
                }
                other => panic!("{text}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn arguments_to_flags_are_rejected() {
        let error = err("-- cairn:irreversible yes\n", 1);
        assert!(
            matches!(&error, Error::BadDirective { message, .. } if message.contains("no argument")),
            "{error:?}"
        );
        assert!(matches!(
            err("-- cairn:no-transaction please\n", 1),
            Error::BadDirective { .. }
        ));
    }

    #[test]
    fn a_repeated_directive_is_rejected() {
        let error = err(
            "-- cairn:engines postgres\n-- cairn:engines sqlite\nSELECT 1;\n",
            1,
        );
        match error {
            Error::BadDirective { location, message } => {
                assert_eq!(location.to_string(), "migrations/1_a/up.sql:2");
                assert!(message.contains("more than once"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn an_empty_directive_name_is_unknown() {
        assert!(matches!(
            err("-- cairn:\n", 1),
            Error::UnknownDirective { directive, .. } if directive.is_empty()
        ));
    }

    #[test]
    fn prose_mentioning_cairn_is_not_a_directive() {
        assert_eq!(
            ok("-- Cairn: see ticket 12\n-- cairn is nice\n"),
            Directives::default()
        );
    }

    #[test]
    fn durations() {
        let table = [
            ("500ms", Some(Duration::from_millis(500))),
            ("2s", Some(Duration::from_secs(2))),
            ("10m", Some(Duration::from_secs(600))),
            ("1h", Some(Duration::from_secs(3600))),
            ("30", Some(Duration::from_secs(30))),
            ("0s", Some(Duration::ZERO)),
            (" 7s ", Some(Duration::from_secs(7))),
            ("", None),
            ("s", None),
            ("1.5s", None),
            ("-1s", None),
            ("+1s", None),
            ("2d", None),
            ("2S", None),
            ("10 m", None),
            ("99999999999999999999", None),
            ("18446744073709551615h", None),
        ];
        for (input, expected) in table {
            assert_eq!(parse_duration(input), expected, "{input:?}");
        }
    }
}

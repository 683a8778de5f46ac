//! `.env` in the current directory, read as sqlx-cli reads it (dotenvy's
//! syntax), as a layer *under* the real environment: a variable set in the
//! process wins over the same one in `.env`, and `.env` wins over
//! `cairn.toml` because resolution ([`cairn::config`]) asks the environment
//! first.
//!
//! The file is not loaded into the process environment: Cairn reads it
//! through [`Layered`], so nothing leaks to the processes Cairn starts, and
//! the tests need no global state. `--no-dotenv` skips it. A `.env` that
//! cannot be parsed is an error naming the file and line, never the line's
//! text (it may hold a password).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use cairn::config::Env;

/// The file read from the current directory.
pub const FILE: &str = ".env";

/// The variables of a `.env` file.
#[derive(Debug, Default)]
pub struct DotEnv {
    vars: HashMap<String, String>,
}

impl DotEnv {
    /// Reads `path`; a missing file is an empty set.
    pub fn read(path: &Path) -> anyhow::Result<DotEnv> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DotEnv::default()),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot read `{}` (pass --no-dotenv to ignore it)",
                        path.display()
                    )
                })
            }
        };
        DotEnv::parse(&text, path)
    }

    /// Parses the text of the file at `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<DotEnv> {
        let mut vars = HashMap::new();
        for item in dotenvy::from_read_iter(text.as_bytes()) {
            match item {
                Ok((key, value)) => {
                    vars.insert(key, value);
                }
                Err(dotenvy::Error::LineParse(line, _)) => {
                    anyhow::bail!(
                        "`{}`{}: not a `NAME=value` line (fix it, or pass --no-dotenv to ignore the file)",
                        path.display(),
                        line_of(text, &line).map_or_else(String::new, |n| format!(" line {n}"))
                    );
                }
                Err(e) => {
                    // dotenvy's other errors are I/O ones, which reading from memory
                    // cannot produce; said plainly in case a version adds one.
                    anyhow::bail!(
                        "`{}`: {e} (pass --no-dotenv to ignore the file)",
                        path.display()
                    );
                }
            }
        }
        Ok(DotEnv { vars })
    }

    /// Reads `.env` from the current directory unless `skip` (`--no-dotenv`).
    pub fn load(skip: bool) -> anyhow::Result<DotEnv> {
        if skip {
            return Ok(DotEnv::default());
        }
        DotEnv::read(&PathBuf::from(FILE))
    }
}

/// Which line of `text` holds `line` (dotenvy gives the text, not the number).
fn line_of(text: &str, line: &str) -> Option<usize> {
    let needle = line.trim_end_matches(['\n', '\r']);
    let needle = needle.lines().next().filter(|l| !l.trim().is_empty())?;
    text.lines()
        .position(|l| l == needle || l.trim() == needle.trim())
        .map(|i| i + 1)
}

/// The real environment over a `.env` file.
#[derive(Debug)]
pub struct Layered<E> {
    /// Wins.
    pub process: E,
    /// Under it.
    pub dotenv: DotEnv,
}

impl<E: Env> Env for Layered<E> {
    fn var(&self, key: &str) -> Option<String> {
        self.process
            .var(key)
            .or_else(|| self.dotenv.vars.get(key).filter(|v| !v.is_empty()).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct One(&'static str, &'static str);
    impl Env for One {
        fn var(&self, key: &str) -> Option<String> {
            (key == self.0).then(|| self.1.to_owned())
        }
    }

    fn parse(text: &str) -> anyhow::Result<DotEnv> {
        DotEnv::parse(text, Path::new(".env"))
    }

    #[test]
    fn the_process_environment_wins_over_the_file() {
        let file = parse("# comment\nCAIRN_DATABASE_URL=sqlite://dot.db\nexport CAIRN_LOCK_WAIT=\"5s\"\nEMPTY=\n").unwrap();
        let layered = Layered {
            process: One("CAIRN_DATABASE_URL", "sqlite://real.db"),
            dotenv: file,
        };
        assert_eq!(
            layered.var("CAIRN_DATABASE_URL").as_deref(),
            Some("sqlite://real.db")
        );
        assert_eq!(layered.var("CAIRN_LOCK_WAIT").as_deref(), Some("5s"));
        assert_eq!(layered.var("EMPTY"), None, "empty counts as unset");
        assert_eq!(layered.var("OTHER"), None);
    }

    #[test]
    fn a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let env = DotEnv::read(&dir.path().join(".env")).unwrap();
        assert!(env.vars.is_empty());
        assert!(DotEnv::load(true).unwrap().vars.is_empty());
    }

    #[test]
    fn a_bad_line_is_named_without_its_text() {
        let err = parse("A=1\nDATABASE_URL postgres://u:hunter2@h/db\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("`.env` line 2: not a `NAME=value` line"),
            "{err}"
        );
        assert!(err.contains("--no-dotenv"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn an_unreadable_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        // A directory named .env cannot be read as a file.
        let path = dir.path().join(".env");
        std::fs::create_dir(&path).unwrap();
        let err = format!("{:#}", DotEnv::read(&path).unwrap_err());
        assert!(err.contains(".env") && err.contains("--no-dotenv"), "{err}");
    }
}

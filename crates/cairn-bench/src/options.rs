//! The command line, turned into an [`Options`] before any work starts.
//!
//! Hand-parsed: the binary has four flags, and only the CLI crate depends on clap.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// How to use the binary, for `--help` and usage errors.
pub const USAGE: &str = "\
usage: cairn-bench [--quick] [--out FILE] [--cairn PATH] [--sqlite3 PATH] [--keep]

Runs Cairn's benchmarks, each side by side with a baseline, and prints a table.

  --quick         fewer migrations and rounds (a smoke test, not for the record)
  --out FILE      rewrite FILE's sections between <!-- bench:<engine>:start -->
                  and <!-- bench:<engine>:end --> (FILE is created if missing)
  --cairn PATH    time this `cairn` binary instead of building it with
                  `cargo build --release -p cairn-cli`
  --sqlite3 PATH  the sqlite3 shell for the status baseline [default: /usr/bin/sqlite3]
  --keep          keep the generated migrations and databases (for profiling)
                  and print where they are";

/// How big each benchmark is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Migrations applied by `apply-N`.
    pub apply_migrations: usize,
    /// Rounds of `apply-N`; each round times the floor and Cairn once.
    pub apply_rounds: usize,
    /// After this long, `apply-N` stops after the current round once it has
    /// three: on a shared disk an fsync can get ten times slower for minutes.
    pub apply_budget: Duration,
    /// Applied migrations in the `status-N` database.
    pub status_migrations: usize,
    /// Rounds of the status benchmarks; each times every process once.
    pub status_rounds: usize,
}

impl Sizes {
    /// The figures that go on the record.
    pub const FULL: Sizes = Sizes {
        apply_migrations: 1_000,
        apply_rounds: 5,
        apply_budget: Duration::from_secs(90),
        status_migrations: 10_000,
        status_rounds: 9,
    };

    /// A smoke test of the whole pipeline in a few seconds.
    pub const QUICK: Sizes = Sizes {
        apply_migrations: 100,
        apply_rounds: 2,
        apply_budget: Duration::from_secs(30),
        status_migrations: 1_000,
        status_rounds: 3,
    };
}

/// Everything a run needs, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The markdown file to update, if any.
    pub out: Option<PathBuf>,
    /// Whether this is a `--quick` run.
    pub quick: bool,
    /// How big each benchmark is.
    pub sizes: Sizes,
    /// A `cairn` binary to time; `None` builds one.
    pub cairn: Option<PathBuf>,
    /// The sqlite3 shell.
    pub sqlite3: PathBuf,
    /// Keep the scratch files.
    pub keep: bool,
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Run the benchmarks.
    Run(Options),
    /// Print the usage.
    Help,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, String> {
    let mut out = None;
    let mut quick = false;
    let mut keep = false;
    let mut cairn = None;
    let mut sqlite3 = PathBuf::from("/usr/bin/sqlite3");
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|arg| format!("argument {arg:?} is not valid UTF-8"))?;
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value)),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<PathBuf, String> {
            match inline {
                Some("") => Err(format!("{name} needs a value")),
                Some(value) => Ok(PathBuf::from(value)),
                None => args
                    .next()
                    .map(PathBuf::from)
                    .ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--quick" if inline.is_none() => quick = true,
            "--keep" if inline.is_none() => keep = true,
            "--out" => out = Some(value("--out")?),
            "--cairn" => cairn = Some(value("--cairn")?),
            "--sqlite3" => sqlite3 = value("--sqlite3")?,
            _ => return Err(format!("unknown argument `{arg}`")),
        }
    }
    Ok(Parsed::Run(Options {
        out,
        quick,
        sizes: if quick { Sizes::QUICK } else { Sizes::FULL },
        cairn,
        sqlite3,
        keep,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, String> {
        match parse(args.iter().map(OsString::from))? {
            Parsed::Run(options) => Ok(options),
            Parsed::Help => Err("help".to_owned()),
        }
    }

    #[test]
    fn defaults_build_cairn_and_print_only() {
        let options = run(&[]).expect("parses");
        assert_eq!(options.out, None);
        assert_eq!(options.cairn, None);
        assert_eq!(options.sizes, Sizes::FULL);
        assert_eq!(options.sqlite3, PathBuf::from("/usr/bin/sqlite3"));
    }

    #[test]
    fn flags_take_values_separately_or_inline() {
        let options = run(&[
            "--quick",
            "--out",
            "docs/b.md",
            "--cairn=/x/cairn",
            "--keep",
        ])
        .expect("parses");
        assert!(options.quick);
        assert!(options.keep);
        assert_eq!(options.sizes, Sizes::QUICK);
        assert_eq!(options.out, Some(PathBuf::from("docs/b.md")));
        assert_eq!(options.cairn, Some(PathBuf::from("/x/cairn")));
    }

    #[test]
    fn bad_arguments_are_rejected() {
        for (args, message) in [
            (&["--out"][..], "--out needs a value"),
            (&["--cairn="][..], "--cairn needs a value"),
            (&["--quick=yes"][..], "unknown argument `--quick=yes`"),
            (&["--fast"][..], "unknown argument `--fast`"),
        ] {
            assert_eq!(run(args), Err(message.to_owned()), "{args:?}");
        }
        assert_eq!(parse([OsString::from("-h")]), Ok(Parsed::Help));
    }
}

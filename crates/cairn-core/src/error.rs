//! The errors of Cairn's core.
//!
//! Every message says what happened, where (file:line, migration version,
//! engine) and what to do next. Messages are lowercase without a trailing period.

use std::fmt;
use std::path::PathBuf;

use crate::driver::DriverError;
use crate::engine::Engine;
use crate::migration::{Direction, Version};
use crate::plan::Problem;

/// Any error of the core and of a migration run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The migrations directory is missing.
    #[error("migrations directory `{}` does not exist: create it with `cairn init`, or point --dir at your migrations", path.display())]
    MissingDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// A file or directory could not be read.
    #[error("cannot read `{}`: {cause}", path.display())]
    Io {
        /// What was read.
        path: PathBuf,
        /// Why it failed.
        cause: std::io::Error,
    },
    /// A script is not UTF-8.
    #[error("`{}` is not valid UTF-8 (first bad byte at offset {offset}): save it as UTF-8", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// A file or folder in the migrations directory fits no layout.
    #[error("`{}` fits no migration layout: {hint}", path.display())]
    UnrecognisedName {
        /// The file or folder.
        path: PathBuf,
        /// What names are expected.
        hint: String,
    },
    /// Two migrations share a version.
    #[error("duplicate version {version}: `{}` and `{}`; give one of them a new version", first.display(), second.display())]
    DuplicateVersion {
        /// The version.
        version: Version,
        /// The first migration with it.
        first: PathBuf,
        /// The second one.
        second: PathBuf,
    },
    /// One directory mixes layouts of different tools.
    #[error("`{}` mixes migration layouts: `{}` is {first_layout} but `{}` is {second_layout}; convert one of them so the directory uses one layout", dir.display(), first.display(), second.display())]
    MixedLayouts {
        /// The migrations directory.
        dir: PathBuf,
        /// A file of the first layout.
        first: PathBuf,
        /// Its layout.
        first_layout: &'static str,
        /// A file of the second layout.
        second: PathBuf,
        /// Its layout.
        second_layout: &'static str,
    },
    /// A migration has no up script, or an empty one.
    #[error("`{}`: the up script is empty: write the migration's SQL, or delete the migration", path.display())]
    EmptyScript {
        /// The script or migration folder.
        path: PathBuf,
    },
    /// A `-- cairn:` directive that Cairn does not know.
    #[error("{location}: unknown directive `cairn:{directive}`: known ones are no-transaction, engines, lock-timeout, statement-timeout, irreversible")]
    UnknownDirective {
        /// `path:line`.
        location: String,
        /// The directive's name.
        directive: String,
    },
    /// A known directive with a bad argument.
    #[error("{location}: {message}")]
    BadDirective {
        /// `path:line`.
        location: String,
        /// What is wrong and how to write it.
        message: String,
    },
    /// The statement splitter rejected a script.
    #[error("{location}: {message}")]
    Split {
        /// `path:line` where the problem starts.
        location: String,
        /// The splitter's message.
        message: String,
    },
    /// A script that runs in Cairn's transaction controls transactions itself.
    #[error("{location}: `{statement}` in the {direction} script of migration {version} ({name}) would end Cairn's transaction on {engine}, which holds the script and its history row together; nothing was changed. Remove the statement (Cairn already wraps the script in a transaction), or put `-- cairn:no-transaction` at the top of the script to run it without Cairn's transaction")]
    TransactionControl {
        /// `path:line` of the statement.
        location: String,
        /// Its leading keywords (`COMMIT`, `BEGIN TRANSACTION`).
        statement: String,
        /// Which script.
        direction: Direction,
        /// The migration's version.
        version: Version,
        /// Its name.
        name: String,
        /// The engine.
        engine: Engine,
    },
    /// A script contains a NUL character.
    #[error("`{}`:{line}:{column} contains a NUL character (byte 0), which engines drop or cut statements at: remove it (save the file as plain UTF-8 text)", path.display())]
    NulByte {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
    },
    /// Something other than a regular file stands where a script is read.
    #[error("`{}` is {what}, not a regular file: Cairn reads migrations only from regular files (or symbolic links to them) and did not open it; replace it with a regular file, or move it out of the migrations directory", path.display())]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// `"a FIFO"`, `"a socket"`, `"a device"`.
        what: &'static str,
    },
    /// The history table (or schema) name is too long for the engine.
    #[error("{setting} `{value}` is {length} {unit} long, but on {engine} the name `{derived}` derived from it must fit in {limit} {unit}: choose a name of at most {max} {unit}")]
    NameTooLong {
        /// `history_table` or `history_schema`.
        setting: &'static str,
        /// The configured value.
        value: String,
        /// Its length.
        length: usize,
        /// The longest name derived from it.
        derived: String,
        /// The engine's limit for identifiers.
        limit: usize,
        /// The longest value that fits.
        max: usize,
        /// `bytes` or `characters`.
        unit: &'static str,
        /// The engine.
        engine: Engine,
    },
    /// A history row holds a value Cairn never writes.
    #[error("history table `{table}` on {engine}, row of version {version}: column {column} holds {value:?}, {problem}; {fix}")]
    History {
        /// The table.
        table: String,
        /// The engine.
        engine: Engine,
        /// The row's version.
        version: Version,
        /// The column.
        column: &'static str,
        /// The value found.
        value: String,
        /// What is wrong with it.
        problem: String,
        /// What to do.
        fix: &'static str,
    },
    /// Validation found problems; nothing was changed.
    #[error("{0}")]
    Validation(Problems),
    /// `--to` names a version that is neither on disk nor in the history.
    #[error("there is no migration with version {version}: pick one that `cairn status` lists")]
    UnknownTarget {
        /// The version asked for.
        version: Version,
    },
    /// A migration cannot be rolled back on this engine.
    #[error("migration {version} ({name}) has no down script for {engine}{irreversible}: nothing was rolled back; write `down.sql` (or `down.{engine}.sql`), or stop before it with --to")]
    NoDownScript {
        /// Its version.
        version: Version,
        /// Its name.
        name: String,
        /// The engine.
        engine: Engine,
        /// `" (declared irreversible)"` or empty.
        irreversible: &'static str,
    },
    /// A statement of a migration failed; see the variant's fields for what was undone.
    #[error("{direction} of migration {version} ({name}) failed on {engine} at statement {index} of {count}, {location}: {message}\n{outcome}")]
    Statement {
        /// Which way it ran.
        direction: Direction,
        /// The migration's version.
        version: Version,
        /// Its name.
        name: String,
        /// The engine.
        engine: Engine,
        /// `path:line` of the statement.
        location: String,
        /// 1-based index of the statement.
        index: usize,
        /// Number of statements in the script.
        count: usize,
        /// The database's message.
        message: String,
        /// What kind of failure the driver saw (a lock timeout, say).
        kind: crate::driver::DriverErrorKind,
        /// What state the database was left in, and what to do.
        outcome: String,
    },
    /// `--resume` found that statements which already ran have changed.
    #[error("cannot resume migration {version} ({name}): its first {done} statement(s) already ran but have changed in the file since; restore them as they were and resume, or bring the database back by hand and run `cairn repair`")]
    ResumeChanged {
        /// Version.
        version: Version,
        /// Name.
        name: String,
        /// Statements that had completed.
        done: usize,
    },
    /// The migration lock could not be taken in time.
    #[error("could not take the migration lock on {engine} within {waited_ms} ms: {holder}; wait for that run to finish, or raise the lock timeout")]
    LockTimeout {
        /// The engine.
        engine: Engine,
        /// How long it waited.
        waited_ms: u128,
        /// Who holds the lock, as far as the engine says.
        holder: String,
    },
    /// A driver failed outside a migration's statements.
    #[error("{engine}: {context}: {cause}")]
    Driver {
        /// The engine.
        engine: Engine,
        /// What Cairn was doing.
        context: String,
        /// The driver's error.
        cause: DriverError,
    },
    /// The history table holds something Cairn cannot read.
    #[error("history table `{table}` on {engine} has an unreadable row: {message}; was it written by a newer Cairn?")]
    CorruptHistory {
        /// The table.
        table: String,
        /// The engine.
        engine: Engine,
        /// What could not be read.
        message: String,
    },
    /// A backfill failed; its checkpoint stays at the last committed batch.
    #[error("{0}")]
    Backfill(Box<BackfillFailure>),
    /// A backfill stopped at a batch boundary because stopping was asked for (Ctrl-C).
    #[error("stopped at a batch boundary: the backfill of `{table}` in migration {version} ({name}) has done {done} of {total} rows, and the checkpoint is committed; run `cairn up` to resume")]
    Interrupted {
        /// The migration's version.
        version: Version,
        /// Its name.
        name: String,
        /// The table.
        table: String,
        /// Rows done.
        done: i64,
        /// Rows to do in all.
        total: i64,
    },
    /// A run stopped between two migrations because stopping was asked for (Ctrl-C).
    #[error("stopped before migration {version} ({name}) as asked: the migrations before it are complete; run the command again to continue")]
    Stopped {
        /// The first migration that did not run.
        version: Version,
        /// Its name.
        name: String,
    },
    /// A request that cannot be carried out as asked.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// Whether this error means "validation found problems" (CLI exit code 3).
    pub fn is_validation(&self) -> bool {
        matches!(self, Error::Validation(_))
    }

    pub(crate) fn driver(engine: Engine, context: impl Into<String>, cause: DriverError) -> Self {
        Error::Driver {
            engine,
            context: context.into(),
            cause,
        }
    }
}

/// A non-empty list of validation problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} problem{} found; nothing was changed",
            if n == 1 { "" } else { "s" }
        )?;
        for problem in &self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// The result type of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What [`Error::Backfill`] says.
#[derive(Debug, thiserror::Error)]
#[error("backfill of `{table}` in migration {version} ({name}) failed on {engine}, {location}{}: {message}\n{outcome}", key.as_ref().map(|k| format!(", at the row with key ({k})")).unwrap_or_default())]
pub struct BackfillFailure {
    /// The migration's version.
    pub version: Version,
    /// Its name.
    pub name: String,
    /// The engine.
    pub engine: Engine,
    /// `path:line` of the `[[backfill]]` in migration.toml.
    pub location: String,
    /// The table.
    pub table: String,
    /// The primary key of the row that failed, when one row did.
    pub key: Option<String>,
    /// The database's message, or what is wrong.
    pub message: String,
    /// What state things were left in, and what to do.
    pub outcome: String,
}

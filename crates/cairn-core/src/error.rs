//! The errors of Cairn's core.
//!
//! Every message says what happened, where (file:line, migration version,
//! engine) and what to do next. Messages are lowercase without a trailing period.

use std::fmt;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::driver::DriverError;
use crate::engine::Engine;
use crate::migration::{Direction, Version};
use crate::plan::Problem;

/// A position in a file: `path:line`, or `path:line:column` when the column
/// is known. Lines and columns are 1-based; columns count characters.
///
/// Compact (the size of a `String`), so that errors naming one stay small.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    path: Arc<Path>,
    line: u32,
    column: Option<NonZeroU32>,
}

impl Location {
    /// `path:line`.
    pub fn new(path: impl AsRef<Path>, line: usize) -> Self {
        Location {
            path: Arc::from(path.as_ref()),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: None,
        }
    }

    /// The same location, at `column` of its line.
    pub fn with_column(self, column: usize) -> Self {
        Location {
            column: NonZeroU32::new(u32::try_from(column).unwrap_or(u32::MAX)),
            ..self
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The line.
    pub fn line(&self) -> usize {
        self.line as usize
    }

    /// The column, when it is known.
    pub fn column(&self) -> Option<usize> {
        self.column.map(|column| column.get() as usize)
    }

    /// `line` or `line:column`, without the path.
    pub fn position(&self) -> String {
        match self.column {
            Some(column) => format!("{}:{column}", self.line),
            None => self.line.to_string(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.position())
    }
}

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
        #[source]
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
        /// Where the directive is.
        location: Location,
        /// The directive's name.
        directive: String,
    },
    /// A known directive with a bad argument.
    #[error("{location}: {message}")]
    BadDirective {
        /// Where the directive is.
        location: Location,
        /// What is wrong and how to write it.
        message: String,
    },
    /// An `[[operation]]` that cannot run: bad input, or not online on this engine.
    #[error("{location}: operation `{kind}` on {engine}: {message}")]
    Operation {
        /// `migration.toml:<line>` of the operation.
        location: Location,
        /// Its kind (`rename_column`).
        kind: &'static str,
        /// The engine it was compiled for.
        engine: Engine,
        /// What is wrong and what to do.
        message: String,
    },
    /// The statement splitter rejected a script.
    #[error("{location}: {message}")]
    Split {
        /// Where the problem starts.
        location: Location,
        /// The splitter's message.
        message: String,
    },
    /// A script that runs in Cairn's transaction controls transactions itself.
    #[error("{location}: `{statement}` in the {direction} script of migration {version} ({name}) would end Cairn's transaction on {engine}, which holds the script and its history row together; nothing was changed. Remove the statement (Cairn already wraps the script in a transaction), or put `-- cairn:no-transaction` at the top of the script to run it without Cairn's transaction")]
    TransactionControl {
        /// Where the statement starts.
        location: Location,
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
    /// A Flyway-layout script mixes statements that run only outside a
    /// transaction with statements that run in one (Flyway refuses it too,
    /// unless its `mixed` setting is on).
    #[error("{location}: `{statement}` cannot run inside a transaction on {engine}, and the {direction} script of migration {version} ({name}) also holds statements that run in one (the first at {transactional}); nothing was changed. Move it to a migration of its own, which then runs outside a transaction as Flyway runs it, or put `-- cairn:no-transaction` at the top of the script to run every statement outside a transaction (Flyway's `mixed = true`)")]
    MixedTransaction {
        /// Where the statement that cannot run in a transaction starts.
        location: Location,
        /// Its first line.
        statement: String,
        /// Where the first statement that runs in a transaction starts.
        transactional: Location,
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
    #[error("`{}`:{} contains a NUL character (byte 0), which engines drop or cut statements at: remove it (save the file as plain UTF-8 text)", location.path().display(), location.position())]
    NulByte {
        /// The file, line and column (in characters) of the first NUL.
        location: Location,
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
    #[error("migration {version} ({name}) has no down script for {engine}{}: nothing was rolled back; {expected}, or stop before it with --to", if *declared_irreversible { " (declared irreversible)" } else { "" })]
    NoDownScript {
        /// Its version.
        version: Version,
        /// Its name.
        name: String,
        /// The engine.
        engine: Engine,
        /// Whether its up script declares `-- cairn:irreversible`.
        declared_irreversible: bool,
        /// What to write, in the migration's layout
        /// ([`Migration::down_hint`](crate::migration::Migration::down_hint)).
        expected: String,
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
        /// Where the statement starts.
        location: Location,
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
        #[source]
        cause: DriverError,
    },
    /// `cairn adopt` refused (see [`crate::adopt::AdoptError`]).
    #[error(transparent)]
    Adopt(Box<crate::adopt::AdoptError>),
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
    /// A zero-downtime phase stopped between two of its steps because
    /// stopping was asked for (Ctrl-C, SIGTERM): every step before is done
    /// and recorded, the history keeps the phase's state.
    #[error("{phase} of migration {version} ({name}) stopped as asked after step {done} of {count}; the history keeps it {}: {next}", .state.as_str())]
    PhaseStopped {
        /// The migration.
        version: Version,
        /// Its name.
        name: String,
        /// The phase that stopped.
        phase: crate::operation::Phase,
        /// The steps of the phase done and recorded.
        done: usize,
        /// The steps of the phase in all.
        count: usize,
        /// The state the history keeps.
        state: crate::history::HistoryState,
        /// What to run to continue or undo it.
        next: String,
    },
    /// `baseline` was given a version that is not a positive integer.
    #[error("baseline version must be a positive integer, got {version}")]
    BaselineVersion {
        /// The version given.
        version: Version,
    },
    /// `baseline` on a database that already has a history.
    #[error("cannot baseline on {engine}: the history already has {rows} row(s), starting with migration {first}; baseline is for a database that has no Cairn history yet")]
    BaselineOverHistory {
        /// The engine.
        engine: Engine,
        /// Rows in the history.
        rows: usize,
        /// The version of its first row.
        first: Version,
    },
    /// `--resume` found no failed or interrupted migration.
    #[error("nothing to resume: no migration is failed or interrupted; run `cairn up`")]
    NothingToResume,
    /// `--skip-in-doubt` on a migration whose failed statement is certain not to have completed.
    #[error("--skip-in-doubt: migration {version} ({name}) has no statement in doubt: statement {statement} failed with an error, so it did not complete; nothing was changed. Fix it and run `cairn up --resume` without --skip-in-doubt")]
    NoStatementInDoubt {
        /// The migration's version.
        version: Version,
        /// Its name.
        name: String,
        /// The 1-based number of the statement that failed.
        statement: i64,
    },
    /// `--resume` on a migration whose rollback failed or was interrupted.
    #[error(
        "migration {version} ({name}) failed while rolling back, or was interrupted; {}",
        crate::recovery::rollback_advice()
    )]
    RollbackNotResumable {
        /// The migration's version.
        version: Version,
        /// Its name.
        name: String,
    },
    /// `--resume` on a failed migration whose files are gone.
    #[error("migration {version} ({name}) failed and is no longer on disk: restore it to resume, or fix the database by hand and run `cairn repair`")]
    ResumeMissing {
        /// The migration's version.
        version: Version,
        /// Its name.
        name: String,
    },
    /// A migration's backfills are to be resumed, but its files are gone.
    #[error("migration {version} ({name}) is backfilling but is no longer on disk: restore it and run `cairn up`")]
    BackfillingMissing {
        /// The migration's version.
        version: Version,
        /// Its name.
        name: String,
    },
    /// `redo` with nothing applied.
    #[error("nothing to redo: no migration is applied")]
    NothingToRedo,
    /// A zero-downtime command (`up`, `contract`, `abort`, `down`) that the
    /// state of a migration with `[[operation]]`s does not allow.
    #[error("migration {version} ({name}) is {}: {advice}", .state.as_str())]
    PhaseState {
        /// The migration's version.
        version: Version,
        /// Its name.
        name: String,
        /// Its history state.
        state: crate::history::HistoryState,
        /// Why the command refused, and what to run instead.
        advice: String,
    },
    /// `contract` or `abort` found no migration in a zero-downtime phase.
    #[error("nothing to {command}: {advice}")]
    NoPhaseInProgress {
        /// `contract` or `abort`.
        command: &'static str,
        /// What the history holds, and what to run instead.
        advice: String,
    },
    /// Another run wrote the row of a migration while this run was about to apply it.
    #[error("migration {version} ({name}) is {state} in the history, written by another run meanwhile; stopped here. Wait for that run, then check `cairn status`")]
    ChangedByOtherRun {
        /// The migration's version.
        version: Version,
        /// Its name.
        name: String,
        /// The state the other run recorded, as stored.
        state: String,
    },
    /// `down --steps N` asks for more migrations than are applied.
    #[error("--steps {steps} asks for more migrations than are applied: only {applied} applied; nothing was rolled back. Use --all, or --steps {applied}")]
    TooManySteps {
        /// The steps asked for.
        steps: usize,
        /// The migrations applied.
        applied: usize,
    },
    /// `down --to V` where V is not applied and nothing newer is.
    #[error("--to {target}: migration {target} is not applied and no applied migration is newer than it (the newest applied is {newest}); nothing was rolled back. `down --to V` keeps V and rolls back what was applied after it: pick a version that `cairn status` shows as applied")]
    DownTargetNotApplied {
        /// The version asked for.
        target: Version,
        /// The newest applied version.
        newest: Version,
    },
    /// `cairn drift` on a server engine without `--scratch-url`.
    #[error("`cairn drift` on {engine} needs an empty scratch database to apply the migrations to: pass --scratch-url {scheme}://...")]
    DriftNeedsScratch {
        /// The live database's engine.
        engine: Engine,
        /// The live URL's scheme, for the example.
        scheme: String,
    },
    /// A scratch database of another engine than the live one.
    #[error("the scratch database {scratch} is {scratch_engine} but the live database {live} is {engine}: use a scratch database of the same engine")]
    ScratchEngine {
        /// The scratch URL (redacted).
        scratch: String,
        /// Its engine.
        scratch_engine: Engine,
        /// The live URL (redacted).
        live: String,
        /// The live engine.
        engine: Engine,
    },
    /// `verify` on a server engine with no server to create scratch databases on.
    #[error("cannot verify on {engine}: no {engine} server to create a disposable database on: set {variable} to a server URL on which Cairn may create and drop databases, e.g. {example}, or leave {engine} out of --engines")]
    NoScratchServer {
        /// The engine.
        engine: Engine,
        /// The variable that names the server.
        variable: String,
        /// An example URL.
        example: &'static str,
    },
    /// The variable naming a scratch server holds no usable URL of its engine.
    #[error("{variable} is not a usable database URL: {problem}; set it to a {engine} server URL, e.g. {example}")]
    BadScratchServer {
        /// The variable.
        variable: String,
        /// The engine it must name.
        engine: Engine,
        /// What is wrong with it.
        problem: String,
        /// An example URL.
        example: &'static str,
    },
    /// The variable naming a scratch server names a server of another engine.
    #[error("{variable} is a {found} URL ({url}); it must name a {engine} server, e.g. {example}")]
    ScratchServerEngine {
        /// The variable.
        variable: String,
        /// The engine of the URL it holds.
        found: Engine,
        /// The URL (redacted).
        url: String,
        /// The engine it must name.
        engine: Engine,
        /// An example URL.
        example: &'static str,
    },
    /// A scratch database's own URL could not be built.
    #[error("the disposable database's URL {url} is not usable: {problem}; {fix}")]
    ScratchUrl {
        /// The URL (redacted).
        url: String,
        /// What is wrong with it.
        problem: String,
        /// What to do.
        fix: String,
    },
    /// `verify --from A --to B` with A after B.
    #[error("--from {from} is after --to {to}: nothing would be verified")]
    EmptyRange {
        /// The first version asked for.
        from: Version,
        /// The last version asked for.
        to: Version,
    },
    /// The database given for verification holds objects.
    #[error("the {what} is not empty: it has {} ({engine}); nothing was changed: give an empty, disposable database (verify and drift run down scripts on it)", first_five(objects))]
    NotEmpty {
        /// Which database (`database to verify on`).
        what: String,
        /// The objects found in it.
        objects: Vec<String>,
        /// The engine.
        engine: Engine,
    },
    /// The database given for verification has a Cairn history.
    #[error("the {what} is not empty: its history table `{table}` has {rows} row(s); nothing was changed: give an empty, disposable database")]
    NotEmptyHistory {
        /// Which database (`database to verify on`).
        what: String,
        /// The history table's name.
        table: String,
        /// Rows in it.
        rows: usize,
    },
}

/// The first five of `objects`, and how many more there are.
fn first_five(objects: &[String]) -> String {
    let shown: Vec<&str> = objects.iter().take(5).map(String::as_str).collect();
    let more = if objects.len() > 5 {
        format!(" and {} more", objects.len() - 5)
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_read_path_line_and_column() {
        let at = Location::new("migrations/1_a/up.sql", 3);
        assert_eq!(at.to_string(), "migrations/1_a/up.sql:3");
        assert_eq!(
            at.clone().with_column(7).to_string(),
            "migrations/1_a/up.sql:3:7"
        );
        let nul = Error::NulByte {
            location: at.with_column(7),
        };
        assert!(
            nul.to_string()
                .starts_with("`migrations/1_a/up.sql`:3:7 contains a NUL character"),
            "{nul}"
        );
    }

    #[test]
    fn the_causes_of_io_and_driver_errors_are_their_sources() {
        use std::error::Error as _;
        let io = Error::Io {
            path: PathBuf::from("m"),
            cause: std::io::Error::other("disk"),
        };
        assert_eq!(
            io.source().map(ToString::to_string).as_deref(),
            Some("disk")
        );
        let driver = Error::driver(
            Engine::Sqlite,
            "reading",
            DriverError::new(crate::driver::DriverErrorKind::Other, "gone"),
        );
        assert_eq!(
            driver.source().map(ToString::to_string).as_deref(),
            Some("gone")
        );
        assert_eq!(driver.to_string(), "sqlite: reading: gone");
    }

    #[test]
    fn no_down_script_says_whether_it_was_declared_irreversible() {
        let error = |declared_irreversible| Error::NoDownScript {
            version: crate::migration::Version::from(2),
            name: "seed".to_owned(),
            engine: Engine::Postgres,
            declared_irreversible,
            expected: "write `down.sql` (or `down.postgres.sql`)".to_owned(),
        };
        assert!(error(true).to_string().starts_with(
            "migration 2 (seed) has no down script for postgres (declared irreversible): nothing"
        ));
        assert!(error(false)
            .to_string()
            .starts_with("migration 2 (seed) has no down script for postgres: nothing"));
    }

    #[test]
    fn a_database_that_is_not_empty_is_named_with_five_objects_at_most() {
        let objects: Vec<String> = (1..=7).map(|i| format!("table `t{i}`")).collect();
        let error = Error::NotEmpty {
            what: "database to verify on".to_owned(),
            objects,
            engine: Engine::Mysql,
        };
        assert_eq!(
            error.to_string(),
            "the database to verify on is not empty: it has table `t1`, table `t2`, table `t3`, table `t4`, table `t5` and 2 more (mysql); nothing was changed: give an empty, disposable database (verify and drift run down scripts on it)"
        );
    }
}

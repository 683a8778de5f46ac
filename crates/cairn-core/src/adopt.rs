//! `cairn adopt --from <tool>`: import the history table another migration
//! tool wrote into Cairn's, so that nothing is applied twice.
//!
//! The work is split in three, each testable on its own:
//!
//! 1. **Read** (`tools/<tool>/history.rs`, one importer per tool): the
//!    tool's table (its default name, or `--table`) is read through the
//!    connection and decoded into [`ForeignRow`]s: what the tool calls the
//!    migration, the Cairn version it maps to, the checksum as the tool kept
//!    it (if it keeps one), applied or failed, when and by whom. A table whose
//!    shape is not the tool's is refused ([`AdoptError::Shape`],
//!    [`AdoptError::Ambiguous`]).
//! 2. **Map** ([`plan`], a pure function): each row is matched with the
//!    migration of that version read from the directory; its checksum is
//!    checked against the **original bytes** of the file with the tool's own
//!    algorithm (not Cairn's normalised text); a row with no file or a
//!    checksum that does not match is refused, naming the row, the file and
//!    what to do. Versions Cairn's history already has are left as Cairn
//!    recorded them (so adopting twice changes nothing).
//! 3. **Write** (`Migrator::adopt`, under Cairn's migration lock): one
//!    transaction inserts the rows into Cairn's history with Cairn's own
//!    checksum of the file, and one `adopt` log row each. The foreign table
//!    is only read, never changed, so the team can still go back.
//!
//! Tools whose migrations are code Cairn cannot run (TypeORM, Knex, Rails,
//! Alembic, Flyway's Java migrations) are adopted as baseline rows: every version up to the
//! highest counts as applied, and new migrations continue in Cairn.
//!
//! docs/adopting.md is the user's side of this: per tool, what is read,
//! adopted and refused.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::dialect::Dialect;
use crate::driver::{Driver, DriverError, Rows};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::history::{HistoryKind, HistoryRow, HistoryState};
use crate::migration::{Migration, Version};
use crate::tools;

/// The checksum algorithms of the tools that keep one, as pure functions
/// of a file's original bytes (and, for refinery, its name and version).
pub mod checksums {
    pub use crate::tools::flyway::history::checksum as flyway;
    pub use crate::tools::liquibase::history::changeset_sql as liquibase_sql;
    pub use crate::tools::liquibase::history::checksum_v8 as liquibase_v8;
    pub use crate::tools::liquibase::history::checksum_v9 as liquibase_v9;
    pub use crate::tools::liquibase::history::V8Attributes as LiquibaseV8Attributes;
    pub use crate::tools::prisma::history::checksum as prisma;
    pub use crate::tools::refinery::history::checksum_i32 as refinery;
    pub use crate::tools::refinery::history::checksum_i64 as refinery_int8;
    pub use crate::tools::sqlx::history::checksum as sqlx;
    pub use crate::tools::sqlx::history::checksum_ignoring as sqlx_ignoring;
}

/// A migration tool whose history `cairn adopt` imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Tool {
    /// sqlx (`_sqlx_migrations`, SHA-384 checksums).
    Sqlx,
    /// refinery (`refinery_schema_history`, SipHash-1-3 checksums).
    Refinery,
    /// Flyway (`flyway_schema_history`, CRC-32 of lines).
    Flyway,
    /// golang-migrate (`schema_migrations`: one row, version and dirty).
    GolangMigrate,
    /// dbmate (`schema_migrations`: one version per row).
    Dbmate,
    /// diesel (`__diesel_schema_migrations`).
    Diesel,
    /// Prisma (`_prisma_migrations`, SHA-256 checksums).
    Prisma,
    /// Liquibase (`databasechangelog`).
    Liquibase,
    /// TypeORM (`migrations`; code migrations).
    Typeorm,
    /// Knex (`knex_migrations`; code migrations).
    Knex,
    /// Rails (`schema_migrations` beside `ar_internal_metadata`; code migrations).
    Rails,
    /// Alembic (`alembic_version`: the current heads of a revision graph; code migrations).
    Alembic,
}

impl Tool {
    /// Every tool, in the order the docs list them.
    pub const ALL: [Tool; 12] = [
        Tool::Sqlx,
        Tool::Refinery,
        Tool::Flyway,
        Tool::GolangMigrate,
        Tool::Dbmate,
        Tool::Diesel,
        Tool::Prisma,
        Tool::Liquibase,
        Tool::Typeorm,
        Tool::Knex,
        Tool::Rails,
        Tool::Alembic,
    ];

    /// The name `--from` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::Sqlx => "sqlx",
            Tool::Refinery => "refinery",
            Tool::Flyway => "flyway",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Dbmate => "dbmate",
            Tool::Diesel => "diesel",
            Tool::Prisma => "prisma",
            Tool::Liquibase => "liquibase",
            Tool::Typeorm => "typeorm",
            Tool::Knex => "knex",
            Tool::Rails => "rails",
            Tool::Alembic => "alembic",
        }
    }

    /// The table the tool writes unless configured otherwise.
    pub fn default_table(self) -> &'static str {
        match self {
            Tool::Sqlx => tools::sqlx::history::TABLE,
            Tool::Refinery => tools::refinery::history::TABLE,
            Tool::Flyway => tools::flyway::history::TABLE,
            Tool::GolangMigrate => tools::golang_migrate::history::TABLE,
            Tool::Dbmate => tools::dbmate::history::TABLE,
            Tool::Diesel => tools::diesel::history::TABLE,
            Tool::Prisma => tools::prisma::history::TABLE,
            Tool::Liquibase => tools::liquibase::history::TABLE,
            Tool::Typeorm => tools::typeorm::history::TABLE,
            Tool::Knex => tools::knex::history::TABLE,
            Tool::Rails => tools::rails::history::TABLE,
            Tool::Alembic => tools::alembic::history::TABLE,
        }
    }

    /// The names `--from` accepts, for messages.
    pub fn names() -> String {
        Tool::ALL.map(Tool::as_str).join(", ")
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tool {
    type Err = AdoptError;

    fn from_str(text: &str) -> std::result::Result<Self, AdoptError> {
        let wanted = text.trim().to_ascii_lowercase();
        let wanted = match wanted.as_str() {
            "golang_migrate" | "migrate" => "golang-migrate",
            other => other,
        };
        Tool::ALL
            .into_iter()
            .find(|tool| tool.as_str() == wanted)
            .ok_or_else(|| AdoptError::UnknownTool {
                given: text.to_owned(),
            })
    }
}

/// The foreign table: an optional schema (PostgreSQL schema, MySQL
/// database) and a name, both as the tool spells them (quoted when read).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForeignTable {
    /// Schema or database; `None` for the connection's default.
    pub schema: Option<String>,
    /// The table name.
    pub name: String,
}

impl ForeignTable {
    /// `--table T` (or `schema.T`), else the tool's default table.
    pub fn new(tool: Tool, table: Option<&str>) -> Self {
        match table.map(str::trim).filter(|t| !t.is_empty()) {
            Some(text) => match text.split_once('.') {
                Some((schema, name)) => ForeignTable {
                    schema: Some(schema.to_owned()),
                    name: name.to_owned(),
                },
                None => ForeignTable {
                    schema: None,
                    name: text.to_owned(),
                },
            },
            None => ForeignTable {
                schema: None,
                name: tool.default_table().to_owned(),
            },
        }
    }

    /// The name quoted and qualified for `dialect`.
    pub fn sql(&self, dialect: &dyn Dialect) -> String {
        dialect.qualify(self.schema.as_deref(), &self.name)
    }
}

impl fmt::Display for ForeignTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Which Cairn versions a foreign row stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "version")]
pub enum Target {
    /// One migration.
    Version(Version),
    /// Every migration up to and including this version (golang-migrate
    /// keeps only the current version).
    UpTo(Version),
}

/// What a foreign row says about its migration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForeignState {
    /// Applied completely.
    Applied,
    /// Failed or dirty; the text says what the tool recorded (`success =
    /// false`, `dirty = true`, ...).
    Failed(String),
}

/// What kind of migration the row records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowKind {
    /// A SQL script, which must be on disk.
    Script,
    /// Code Cairn cannot run (TypeORM, Knex, a Flyway Java migration):
    /// adopted as a baseline, no file needed.
    Code,
    /// The tool's own baseline marker (Flyway `<< Flyway Baseline >>`).
    Baseline,
}

/// One row of a foreign history, decoded by the tool's importer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignRow {
    /// How the tool identifies the migration (`20240101_init`, `1.1`, `0001`).
    pub key: String,
    /// The Cairn version(s) it stands for.
    pub target: Target,
    /// The name the tool recorded, if any.
    pub name: Option<String>,
    /// The checksum as the tool stored it (binary columns as hex text).
    pub checksum: Option<String>,
    /// Applied or failed.
    pub state: ForeignState,
    /// When, as RFC 3339 UTC, when the tool kept it in a form Cairn reads.
    pub applied_at: Option<String>,
    /// How long it took, in milliseconds, when the tool kept it.
    pub execution_ms: Option<i64>,
    /// Who applied it, when the tool kept it.
    pub applied_by: Option<String>,
    /// A script, code, or a baseline marker.
    pub kind: RowKind,
}

impl ForeignRow {
    /// An applied script row with only a key and a version: the shape most
    /// importers start from.
    pub fn applied(key: impl Into<String>, version: Version) -> Self {
        ForeignRow {
            key: key.into(),
            target: Target::Version(version),
            name: None,
            checksum: None,
            state: ForeignState::Applied,
            applied_at: None,
            execution_ms: None,
            applied_by: None,
            kind: RowKind::Script,
        }
    }
}

/// A foreign row that adopt leaves out on purpose, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// How the tool identifies it.
    pub key: String,
    /// Why it is not adopted.
    pub reason: String,
}

/// A foreign history as an importer decoded it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForeignHistory {
    /// The rows to adopt.
    pub rows: Vec<ForeignRow>,
    /// Rows left out on purpose (a Flyway schema-creation marker, a Prisma
    /// attempt that was rolled back, ...).
    pub skipped: Vec<Skipped>,
}

/// A value of a foreign row that does not have the tool's form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadValue {
    /// The row (its key, or its position when the key itself is bad).
    pub row: String,
    /// The column.
    pub column: &'static str,
    /// The value found (`NULL` for a null).
    pub value: String,
    /// What the tool writes there.
    pub expected: &'static str,
}

/// How a row's checksum was checked against its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "check", content = "algorithm")]
pub enum ChecksumCheck {
    /// The tool's checksum matched the file's original bytes.
    Verified(&'static str),
    /// The tool keeps no checksum: the file is trusted as it is.
    NotKept,
    /// Code or a baseline marker: there is no file to check.
    NoFile,
}

/// The outcome of checking one row's stored checksum against its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The checksum matched with `algorithm`.
    Match(&'static str),
    /// The tool keeps no checksum.
    NotKept,
    /// It did not match.
    Mismatch {
        /// The algorithm.
        algorithm: &'static str,
        /// What the tool stored.
        stored: String,
        /// What the file gives now.
        computed: String,
    },
}

/// What adopt does with one Cairn version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdoptAction {
    /// Recorded in Cairn's history (or would be, in a dry run).
    Record,
    /// Cairn's history already has this version: left as Cairn recorded it.
    AlreadyRecorded,
}

/// One Cairn version adopted from a foreign row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdoptEntry {
    /// The Cairn version.
    pub version: Version,
    /// Its name (the migration's on disk, else the tool's).
    pub name: String,
    /// The foreign row it comes from, as the tool identifies it.
    pub foreign: String,
    /// Applied, or failed (then `cairn repair` is needed).
    pub state: HistoryState,
    /// A migration, or a baseline (code migrations, baseline markers).
    pub kind: HistoryKind,
    /// How the checksum was checked.
    pub checksum: ChecksumCheck,
    /// The file it maps to, if any.
    pub file: Option<PathBuf>,
    /// Recorded, or already in Cairn's history.
    pub action: AdoptAction,
    /// When the tool applied it (RFC 3339), if it kept that.
    pub applied_at: Option<String>,
    /// How long it took, in milliseconds, if the tool kept that.
    #[serde(skip)]
    pub execution_ms: Option<i64>,
    /// Who applied it, if the tool kept that.
    #[serde(skip)]
    pub applied_by: Option<String>,
    /// Cairn's checksum of the file now on disk (empty for a baseline).
    #[serde(skip)]
    pub cairn_checksum: String,
    /// For a failed row: what the tool recorded.
    #[serde(skip)]
    pub failure: Option<String>,
}

/// What `cairn adopt` did, or would do with `--dry-run`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdoptReport {
    /// The tool.
    pub tool: Tool,
    /// The table read.
    pub table: String,
    /// The engine.
    pub engine: Engine,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Every Cairn version, in order.
    pub entries: Vec<AdoptEntry>,
    /// Foreign rows left out on purpose.
    pub skipped: Vec<Skipped>,
    /// How many rows were written to Cairn's history (0 in a dry run).
    pub recorded: usize,
}

/// Why `cairn adopt` refused. Nothing was changed in any of these cases.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdoptError {
    /// `--from` names no tool Cairn adopts from.
    #[error(
        "cannot adopt from `{given}`: Cairn adopts from {}; pass one of them to --from",
        Tool::names()
    )]
    UnknownTool {
        /// What was given.
        given: String,
    },
    /// The tool's table does not exist.
    #[error("cannot adopt from {tool} on {engine}: there is no table `{table}`; nothing was changed. If the project renamed its history table, pass --table NAME (or SCHEMA.NAME)")]
    NoTable {
        /// The tool.
        tool: Tool,
        /// The table looked for.
        table: String,
        /// The engine.
        engine: Engine,
    },
    /// The table is not shaped as the tool writes it.
    #[error("cannot adopt from {tool} on {engine}: table `{table}` does not have {tool}'s columns ({columns}): {hint}; nothing was changed")]
    Shape {
        /// The tool.
        tool: Tool,
        /// The table.
        table: String,
        /// The engine.
        engine: Engine,
        /// The columns the tool writes.
        columns: &'static str,
        /// Which tool probably wrote it instead, and what to do.
        hint: &'static str,
        /// The server's error.
        #[source]
        cause: DriverError,
    },
    /// The table looks like another tool's.
    #[error("cannot adopt from {tool} on {engine}: table `{table}` looks like {likely}'s ({why}); nothing was changed. `schema_migrations` is written by golang-migrate, dbmate and Rails: pass the tool that wrote it, e.g. --from {likely_name}")]
    Ambiguous {
        /// The tool asked for.
        tool: Tool,
        /// The table.
        table: String,
        /// The engine.
        engine: Engine,
        /// The tool it looks like.
        likely: &'static str,
        /// Its `--from` name.
        likely_name: &'static str,
        /// What gave it away.
        why: &'static str,
    },
    /// A value of a row is not in the tool's form.
    #[error("cannot adopt from {tool} on {engine}: row {row} of `{table}` has {column} = {value}, where {tool} writes {expected}; nothing was changed. Was the table edited by hand? Fix the row, or pass --from the tool that wrote it")]
    BadValue {
        /// The tool.
        tool: Tool,
        /// The table.
        table: String,
        /// The engine.
        engine: Engine,
        /// The row.
        row: String,
        /// The column.
        column: &'static str,
        /// The value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A row has no migration on disk.
    #[error("cannot adopt from {tool} on {engine}: `{table}` records {key} (version {version}) but the migrations directory has no migration {version}; nothing was changed. Restore its file (from version control) so Cairn can check it, or point --dir at the directory {tool} ran")]
    NoFile {
        /// The tool.
        tool: Tool,
        /// The table.
        table: String,
        /// The engine.
        engine: Engine,
        /// The row.
        key: String,
        /// The version.
        version: Version,
    },
    /// A row's checksum does not match its file.
    #[error("cannot adopt from {tool} on {engine}: migration {version} ({}) was changed after {tool} applied it: `{table}` holds {algorithm} {stored}, the file gives {computed}; nothing was changed. Restore the file as it was applied (from version control), or if the change is intended, apply it with {tool} first and adopt again", path.display())]
    Checksum {
        /// The tool.
        tool: Tool,
        /// The table.
        table: String,
        /// The engine.
        engine: Engine,
        /// The version.
        version: Version,
        /// The file.
        path: PathBuf,
        /// The algorithm.
        algorithm: &'static str,
        /// Stored value.
        stored: String,
        /// Computed value.
        computed: String,
    },
    /// Two foreign rows map to one Cairn version.
    #[error("cannot adopt from {tool} on {engine}: `{table}` has two rows for version {version} ({first} and {second}); Cairn keeps one row per version; nothing was changed. Rename one migration to a version of its own, with {tool}, before adopting")]
    Duplicate {
        /// The tool.
        tool: Tool,
        /// The table.
        table: String,
        /// The engine.
        engine: Engine,
        /// The version.
        version: Version,
        /// One row.
        first: String,
        /// The other.
        second: String,
    },
    /// A migration file could not be read.
    #[error("cannot adopt from {tool}: reading `{}`: {cause}; nothing was changed", path.display())]
    ReadFile {
        /// The tool.
        tool: Tool,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        cause: std::io::Error,
    },
    /// A migration on disk that no history records sits below a code
    /// migration's baseline, so it would never run.
    #[error("cannot adopt from {tool} on {engine}: migration {version} ({name}) is not in {tool}'s history, but its version is below {baseline}, the last {tool} migration, which Cairn records as a baseline: it would count as applied without ever running; nothing was changed. Give it a version above {baseline} (`cairn new` does), or remove it if {tool} already did its work")]
    HiddenByBaseline {
        /// The tool.
        tool: Tool,
        /// The engine.
        engine: Engine,
        /// The hidden migration.
        version: Version,
        /// Its name.
        name: String,
        /// The baseline above it.
        baseline: Version,
    },
    /// Alembic's revision files cannot be adopted as its table records them.
    #[error("cannot adopt from alembic on {engine}: {what}; nothing was changed. {advice}")]
    Revisions {
        /// The engine.
        engine: Engine,
        /// What is wrong, with file:line where there is one.
        what: String,
        /// What to do next.
        advice: String,
    },
    /// The tool's configuration file could not be read.
    #[error("cannot adopt from {tool}: `{}` is not valid: {message}; nothing was changed. Fix it as {tool} reads it, or move it away if {tool} does not use it", path.display())]
    Config {
        /// The tool.
        tool: Tool,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A Liquibase row matches no changeset of the migrations directory.
    #[error("cannot adopt from liquibase on {engine}: `{table}` records changeset {key}, but {why}; nothing was changed. Restore the changeset (from version control), point --dir at the directory Liquibase ran, or pass the --contexts/--label-filter it ran with")]
    NoChangeset {
        /// The table.
        table: String,
        /// The engine.
        engine: Engine,
        /// The row (`FILENAME::ID::AUTHOR`).
        key: String,
        /// Why it matches nothing.
        why: String,
    },
    /// What the tool recorded cannot be adopted (yet).
    #[error("cannot adopt from {tool} on {engine}: {what}; nothing was changed. {advice}")]
    Unsupported {
        /// The tool.
        tool: Tool,
        /// The engine.
        engine: Engine,
        /// What.
        what: String,
        /// What to do instead.
        advice: &'static str,
    },
}

impl From<AdoptError> for Error {
    fn from(error: AdoptError) -> Self {
        Error::Adopt(Box::new(error))
    }
}

// ---------------------------------------------------------------------------
// Helpers the importers share: reading values as their tools wrote them.

/// The value of column `index`, `None` for NULL or a short row.
pub(crate) fn value(row: &[Option<String>], index: usize) -> Option<&str> {
    row.get(index).and_then(|v| v.as_deref())
}

/// A value that must be there, else a [`BadValue`].
pub(crate) fn required<'r>(
    row: &'r [Option<String>],
    index: usize,
    key: &str,
    column: &'static str,
    expected: &'static str,
) -> std::result::Result<&'r str, BadValue> {
    value(row, index).ok_or_else(|| BadValue {
        row: key.to_owned(),
        column,
        value: "NULL".to_owned(),
        expected,
    })
}

/// A version as Cairn reads one (`Version`'s `FromStr`), else a [`BadValue`].
pub(crate) fn version(
    text: &str,
    key: &str,
    column: &'static str,
) -> std::result::Result<Version, BadValue> {
    text.trim().parse::<Version>().map_err(|_| BadValue {
        row: key.to_owned(),
        column,
        value: text.to_owned(),
        expected: "a version Cairn can order (digits)",
    })
}

/// A boolean as the engines return one in text (`t`/`f`, `1`/`0`, `true`/`false`).
pub(crate) fn boolean(
    text: &str,
    key: &str,
    column: &'static str,
) -> std::result::Result<bool, BadValue> {
    match text.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "1" => Ok(true),
        "f" | "false" | "0" => Ok(false),
        _ => Err(BadValue {
            row: key.to_owned(),
            column,
            value: text.to_owned(),
            expected: "a boolean",
        }),
    }
}

/// An integer, else a [`BadValue`].
pub(crate) fn integer(
    text: &str,
    key: &str,
    column: &'static str,
) -> std::result::Result<i64, BadValue> {
    text.trim().parse::<i64>().map_err(|_| BadValue {
        row: key.to_owned(),
        column,
        value: text.to_owned(),
        expected: "an integer",
    })
}

/// How messages name the row at `index` until its key is known (`#3`).
pub(crate) fn positional(index: usize) -> String {
    format!("#{}", index + 1)
}

/// A timestamp as the engines and tools write one, as RFC 3339 UTC:
/// `YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z|±HH[:MM]]` (no zone: UTC), or
/// milliseconds since the epoch (Prisma on SQLite). `None` for any other form:
/// the adoption time is recorded instead.
pub fn timestamp(text: &str) -> Option<String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = text.parse().ok()?;
        let millis = if n > 100_000_000_000 { n } else { n * 1000 };
        return Some(crate::clock::UtcTime::from_unix_millis(millis).rfc3339());
    }
    let bytes = text.as_bytes();
    if bytes.len() < 19 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    if bytes[4] != b'-' || bytes[7] != b'-' || !matches!(bytes[10], b' ' | b'T') {
        return None;
    }
    if bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse().ok()?;
        rest = &fraction[digits..];
    }
    let rest = rest.trim();
    let offset_minutes = match rest {
        "" | "Z" | "z" | "UTC" => 0,
        zone => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let zone = zone[1..].replace(':', "");
            let (h, m) = match zone.len() {
                2 => (zone.parse::<i64>().ok()?, 0),
                4 => (
                    zone[..2].parse::<i64>().ok()?,
                    zone[2..].parse::<i64>().ok()?,
                ),
                _ => return None,
            };
            sign * (h * 60 + m)
        }
    };
    let days = days_from_civil(year, month, day);
    let local = ((days * 24 + hour) * 60 + minute) * 60 + second;
    let utc = local - offset_minutes * 60;
    Some(crate::clock::UtcTime::from_unix_millis(utc * 1000 + millis).rfc3339())
}

/// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The alias of the foreign table in [`select`]. Columns are qualified
/// with it because SQLite reads a double-quoted name that is no column as a
/// string literal (`SELECT "dirty" FROM t` returns the text `dirty`); a
/// qualified name that is no column is an error on every engine.
const ALIAS: &str = "f";

/// `SELECT f.<columns> FROM <table> f [ORDER BY f.<order>]`, each column
/// quoted for `dialect`; a column written `hex:name` is read as hexadecimal text.
pub(crate) fn select(
    dialect: &dyn Dialect,
    table: &str,
    columns: &[&str],
    order: Option<&str>,
) -> String {
    let column = |name: &str| format!("{ALIAS}.{}", dialect.quote_ident(name));
    let columns: Vec<String> = columns
        .iter()
        .map(|name| match name.strip_prefix("hex:") {
            Some(name) => dialect.hex_text(&column(name)),
            None => column(name),
        })
        .collect();
    let mut sql = format!("SELECT {} FROM {table} {ALIAS}", columns.join(", "));
    if let Some(order) = order {
        sql.push_str(" ORDER BY ");
        sql.push_str(&column(order));
    }
    sql
}

/// Lower-case hexadecimal of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------
// Reading.

/// Reads `table` as `tool` wrote it, through `driver`. Changes nothing.
///
/// # Errors
///
/// [`AdoptError::NoTable`], [`AdoptError::Shape`], [`AdoptError::Ambiguous`],
/// [`AdoptError::BadValue`]; a driver error while reading.
pub async fn read(
    tool: Tool,
    driver: &mut dyn Driver,
    table: &ForeignTable,
    options: &ToolOptions,
) -> Result<ForeignHistory> {
    let dialect = driver.dialect().shared();
    let engine = dialect.engine();
    let exists = driver
        .query(&dialect.table_exists(table.schema.as_deref(), &table.name))
        .await
        .map_err(|e| Error::driver(engine, format!("looking for {tool}'s table `{table}`"), e))?;
    if exists.is_empty() {
        return Err(AdoptError::NoTable {
            tool,
            table: table.to_string(),
            engine,
        }
        .into());
    }
    if tool == Tool::Liquibase {
        liquibase_lock(driver, &*dialect, table).await?;
    }
    // `schema_migrations` is written by three tools: refuse the wrong one.
    if let Some(ambiguity) = probe(tool, driver, &*dialect, table).await {
        return Err(ambiguity.into());
    }
    let qualified = table.sql(&*dialect);
    let (select, columns, hint) = match tool {
        Tool::Sqlx => tools::sqlx::history::select(&*dialect, &qualified),
        Tool::Refinery => tools::refinery::history::select(&*dialect, &qualified),
        Tool::Flyway => tools::flyway::history::select(&*dialect, &qualified),
        Tool::GolangMigrate => tools::golang_migrate::history::select(&*dialect, &qualified),
        Tool::Dbmate => tools::dbmate::history::select(&*dialect, &qualified),
        Tool::Diesel => tools::diesel::history::select(&*dialect, &qualified),
        Tool::Prisma => tools::prisma::history::select(&*dialect, &qualified),
        Tool::Liquibase => tools::liquibase::history::select(&*dialect, &qualified),
        Tool::Typeorm => tools::typeorm::history::select(&*dialect, &qualified),
        Tool::Knex => tools::knex::history::select(&*dialect, &qualified),
        Tool::Rails => tools::rails::history::select(&*dialect, &qualified),
        Tool::Alembic => tools::alembic::history::select(&*dialect, &qualified),
    };
    let rows = driver
        .query(&select)
        .await
        .map_err(|cause| AdoptError::Shape {
            tool,
            table: table.to_string(),
            engine,
            columns,
            hint,
            cause,
        })?;
    let bad_value = |bad: BadValue| -> Error {
        AdoptError::BadValue {
            tool,
            table: table.to_string(),
            engine,
            row: bad.row,
            column: bad.column,
            value: bad.value,
            expected: bad.expected,
        }
        .into()
    };
    if tool == Tool::Alembic {
        let heads = tools::alembic::history::heads(&rows).map_err(bad_value)?;
        return alembic(&heads, options, engine);
    }
    decode(tool, rows).map_err(bad_value)
}

/// Alembic's table holds only the current heads: the applied revisions are
/// found by walking the graph of the revision files (see
/// [`tools::alembic::history`]).
fn alembic(heads: &[String], options: &ToolOptions, engine: Engine) -> Result<ForeignHistory> {
    let dir = options.alembic_versions.clone().unwrap_or_else(|| {
        let cwd = std::env::current_dir().unwrap_or_default();
        tools::alembic::default_versions_dir(&cwd)
    });
    let refused = |problem: tools::alembic::Problem| -> Error {
        AdoptError::Revisions {
            engine,
            what: problem.what,
            advice: problem.advice,
        }
        .into()
    };
    let revisions = tools::alembic::read_versions(&dir).map_err(refused)?;
    tools::alembic::history::baseline(heads, &revisions, &dir).map_err(refused)
}

/// `table` as the database spells it: Liquibase's unquoted names are lower
/// case on PostgreSQL and upper case on MySQL and SQLite, so its default
/// table is looked for in both. Other tools' tables are taken as given.
///
/// # Errors
///
/// A driver error while looking.
pub async fn locate(
    tool: Tool,
    driver: &mut dyn Driver,
    table: ForeignTable,
) -> Result<ForeignTable> {
    if tool != Tool::Liquibase || !table.name.eq_ignore_ascii_case(tool.default_table()) {
        return Ok(table);
    }
    let dialect = driver.dialect().shared();
    for name in tools::liquibase::history::spellings(&table.name) {
        let exists = driver
            .query(&dialect.table_exists(table.schema.as_deref(), &name))
            .await
            .map_err(|e| {
                Error::driver(
                    dialect.engine(),
                    format!("looking for {tool}'s table `{name}`"),
                    e,
                )
            })?;
        if !exists.is_empty() {
            return Ok(ForeignTable { name, ..table });
        }
    }
    Ok(table)
}

/// Refuses while `DATABASECHANGELOGLOCK` beside `table` says a Liquibase
/// run holds the lock (a crashed run leaves it held).
async fn liquibase_lock(
    driver: &mut dyn Driver,
    dialect: &dyn Dialect,
    table: &ForeignTable,
) -> Result<()> {
    let lock = ForeignTable {
        schema: table.schema.clone(),
        name: tools::liquibase::history::lock_table(&table.name),
    };
    let exists = driver
        .query(&dialect.table_exists(lock.schema.as_deref(), &lock.name))
        .await
        .is_ok_and(|rows| !rows.is_empty());
    if !exists {
        return Ok(());
    }
    let select = tools::liquibase::history::select_lock(dialect, &lock.sql(dialect));
    let rows = driver.query(&select).await.map_err(|e| {
        Error::driver(
            dialect.engine(),
            format!("reading Liquibase's lock table `{lock}`"),
            e,
        )
    })?;
    match tools::liquibase::history::lock_holder(&rows) {
        Some(holder) => Err(AdoptError::Unsupported {
            tool: Tool::Liquibase,
            engine: dialect.engine(),
            what: format!("`{lock}` says Liquibase holds its lock (LOCKEDBY {holder}), so a Liquibase run may be changing the database now"),
            advice: "Wait for that run to finish; if none is running (a crashed run leaves the lock held), release it with `liquibase release-locks`, then adopt again",
        }
        .into()),
        None => Ok(()),
    }
}

/// Decodes the rows `tool`'s select returned.
///
/// # Errors
///
/// The first value not in the tool's form.
pub fn decode(tool: Tool, rows: Rows) -> std::result::Result<ForeignHistory, BadValue> {
    match tool {
        Tool::Sqlx => tools::sqlx::history::decode(rows),
        Tool::Refinery => tools::refinery::history::decode(rows),
        Tool::Flyway => tools::flyway::history::decode(rows),
        Tool::GolangMigrate => tools::golang_migrate::history::decode(rows),
        Tool::Dbmate => tools::dbmate::history::decode(rows),
        Tool::Diesel => tools::diesel::history::decode(rows),
        Tool::Prisma => tools::prisma::history::decode(rows),
        Tool::Liquibase => tools::liquibase::history::decode(rows),
        Tool::Typeorm => tools::typeorm::history::decode(rows),
        Tool::Knex => tools::knex::history::decode(rows),
        Tool::Rails => tools::rails::history::decode(rows),
        // Its rows are only the current heads: `read` walks the revision graph.
        Tool::Alembic => tools::alembic::history::heads(&rows).map(|_| ForeignHistory::default()),
    }
}

/// Tells `schema_migrations` tables apart: golang-migrate's has a `dirty`
/// column; Rails keeps `ar_internal_metadata` beside its table.
async fn probe(
    tool: Tool,
    driver: &mut dyn Driver,
    dialect: &dyn Dialect,
    table: &ForeignTable,
) -> Option<AdoptError> {
    if !matches!(tool, Tool::Dbmate | Tool::GolangMigrate | Tool::Rails) {
        return None;
    }
    let engine = dialect.engine();
    let rails = driver
        .query(&dialect.table_exists(table.schema.as_deref(), "ar_internal_metadata"))
        .await
        .is_ok_and(|rows| !rows.is_empty());
    if tool == Tool::Rails && !rails {
        return Some(AdoptError::Ambiguous {
            tool,
            table: table.to_string(),
            engine,
            likely: "dbmate or golang-migrate",
            likely_name: "dbmate",
            why: "Rails keeps `ar_internal_metadata` beside it, and it is not there",
        });
    }
    if rails && tool != Tool::Rails {
        return Some(AdoptError::Ambiguous {
            tool,
            table: table.to_string(),
            engine,
            likely: "Rails",
            likely_name: "rails",
            why: "`ar_internal_metadata` is beside it",
        });
    }
    if matches!(tool, Tool::Dbmate | Tool::Rails) {
        let dirty = format!(
            "{} WHERE 1 = 0",
            select(dialect, &table.sql(dialect), &["dirty"], None)
        );
        if driver.query(&dirty).await.is_ok() {
            return Some(AdoptError::Ambiguous {
                tool,
                table: table.to_string(),
                engine,
                likely: "golang-migrate",
                likely_name: "golang-migrate",
                why: "it has a `dirty` column",
            });
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Mapping (pure).

/// What a tool's own configuration changes in how it checksums.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolOptions {
    /// sqlx 0.9's `[migrate] ignored-chars` (sqlx.toml): characters removed
    /// from a file before hashing.
    pub ignored_chars: Vec<char>,
    /// Alembic's versions directory, where its revision files are
    /// (`--alembic-versions`); `None`: [`tools::alembic::default_versions_dir`]
    /// of the current directory.
    pub alembic_versions: Option<PathBuf>,
    /// The table the tool's configuration names (sqlx 0.9's `[migrate]
    /// table-name`), read when `--table` is not given.
    pub table: Option<String>,
}

/// Checks a row's stored checksum against the original bytes of its file.
pub fn verify(
    tool: Tool,
    row: &ForeignRow,
    migration: &Migration,
    raw: &[u8],
    options: &ToolOptions,
) -> Verdict {
    let Some(stored) = row.checksum.as_deref() else {
        return Verdict::NotKept;
    };
    match tool {
        Tool::Sqlx => tools::sqlx::history::verify(stored, raw, &options.ignored_chars),
        Tool::Refinery => tools::refinery::history::verify(stored, row, migration, raw),
        Tool::Flyway => tools::flyway::history::verify(stored, raw),
        Tool::Prisma => tools::prisma::history::verify(stored, raw),
        Tool::Liquibase => tools::liquibase::history::verify(stored, migration, raw),
        Tool::GolangMigrate
        | Tool::Dbmate
        | Tool::Diesel
        | Tool::Typeorm
        | Tool::Knex
        | Tool::Rails
        | Tool::Alembic => Verdict::NotKept,
    }
}

/// What [`plan`] needs besides the rows.
#[derive(Clone, Copy, Debug)]
pub struct PlanInput<'a> {
    /// The tool.
    pub tool: Tool,
    /// The table (for messages).
    pub table: &'a ForeignTable,
    /// The engine.
    pub engine: Engine,
    /// The migrations read from the directory.
    pub migrations: &'a [Migration],
    /// Cairn's history as it is.
    pub cairn: &'a [HistoryRow],
    /// The tool's configuration that changes its checksums.
    pub options: &'a ToolOptions,
}

/// Maps a foreign history onto Cairn versions, checking every checksum the
/// tool kept against the original bytes `read_raw` returns for the file.
/// Pure apart from `read_raw`.
///
/// # Errors
///
/// [`AdoptError::NoFile`], [`AdoptError::Checksum`],
/// [`AdoptError::Duplicate`], [`AdoptError::ReadFile`].
pub fn plan(
    input: &PlanInput<'_>,
    foreign: &ForeignHistory,
    read_raw: &mut dyn FnMut(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<Vec<AdoptEntry>> {
    let PlanInput {
        tool,
        table,
        engine,
        migrations,
        cairn,
        options,
    } = *input;
    // Liquibase rows name a changeset, not a version: find it first.
    let resolved;
    let foreign = if tool == Tool::Liquibase {
        resolved = tools::liquibase::history::resolve(foreign, migrations, read_raw).map_err(
            |unmatched| AdoptError::NoChangeset {
                table: table.to_string(),
                engine,
                key: unmatched.key,
                why: unmatched.why,
            },
        )?;
        &resolved
    } else {
        foreign
    };
    let source: BTreeMap<Version, &Migration> = migrations
        .iter()
        .filter(|m| m.applies_to(engine))
        .map(|m| (m.version, m))
        .collect();
    let recorded: BTreeMap<Version, &HistoryRow> = cairn.iter().map(|r| (r.version, r)).collect();
    let mut entries: BTreeMap<Version, AdoptEntry> = BTreeMap::new();
    let no_file = |row: &ForeignRow, version: Version| AdoptError::NoFile {
        tool,
        table: table.to_string(),
        engine,
        key: row.key.clone(),
        version,
    };
    for row in &foreign.rows {
        // (version, migration on disk, whether this one is the row itself)
        let targets: Vec<(Version, Option<&Migration>, bool)> = match (row.target, row.kind) {
            (Target::Version(version), RowKind::Script) => {
                let migration = source.get(&version).ok_or_else(|| no_file(row, version))?;
                vec![(version, Some(*migration), true)]
            }
            (Target::Version(version), RowKind::Code | RowKind::Baseline) => {
                vec![(version, None, true)]
            }
            (Target::UpTo(version), _) => {
                if !source.contains_key(&version) {
                    return Err(no_file(row, version).into());
                }
                source
                    .range(..=version)
                    .map(|(v, m)| (*v, Some(*m), *v == version))
                    .collect()
            }
        };
        for (version, migration, itself) in targets {
            let (checksum, file, cairn_checksum) = match migration {
                Some(migration) => {
                    let script = migration.up.for_engine(engine);
                    let path = script.map(|s| s.path.clone());
                    let check = match (&path, itself) {
                        (Some(path), true) => {
                            let raw = read_raw(path).map_err(|cause| AdoptError::ReadFile {
                                tool,
                                path: path.clone(),
                                cause,
                            })?;
                            match verify(tool, row, migration, &raw, options) {
                                Verdict::Match(algorithm) => ChecksumCheck::Verified(algorithm),
                                Verdict::NotKept => ChecksumCheck::NotKept,
                                Verdict::Mismatch {
                                    algorithm,
                                    stored,
                                    computed,
                                } => {
                                    return Err(AdoptError::Checksum {
                                        tool,
                                        table: table.to_string(),
                                        engine,
                                        version,
                                        path: path.clone(),
                                        algorithm,
                                        stored,
                                        computed,
                                    }
                                    .into())
                                }
                            }
                        }
                        _ => ChecksumCheck::NotKept,
                    };
                    (check, path, migration.checksum(engine).unwrap_or_default())
                }
                None => (ChecksumCheck::NoFile, None, String::new()),
            };
            let (state, failure) = match (&row.state, itself) {
                (ForeignState::Failed(what), true) => (HistoryState::Failed, Some(what.clone())),
                _ => (HistoryState::Applied, None),
            };
            let kind = match migration {
                Some(_) => HistoryKind::Sql,
                None => HistoryKind::Baseline,
            };
            let name = migration.map_or_else(
                || row.name.clone().unwrap_or_else(|| row.key.clone()),
                |m| m.name.clone(),
            );
            let entry = AdoptEntry {
                version,
                name,
                foreign: row.key.clone(),
                state,
                kind,
                checksum,
                file,
                action: if recorded.contains_key(&version) {
                    AdoptAction::AlreadyRecorded
                } else {
                    AdoptAction::Record
                },
                applied_at: if itself { row.applied_at.clone() } else { None },
                execution_ms: if itself { row.execution_ms } else { None },
                applied_by: row.applied_by.clone(),
                cairn_checksum,
                failure,
            };
            if let Some(first) = entries.get(&version) {
                if first.foreign != entry.foreign || matches!(row.target, Target::Version(_)) {
                    return Err(AdoptError::Duplicate {
                        tool,
                        table: table.to_string(),
                        engine,
                        version,
                        first: first.foreign.clone(),
                        second: entry.foreign,
                    }
                    .into());
                }
            }
            entries.insert(version, entry);
        }
    }
    // A code migration is adopted as a baseline, and a baseline counts every
    // lower version as applied: a Cairn migration below it that no history
    // records would be skipped without ever running.
    let code_max = foreign
        .rows
        .iter()
        .filter(|row| row.kind == RowKind::Code)
        .map(|row| match row.target {
            Target::Version(v) | Target::UpTo(v) => v,
        })
        .max();
    if let Some(baseline) = code_max {
        if let Some(hidden) = source.values().find(|m| {
            m.version <= baseline
                && !entries.contains_key(&m.version)
                && !recorded.contains_key(&m.version)
        }) {
            return Err(AdoptError::HiddenByBaseline {
                tool,
                engine,
                version: hidden.version,
                name: hidden.name.clone(),
                baseline,
            }
            .into());
        }
    }
    Ok(entries.into_values().collect())
}

/// The history row Cairn records for `entry`, adopted at `now` by `actor`.
pub fn history_row(tool: Tool, entry: &AdoptEntry, now: &str, actor: &str) -> HistoryRow {
    HistoryRow {
        version: entry.version,
        name: entry.name.clone(),
        kind: entry.kind,
        checksum: entry.cairn_checksum.clone(),
        state: entry.state,
        applied_at: entry.applied_at.clone().unwrap_or_else(|| now.to_owned()),
        execution_ms: entry.execution_ms.unwrap_or(0).max(0),
        applied_by: entry.applied_by.clone().unwrap_or_else(|| actor.to_owned()),
        cairn_version: crate::CAIRN_VERSION.to_owned(),
        statements_done: None,
        statements_checksum: None,
        error: entry.failure.as_ref().map(|what| {
            crate::history::RowError::Other(format!(
                "adopted from {tool}, which recorded it failed ({what}): check what it left behind, bring the database back to before it, then run `cairn repair`"
            ))
        }),
    }
}

/// The log detail of an adopted row.
pub fn log_detail(tool: Tool, table: &ForeignTable, entry: &AdoptEntry) -> String {
    let check = match entry.checksum {
        ChecksumCheck::Verified(algorithm) => format!("{algorithm} checksum verified"),
        ChecksumCheck::NotKept => format!("{tool} keeps no checksum: file trusted as it is"),
        ChecksumCheck::NoFile => "code migration: recorded as a baseline".to_owned(),
    };
    format!(
        "adopted from {tool} table {table}, row {}: {check}",
        entry.foreign
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_form_the_tools_write() {
        assert_eq!(
            timestamp("2026-12-01 18:40:00").as_deref(),
            Some("2026-12-01T18:40:00.000Z")
        );
        assert_eq!(
            timestamp("2026-12-01 18:40:00.123456+00").as_deref(),
            Some("2026-12-01T18:40:00.123Z")
        );
        assert_eq!(
            timestamp("2026-12-01T20:40:00.5+02:00").as_deref(),
            Some("2026-12-01T18:40:00.500Z")
        );
        assert_eq!(
            timestamp("2026-12-01T18:40:00Z").as_deref(),
            Some("2026-12-01T18:40:00.000Z")
        );
        assert_eq!(
            timestamp("1795601246123").as_deref(),
            Some("2026-11-25T10:07:26.123Z")
        );
        assert_eq!(timestamp("yesterday"), None);
        assert_eq!(timestamp("2026-13-01 00:00:00"), None);
    }

    #[test]
    fn tools_parse_from_their_names() {
        for tool in Tool::ALL {
            assert_eq!(tool.as_str().parse::<Tool>().ok(), Some(tool));
        }
        assert_eq!(
            "Golang_Migrate".parse::<Tool>().ok(),
            Some(Tool::GolangMigrate)
        );
        let error = "sequelize".parse::<Tool>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot adopt from `sequelize`: Cairn adopts from sqlx, refinery, flyway, golang-migrate, dbmate, diesel, prisma, liquibase, typeorm, knex, rails, alembic; pass one of them to --from"
        );
    }

    use std::collections::BTreeMap as Map;

    use crate::migration::{Layout, Script, Scripts};

    fn v(text: &str) -> Version {
        text.parse().expect("a version")
    }

    fn migration(version: &str, sql: &str) -> Migration {
        Migration {
            version: v(version),
            name: format!("m{version}"),
            layout: Layout::Sqlx,
            location: PathBuf::from(format!("{version}_m.up.sql")),
            up: Scripts {
                plain: Some(Script {
                    path: PathBuf::from(format!("{version}_m.up.sql")),
                    first_line: 1,
                    text: sql.to_owned(),
                    directives: crate::migration::Directives::default(),
                }),
                overrides: Map::new(),
            },
            down: Scripts::default(),
            declaration: None,
        }
    }

    fn sqlx_row(version: &str, sql: &str) -> ForeignRow {
        let mut row = ForeignRow::applied(version, v(version));
        row.checksum = Some(hex(&tools::sqlx::history::checksum(sql.as_bytes())));
        row
    }

    /// Plans with files whose original bytes are their texts.
    fn plan_of(
        tool: Tool,
        migrations: &[Migration],
        cairn: &[HistoryRow],
        rows: Vec<ForeignRow>,
    ) -> Result<Vec<AdoptEntry>> {
        let table = ForeignTable::new(tool, None);
        let input = PlanInput {
            tool,
            table: &table,
            engine: Engine::Sqlite,
            migrations,
            cairn,
            options: &ToolOptions::default(),
        };
        let texts: Map<PathBuf, String> = migrations
            .iter()
            .map(|m| {
                let script = m.up.plain.as_ref().expect("an up script");
                (script.path.clone(), script.text.clone())
            })
            .collect();
        let foreign = ForeignHistory {
            rows,
            skipped: Vec::new(),
        };
        plan(&input, &foreign, &mut |path| {
            texts
                .get(path)
                .map(|t| t.clone().into_bytes())
                .ok_or_else(|| std::io::Error::other("gone"))
        })
    }

    fn adopt_error(result: Result<Vec<AdoptEntry>>) -> AdoptError {
        match result {
            Err(Error::Adopt(error)) => *error,
            other => panic!("expected an adopt error, got {other:?}"),
        }
    }

    #[test]
    fn rows_map_to_their_files_and_checksums_are_verified() {
        let ms = [
            migration("1", "CREATE TABLE a (x int);"),
            migration("2", "SELECT 1;"),
        ];
        let entries = plan_of(
            Tool::Sqlx,
            &ms,
            &[],
            vec![sqlx_row("1", "CREATE TABLE a (x int);")],
        )
        .unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].checksum, ChecksumCheck::Verified("SHA-384"));
        assert_eq!(
            entries[0].cairn_checksum,
            ms[0].checksum(Engine::Sqlite).unwrap()
        );
        assert_eq!(entries[0].action, AdoptAction::Record);

        let error = adopt_error(plan_of(
            Tool::Sqlx,
            &ms,
            &[],
            vec![sqlx_row("1", "CREATE TABLE a (y int);")],
        ));
        assert!(matches!(error, AdoptError::Checksum { .. }), "{error}");
        let error = adopt_error(plan_of(Tool::Sqlx, &ms, &[], vec![sqlx_row("3", "x")]));
        assert!(error.to_string().contains("has no migration 3"), "{error}");
    }

    #[test]
    fn a_current_version_covers_every_file_up_to_it_and_dirty_fails_only_itself() {
        let ms = [
            migration("1", "a"),
            migration("2", "b"),
            migration("3", "c"),
        ];
        let mut row = ForeignRow::applied("2", v("2"));
        row.target = Target::UpTo(v("2"));
        row.state = ForeignState::Failed("dirty = true".into());
        let entries = plan_of(Tool::GolangMigrate, &ms, &[], vec![row.clone()]).unwrap();
        let states: Vec<_> = entries.iter().map(|e| (e.version, e.state)).collect();
        assert_eq!(
            states,
            [
                (v("1"), HistoryState::Applied),
                (v("2"), HistoryState::Failed)
            ]
        );
        let failed = history_row(Tool::GolangMigrate, &entries[1], "now", "me");
        assert!(failed.error.unwrap().to_string().contains("cairn repair"));
        assert_eq!(failed.statements_done, None);
        row.target = Target::UpTo(v("4"));
        let error = adopt_error(plan_of(Tool::GolangMigrate, &ms, &[], vec![row]));
        assert!(matches!(error, AdoptError::NoFile { .. }), "{error}");
    }

    #[test]
    fn versions_cairn_already_has_are_left_alone() {
        let ms = [migration("1", "a")];
        let first = plan_of(
            Tool::Dbmate,
            &ms,
            &[],
            vec![ForeignRow::applied("1", v("1"))],
        )
        .unwrap();
        let recorded = history_row(Tool::Dbmate, &first[0], "now", "me");
        assert_eq!(recorded.checksum, ms[0].checksum(Engine::Sqlite).unwrap());
        let again = plan_of(
            Tool::Dbmate,
            &ms,
            &[recorded],
            vec![ForeignRow::applied("1", v("1"))],
        )
        .unwrap();
        assert_eq!(again[0].action, AdoptAction::AlreadyRecorded);
    }

    #[test]
    fn code_rows_are_baselines_without_files() {
        let mut row = ForeignRow::applied("CreateUsers1700000000000", v("1700000000000"));
        row.kind = RowKind::Code;
        let entries = plan_of(Tool::Typeorm, &[], &[], vec![row]).unwrap();
        assert_eq!(entries[0].kind, HistoryKind::Baseline);
        assert_eq!(entries[0].checksum, ChecksumCheck::NoFile);
        assert_eq!(entries[0].name, "CreateUsers1700000000000");
    }

    #[test]
    fn a_migration_below_a_code_baseline_that_never_ran_is_refused() {
        let ms = [migration("1500000000000", "CREATE TABLE early (x int);")];
        let mut row = ForeignRow::applied("CreateUsers1700000000000", v("1700000000000"));
        row.kind = RowKind::Code;
        let error = adopt_error(plan_of(Tool::Typeorm, &ms, &[], vec![row.clone()]));
        assert!(
            error.to_string().contains("migration 1500000000000 (m1500000000000) is not in typeorm's history, but its version is below 1700000000000"),
            "{error}"
        );
        // Above the baseline it is simply pending.
        let ms = [migration("20300101000000", "CREATE TABLE later (x int);")];
        assert!(plan_of(Tool::Typeorm, &ms, &[], vec![row]).is_ok());
    }

    #[test]
    fn two_rows_for_one_version_are_refused() {
        let ms = [migration("1", "a")];
        let error = adopt_error(plan_of(
            Tool::Dbmate,
            &ms,
            &[],
            vec![
                ForeignRow::applied("1", v("1")),
                ForeignRow::applied("0001", v("1")),
            ],
        ));
        assert!(
            error
                .to_string()
                .contains("has two rows for version 1 (1 and 0001)"),
            "{error}"
        );
    }

    #[test]
    fn an_unreadable_file_is_refused_naming_it() {
        let ms = [migration("1", "a")];
        let table = ForeignTable::new(Tool::Sqlx, None);
        let input = PlanInput {
            tool: Tool::Sqlx,
            table: &table,
            engine: Engine::Sqlite,
            migrations: &ms,
            cairn: &[],
            options: &ToolOptions::default(),
        };
        let foreign = ForeignHistory {
            rows: vec![sqlx_row("1", "a")],
            skipped: Vec::new(),
        };
        let error = adopt_error(plan(&input, &foreign, &mut |_| {
            Err(std::io::Error::other("permission denied"))
        }));
        assert_eq!(
            error.to_string(),
            "cannot adopt from sqlx: reading `1_m.up.sql`: permission denied; nothing was changed"
        );
    }

    #[test]
    fn a_table_may_be_schema_qualified() {
        assert_eq!(
            ForeignTable::new(Tool::Sqlx, None).to_string(),
            "_sqlx_migrations"
        );
        let table = ForeignTable::new(Tool::Sqlx, Some("app.my_history"));
        assert_eq!(table.schema.as_deref(), Some("app"));
        assert_eq!(table.name, "my_history");
    }
}

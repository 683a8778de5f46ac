//! The command line as clap sees it: subcommands, flags and their help.
//!
//! Nothing here is resolved or validated beyond what clap checks; turning these
//! raw flags into a [`crate::config::Config`] is `config.rs`'s job.

use std::path::PathBuf;

use cairn::Version;
use clap::{Args, Parser, Subcommand, ValueEnum};

const LONG_ABOUT: &str = "\
Cairn applies, rolls back and checks schema migrations on PostgreSQL, MySQL/MariaDB and SQLite.

The database comes from --database-url, else CAIRN_DATABASE_URL, else DATABASE_URL, \
else `database_url` in cairn.toml, else sqlite://cairn.db. Passwords are never printed.

Every cairn.toml key can also be set by a variable, CAIRN_ and the key in capitals \
(CAIRN_LOCK_TIMEOUT=2s), which wins over the file and loses to a flag. Variables are \
also read from .env in the current directory (--no-dotenv skips it), under the real \
environment. NO_COLOR turns colours off.

Exit codes:
  0  success
  1  error (the message says what happened and what to do)
  2  bad usage (unknown flag, conflicting options)
  3  validation problem found (modified, missing, failed or out-of-order migrations),
     a rollback or re-apply that differs (verify), or schema drift (drift)
  4  timed out waiting for the migration lock held by another runner, or a zero-downtime
     phase could not get a table lock in its retries (run the same command again to
     continue it, or `cairn abort` to undo the expand)
  130 stopped by Ctrl-C (or SIGTERM) at a backfill batch boundary: `cairn up` resumes";

/// `cairn`: the command line.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about = "Schema migrations for PostgreSQL, MySQL/MariaDB and SQLite", long_about = LONG_ABOUT)]
pub struct Cli {
    /// Options every command accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Database URL [default: $CAIRN_DATABASE_URL, $DATABASE_URL, cairn.toml, sqlite://cairn.db]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// Migrations directory [default: `migrations_dir` in cairn.toml, else ./migrations]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "DIR"
    )]
    pub dir: Option<PathBuf>,
    /// Output format
    #[arg(long, global = true, help_heading = "Global options", value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Configuration file (optional unless given) [default: ./cairn.toml]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,
    /// Liquibase formatted SQL: run only the changesets whose `context:` holds for these comma-separated contexts (and those without one) [default: every changeset]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "CONTEXTS"
    )]
    pub contexts: Option<String>,
    /// Liquibase formatted SQL: run only the changesets whose `labels:` satisfy this expression, e.g. "v1 and !slow" (and those without labels) [default: every changeset]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "EXPRESSION"
    )]
    pub label_filter: Option<String>,
    /// Log what Cairn does to stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides)
    #[arg(short, long, global = true, help_heading = "Global options", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Do not read `.env` from the current directory
    #[arg(long, global = true, help_heading = "Global options")]
    pub no_dotenv: bool,
}

/// How reports are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text for people, coloured on a terminal.
    Text,
    /// One JSON document on stdout.
    Json,
    /// SQL DDL that rebuilds the schema (only `cairn schema dump`).
    Sql,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the migrations directory and a commented cairn.toml
    Init,
    /// Create a new migration folder with up.sql and down.sql
    New(NewArgs),
    /// Show every migration's state and any problem
    Status,
    /// Apply pending migrations
    Up(UpArgs),
    /// Roll back applied migrations (the newest one by default)
    Down(DownArgs),
    /// Roll back the newest applied migration and apply it again
    Redo,
    /// Finish an expanded zero-downtime migration, once the new application version is deployed
    ///
    /// Drops the sync triggers and the old structure, validates constraints,
    /// sets NOT NULL. A contract stopped half-way (a lock held too long, a
    /// kill) is continued by running `cairn contract` again.
    Contract(PhaseArgs),
    /// Undo the expand of a zero-downtime migration
    ///
    /// From expanding, backfilling or expanded, also an expand that failed or
    /// was killed half-way. Rows written meanwhile by either application
    /// version are kept, in the old shape.
    Abort(PhaseArgs),
    /// Check the migrations against the history without changing anything
    Validate,
    /// Mark an existing database as migrated up to a version
    Baseline(BaselineArgs),
    /// Fix the history after review: accept modified checksums, drop missing or failed rows
    Repair,
    /// Import another tool's history table (sqlx, Flyway, Prisma, ...) so nothing is re-applied
    ///
    /// Reads the tool's table (left untouched), checks each row's checksum
    /// against the original bytes of its file with the tool's own algorithm,
    /// and records the rows in Cairn's history in one transaction. Versions
    /// Cairn's history already has are left as they are: running it twice
    /// changes nothing. See docs/adopting.md.
    Adopt(AdoptArgs),
    /// On an empty scratch database, check that every migration's down script
    /// restores the schema and that its up script applies again
    Verify(VerifyArgs),
    /// Inspect the database's schema
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Compare the live database's schema with what the migrations produce
    Drift(DriftArgs),
    /// Batched data migrations declared in migration.toml
    #[command(subcommand)]
    Backfill(BackfillCommand),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    ///
    /// bash: `cairn completions bash > ~/.local/share/bash-completion/completions/cairn`;
    /// zsh: `cairn completions zsh > ~/.zfunc/_cairn` (with `fpath+=~/.zfunc`);
    /// fish: `cairn completions fish > ~/.config/fish/completions/cairn.fish`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `cairn man > cairn.1`, or `cairn man | man -l -`
    Man,
}

/// `cairn completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `cairn backfill …`.
#[derive(Debug, Subcommand)]
pub enum BackfillCommand {
    /// Show every backfill's checkpoint: rows done, rate, last batch (safe while one runs)
    Status,
}

/// `cairn verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Check migrations from this version on (older ones are applied first, unchecked)
    #[arg(long, value_name = "VERSION")]
    pub from: Option<Version>,
    /// Check migrations up to and including this version
    #[arg(long, value_name = "VERSION")]
    pub to: Option<Version>,
    /// Verify on a disposable database of each engine instead of --database-url:
    /// SQLite in a temporary file, PostgreSQL and MySQL/MariaDB created on the
    /// server of CAIRN_VERIFY_POSTGRES_URL / CAIRN_VERIFY_MYSQL_URL and dropped after
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_engine)]
    pub engines: Vec<cairn::Engine>,
    /// Insert generated rows into every table after each up, and check that
    /// down and up again keep the rows of the tables that were there before
    #[arg(long)]
    pub seed_data: bool,
    /// Accept a table whose columns come back in another order after down
    /// and up again (a column dropped and added back at the end)
    #[arg(long)]
    pub ignore_column_order: bool,
}

fn parse_engine(name: &str) -> Result<cairn::Engine, String> {
    name.parse()
        .map_err(|e: cairn::engine::UnknownEngine| e.to_string())
}

/// `cairn schema ...`.
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Print the normalised schema (text; JSON with --format json; the DDL
    /// that rebuilds it with --format sql), without Cairn's tables
    Dump,
}

/// `cairn drift`.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// An empty database to apply the migrations to (required for PostgreSQL
    /// and MySQL; for SQLite a temporary file by default)
    #[arg(long, value_name = "URL")]
    pub scratch_url: Option<String>,
}

impl Command {
    /// Whether the command talks to a database (and so needs a valid URL).
    pub fn needs_database(&self) -> bool {
        !matches!(
            self,
            Command::Init | Command::New(_) | Command::Completions(_) | Command::Man
        )
    }
}

/// `cairn new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// Name of the migration, e.g. add_users (spaces and dashes become `_`)
    pub name: String,
    /// Number it max existing version + 1 instead of a UTC timestamp
    #[arg(long)]
    pub sequential: bool,
}

/// The lock timeout of zero-downtime phases (`up`, `contract`, `abort`, `down`).
#[derive(Debug, Args)]
pub struct OnlineArgs {
    /// How long each DDL step of a zero-downtime operation may wait for its
    /// table lock before it gives up, lets the application's queries pass,
    /// and is retried [default: $CAIRN_OPERATION_LOCK_TIMEOUT,
    /// `operation_lock_timeout` in cairn.toml, else 500ms]
    #[arg(long, value_name = "DURATION")]
    pub operation_lock_timeout: Option<String>,
}

/// `cairn contract` and `cairn abort`.
#[derive(Debug, Args)]
pub struct PhaseArgs {
    /// The migration [default: the one in a zero-downtime phase]
    pub version: Option<Version>,
    /// Print the exact SQL of the phase for this engine, and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The lock timeout of the phase's DDL steps.
    #[command(flatten)]
    pub online: OnlineArgs,
}

/// `cairn up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Apply up to and including this version
    #[arg(long, value_name = "VERSION")]
    pub to: Option<Version>,
    /// Print the SQL that would run, and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Apply pending migrations older than the newest applied one
    #[arg(long)]
    pub allow_out_of_order: bool,
    /// Continue a migration that failed or was interrupted part way outside a
    /// transaction from the failed or in-doubt statement, if the statements
    /// before it are unchanged
    #[arg(long, conflicts_with = "dry_run")]
    pub resume: bool,
    /// With --resume: record the statement that an interrupted run left in
    /// doubt (`cairn status` names it) as completed, without running it
    #[arg(long, requires = "resume")]
    pub skip_in_doubt: bool,
    /// A replica whose lag a backfill's `max_replication_lag` limits (repeatable;
    /// overrides `replica_urls` in cairn.toml)
    #[arg(long, value_name = "URL")]
    pub replica_url: Vec<String>,
    /// Contract each zero-downtime migration right after its expand, instead
    /// of stopping at `expanded` (for development and CI, where no old
    /// application version runs)
    #[arg(long)]
    pub contract: bool,
    /// The lock timeout of zero-downtime phases.
    #[command(flatten)]
    pub online: OnlineArgs,
}

/// `cairn down`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").multiple(false))]
pub struct DownArgs {
    /// Roll back every migration newer than this version (0 for all)
    #[arg(long, value_name = "VERSION", group = "target")]
    pub to: Option<Version>,
    /// Roll back the newest N migrations [default: 1]
    #[arg(long, value_name = "N", group = "target", value_parser = clap::value_parser!(u64).range(1..))]
    pub steps: Option<u64>,
    /// Roll back every applied migration
    #[arg(long, group = "target")]
    pub all: bool,
    /// Print the SQL that would run, and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The lock timeout of zero-downtime phases (un-contract, abort).
    #[command(flatten)]
    pub online: OnlineArgs,
}

impl Command {
    /// The `--operation-lock-timeout` given to this command, if any.
    pub fn operation_lock_timeout(&self) -> Option<&str> {
        let online = match self {
            Command::Up(args) => &args.online,
            Command::Down(args) => &args.online,
            Command::Contract(args) | Command::Abort(args) => &args.online,
            _ => return None,
        };
        online.operation_lock_timeout.as_deref()
    }
}

/// `cairn baseline`.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Migrations up to and including this version count as applied
    #[arg(long, value_name = "VERSION")]
    pub version: Version,
}

/// `cairn adopt`.
#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The tool that wrote the history: sqlx, refinery, flyway, golang-migrate, dbmate, diesel, prisma, liquibase, typeorm, knex, rails, alembic
    #[arg(long, value_name = "TOOL", value_parser = parse_tool)]
    pub from: cairn::adopt::Tool,
    /// Its history table, when the project renamed it (NAME or SCHEMA.NAME) [default: the tool's]
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,
    /// Print what would be recorded; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Alembic: the directory of its revision files [default: `<script_location>/versions` of ./alembic.ini, else ./alembic/versions]
    #[arg(long, value_name = "DIR")]
    pub alembic_versions: Option<std::path::PathBuf>,
}

fn parse_tool(text: &str) -> Result<cairn::adopt::Tool, String> {
    text.parse()
        .map_err(|e: cairn::adopt::AdoptError| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}

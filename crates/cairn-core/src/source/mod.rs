//! Reading the migrations directory: layouts, versions and scripts.
//!
//! [`read_dir`] turns a migrations directory into [`Migration`]s sorted by version.
//! It reads the layouts of the tools teams switch from *as they are*, so nobody has
//! to rename files to adopt Cairn (DESIGN §3):
//!
//! | layout        | on disk                                                           |
//! |---------------|-------------------------------------------------------------------|
//! | Cairn         | `<version>_<name>/` with `up.sql`, `down.sql`, `up.<engine>.sql`, `down.<engine>.sql` |
//! | diesel        | `YYYY-MM-DD-HHMMSS_<name>/` with the same files; version `YYYYMMDDHHMMSS` |
//! | sqlx, golang-migrate | `<version>_<name>.up.sql` and `<version>_<name>.down.sql`, or an up-only `<version>_<name>.sql` |
//! | Flyway, refinery | `V<version>__<name>.sql` (dotted versions too), `U<version>__<name>.sql` (undo), `R__<name>.sql` (repeatable) |
//! | dbmate        | `<version>_<name>.sql` with a `-- migrate:up` line and optionally `-- migrate:down` |
//! | Prisma        | `<timestamp>_<name>/migration.sql`, `migration_lock.toml` |
//! | Liquibase     | any `.sql` file whose first line is `--liquibase formatted sql`: one migration per `--changeset` |
//!
//! How each tool runs its files (transactions, empty files, versions) is in
//! its module of [`crate::tools`] and in docs/layouts.md.
//!
//! `<engine>` is one of `postgres`, `mysql`, `sqlite`, spelt exactly so in file
//! names (the aliases `pg` or `mariadb` are accepted in directives, not in names,
//! so that a directory listing is unambiguous).
//!
//! # Decisions
//!
//! - **Versions** are positive integers written in digits; they compare
//!   numerically, so `0001_a/` and `1_b/` are a duplicate. Version 0, a sign, or a
//!   value above `i64::MAX` is rejected with a hint. Flyway's dotted versions
//!   (`V1.1__x.sql`) and repeatable migrations (`R__x.sql`, accepted beside every
//!   layout) are read as Flyway reads them ([`crate::tools::flyway`], docs/layouts.md).
//! - **One layout per directory.** Cairn and diesel folders may be mixed (both are
//!   folders holding the same file names); any other mix is
//!   [`Error::MixedLayouts`], naming one entry of each. A `<version>_<name>.sql`
//!   file is dbmate if it has a `-- migrate:up` or `-- migrate:down` line (an
//!   indented one is read as dbmate reads it, see [`crate::tools::dbmate`]), and
//!   an up-only sqlx migration otherwise.
//! - **What is ignored.** At the top level: hidden entries (`.gitkeep`,
//!   `.gitattributes`), `README*` and `*.md` files, and `cairn.toml`. Inside a
//!   migration folder: hidden entries, sub-folders and every file that does not end
//!   in `.sql` (`README.md`, `notes.txt`), except `migration.toml` and diesel's
//!   `metadata.toml` (see below). A `.sql` file in a migration folder that is not
//!   one of the script names (`seed.sql`, `Up.sql`, `up.oracle.sql`) is an error,
//!   because it would never run. Anything else at the top level is
//!   [`Error::UnrecognisedName`] with a hint listing the accepted forms.
//! - **`migration.toml`** declares backfills ([`crate::backfill::spec`]) that
//!   run after the folder's up script, and zero-downtime operations
//!   ([`crate::operation::spec`]); a folder may hold only `migration.toml`,
//!   and then its SQL is empty. Its text is part of the migration's checksum.
//! - **diesel's `metadata.toml`** with `run_in_transaction = false` sets
//!   [`Directives::no_transaction`](crate::migration::Directives::no_transaction) on the folder's scripts, as dbmate's
//!   `-- migrate:up transaction:false` does for its section, so an imported
//!   `CREATE INDEX CONCURRENTLY` keeps running outside a transaction.
//! - **Empty scripts.** An up script with nothing but whitespace and comments is
//!   [`Error::EmptyScript`], and so is a folder with no up script at all, except
//!   in the sqlx/golang-migrate layout, whose tools apply and record an empty
//!   file ([`crate::tools::sqlx`]). An empty
//!   down script is accepted: it rolls back by doing nothing, which tools such as
//!   `sqlx migrate add -r` produce on purpose.
//! - **Pairing.** sqlx down scripts and Flyway undo scripts pair with the up script
//!   of the same version; one without an up script is rejected. Note that refinery
//!   uses the `U` prefix for *unversioned* migrations, not undo: such a directory
//!   reads as Flyway undo scripts, and a `U` file with no `V` file of its version
//!   is rejected with a hint saying so.
//! - **Text.** Files must be UTF-8 ([`Error::NotUtf8`] gives the offset of the
//!   first bad byte) without NUL characters ([`Error::NulByte`] gives the
//!   line and column: SQLite would cut the statement there). A FIFO, socket or
//!   device where a script, `migration.toml` or `metadata.toml` is read is
//!   [`Error::NotRegularFile`], refused without opening it (opening a FIFO
//!   blocks until a writer comes); every script is stored normalised ([`checksum::normalize`]:
//!   BOM removed, CRLF to LF), and its directives are parsed from that text.
//! - **Determinism.** Entries are read in byte order of their names, so the same
//!   directory always gives the same first error.
//!
//! # Where things are
//!
//! - `list.rs` lists directories and reads files: the only I/O.
//! - `layout.rs` is the layout grammar: what a name says (pure functions on
//!   names), and the names `cairn new` gives a migration in each layout
//!   ([`NewShape::files`]).
//! - `assemble.rs` builds [`Migration`]s from named texts (pure), so an embed
//!   macro can reuse it with `include_str!` contents.
//! - `memory.rs` is [`read_files`]: the listing of `list.rs` over files held
//!   in memory (what `cairn::embed_migrations!` compiles in).

pub(crate) mod assemble;
pub(crate) mod layout;
mod list;
mod memory;

// The names the module documentation links to.
#[cfg(doc)]
use crate::{checksum, error::Error, migration::Migration};

pub use crate::tools::liquibase::Selection;
pub use layout::{NewFiles, NewScript, NewShape};
pub use list::{
    check_engine, detect_layout, liquibase_changelog, read_dir, read_dir_with, survey, Survey,
};
pub use memory::read_files;

#[cfg(test)]
mod tests;

//! Zero-downtime operations: the `[[operation]]` tables of a `migration.toml`
//! (see `../shared/ZERO-DOWNTIME.md` and docs/zero-downtime.md), compiled per
//! engine into the phases of the life cycle.
//!
//! ```text
//! pending ──up──▶ expanding ─▶ backfilling ─▶ expanded ──contract──▶ applied
//!    ▲                                          │  ▲                     │
//!    └──────────────abort (or down)─────────────┘  └──────down───────────┘
//!                                                    (un-contract)
//! ```
//!
//! The files, one job each: this one holds the model ([`Operation`], [`Kind`],
//! the compiled [`Phases`] of [`Step`]s); `spec.rs` reads and validates the
//! `[[operation]]` tables; `compile.rs` checks operations against the table
//! they change and asks the engine's dialect ([`crate::dialect::Online`]) for
//! its phases; `exec.rs` runs steps on a driver, each idempotent (guarded by
//! [`Step::done_if`]) so that a phase killed half-way is continued by running
//! it again. What runs in which order, the history states and the lock
//! timeouts are the migrator's (`migrator/online.rs`).
//!
//! The mechanism on every engine is *final names*: both the old and the new
//! physical column exist under their final names during `expanded`, and
//! triggers keep them equal in both directions, detecting the direction from
//! what the statement changed (ZERO-DOWNTIME.md §4). Everything an engine
//! says lives in `dialect/<family>/online/`, one file per operation.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::backfill::Backfill;
use crate::engine::Engine;
use crate::error::Location;

mod compile;
pub mod exec;
pub mod spec;

pub use compile::{compile, tables_needed, Compiled};

/// One `[[operation]]` of a `migration.toml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// What it does.
    pub kind: Kind,
    /// `migration.toml:<line>` of its `[[operation]]` header.
    pub location: Location,
    /// `batch_size`, `pause`, `target_batch_time`, `max_replication_lag` as
    /// written: they replace the engine's batch options for this operation's
    /// backfills (expand's and un-contract's).
    pub batch: crate::backfill::spec::BatchSettings,
}

/// An SQL expression with per-engine overrides (`[operation.mysql] up = ...`).
///
/// Column names in it are the table's own, unqualified: `up` reads the old
/// shape's columns and gives the new column's value; `down` the reverse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expr {
    /// The expression used on every engine without an override.
    pub sql: String,
    /// Replacements per engine.
    pub overrides: BTreeMap<Engine, String>,
}

impl Expr {
    /// An expression without overrides.
    pub fn new(sql: impl Into<String>) -> Self {
        Expr {
            sql: sql.into(),
            overrides: BTreeMap::new(),
        }
    }

    /// The expression on `engine`.
    pub fn for_engine(&self, engine: Engine) -> &str {
        self.overrides.get(&engine).unwrap_or(&self.sql)
    }
}

/// The operations of ZERO-DOWNTIME.md §2.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// `rename_column`: old code uses `column`, new code `to`.
    RenameColumn {
        /// The table.
        table: String,
        /// The column's current name.
        column: String,
        /// Its new name.
        to: String,
    },
    /// `change_column_type`: new code uses column `to` of type `data_type`,
    /// filled by `up` from the old column and writing back by `down`.
    ChangeColumnType {
        /// The table.
        table: String,
        /// The column as it is.
        column: String,
        /// The new column's name: both exist while `expanded` (final names).
        to: String,
        /// The new type, as the engine spells it.
        data_type: String,
        /// The new value from the old row.
        up: Expr,
        /// The old value from the new row.
        down: Expr,
    },
    /// `add_column`: old code does not know the column; its rows are filled by `up`.
    AddColumn {
        /// The table.
        table: String,
        /// The new column.
        column: String,
        /// Its type.
        data_type: String,
        /// NOT NULL, set at contract.
        not_null: bool,
        /// Its default, set at contract.
        default: Option<String>,
        /// The value for old rows and old writers' rows; required with `not_null`
        /// unless `default` is given.
        up: Option<Expr>,
    },
    /// `drop_column`: new code no longer writes it; `down` fills it for old readers.
    DropColumn {
        /// The table.
        table: String,
        /// The column to drop at contract.
        column: String,
        /// Its value for rows written by new code, while old code still reads it.
        down: Option<Expr>,
    },
    /// `set_not_null`: old code may still write NULL; it is rewritten by `up`.
    SetNotNull {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The value that replaces NULL.
        up: Expr,
    },
    /// `rename_table`: old code uses `table`, new code `to`.
    RenameTable {
        /// The table's current name.
        table: String,
        /// Its new name.
        to: String,
    },
    /// `create_index`: one online step.
    CreateIndex {
        /// The table.
        table: String,
        /// The index's name.
        name: String,
        /// Its key columns in order.
        columns: Vec<String>,
        /// UNIQUE.
        unique: bool,
    },
    /// `drop_index`: one online step (at contract, so old code keeps it while it runs).
    DropIndex {
        /// The table.
        table: String,
        /// The index's name.
        name: String,
    },
    /// `add_foreign_key`: added without validating, validated separately.
    AddForeignKey {
        /// The table.
        table: String,
        /// The constraint's name.
        name: String,
        /// The referencing columns.
        columns: Vec<String>,
        /// The referenced table.
        references: String,
        /// The referenced columns.
        referenced_columns: Vec<String>,
        /// `ON DELETE` action, as written (`CASCADE`), if any.
        on_delete: Option<String>,
    },
    /// `add_check`: added without validating, validated separately.
    AddCheck {
        /// The table.
        table: String,
        /// The constraint's name.
        name: String,
        /// The condition.
        check: Expr,
    },
    /// `add_unique`: a unique index built online, then a constraint on it.
    AddUnique {
        /// The table.
        table: String,
        /// The constraint's name.
        name: String,
        /// Its columns.
        columns: Vec<String>,
    },
    /// `raw_sql`: whatever the user wrote; flagged as unchecked.
    RawSql {
        /// Run at expand.
        up: Expr,
        /// Run at abort (and un-contract's undo of `contract`), if given.
        down: Option<Expr>,
        /// Run at contract, if given.
        contract: Option<Expr>,
    },
}

impl Kind {
    /// The name users write (`kind = "rename_column"`).
    pub fn name(&self) -> &'static str {
        match self {
            Kind::RenameColumn { .. } => "rename_column",
            Kind::ChangeColumnType { .. } => "change_column_type",
            Kind::AddColumn { .. } => "add_column",
            Kind::DropColumn { .. } => "drop_column",
            Kind::SetNotNull { .. } => "set_not_null",
            Kind::RenameTable { .. } => "rename_table",
            Kind::CreateIndex { .. } => "create_index",
            Kind::DropIndex { .. } => "drop_index",
            Kind::AddForeignKey { .. } => "add_foreign_key",
            Kind::AddCheck { .. } => "add_check",
            Kind::AddUnique { .. } => "add_unique",
            Kind::RawSql { .. } => "raw_sql",
        }
    }

    /// The table it changes (`None` for `raw_sql`).
    pub fn table(&self) -> Option<&str> {
        match self {
            Kind::RenameColumn { table, .. }
            | Kind::ChangeColumnType { table, .. }
            | Kind::AddColumn { table, .. }
            | Kind::DropColumn { table, .. }
            | Kind::SetNotNull { table, .. }
            | Kind::RenameTable { table, .. }
            | Kind::CreateIndex { table, .. }
            | Kind::DropIndex { table, .. }
            | Kind::AddForeignKey { table, .. }
            | Kind::AddCheck { table, .. }
            | Kind::AddUnique { table, .. } => Some(table),
            Kind::RawSql { .. } => None,
        }
    }
}

/// A phase of the life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Additive DDL and sync triggers (then the backfill).
    Expand,
    /// The destructive steps, once the new application version is deployed.
    Contract,
    /// Undoes an expand, from any point before contract.
    Abort,
    /// Restores the old structure from the new one after contract, back to `expanded`.
    Uncontract,
}

impl Phase {
    /// `expand`, `contract`, `abort`, `uncontract`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Expand => "expand",
            Phase::Contract => "contract",
            Phase::Abort => "abort",
            Phase::Uncontract => "uncontract",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One action of a phase: statements that run together, idempotent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Step {
    /// What it does, for progress and errors: `add column users.full_name`.
    pub what: String,
    /// The statements, in order.
    pub statements: Vec<String>,
    /// Whether they run in one transaction (never for PostgreSQL
    /// `CONCURRENTLY`, nor on MySQL, whose DDL commits implicitly).
    pub transaction: bool,
    /// A query that returns a row when the step's effect is already there
    /// (the column exists, the trigger exists, ...): the step is then skipped.
    /// Every step of `expand`, `abort`, `contract` and `uncontract` either has
    /// one or is idempotent by itself (`DROP ... IF EXISTS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done_if: Option<String>,
    /// Whether its DDL runs under the short operation lock timeout, retried
    /// with backoff (ZERO-DOWNTIME.md §5). False for steps that take no
    /// table lock the application would queue behind.
    pub lock_timeout: bool,
    /// A query counting the rows the step rewrites (SQLite's table rebuild),
    /// announced before it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_of: Option<String>,
    /// A query run after the statements (inside the transaction, if any)
    /// that must return no row, else the step is rolled back and fails
    /// (SQLite `PRAGMA foreign_key_check`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub must_be_empty: Option<String>,
}

impl Step {
    /// A step of one statement, outside a transaction, with no guard.
    pub fn new(what: impl Into<String>, statement: impl Into<String>) -> Self {
        Step {
            what: what.into(),
            statements: vec![statement.into()],
            ..Step::default()
        }
    }

    /// Skipped when `query` returns a row.
    pub fn done_if(mut self, query: impl Into<String>) -> Self {
        self.done_if = Some(query.into());
        self
    }

    /// Runs under the operation lock timeout, retried.
    pub fn locking(mut self) -> Self {
        self.lock_timeout = true;
        self
    }

    /// Runs in one transaction.
    pub fn in_transaction(mut self) -> Self {
        self.transaction = true;
        self
    }
}

/// What each application version may use while a migration is `expanded`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Versions {
    /// What the old version uses (`users.name`).
    pub old: Vec<String>,
    /// What the new version uses (`users.full_name`).
    pub new: Vec<String>,
}

/// One operation compiled for one engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Phases {
    /// Additive DDL and sync triggers; triggers exist before the backfill's bound is read.
    pub expand: Vec<Step>,
    /// Fills the new structure from the old (`new = up(old) WHERE new IS NULL`),
    /// by the keyset runner, after `expand`.
    pub backfill: Vec<Backfill>,
    /// The destructive steps.
    pub contract: Vec<Step>,
    /// Undoes `expand` from any point of it (every step idempotent).
    pub abort: Vec<Step>,
    /// Restores the old structure after `contract`, to the `expanded` shape.
    pub uncontract: Vec<Step>,
    /// Fills the restored old structure from the new (`old = down(new)`), after `uncontract`.
    pub uncontract_backfill: Vec<Backfill>,
    /// What each application version may use during `expanded`.
    pub versions: Versions,
    /// `raw_sql`: Cairn cannot check what it does.
    pub unchecked: bool,
}

/// What a dialect compiles an operation with, besides the operation.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The migration's version.
    pub version: crate::migration::Version,
    /// The operation's position in its `migration.toml` (0-based).
    pub index: usize,
    /// The table the operation changes, as introspected before expand (the
    /// migrator keeps it, so contract, abort and un-contract compile from the
    /// same shape); `None` for `raw_sql`.
    pub before: Option<&'a crate::schema::Table>,
}

impl Context<'_> {
    /// The name of an object Cairn creates for this operation (trigger,
    /// function, temporary column): `cairn_<version>_<index>_<purpose>`, so
    /// that an abort's "cleaned up" check finds every one by its prefix.
    pub fn object_name(&self, purpose: &str) -> String {
        format!("{}{}_{}_{purpose}", OBJECT_PREFIX, self.version, self.index)
    }
}

/// The prefix of every trigger, function and temporary column Cairn creates.
pub const OBJECT_PREFIX: &str = "cairn_";

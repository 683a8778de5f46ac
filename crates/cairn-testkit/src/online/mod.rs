//! The test kit harness for zero-downtime operations (ZERO-DOWNTIME.md §6):
//! a [`Case`] states a table before, a `migration.toml` with `[[operation]]`s,
//! and how the *old* and the *new* application version read and write; [`run`]
//! takes it through the whole life cycle on a fresh database, through
//! [`Migrator`] as users run it, and checks both versions at every phase:
//!
//! 1. expand (`up`): the migration is `expanded` (and `status` lists it so,
//!    with the command to run next); inserts, updates and
//!    deletes through an old-version connection are read back through a
//!    new-version one and the other way round; seed rows read right through both;
//! 2. abort: *clean* — the schema is identical to before by introspection
//!    ([`cairn_core::schema::diff`]), no table, column, index, trigger,
//!    function or view named `cairn_*` ([`OBJECT_PREFIX`]) is left, and every
//!    row either version wrote meanwhile is still there, read the same by the
//!    old version;
//! 3. expand again, exchange again, contract: the migration is applied, the
//!    new version works on its own, the shape is the final one
//!    ([`Shape`]), no `cairn_*` object is left;
//! 4. `down` (un-contract): back to `expanded`, both versions work again;
//! 5. abort: clean again, except for the position of a column that contract
//!    dropped and un-contract added back (last, on engines that cannot add
//!    a column in place).
//!
//! A case lists the engines that must *refuse* it as not online
//! ([`Case::refused_on`]): there [`run`] asserts that `up` fails with
//! [`Error::Operation`] naming the operation and the engine, and that nothing
//! changed. No case is ever skipped silently.
//!
//! Driver crates (and users with their own cases) expand [`crate::online_tests!`]
//! with their [`Target`], one `#[tokio::test]` per case of [`cases`]. The
//! load tests of the same module, [`concurrency`] and [`lock_queue`], run
//! writers of both versions during the phases and a session that holds the
//! table while expand runs.
//!
//! SQL templates name placeholders: `{id}` (the row's id) and `{v}` (the
//! value written, itself an SQL literal in which `{id}` is replaced too, so
//! that values can be unique per row).
//!
//! A project's own case, run on the target of its driver crate's tests:
//!
//! ```no_run
//! use cairn_testkit::online::{self, App, Case, Seed, Shape, Sql, Values};
//!
//! # async fn example(target: &dyn cairn_testkit::conformance::Target) {
//! let case = Case {
//!     name: "rename_users_name",
//!     setup: vec![
//!         Sql::new("CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL)"),
//!         Sql::new("INSERT INTO users (id, name) VALUES (1, 'Ada')"),
//!     ],
//!     migration: "[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\n\
//!                 column = \"name\"\nto = \"full_name\"\n"
//!         .to_owned(),
//!     old: App::column("users", "name"),
//!     new: App::column("users", "full_name"),
//!     values: Values::same(("'Grace {id}'", "Grace {id}"), ("'Alan {id}'", "Alan {id}")),
//!     seeds: vec![Seed::new(1, "Ada", "Ada")],
//!     seeds_after_uncontract: None,
//!     old_breaks_after_contract: true,
//!     after_contract: vec![Shape::NoColumn("users".to_owned(), "name".to_owned())],
//!     refused_on: Vec::new(),
//! };
//! if let Err(e) = online::run(&case, target).await {
//!     panic!("{e}");
//! }
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use cairn_core::history::HistoryState;
use cairn_core::operation::{Phase, OBJECT_PREFIX};
use cairn_core::schema::{diff_with, introspect, DiffOptions, IntrospectOptions, Snapshot};
use cairn_core::{DownTarget, Driver, Engine, Error, Migrator, MigratorOptions, Version};

use crate::conformance::{Database, Target};
use crate::fixture::{Fixture, FixtureDir};

pub mod cases;
mod load;
pub mod verify_cases;

pub use load::{concurrency, lock_queue, LoadReport, LockQueue, LockQueueReport};

/// The version of the migration a case's `migration.toml` is written as.
pub const CASE_VERSION: Version = Version::new(20_260_101_090_500);

/// SQL with replacements per engine, where the engines spell it differently.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sql {
    /// The text on every engine without an override.
    pub sql: String,
    /// Replacements per engine.
    pub overrides: BTreeMap<Engine, String>,
}

impl Sql {
    /// The same text on every engine.
    pub fn new(sql: impl Into<String>) -> Self {
        Sql {
            sql: sql.into(),
            overrides: BTreeMap::new(),
        }
    }

    /// Another text on `engine`.
    pub fn on(mut self, engine: Engine, sql: impl Into<String>) -> Self {
        self.overrides.insert(engine, sql.into());
        self
    }

    /// The text on `engine`.
    pub fn for_engine(&self, engine: Engine) -> &str {
        self.overrides.get(&engine).unwrap_or(&self.sql)
    }
}

impl From<&str> for Sql {
    fn from(sql: &str) -> Self {
        Sql::new(sql)
    }
}

/// How one application version reads and writes the table: templates with
/// `{id}` and `{v}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    /// Inserts row `{id}` with value `{v}`.
    pub insert: Sql,
    /// Sets row `{id}`'s value to `{v}`.
    pub update: Sql,
    /// Deletes row `{id}`.
    pub delete: Sql,
    /// Reads row `{id}`: at most one row, its columns compared as text joined
    /// by `|` (`NULL` for NULL).
    pub select: Sql,
}

impl App {
    /// The plain templates for a version that writes `column` of `table`
    /// (keyed by an `id` column) and nothing else.
    pub fn column(table: &str, column: &str) -> Self {
        App {
            insert: Sql::new(format!(
                "INSERT INTO {table} (id, {column}) VALUES ({{id}}, {{v}})"
            )),
            update: Sql::new(format!(
                "UPDATE {table} SET {column} = {{v}} WHERE id = {{id}}"
            )),
            delete: Sql::new(format!("DELETE FROM {table} WHERE id = {{id}}")),
            select: Sql::new(format!("SELECT {column} FROM {table} WHERE id = {{id}}")),
        }
    }

    /// These templates with another insert.
    pub fn insert(mut self, insert: impl Into<Sql>) -> Self {
        self.insert = insert.into();
        self
    }

    /// These templates with another update.
    pub fn update(mut self, update: impl Into<Sql>) -> Self {
        self.update = update.into();
        self
    }

    /// These templates with another select.
    pub fn select(mut self, select: impl Into<Sql>) -> Self {
        self.select = select.into();
        self
    }
}

/// What each version writes and what the other reads of it. Values written
/// are SQL literals, values read are text; `{id}` in either is the row's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Values {
    /// What the old version writes (`'alpha{id}'`).
    pub old_writes: String,
    /// What the new version reads of a row the old version wrote.
    pub new_reads: String,
    /// What the new version writes.
    pub new_writes: String,
    /// What the old version reads of a row the new version wrote.
    pub old_reads: String,
    /// What the new version reads of a row it wrote itself.
    pub new_reads_own: String,
}

impl Values {
    /// Each version writes its literal and both read it as text (the same
    /// column under two names, or one column both use).
    pub fn same(old: (&str, &str), new: (&str, &str)) -> Self {
        Values {
            old_writes: old.0.to_owned(),
            new_reads: old.1.to_owned(),
            new_writes: new.0.to_owned(),
            old_reads: new.1.to_owned(),
            new_reads_own: new.1.to_owned(),
        }
    }
}

/// A seed row and how each version reads it while `expanded`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seed {
    /// Its id.
    pub id: i64,
    /// What the old version reads.
    pub old: String,
    /// What the new version reads (once the backfill ran).
    pub new: String,
}

impl Seed {
    /// Row `id`, read as `old` and `new`.
    pub fn new(id: i64, old: &str, new: &str) -> Self {
        Seed {
            id,
            old: old.to_owned(),
            new: new.to_owned(),
        }
    }
}

/// Something the schema must show after contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// The table exists.
    Table(String),
    /// The table does not exist.
    NoTable(String),
    /// The table has the column.
    Column(String, String),
    /// The table has no such column.
    NoColumn(String, String),
    /// The column is NOT NULL.
    NotNull(String, String),
    /// The table has an index of that name.
    Index(String, String),
    /// The table has no index of that name.
    NoIndex(String, String),
    /// The columns are unique: a unique constraint or a unique index on exactly them.
    Unique(String, Vec<String>),
    /// A check constraint names the column (by name or in its expression).
    Check(String, String),
    /// A foreign key on exactly these columns references the table.
    ForeignKey(String, Vec<String>, String),
}

/// One operation case: the table before, the migration, the two versions.
#[derive(Clone, Debug)]
pub struct Case {
    /// Its name, in errors and test names.
    pub name: &'static str,
    /// The tables before, with their seed rows, run in order.
    pub setup: Vec<Sql>,
    /// The `migration.toml` text.
    pub migration: String,
    /// How the old version reads and writes.
    pub old: App,
    /// How the new version reads and writes.
    pub new: App,
    /// What each writes and the other reads.
    pub values: Values,
    /// Seed rows and how each version reads them.
    pub seeds: Vec<Seed>,
    /// How the seed rows read after un-contract, where that differs from
    /// `seeds` (a dropped column restored by `down`).
    pub seeds_after_uncontract: Option<Vec<Seed>>,
    /// Whether the old version's select fails once contracted (the old
    /// column or table is gone).
    pub old_breaks_after_contract: bool,
    /// What the schema shows after contract.
    pub after_contract: Vec<Shape>,
    /// The engines that refuse the operation as not online, with
    /// [`Error::Operation`]: there [`run`] asserts the refusal instead.
    pub refused_on: Vec<Engine>,
}

/// Where in the life cycle the harness was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Creating the tables before.
    Setup,
    /// Running `up` (expand and backfill).
    Expand,
    /// Checking both versions while `expanded`.
    Expanded,
    /// Running `abort`, or checking it left everything clean.
    Abort,
    /// The same, after un-contract.
    AbortAfterUncontract,
    /// Running `contract`.
    Contract,
    /// Checking the contracted shape and the new version.
    Contracted,
    /// Running `down` of the contracted migration (un-contract).
    Uncontract,
    /// Checking that an engine refuses the operation.
    Refusal,
    /// A load test ([`concurrency`], [`lock_queue`]).
    Load,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Setup => "setup",
            Stage::Expand => "expand",
            Stage::Expanded => "expanded",
            Stage::Abort => "abort",
            Stage::AbortAfterUncontract => "abort after un-contract",
            Stage::Contract => "contract",
            Stage::Contracted => "contracted",
            Stage::Uncontract => "uncontract",
            Stage::Refusal => "refusal",
            Stage::Load => "load",
        })
    }
}

/// Why a case failed: which case, engine and stage, what, and the statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HarnessError {
    /// The case.
    pub case: String,
    /// The engine.
    pub engine: Engine,
    /// Where in the life cycle.
    pub stage: Stage,
    /// What went wrong.
    pub message: String,
    /// The statement, when one was involved.
    pub statement: Option<String>,
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "online case `{}` on {}, {}: {}",
            self.case, self.engine, self.stage, self.message
        )?;
        if let Some(statement) = &self.statement {
            write!(f, "\n  statement: {statement}")?;
        }
        Ok(())
    }
}

impl std::error::Error for HarnessError {}

/// What a case did, when it passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The whole life cycle ran and every check held.
    LifeCycle,
    /// The engine refused the operation as not online, changing nothing.
    Refused,
}

/// One connection as an application version: it substitutes the templates.
struct Session<'a> {
    label: &'static str,
    app: &'a App,
    driver: Box<dyn Driver>,
}

/// The state of one run: the case, the engine and the stage it is at.
struct Run<'a> {
    case: &'a Case,
    engine: Engine,
    stage: Stage,
    next_id: i64,
    /// Rows either version wrote and did not delete, by id.
    written: Vec<i64>,
}

impl Run<'_> {
    fn error(&self, message: impl Into<String>, statement: Option<&str>) -> HarnessError {
        HarnessError {
            case: self.case.name.to_owned(),
            engine: self.engine,
            stage: self.stage,
            message: message.into(),
            statement: statement.map(str::to_owned),
        }
    }

    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn fill(template: &str, id: i64, value: &str) -> String {
        let value = value.replace("{id}", &id.to_string());
        template
            .replace("{v}", &value)
            .replace("{id}", &id.to_string())
    }

    async fn write(
        &self,
        session: &mut Session<'_>,
        template: &Sql,
        id: i64,
        value: &str,
    ) -> Result<(), HarnessError> {
        let sql = Self::fill(template.for_engine(self.engine), id, value);
        session.driver.execute(&sql).await.map_err(|e| {
            self.error(
                format!("the {} version's write failed: {e}", session.label),
                Some(&sql),
            )
        })?;
        Ok(())
    }

    /// The row `id` as `session` reads it, `None` when there is none.
    async fn read(
        &self,
        session: &mut Session<'_>,
        id: i64,
    ) -> Result<Option<String>, HarnessError> {
        let sql = Self::fill(session.app.select.for_engine(self.engine), id, "");
        let rows = session.driver.query(&sql).await.map_err(|e| {
            self.error(
                format!("the {} version's read failed: {e}", session.label),
                Some(&sql),
            )
        })?;
        if rows.len() > 1 {
            return Err(self.error(
                format!(
                    "the {} version's read of row {id} returned {} rows",
                    session.label,
                    rows.len()
                ),
                Some(&sql),
            ));
        }
        Ok(rows.first().map(|row| {
            row.iter()
                .map(|v| v.as_deref().unwrap_or("NULL").to_owned())
                .collect::<Vec<_>>()
                .join("|")
        }))
    }

    async fn expect(
        &self,
        session: &mut Session<'_>,
        id: i64,
        expected: Option<&str>,
        after: &str,
    ) -> Result<(), HarnessError> {
        let got = self.read(session, id).await?;
        let expected = expected.map(|e| e.replace("{id}", &id.to_string()));
        if got != expected {
            let sql = Self::fill(session.app.select.for_engine(self.engine), id, "");
            return Err(self.error(
                format!(
                    "after {after}, the {} version read {} from row {id}, expected {}",
                    session.label,
                    shown(got.as_deref()),
                    shown(expected.as_deref()),
                ),
                Some(&sql),
            ));
        }
        Ok(())
    }

    /// Inserts, updates and deletes through each version, each read back
    /// through the other; the rows inserted stay (in `written`).
    async fn exchange(
        &mut self,
        old: &mut Session<'_>,
        new: &mut Session<'_>,
    ) -> Result<(), HarnessError> {
        let values = &self.case.values;
        let (a, b, c, d) = (self.id(), self.id(), self.id(), self.id());
        self.write(old, &old.app.insert.clone(), a, &values.old_writes)
            .await?;
        self.expect(
            new,
            a,
            Some(&values.new_reads),
            "an insert by the old version",
        )
        .await?;
        self.write(new, &new.app.insert.clone(), b, &values.new_writes)
            .await?;
        self.expect(
            old,
            b,
            Some(&values.old_reads),
            "an insert by the new version",
        )
        .await?;
        self.write(old, &old.app.update.clone(), b, &values.old_writes)
            .await?;
        self.expect(
            new,
            b,
            Some(&values.new_reads),
            "an update by the old version",
        )
        .await?;
        self.write(new, &new.app.update.clone(), a, &values.new_writes)
            .await?;
        self.expect(
            old,
            a,
            Some(&values.old_reads),
            "an update by the new version",
        )
        .await?;
        self.write(old, &old.app.insert.clone(), c, &values.old_writes)
            .await?;
        self.write(new, &new.app.delete.clone(), c, "").await?;
        self.expect(old, c, None, "a delete by the new version")
            .await?;
        self.write(new, &new.app.insert.clone(), d, &values.new_writes)
            .await?;
        self.write(old, &old.app.delete.clone(), d, "").await?;
        self.expect(new, d, None, "a delete by the old version")
            .await?;
        self.written.extend([a, b]);
        Ok(())
    }

    /// The new version alone: insert, read, update, read, delete.
    async fn new_alone(&mut self, new: &mut Session<'_>) -> Result<(), HarnessError> {
        let values = &self.case.values;
        let (e, f) = (self.id(), self.id());
        self.write(new, &new.app.insert.clone(), e, &values.new_writes)
            .await?;
        self.expect(
            new,
            e,
            Some(&values.new_reads_own),
            "an insert by the new version",
        )
        .await?;
        self.write(new, &new.app.insert.clone(), f, &values.new_writes)
            .await?;
        self.write(new, &new.app.update.clone(), f, &values.new_writes)
            .await?;
        self.expect(
            new,
            f,
            Some(&values.new_reads_own),
            "an update by the new version",
        )
        .await?;
        self.write(new, &new.app.delete.clone(), f, "").await?;
        self.expect(new, f, None, "a delete by the new version")
            .await?;
        self.written.push(e);
        Ok(())
    }

    async fn seeds(
        &self,
        session: &mut Session<'_>,
        old: bool,
        after: &str,
    ) -> Result<(), HarnessError> {
        let seeds = match (&self.case.seeds_after_uncontract, self.stage) {
            (Some(restored), Stage::Uncontract) => restored,
            _ => &self.case.seeds,
        };
        for seed in seeds {
            let expected = if old { &seed.old } else { &seed.new };
            self.expect(session, seed.id, Some(expected), after).await?;
        }
        Ok(())
    }

    async fn snapshot(&self, driver: &mut dyn Driver) -> Result<Snapshot, HarnessError> {
        introspect(driver, &IntrospectOptions::default())
            .await
            .map_err(|e| self.error(format!("introspection failed: {e}"), None))
    }

    /// The schema equals `before` and nothing named `cairn_*` is left.
    async fn clean(
        &self,
        driver: &mut dyn Driver,
        before: &Snapshot,
        options: &DiffOptions,
    ) -> Result<(), HarnessError> {
        let after = self.snapshot(driver).await?;
        let differences = diff_with(before, &after, options);
        if !differences.is_empty() {
            let list: Vec<String> = differences.iter().map(ToString::to_string).collect();
            return Err(self.error(
                format!(
                    "the schema differs from before the expand:\n  {}",
                    list.join("\n  ")
                ),
                None,
            ));
        }
        self.no_cairn_objects(&after)
    }

    fn no_cairn_objects(&self, snapshot: &Snapshot) -> Result<(), HarnessError> {
        let left = cairn_objects(snapshot);
        if left.is_empty() {
            Ok(())
        } else {
            Err(self.error(
                format!("Cairn's objects are left behind: {}", left.join(", ")),
                None,
            ))
        }
    }

    async fn state(
        &self,
        migrator: &Migrator,
        driver: &mut dyn Driver,
    ) -> Result<Option<HistoryState>, HarnessError> {
        let history = migrator
            .history(driver)
            .await
            .map_err(|e| self.error(format!("the history does not read: {e}"), None))?;
        Ok(history
            .iter()
            .find(|row| row.version == CASE_VERSION)
            .map(|row| row.state))
    }

    async fn expect_state(
        &self,
        migrator: &Migrator,
        driver: &mut dyn Driver,
        expected: Option<HistoryState>,
    ) -> Result<(), HarnessError> {
        let state = self.state(migrator, driver).await?;
        if state != expected {
            return Err(self.error(
                format!(
                    "the history row of {CASE_VERSION} is {}, expected {}",
                    state.map_or("absent (pending)", HistoryState::as_str),
                    expected.map_or("absent (pending)", HistoryState::as_str),
                ),
                None,
            ));
        }
        Ok(())
    }

    /// `status` lists the migration as expanded, with what to run next.
    async fn listed_as_expanded(
        &self,
        migrator: &Migrator,
        driver: &mut dyn Driver,
    ) -> Result<(), HarnessError> {
        let status = migrator
            .status(driver)
            .await
            .map_err(|e| self.error(format!("`status` failed: {e}"), None))?;
        match status.expanded.iter().find(|m| m.version == CASE_VERSION) {
            Some(m) if m.state == HistoryState::Expanded && !m.next.is_empty() => Ok(()),
            _ => Err(self.error(
                format!(
                    "`status` does not list {CASE_VERSION} as expanded with a next step: {:?}",
                    status.expanded
                ),
                None,
            )),
        }
    }

    fn phase(&self, report: &cairn_core::RunReport, expected: Phase) -> Result<(), HarnessError> {
        let ours = report.migrations.iter().find(|m| m.version == CASE_VERSION);
        match ours {
            Some(applied) if applied.phase == Some(expected) => Ok(()),
            _ => Err(self.error(
                format!(
                    "the run's report does not show {CASE_VERSION} through phase {expected}: {:?}",
                    report.migrations
                ),
                None,
            )),
        }
    }

    /// The old version reads every row written meanwhile as `reads` holds.
    async fn still_there(
        &self,
        old: &mut Session<'_>,
        reads: &[(i64, Option<String>)],
    ) -> Result<(), HarnessError> {
        for (id, expected) in reads {
            self.expect(old, *id, expected.as_deref(), "the abort")
                .await?;
        }
        Ok(())
    }

    async fn old_reads(
        &self,
        old: &mut Session<'_>,
    ) -> Result<Vec<(i64, Option<String>)>, HarnessError> {
        let mut reads = Vec::new();
        for id in &self.written {
            reads.push((*id, self.read(old, *id).await?));
        }
        Ok(reads)
    }
}

fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "no row".to_owned(), |v| format!("`{v}`"))
}

/// Everything in `snapshot` whose name starts with [`OBJECT_PREFIX`]:
/// tables, columns, indexes, constraints, triggers, functions, views.
pub fn cairn_objects(snapshot: &Snapshot) -> Vec<String> {
    let ours = |name: &str| {
        name.rsplit('.')
            .next()
            .is_some_and(|n| n.starts_with(OBJECT_PREFIX))
    };
    let mut left = Vec::new();
    for (name, table) in &snapshot.tables {
        if ours(name) {
            left.push(format!("table `{name}`"));
        }
        for column in table.columns.keys().filter(|c| ours(c)) {
            left.push(format!("column `{name}.{column}`"));
        }
        for index in table.indexes.keys().filter(|i| ours(i)) {
            left.push(format!("index `{index}` on `{name}`"));
        }
        for constraint in table
            .unique_constraints
            .keys()
            .chain(table.checks.keys())
            .chain(table.foreign_keys.keys())
            .filter(|c| ours(c))
        {
            left.push(format!("constraint `{constraint}` on `{name}`"));
        }
    }
    for name in snapshot.triggers.keys().filter(|t| ours(t)) {
        left.push(format!("trigger `{name}`"));
    }
    for name in snapshot.functions.keys().filter(|f| ours(f)) {
        left.push(format!("function `{name}`"));
    }
    for name in snapshot.views.keys().filter(|v| ours(v)) {
        left.push(format!("view `{name}`"));
    }
    left
}

/// The shapes of `expected` that `snapshot` does not show, described.
pub fn missing_shapes(snapshot: &Snapshot, expected: &[Shape]) -> Vec<String> {
    let table = |name: &str| snapshot.tables.get(name);
    expected
        .iter()
        .filter(|shape| match shape {
            Shape::Table(t) => table(t).is_none(),
            Shape::NoTable(t) => table(t).is_some(),
            Shape::Column(t, c) => table(t).is_none_or(|t| !t.columns.contains_key(c)),
            Shape::NoColumn(t, c) => table(t).is_some_and(|t| t.columns.contains_key(c)),
            Shape::NotNull(t, c) => {
                table(t).is_none_or(|t| t.columns.get(c).is_none_or(|c| c.nullable))
            }
            Shape::Index(t, i) => table(t).is_none_or(|t| !t.indexes.contains_key(i)),
            Shape::NoIndex(t, i) => table(t).is_some_and(|t| t.indexes.contains_key(i)),
            Shape::Unique(t, columns) => table(t).is_none_or(|t| {
                !t.unique_constraints.values().any(|c| c == columns)
                    && !t
                        .indexes
                        .values()
                        .any(|i| i.unique && i.predicate.is_none() && &i.columns == columns)
            }),
            Shape::Check(t, column) => table(t).is_none_or(|t| {
                !t.checks.iter().any(|(name, expr)| {
                    name.contains(column.as_str()) || expr.contains(column.as_str())
                })
            }),
            Shape::ForeignKey(t, columns, referenced) => table(t).is_none_or(|t| {
                !t.foreign_keys
                    .values()
                    .any(|fk| &fk.columns == columns && &fk.referenced_table == referenced)
            }),
        })
        .map(|shape| format!("{shape:?}"))
        .collect()
}

/// The migrator a case runs with: short lock waits, quick retries.
pub fn migrator(dir: &FixtureDir, options: MigratorOptions) -> Migrator {
    Migrator::new(dir.read(), options)
}

/// The options [`run`] uses.
pub fn options() -> MigratorOptions {
    MigratorOptions {
        lock_wait: Duration::from_secs(30),
        retry_backoff: Duration::from_millis(50),
        operation_lock_timeout: Duration::from_secs(2),
        ..MigratorOptions::default()
    }
}

/// The case's migrations directory: its `migration.toml` as version [`CASE_VERSION`].
pub fn fixture(case: &Case) -> FixtureDir {
    Fixture::new()
        .file(
            format!("{CASE_VERSION}_{}/migration.toml", case.name),
            &case.migration,
        )
        .build()
}

/// Runs `case` on a fresh database of `target` through the whole life cycle
/// (see the module documentation), or checks its refusal on an engine of
/// [`Case::refused_on`].
pub async fn run(case: &Case, target: &dyn Target) -> Result<Outcome, HarnessError> {
    let db = target.fresh().await;
    run_on(case, db.as_ref()).await
}

/// [`run`] on a database the caller made.
pub async fn run_on(case: &Case, db: &dyn Database) -> Result<Outcome, HarnessError> {
    let mut cairn = db.connect().await;
    let engine = cairn.dialect().engine();
    let mut run = Run {
        case,
        engine,
        stage: Stage::Setup,
        next_id: 1000,
        written: Vec::new(),
    };
    for statement in &case.setup {
        let sql = statement.for_engine(engine);
        cairn
            .execute(sql)
            .await
            .map_err(|e| run.error(format!("the table before does not build: {e}"), Some(sql)))?;
    }
    let before = run.snapshot(cairn.as_mut()).await?;
    let dir = fixture(case);
    let migrator = migrator(&dir, options());

    run.stage = Stage::Expand;
    let expanded = migrator.up(cairn.as_mut(), None).await;
    if case.refused_on.contains(&engine) {
        run.stage = Stage::Refusal;
        return refused(&run, expanded, &migrator, cairn.as_mut(), &before).await;
    }
    let report = expanded.map_err(|f| run.error(format!("`up` failed: {f}"), None))?;
    run.phase(&report, Phase::Expand)?;
    run.expect_state(&migrator, cairn.as_mut(), Some(HistoryState::Expanded))
        .await?;
    run.listed_as_expanded(&migrator, cairn.as_mut()).await?;

    let mut old = Session {
        label: "old",
        app: &case.old,
        driver: db.connect().await,
    };
    let mut new = Session {
        label: "new",
        app: &case.new,
        driver: db.connect().await,
    };

    run.stage = Stage::Expanded;
    run.seeds(&mut old, true, "expand").await?;
    run.seeds(&mut new, false, "expand").await?;
    run.exchange(&mut old, &mut new).await?;

    run.stage = Stage::Abort;
    let reads = run.old_reads(&mut old).await?;
    let report = migrator
        .abort(cairn.as_mut(), None)
        .await
        .map_err(|f| run.error(format!("`abort` failed: {f}"), None))?;
    run.phase(&report, Phase::Abort)?;
    run.expect_state(&migrator, cairn.as_mut(), None).await?;
    run.clean(cairn.as_mut(), &before, &DiffOptions::default())
        .await?;
    run.still_there(&mut old, &reads).await?;
    run.seeds(&mut old, true, "the abort").await?;

    run.stage = Stage::Expand;
    let report = migrator
        .up(cairn.as_mut(), None)
        .await
        .map_err(|f| run.error(format!("`up` after an abort failed: {f}"), None))?;
    run.phase(&report, Phase::Expand)?;
    run.stage = Stage::Expanded;
    run.seeds(&mut new, false, "expand after abort").await?;
    run.exchange(&mut old, &mut new).await?;

    run.stage = Stage::Contract;
    let report = migrator
        .contract(cairn.as_mut(), None)
        .await
        .map_err(|f| run.error(format!("`contract` failed: {f}"), None))?;
    run.phase(&report, Phase::Contract)?;
    run.expect_state(&migrator, cairn.as_mut(), Some(HistoryState::Applied))
        .await?;
    run.stage = Stage::Contracted;
    let contracted = run.snapshot(cairn.as_mut()).await?;
    let missing = missing_shapes(&contracted, &case.after_contract);
    if !missing.is_empty() {
        return Err(run.error(
            format!("the contracted schema lacks: {}", missing.join(", ")),
            None,
        ));
    }
    run.no_cairn_objects(&contracted)?;
    run.seeds(&mut new, false, "contract").await?;
    run.new_alone(&mut new).await?;
    if case.old_breaks_after_contract {
        let sql = Run::fill(case.old.select.for_engine(engine), 1, "");
        if old.driver.query(&sql).await.is_ok() {
            return Err(run.error(
                "the old version's read still works after contract: the old shape is not gone",
                Some(&sql),
            ));
        }
    }

    run.stage = Stage::Uncontract;
    let report = migrator
        .down(cairn.as_mut(), DownTarget::Steps(1))
        .await
        .map_err(|f| run.error(format!("`down` (un-contract) failed: {f}"), None))?;
    run.phase(&report, Phase::Uncontract)?;
    run.expect_state(&migrator, cairn.as_mut(), Some(HistoryState::Expanded))
        .await?;
    run.seeds(&mut old, true, "un-contract").await?;
    run.seeds(&mut new, false, "un-contract").await?;
    run.exchange(&mut old, &mut new).await?;

    run.stage = Stage::AbortAfterUncontract;
    let reads = run.old_reads(&mut old).await?;
    let report = migrator
        .abort(cairn.as_mut(), None)
        .await
        .map_err(|f| run.error(format!("`abort` failed: {f}"), None))?;
    run.phase(&report, Phase::Abort)?;
    // A column that contract dropped and un-contract added back comes last
    // on engines that cannot add a column in place: only its position may differ.
    let options = DiffOptions {
        ignore_column_order: true,
    };
    run.clean(cairn.as_mut(), &before, &options).await?;
    run.still_there(&mut old, &reads).await?;
    Ok(Outcome::LifeCycle)
}

/// The engine must refuse with [`Error::Operation`] naming it, changing
/// nothing: neither the schema nor the history.
async fn refused(
    run: &Run<'_>,
    expanded: Result<cairn_core::RunReport, cairn_core::RunFailure>,
    migrator: &Migrator,
    driver: &mut dyn Driver,
    before: &Snapshot,
) -> Result<Outcome, HarnessError> {
    match expanded {
        Ok(report) => Err(run.error(
            format!(
                "{} is listed as refusing this operation, but `up` succeeded: {:?}; \
                 remove {} from the case's `refused_on`",
                run.engine, report.migrations, run.engine
            ),
            None,
        )),
        Err(failure) => match &failure.error {
            Error::Operation { engine, .. } if *engine == run.engine => {
                run.clean(driver, before, &DiffOptions::default()).await?;
                run.expect_state(migrator, driver, None).await?;
                Ok(Outcome::Refused)
            }
            other => Err(run.error(
                format!(
                    "the refusal must be an operation error naming {}, got: {other}",
                    run.engine
                ),
                None,
            )),
        },
    }
}

/// The one list of harness cases, as for `__conformance_cases!`.
#[doc(hidden)]
#[macro_export]
macro_rules! __online_cases {
    ($then:ident!($($args:tt)*)) => {
        $crate::$then!($($args)*;
            rename_column,
            add_column,
            drop_column,
            change_column_type,
            set_not_null,
            rename_table,
            create_index,
            drop_index,
            add_check,
            add_unique,
            add_foreign_key,
            raw_sql,
        );
    };
}

/// Expands to one `#[tokio::test]` per case of [`cases`] for `$target` (an
/// expression of a type implementing [`Target`]); each runs [`run`] and fails
/// with the harness's error. The calling crate needs `tokio` with the
/// `macros` and `rt-multi-thread` features as a dev-dependency.
#[macro_export]
macro_rules! online_tests {
    ($target:expr) => {
        $crate::__online_cases!(__online_test_fns!($target));
    };
}

/// The test functions of [`online_tests!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __online_test_fns {
    ($target:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let case = $crate::online::cases::$case();
                if let Err(e) = $crate::online::run(&case, &$target).await {
                    panic!("{e}");
                }
            }
        )*
        $crate::__online_verify_fns!(
            $target;
            verify_a_rename_and_an_added_column_come_back_exactly,
            verify_up_with_contract_the_same_way,
            verify_an_abort_that_leaves_a_table_behind_is_a_rollback_difference,
        );
    };
}

/// The `cairn verify` test functions of [`online_tests!`], one per
/// [`verify_cases::VERIFY_CASES`](crate::online::verify_cases::VERIFY_CASES).
#[doc(hidden)]
#[macro_export]
macro_rules! __online_verify_fns {
    ($target:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::online::verify_cases::$case(&$target).await;
            }
        )*
    };
}

/// Defines [`CASES`] from the names it is given.
#[doc(hidden)]
#[macro_export]
macro_rules! __online_case_names {
    (; $($case:ident),* $(,)?) => {
        /// The names of every case, in the order `online_tests!` expands them.
        pub const CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

__online_cases!(__online_case_names!());

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use cairn_core::schema::{Column, Index, Table, Trigger};

    use super::*;

    fn snapshot(table: Table) -> Snapshot {
        Snapshot {
            engine: Engine::Sqlite,
            schemas: BTreeSet::new(),
            extensions: BTreeMap::new(),
            tables: BTreeMap::from([("items".to_owned(), table)]),
            views: BTreeMap::new(),
            triggers: BTreeMap::new(),
            sequences: BTreeMap::new(),
            enums: BTreeMap::new(),
            functions: BTreeMap::new(),
        }
    }

    fn items() -> Table {
        let column = |nullable| Column {
            data_type: "integer".to_owned(),
            nullable,
            ..Column::default()
        };
        Table {
            columns: BTreeMap::from([
                ("id".to_owned(), column(false)),
                ("label".to_owned(), column(true)),
            ]),
            column_order: vec!["id".to_owned(), "label".to_owned()],
            indexes: BTreeMap::from([(
                "items_label_idx".to_owned(),
                Index {
                    columns: vec!["label".to_owned()],
                    unique: true,
                    ..Index::default()
                },
            )]),
            ..Table::default()
        }
    }

    #[test]
    fn shapes_that_hold_are_not_missing() {
        let shapes = [
            Shape::Table("items".to_owned()),
            Shape::NoTable("users".to_owned()),
            Shape::Column("items".to_owned(), "label".to_owned()),
            Shape::NoColumn("items".to_owned(), "name".to_owned()),
            Shape::NotNull("items".to_owned(), "id".to_owned()),
            Shape::Index("items".to_owned(), "items_label_idx".to_owned()),
            Shape::NoIndex("items".to_owned(), "items_name_idx".to_owned()),
            Shape::Unique("items".to_owned(), vec!["label".to_owned()]),
        ];
        assert_eq!(
            missing_shapes(&snapshot(items()), &shapes),
            Vec::<String>::new()
        );
    }

    #[test]
    fn shapes_that_do_not_hold_are_named() {
        let shapes = [
            Shape::NotNull("items".to_owned(), "label".to_owned()),
            Shape::NoColumn("items".to_owned(), "label".to_owned()),
            Shape::Check("items".to_owned(), "label".to_owned()),
            Shape::ForeignKey(
                "items".to_owned(),
                vec!["label".to_owned()],
                "owners".to_owned(),
            ),
            Shape::Column("missing".to_owned(), "label".to_owned()),
        ];
        let missing = missing_shapes(&snapshot(items()), &shapes);
        assert_eq!(missing.len(), shapes.len(), "{missing:?}");
        assert!(missing[0].contains("NotNull"), "{missing:?}");
    }

    #[test]
    fn every_kind_of_cairn_object_is_found_by_its_prefix() {
        let mut table = items();
        table
            .columns
            .insert("cairn_1_0_old".to_owned(), Column::default());
        table
            .indexes
            .insert("cairn_1_0_label".to_owned(), Index::default());
        table.checks.insert(
            "cairn_1_0_not_null".to_owned(),
            "label is not null".to_owned(),
        );
        let mut snapshot = snapshot(table);
        snapshot.triggers.insert(
            "cairn_1_0_sync".to_owned(),
            Trigger {
                name: "cairn_1_0_sync".to_owned(),
                table: "items".to_owned(),
                timing: "after".to_owned(),
                events: vec!["insert".to_owned()],
                definition: String::new(),
            },
        );
        snapshot
            .functions
            .insert("public.cairn_1_0_sync()".to_owned(), String::new());
        let left = cairn_objects(&snapshot);
        assert_eq!(left.len(), 5, "{left:?}");
        assert!(
            left.iter().any(|l| l == "column `items.cairn_1_0_old`"),
            "{left:?}"
        );
        assert!(cairn_objects(&super::tests::snapshot(items())).is_empty());
    }

    #[test]
    fn templates_take_the_id_and_a_value_that_may_hold_the_id() {
        let sql = Run::fill("UPDATE t SET a = {v} WHERE id = {id}", 7, "'x{id}'");
        assert_eq!(sql, "UPDATE t SET a = 'x7' WHERE id = 7");
    }

    #[test]
    fn an_error_names_case_engine_stage_and_statement() {
        let e = HarnessError {
            case: "rename_column".to_owned(),
            engine: Engine::Postgres,
            stage: Stage::Contracted,
            message: "it broke".to_owned(),
            statement: Some("SELECT 1".to_owned()),
        };
        assert_eq!(
            e.to_string(),
            "online case `rename_column` on postgres, contracted: it broke\n  statement: SELECT 1"
        );
    }

    /// Every verify case defined is one `online_tests!` runs: the names in
    /// its macro, in [`verify_cases::VERIFY_CASES`] and the functions agree.
    #[test]
    fn every_verify_case_is_run() {
        let mut defined = Vec::new();
        for line in include_str!("verify_cases.rs").lines() {
            let Some(rest) = line.strip_prefix("pub async fn ") else {
                continue;
            };
            if let Some((name, _)) = rest.split_once('(') {
                defined.push(name.to_owned());
            }
        }
        assert_eq!(
            defined,
            verify_cases::VERIFY_CASES,
            "verify_cases.rs vs VERIFY_CASES"
        );
        let source = include_str!("mod.rs");
        let call = source
            .split("$crate::__online_verify_fns!(")
            .nth(1)
            .and_then(|rest| rest.split(");").next())
            .expect("online_tests! calls __online_verify_fns!");
        let (_, names) = call.split_once(';').expect("`$target;` first");
        let listed: Vec<&str> = names
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .collect();
        assert_eq!(
            listed,
            verify_cases::VERIFY_CASES,
            "online_tests! vs VERIFY_CASES"
        );
    }
}

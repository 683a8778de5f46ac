//! `cairn verify`: proves, migration by migration, that each down script
//! restores the schema its up script changed, and that the up script can run
//! again after it.
//!
//! On an **empty** database, for each migration in version order:
//! snapshot `S0` → up → `S1` → down one step → `S2` (must equal `S0`) → up
//! again → `S3` (must equal `S1`). The snapshots come from
//! [`schema::introspect`], so the comparison sees
//! tables, columns, indexes, constraints, views, triggers, sequences and enums,
//! but never Cairn's own history tables.
//!
//! A migration without a down script on the engine is reported as
//! [`Outcome::Irreversible`] and stays applied; verification goes on with the
//! next one. A migration whose up or down fails is reported as
//! [`Outcome::Error`] and ends the run: the database is then in a state the
//! later migrations were not written for. So does a migration whose down
//! leaves something behind that makes its up fail the second time (a column
//! that already exists): it is reported as [`Outcome::RollbackDiffers`] with
//! the differences and the error, and the later migrations are listed as
//! [`VerifyReport::unchecked`].
//!
//! With [`VerifyOptions::seed_data`], generated rows go into every table
//! after each up ([`seed`]), and the rows of the tables the migration
//! found in place (their columns from before it) are read after up and again
//! after down and up: a migration that loses or changes them is reported as
//! [`Outcome::RowsDiffer`], with the rows in [`MigrationReport::rows`]
//! (compared by [`rows`]). The
//! rows the up script itself inserts or changes (read before and after it)
//! are not expected back unchanged: up makes them again, maybe with other
//! values (`CURRENT_TIMESTAMP`).
//!
//! A migration with `[[operation]]`s (zero-downtime, see
//! docs/zero-downtime.md) is verified by its own round trips instead
//! (`verify/operations.rs`): expand → abort, and expand → contract → down
//! (un-contract) → abort, each compared with the schema (and, with
//! `seed_data`, the rows) from before it, then expand → contract again,
//! compared with the first contract. Its `down.sql` is not used: its ways
//! back are generated.
//!
//! With [`VerifyOptions::ignore_column_order`], a column that down and up
//! again put back at another position is not a difference.
//!
//! The database is scratch, so commits do not wait for the disk (the
//! dialect's [`relax_durability`](crate::dialect::Schema::relax_durability),
//! for the connection only). [`scratch`] makes such databases on a server and
//! drops them after the run; [`drift()`] applies the migrations to one and
//! compares it with a live database.
//!
//! The library never prints: progress goes to a callback ([`VerifyEvent`]),
//! and the result is a [`VerifyReport`] the caller renders. Judging the four
//! snapshots ([`judge`]) is pure and unit-tested without a database.

pub mod drift;
mod operations;
pub mod rows;
pub mod scratch;
pub mod seed;

use serde::Serialize;

use crate::driver::Driver;
use crate::engine::Engine;
use crate::error::Error;
use crate::migration::{Direction, Migration, Version};
use crate::migrator::Migrator;
use crate::plan::{self, DownTarget};
use crate::schema::{self, dialect_of, DiffOptions, Difference, IntrospectOptions, Snapshot};
use rows::RowsFinding;
use seed::{Seeder, Skipped};

pub use drift::drift;

/// Which migrations [`verify`] checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Check migrations from this version on; older ones are applied first without checks.
    pub from: Option<Version>,
    /// Check migrations up to and including this version; newer ones are not applied.
    pub to: Option<Version>,
    /// Insert generated rows after each up, and check that down and up again
    /// keep the rows of the tables that existed before the migration.
    pub seed_data: bool,
    /// Do not report a table whose columns come back in another order.
    pub ignore_column_order: bool,
}

impl VerifyOptions {
    /// How snapshots are compared.
    pub fn diff_options(&self) -> DiffOptions {
        DiffOptions {
            ignore_column_order: self.ignore_column_order,
        }
    }
}

/// How one migration fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Down restored the schema, and up applied again to the same schema.
    Ok,
    /// The schema after down differs from the schema before up.
    RollbackDiffers,
    /// The schema after the second up differs from the schema after the first.
    ReapplyDiffers,
    /// The schema is restored, but down and up again lost or changed rows of
    /// a table that existed before the migration (with `seed_data`).
    RowsDiffer,
    /// No down script on this engine: left applied, not rolled back.
    Irreversible,
    /// Up or down failed; verification stopped here.
    Error,
}

impl Outcome {
    /// How the outcome reads in text and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::RollbackDiffers => "rollback-differs",
            Outcome::ReapplyDiffers => "reapply-differs",
            Outcome::RowsDiffer => "rows-differ",
            Outcome::Irreversible => "irreversible",
            Outcome::Error => "error",
        }
    }

    /// Whether this outcome means the migration's scripts are wrong.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Outcome::RollbackDiffers | Outcome::ReapplyDiffers | Outcome::RowsDiffer
        )
    }
}

/// Which comparison found a [`Finding`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Schema after down compared with the schema before up.
    Rollback,
    /// Schema after the second up compared with the schema after the first.
    Reapply,
}

/// One difference found while verifying a migration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which comparison found it.
    pub stage: Stage,
    /// The difference as a sentence (its `Display`).
    pub message: String,
    /// The difference itself, from the expected schema to the one found.
    pub difference: Difference,
}

/// What [`verify`] found for one migration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MigrationReport {
    /// Version.
    pub version: Version,
    /// Name.
    pub name: String,
    /// The verdict.
    pub outcome: Outcome,
    /// The differences; empty unless the outcome is a failure.
    pub differences: Vec<Finding>,
    /// Rows of surviving tables that down and up again lost or changed
    /// (with `seed_data`).
    pub rows: Vec<RowsFinding>,
    /// Tables the seed could not fill after this migration's up, and why
    /// (with `seed_data`): their rows were not checked.
    pub not_seeded: Vec<Skipped>,
    /// The error, for [`Outcome::Error`], or for [`Outcome::RollbackDiffers`]
    /// when applying the migration again failed because of what down left behind.
    pub error: Option<String>,
}

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The engine verified on.
    pub engine: Engine,
    /// Migrations applied without checks because they are older than `from`.
    pub applied_before: Vec<Version>,
    /// The migrations checked, in order.
    pub migrations: Vec<MigrationReport>,
    /// Migrations that were to be checked but were not, because verification
    /// stopped at an earlier one that could not be applied.
    pub unchecked: Vec<Version>,
}

impl VerifyReport {
    /// Whether some migration's rollback or re-apply differs.
    pub fn has_failures(&self) -> bool {
        self.migrations.iter().any(|m| m.outcome.is_failure())
    }

    /// The first migration that could not be run for a reason other than
    /// its rollback (so the report is incomplete), if any.
    pub fn error(&self) -> Option<&MigrationReport> {
        self.migrations.iter().find(|m| m.outcome == Outcome::Error)
    }
}

/// Progress of [`verify`], for a caller that shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyEvent {
    /// Migrations older than `from` are being applied without checks.
    Preparing {
        /// How many.
        count: usize,
    },
    /// Migration `index` (1-based) of `total` is being verified.
    Verifying {
        /// 1-based position among the checked migrations.
        index: usize,
        /// How many are checked.
        total: usize,
        /// Version.
        version: Version,
        /// Name.
        name: String,
    },
    /// A migration was judged.
    Verified {
        /// Version.
        version: Version,
        /// Its outcome.
        outcome: Outcome,
    },
}

/// The migrations on `engine` split into those applied first and those checked.
fn select(
    migrations: &[Migration],
    engine: Engine,
    options: &VerifyOptions,
) -> (Vec<Version>, Vec<(Version, String, bool)>) {
    let mut before = Vec::new();
    let mut checked = Vec::new();
    for (version, m) in plan::applicable(migrations, engine) {
        if options.to.is_some_and(|to| version > to) {
            break;
        }
        if options.from.is_some_and(|from| version < from) {
            before.push(version);
        } else {
            // An operation migration's way back is generated (abort, un-contract).
            let reversible = has_operations(m) || m.script(Direction::Down, engine).is_some();
            checked.push((version, m.name.clone(), reversible));
        }
    }
    (before, checked)
}

/// Whether the migration declares `[[operation]]`s, verified by their own
/// round trips (`verify/operations.rs`).
fn has_operations(migration: &Migration) -> bool {
    migration
        .declaration
        .as_ref()
        .is_some_and(|d| !d.operations.is_empty())
}

/// The introspection options matching the migrator's history table.
pub fn introspect_options(migrator: &Migrator) -> IntrospectOptions {
    let table = &migrator.options().table;
    IntrospectOptions {
        history_table: table.name.clone(),
        history_schema: table.schema.clone(),
    }
}

/// The objects a snapshot holds, as `kind name` phrases, for an error
/// message: every schema object but extensions (a managed database comes
/// with some installed; the objects they own are never in a snapshot).
pub fn objects(snapshot: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(snapshot.schemas.iter().map(|n| format!("schema `{n}`")));
    out.extend(snapshot.tables.keys().map(|n| format!("table `{n}`")));
    out.extend(snapshot.views.keys().map(|n| format!("view `{n}`")));
    out.extend(snapshot.triggers.keys().map(|n| format!("trigger `{n}`")));
    out.extend(snapshot.sequences.keys().map(|n| format!("sequence `{n}`")));
    out.extend(snapshot.enums.keys().map(|n| format!("enum `{n}`")));
    out.extend(snapshot.functions.keys().map(|n| format!("function `{n}`")));
    out
}

/// Refuses, changing nothing, unless the database holds no schema objects and
/// no history rows. `what` names the database in the message (`scratch database`).
pub async fn ensure_empty(
    migrator: &Migrator,
    driver: &mut dyn Driver,
    what: &str,
) -> Result<Snapshot, Error> {
    let snapshot = schema::introspect(driver, &introspect_options(migrator)).await?;
    let found = objects(&snapshot);
    if !found.is_empty() {
        return Err(Error::NotEmpty {
            what: what.to_owned(),
            objects: found,
            engine: driver.dialect().engine(),
        });
    }
    let history = migrator.history(driver).await?;
    if !history.is_empty() {
        return Err(Error::NotEmptyHistory {
            what: what.to_owned(),
            table: migrator.options().table.name.clone(),
            rows: history.len(),
        });
    }
    Ok(snapshot)
}

/// Stops waiting for the disk at each commit, for this connection only: the
/// database is a scratch one whose contents are thrown away, and verification
/// commits three times per migration. The dialect says how, if it can
/// (MySQL has no such session setting).
async fn relax_durability(driver: &mut dyn Driver) -> Result<(), Error> {
    let dialect = dialect_of(driver);
    let engine = dialect.engine();
    let Some(sql) = dialect.relax_durability() else {
        return Ok(());
    };
    driver.execute(sql).await.map(|_| ()).map_err(|e| {
        Error::driver(
            engine,
            "cannot turn off synchronous commits for verification",
            e,
        )
    })
}

/// The differences from `expected` to `found`, as findings of `stage`.
fn findings(
    stage: Stage,
    expected: &Snapshot,
    found: &Snapshot,
    options: &DiffOptions,
) -> Vec<Finding> {
    schema::diff_with(expected, found, options)
        .into_iter()
        .map(|difference| Finding {
            stage,
            message: difference.to_string(),
            difference,
        })
        .collect()
}

/// What down left different from the schema before up.
fn rollback_findings(
    before_up: &Snapshot,
    after_down: &Snapshot,
    options: &DiffOptions,
) -> Vec<Finding> {
    findings(Stage::Rollback, before_up, after_down, options)
}

/// Judges one migration from the schema before up (`s0`), after up (`s1`),
/// after down (`s2`) and after up again (`s3`).
pub fn judge(
    s0: &Snapshot,
    s1: &Snapshot,
    s2: &Snapshot,
    s3: &Snapshot,
) -> (Outcome, Vec<Finding>) {
    judge_with(s0, s1, s2, s3, &DiffOptions::default())
}

/// [`judge`], comparing as `options` say.
pub fn judge_with(
    s0: &Snapshot,
    s1: &Snapshot,
    s2: &Snapshot,
    s3: &Snapshot,
    options: &DiffOptions,
) -> (Outcome, Vec<Finding>) {
    let mut out = rollback_findings(s0, s2, options);
    let rollback = !out.is_empty();
    out.extend(findings(Stage::Reapply, s1, s3, options));
    let outcome = if rollback {
        Outcome::RollbackDiffers
    } else if !out.is_empty() {
        Outcome::ReapplyDiffers
    } else {
        Outcome::Ok
    };
    (outcome, out)
}

/// Verifies every migration (within `options`) on the empty database behind
/// `driver`, reporting progress to `progress`.
///
/// Refuses with [`Error::NotEmpty`] or [`Error::NotEmptyHistory`], changing
/// nothing, when the database is not empty. Errors of a migration's scripts are reported in the
/// [`VerifyReport`] ([`Outcome::Error`]); other errors (introspection, the
/// connection) are returned.
pub async fn verify(
    migrator: &Migrator,
    driver: &mut dyn Driver,
    options: &VerifyOptions,
    progress: &mut dyn FnMut(VerifyEvent),
) -> Result<VerifyReport, Error> {
    let engine = driver.dialect().engine();
    if let (Some(from), Some(to)) = (options.from, options.to) {
        if from > to {
            return Err(Error::EmptyRange { from, to });
        }
    }
    let introspect = introspect_options(migrator);
    let compare = options.diff_options();
    let mut s0 = ensure_empty(migrator, driver, "database to verify on").await?;
    relax_durability(driver).await?;
    let (before, checked) = select(migrator.migrations(), engine, options);
    let mut report = VerifyReport {
        engine,
        applied_before: before.clone(),
        migrations: Vec::new(),
        unchecked: Vec::new(),
    };
    let all_checked: Vec<Version> = checked.iter().map(|(v, _, _)| *v).collect();
    if let Some(last) = before.last() {
        progress(VerifyEvent::Preparing {
            count: before.len(),
        });
        migrator
            .up(driver, Some(*last))
            .await
            .map_err(|failure| failure.error)?;
        s0 = schema::introspect(driver, &introspect).await?;
    }
    let mut seeder = Seeder::new();
    let total = checked.len();
    for (i, (version, name, reversible)) in checked.into_iter().enumerate() {
        progress(VerifyEvent::Verifying {
            index: i + 1,
            total,
            version,
            name: name.clone(),
        });
        let mut not_seeded = Vec::new();
        let entry = |outcome, differences, error, not_seeded: &Vec<Skipped>| MigrationReport {
            version,
            name: name.clone(),
            outcome,
            differences,
            rows: Vec::new(),
            not_seeded: not_seeded.clone(),
            error,
        };
        let operation_migration = migrator
            .migrations()
            .iter()
            .find(|m| m.version == version)
            .is_some_and(has_operations);
        if operation_migration {
            let ctx = operations::Context {
                migrator,
                introspect: &introspect,
                compare: &compare,
                seed_data: options.seed_data,
            };
            let checked = operations::verify(&ctx, driver, version, &s0, &mut seeder).await?;
            let mut migration = entry(
                checked.outcome,
                checked.differences,
                checked.error,
                &checked.not_seeded,
            );
            migration.rows = checked.rows;
            record(&mut report, progress, migration);
            match checked.after {
                Some(after) => {
                    s0 = after;
                    continue;
                }
                None => break,
            }
        }
        // The rows before up, to tell the rows up makes from those it keeps.
        let mut rows_before_up = std::collections::BTreeMap::new();
        if options.seed_data && reversible {
            for (table, t) in &s0.tables {
                let rows = rows::read_rows(driver, table, &t.column_order).await?;
                rows_before_up.insert(table.clone(), rows);
            }
        }
        if let Err(failure) = migrator.up(driver, Some(version)).await {
            record(
                &mut report,
                progress,
                entry(
                    Outcome::Error,
                    Vec::new(),
                    Some(failure.error.to_string()),
                    &not_seeded,
                ),
            );
            break;
        }
        let s1 = schema::introspect(driver, &introspect).await?;
        // The rows of the tables that were there before, after up and the
        // seed, with those up itself made (inserted or changed).
        let mut rows_before = Vec::new();
        if options.seed_data {
            let surviving = if reversible {
                rows::surviving(&s0, &s1)
            } else {
                Vec::new()
            };
            let mut made = Vec::new();
            for (table, columns) in &surviving {
                let after_up = rows::read_rows(driver, table, columns).await?;
                let before_up = rows_before_up.get(table).map_or_else(Vec::new, |rows| {
                    rows::project(rows, &s0.tables[table].column_order, columns)
                });
                made.push(rows::subtract(&after_up, &before_up));
            }
            not_seeded = seeder.seed(driver, &s1).await?.skipped;
            for ((table, columns), made) in surviving.into_iter().zip(made) {
                let rows = rows::read_rows(driver, &table, &columns).await?;
                rows_before.push((table, columns, rows, made));
            }
        }
        if !reversible {
            report
                .migrations
                .push(entry(Outcome::Irreversible, Vec::new(), None, &not_seeded));
            progress(VerifyEvent::Verified {
                version,
                outcome: Outcome::Irreversible,
            });
            s0 = s1;
            continue;
        }
        if let Err(failure) = migrator.down(driver, DownTarget::Steps(1)).await {
            record(
                &mut report,
                progress,
                entry(
                    Outcome::Error,
                    Vec::new(),
                    Some(failure.error.to_string()),
                    &not_seeded,
                ),
            );
            break;
        }
        let s2 = schema::introspect(driver, &introspect).await?;
        let rollback = rollback_findings(&s0, &s2, &compare);
        if let Err(failure) = migrator.up(driver, Some(version)).await {
            // Typically the up script trips over what down left behind
            // (`duplicate column`): the rollback is the fault, and with this
            // migration not applied the later ones cannot be checked.
            let outcome = if rollback.is_empty() {
                Outcome::Error
            } else {
                Outcome::RollbackDiffers
            };
            record(
                &mut report,
                progress,
                entry(
                    outcome,
                    rollback,
                    Some(format!("applying it again failed: {}", failure.error)),
                    &not_seeded,
                ),
            );
            break;
        }
        let s3 = schema::introspect(driver, &introspect).await?;
        let (mut outcome, differences) = judge_with(&s0, &s1, &s2, &s3, &compare);
        let mut rows = Vec::new();
        for (table, columns, before, made) in &rows_before {
            // A table or column that is gone is a schema difference already.
            let still_there = s3
                .tables
                .get(table)
                .is_some_and(|t| columns.iter().all(|c| t.columns.contains_key(c)));
            if !still_there {
                continue;
            }
            let after = rows::read_rows(driver, table, columns).await?;
            rows.extend(rows::compare_kept_rows(
                table, columns, before, made, &after,
            ));
        }
        if outcome == Outcome::Ok && !rows.is_empty() {
            outcome = Outcome::RowsDiffer;
        }
        let mut migration = entry(outcome, differences, None, &not_seeded);
        migration.rows = rows;
        record(&mut report, progress, migration);
        s0 = s3;
    }
    let done: std::collections::BTreeSet<Version> =
        report.migrations.iter().map(|m| m.version).collect();
    report.unchecked = all_checked
        .into_iter()
        .filter(|v| !done.contains(v))
        .collect();
    Ok(report)
}

/// Verifies on a scratch database of `engine` made from `source`
/// ([`scratch::with_scratch`]): created empty, verified on as [`verify`]
/// does, and removed afterwards whatever the outcome. `connect` opens a
/// driver for a URL (the core links no driver).
pub async fn verify_on_scratch(
    migrator: &Migrator,
    engine: Engine,
    source: &scratch::Source,
    options: &VerifyOptions,
    connect: &scratch::Connect,
    progress: &mut dyn FnMut(VerifyEvent),
) -> scratch::ScratchRun<VerifyReport> {
    scratch::with_scratch(
        engine,
        source,
        "verify",
        connect,
        async |driver: &mut dyn Driver| verify(migrator, driver, options, progress).await,
    )
    .await
}

/// Adds one migration's result to the report and tells the progress callback.
fn record(
    report: &mut VerifyReport,
    progress: &mut dyn FnMut(VerifyEvent),
    migration: MigrationReport,
) {
    progress(VerifyEvent::Verified {
        version: migration.version,
        outcome: migration.outcome,
    });
    report.migrations.push(migration);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::{Directives, Layout, Script, Scripts};
    use crate::schema::{Column, Index, ObjectKind, Table};
    use std::path::PathBuf;

    fn table(columns: &[&str]) -> Table {
        let mut t = Table::default();
        for c in columns {
            t.columns.insert(
                (*c).to_owned(),
                Column {
                    data_type: "integer".to_owned(),
                    nullable: true,
                    ..Column::default()
                },
            );
            t.column_order.push((*c).to_owned());
        }
        t
    }

    fn snapshot(tables: &[(&str, Table)]) -> Snapshot {
        let mut s = Snapshot::new(Engine::Sqlite);
        for (name, t) in tables {
            s.tables.insert((*name).to_owned(), t.clone());
        }
        s
    }

    #[test]
    fn a_faithful_rollback_is_ok() {
        let s0 = snapshot(&[]);
        let s1 = snapshot(&[("t", table(&["id"]))]);
        let (outcome, findings) = judge(&s0, &s1, &s0, &s1);
        assert_eq!(outcome, Outcome::Ok);
        assert!(findings.is_empty());
    }

    #[test]
    fn a_leftover_column_is_a_rollback_difference() {
        let s0 = snapshot(&[("t", table(&["id"]))]);
        let s1 = snapshot(&[("t", table(&["id", "c"]))]);
        let (outcome, findings) = judge(&s0, &s1, &s1, &s1);
        assert_eq!(outcome, Outcome::RollbackDiffers);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].stage, Stage::Rollback);
        assert_eq!(
            findings[0].difference.path,
            vec![
                (ObjectKind::Table, "t".to_owned()),
                (ObjectKind::Column, "c".to_owned())
            ]
        );
        assert!(
            findings[0].message.contains("column `c` added"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn a_reapply_that_differs_is_reported() {
        let s0 = snapshot(&[]);
        let s1 = snapshot(&[("t", table(&["id"]))]);
        let mut with_index = table(&["id"]);
        with_index
            .indexes
            .insert("t_id".to_owned(), Index::default());
        let s3 = snapshot(&[("t", with_index)]);
        let (outcome, findings) = judge(&s0, &s1, &s0, &s3);
        assert_eq!(outcome, Outcome::ReapplyDiffers);
        assert_eq!(findings[0].stage, Stage::Reapply);
        assert!(
            findings[0].message.contains("index `t_id`"),
            "{}",
            findings[0].message
        );
    }

    fn migration(version: impl Into<Version>, down: bool) -> Migration {
        let version = version.into();
        let script = |text: &str| Script {
            path: PathBuf::from("x.sql"),
            first_line: 1,
            text: text.to_owned(),
            directives: Directives::default(),
        };
        Migration {
            version,
            name: format!("m{version}"),
            layout: Layout::Cairn,
            location: PathBuf::from(format!("{version}_m")),
            up: Scripts {
                plain: Some(script("SELECT 1;")),
                ..Scripts::default()
            },
            down: if down {
                Scripts {
                    plain: Some(script("SELECT 1;")),
                    ..Scripts::default()
                }
            } else {
                Scripts::default()
            },
            declaration: None,
        }
    }

    #[test]
    fn from_and_to_split_the_migrations() {
        let all = vec![migration(1, true), migration(2, false), migration(3, true)];
        let options = VerifyOptions {
            from: Some(crate::migration::Version::from(2)),
            to: Some(crate::migration::Version::from(2)),
            ..VerifyOptions::default()
        };
        let (before, checked) = select(&all, Engine::Sqlite, &options);
        assert_eq!(before, vec![1]);
        assert_eq!(checked, vec![(Version::from(2), "m2".to_owned(), false)]);
        let (before, checked) = select(&all, Engine::Sqlite, &VerifyOptions::default());
        assert!(before.is_empty());
        assert_eq!(checked.len(), 3);
    }

    #[test]
    fn objects_are_named_for_the_refusal() {
        let s = snapshot(&[("users", table(&["id"]))]);
        assert_eq!(objects(&s), vec!["table `users`".to_owned()]);
    }
}

//! The life cycle of migrations with `[[operation]]`s (online.rs) on the
//! [`RecordingDriver`], with a test dialect whose `compile_operation`
//! returns hand-written steps: what runs in which phase, what the history
//! records after each step, and how each phase continues after a failure.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::recording::{RecordingDriver, APPLIED_GUARD};
use super::{Migrator, MigratorOptions};
use crate::dialect::sqlite::SqliteDialect;
use crate::dialect::{
    Bookkeeping, ColumnTypes, Dialect, Flavour, IdentifierLimit, Online, Schema, ServerVersion,
};
use crate::driver::{DriverError, DriverErrorKind};
use crate::engine::Engine;
use crate::error::{Error, Location};
use crate::history::HistoryState;
use crate::literal::SessionPreconditions;
use crate::migration::{
    Declaration, Direction, Directives, Layout, Migration, Script, Scripts, Version,
};
use crate::operation::{Context, Kind, Operation, Phase, Phases, Step, Versions};
use crate::plan::{DownTarget, State};
use crate::schema::{Column, PrimaryKey, Snapshot, Table};
use crate::split::SplitRules;

/// SQLite's dialect, but `read_schema` answers from `snapshot` and
/// `rename_column` compiles into recognisable steps.
#[derive(Clone, Debug)]
pub(super) struct TestOnline {
    inner: SqliteDialect,
    snapshot: Arc<Mutex<Snapshot>>,
    /// Whether it sends Cairn's transaction as one packet, as MySQL's does
    /// (`BEGIN` … `COMMIT`), for the packet tests (packet.rs).
    packets: bool,
}

impl TestOnline {
    /// The test dialect with MySQL's packet transaction.
    pub(super) fn with_packets() -> Self {
        TestOnline {
            packets: true,
            ..TestOnline::new()
        }
    }

    fn new() -> Self {
        let mut users = Table::default();
        for name in ["id", "name"] {
            users.columns.insert(name.to_owned(), Column::default());
            users.column_order.push(name.to_owned());
        }
        users.primary_key = Some(PrimaryKey {
            name: None,
            columns: vec!["id".to_owned()],
        });
        let mut snapshot = Snapshot::new(SqliteDialect::DEFAULT.engine());
        snapshot.tables.insert("users".to_owned(), users);
        TestOnline {
            inner: SqliteDialect::DEFAULT,
            snapshot: Arc::new(Mutex::new(snapshot)),
            packets: false,
        }
    }
}

fn guarded(what: &str, statement: String) -> Step {
    let guard = format!("{APPLIED_GUARD}'{}'", statement.replace('\'', "''"));
    Step::new(what, statement).done_if(guard)
}

impl Online for TestOnline {
    fn compile_operation(
        &self,
        operation: &Operation,
        ctx: &Context<'_>,
    ) -> Result<Phases, String> {
        let Kind::RenameColumn { table, column, to } = &operation.kind else {
            return Err(format!(
                "`{}` is not supported by the test dialect",
                operation.kind.name()
            ));
        };
        let before = ctx
            .before
            .ok_or_else(|| format!("table `{table}` does not exist"))?;
        if !before.columns.contains_key(column) {
            return Err(format!("column `{table}.{column}` does not exist"));
        }
        let trigger = ctx.object_name("sync");
        Ok(Phases {
            expand: vec![
                guarded("add column", format!("ALTER TABLE {table} ADD COLUMN {to}")).locking(),
                guarded("create trigger", format!("CREATE TRIGGER {trigger}")),
            ],
            contract: vec![
                Step::new("drop trigger", format!("DROP TRIGGER IF EXISTS {trigger}")).locking(),
                Step::new(
                    "drop old column",
                    format!("ALTER TABLE {table} DROP COLUMN {column}"),
                )
                .locking(),
            ],
            abort: vec![
                Step::new("drop trigger", format!("DROP TRIGGER IF EXISTS {trigger}")),
                Step::new(
                    "drop new column",
                    format!("ALTER TABLE {table} DROP COLUMN IF EXISTS {to}"),
                ),
            ],
            uncontract: vec![
                Step::new(
                    "re-add old column",
                    format!("ALTER TABLE {table} ADD COLUMN {column}"),
                ),
                Step::new(
                    "re-create trigger",
                    format!("CREATE TRIGGER {trigger} AGAIN"),
                ),
            ],
            versions: Versions {
                old: vec![format!("{table}.{column}")],
                new: vec![format!("{table}.{to}")],
            },
            ..Phases::default()
        })
    }
}

impl Bookkeeping for TestOnline {
    fn quote_ident(&self, ident: &str) -> String {
        self.inner.quote_ident(ident)
    }
    fn qualify(&self, schema: Option<&str>, name: &str) -> String {
        self.inner.qualify(schema, name)
    }
    fn string_literal(&self, value: &str) -> String {
        self.inner.string_literal(value)
    }
    fn session_preconditions(&self) -> SessionPreconditions {
        self.inner.session_preconditions()
    }
    fn identifier_limit(&self) -> Option<IdentifierLimit> {
        self.inner.identifier_limit()
    }
    fn column_types(&self) -> ColumnTypes {
        self.inner.column_types()
    }
    fn create_schema(&self, schema: &str) -> Option<String> {
        self.inner.create_schema(schema)
    }
    fn table_exists(&self, schema: Option<&str>, name: &str) -> String {
        self.inner.table_exists(schema, name)
    }
    fn transaction_probe(&self) -> Option<&'static str> {
        self.inner.transaction_probe()
    }
    fn transaction_still_open(&self, outcome: &Result<u64, DriverError>) -> Option<bool> {
        self.inner.transaction_still_open(outcome)
    }
    fn compares_row_values(&self) -> bool {
        self.inner.compares_row_values()
    }
    fn primary_key_query(&self, table: &str) -> String {
        self.inner.primary_key_query(table)
    }
    fn batch_prelude(&self) -> &'static [&'static str] {
        self.inner.batch_prelude()
    }
    fn replication_lag_query(&self) -> Option<&'static str> {
        self.inner.replication_lag_query()
    }
    fn lock_timeout_note(&self, timeout: Duration) -> &'static str {
        self.inner.lock_timeout_note(timeout)
    }
    fn lock_blocker_hint(&self) -> &'static str {
        self.inner.lock_blocker_hint()
    }
    fn split_rules(&self) -> SplitRules {
        self.inner.split_rules()
    }
    fn packet_transaction(&self) -> Option<(&'static str, &'static str)> {
        self.packets.then_some(("BEGIN", "COMMIT"))
    }
}

#[async_trait::async_trait]
impl Schema for TestOnline {
    async fn read_schema(&self, _driver: &mut dyn crate::Driver) -> Result<Snapshot, Error> {
        Ok(self.snapshot.lock().expect("snapshot").clone())
    }
    fn example_server_url(&self) -> &'static str {
        self.inner.example_server_url()
    }
}

impl Dialect for TestOnline {
    fn engine(&self) -> Engine {
        self.inner.engine()
    }
    fn flavour(&self) -> Flavour {
        self.inner.flavour()
    }
    fn server_version(&self) -> Option<&ServerVersion> {
        self.inner.server_version()
    }
    fn shared(&self) -> Arc<dyn Dialect> {
        Arc::new(self.clone())
    }
}

// ----- migrations ----------------------------------------------------------

fn script(version: impl Into<Version>, file: &str, text: &str) -> Script {
    let version: Version = version.into();
    Script {
        path: PathBuf::from(format!("migrations/{version}_m{version}/{file}")),
        first_line: 1,
        text: text.to_owned(),
        directives: Directives::default(),
    }
}

fn scripts(version: impl Into<Version>, file: &str, text: &str) -> Scripts {
    let version: Version = version.into();
    Scripts {
        plain: Some(script(version, file, text)),
        overrides: BTreeMap::new(),
    }
}

/// A plain migration creating table `t<version>`.
fn plain(version: impl Into<Version>) -> Migration {
    let version: Version = version.into();
    Migration {
        version,
        name: format!("m{version}"),
        layout: Layout::Cairn,
        location: PathBuf::from(format!("migrations/{version}_m{version}")),
        up: scripts(
            version,
            "up.sql",
            &format!("CREATE TABLE t{version} (id INT);\n"),
        ),
        down: scripts(version, "down.sql", &format!("DROP TABLE t{version};\n")),
        declaration: None,
    }
}

/// A migration renaming `column` of `users` to `full_name`, with `up_sql`
/// (and a down.sql undoing it) when given.
fn rename(version: impl Into<Version>, column: &str, up_sql: Option<(&str, &str)>) -> Migration {
    let version: Version = version.into();
    let toml = format!(
        "[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\ncolumn = \"{column}\"\nto = \"full_name\"\n"
    );
    let path = PathBuf::from(format!("migrations/{version}_m{version}/migration.toml"));
    let (up, down) = up_sql.unwrap_or(("", ""));
    Migration {
        version,
        name: format!("m{version}"),
        layout: Layout::Cairn,
        location: PathBuf::from(format!("migrations/{version}_m{version}")),
        up: scripts(version, "up.sql", up),
        down: scripts(version, "down.sql", down),
        declaration: Some(Declaration {
            path: path.clone(),
            text: toml,
            backfills: Vec::new(),
            operations: vec![Operation {
                kind: Kind::RenameColumn {
                    table: "users".to_owned(),
                    column: column.to_owned(),
                    to: "full_name".to_owned(),
                },
                location: Location::new(&path, 1),
                batch: Default::default(),
            }],
        }),
    }
}

fn options() -> MigratorOptions {
    MigratorOptions {
        lock_retries: 2,
        retry_backoff: Duration::from_millis(1),
        retry_backoff_max: Duration::from_millis(2),
        operation_lock_timeout: Duration::from_millis(123),
        ..MigratorOptions::default()
    }
}

fn driver(transactional: bool) -> (RecordingDriver, TestOnline) {
    let dialect = TestOnline::new();
    let driver = RecordingDriver::new(transactional).with_dialect(Arc::new(dialect.clone()));
    (driver, dialect)
}

fn state(driver: &RecordingDriver, version: impl Into<Version>) -> Option<String> {
    let version: Version = version.into();
    driver.cell(version, "state")
}

fn log(driver: &RecordingDriver) -> Vec<(Version, String, String)> {
    driver.db.log.clone()
}

fn entry(version: impl Into<Version>, action: &str, outcome: &str) -> (Version, String, String) {
    let version = version.into();
    (version, action.to_owned(), outcome.to_owned())
}

const EXPAND: [&str; 2] = [
    "ALTER TABLE users ADD COLUMN full_name",
    "CREATE TRIGGER cairn_2_0_sync",
];

// ----- expand --------------------------------------------------------------

#[tokio::test]
async fn up_expands_records_each_step_and_stops_before_later_migrations() {
    let migrator = Migrator::new(vec![plain(1), rename(2, "name", None), plain(3)], options());
    let (mut driver, _) = driver(true);
    let report = migrator.up(&mut driver, None).await.expect("up");

    let phases: Vec<(i64, Option<Phase>)> = report
        .migrations
        .iter()
        .map(|m| (m.version.key(), m.phase))
        .collect();
    assert_eq!(phases, [(1, None), (2, Some(Phase::Expand))]);
    assert_eq!(
        driver.applied(),
        ["CREATE TABLE t1 (id INT)", EXPAND[0], EXPAND[1]]
    );
    assert_eq!(state(&driver, 2).as_deref(), Some("expanded"));
    assert_eq!(
        state(&driver, 3),
        None,
        "3 is not applied over an expanded 2"
    );
    assert_eq!(driver.cell(2, "statements_done"), None);
    assert_eq!(
        log(&driver),
        [entry(1, "up", "ok"), entry(2, "expand", "ok")]
    );
    let held = report.held.expect("the run says where it stopped");
    assert_eq!(
        (held.version.key(), held.state),
        (2, HistoryState::Expanded)
    );
    assert_eq!(held.versions.old, ["users.name"]);
    assert_eq!(held.versions.new, ["users.full_name"]);
    assert!(held.next.contains("cairn contract 2"), "{}", held.next);
    // The before-shape is kept, as JSON of the table.
    let (table, shape) = driver
        .db
        .shapes
        .get(&(crate::migration::Version::from(2), 0))
        .expect("kept shape")
        .clone();
    assert_eq!(table, "users");
    let kept: Table = serde_json::from_str(&shape).expect("a table");
    assert_eq!(kept.column_order, ["id", "name"]);
    // The locking step ran under the operation lock timeout.
    assert!(driver
        .settings
        .iter()
        .any(|s| s.lock_timeout == Some(Duration::from_millis(123))));
}

#[tokio::test]
async fn up_over_an_expanded_migration_refuses_naming_it_and_what_to_run() {
    let migrator = Migrator::new(vec![rename(2, "name", None), plain(3)], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    let error = migrator
        .up(&mut driver, None)
        .await
        .expect_err("refused")
        .error;
    assert!(
        matches!(
            error,
            Error::PhaseState {
                version,
                state: HistoryState::Expanded,
                ..
            } if version == 2
        ),
        "{error:?}"
    );
    let message = error.to_string();
    for part in [
        "migration 2 (m2) is expanded",
        "1 pending, the first 3 m3",
        "cairn contract 2",
        "cairn abort 2",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert_eq!(state(&driver, 3), None);
    // With nothing pending it is not an error, and says where it stands.
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let report = migrator.up(&mut driver, None).await.expect("nothing to do");
    assert!(report.migrations.is_empty());
    assert_eq!(report.held.map(|h| h.version.key()), Some(2));
}

#[tokio::test]
async fn contract_runs_the_destructive_steps_then_up_goes_on() {
    let migrator = Migrator::new(vec![rename(2, "name", None), plain(3)], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    let report = migrator
        .contract(&mut driver, None)
        .await
        .expect("contract");
    assert_eq!(report.migrations[0].phase, Some(Phase::Contract));
    assert_eq!(state(&driver, 2).as_deref(), Some("applied"));
    assert_eq!(
        driver.applied()[2..],
        [
            "DROP TRIGGER IF EXISTS cairn_2_0_sync",
            "ALTER TABLE users DROP COLUMN name"
        ]
    );
    migrator.up(&mut driver, None).await.expect("up goes on");
    assert_eq!(state(&driver, 3).as_deref(), Some("applied"));
    assert_eq!(
        log(&driver),
        [
            entry(2, "expand", "ok"),
            entry(2, "contract", "ok"),
            entry(3, "up", "ok")
        ]
    );
}

#[tokio::test]
async fn contract_compiles_from_the_shape_kept_at_expand() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, dialect) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    // The table changed since (the application, or expand itself): a fresh
    // introspection would no longer find `users.name`.
    dialect.snapshot.lock().expect("snapshot").tables.clear();
    migrator
        .contract(&mut driver, Some(crate::migration::Version::from(2)))
        .await
        .expect("contract from the kept shape");
    assert_eq!(state(&driver, 2).as_deref(), Some("applied"));
}

#[tokio::test]
async fn up_with_contract_after_expand_contracts_at_once_and_goes_on() {
    let options = MigratorOptions {
        contract_after_expand: true,
        ..options()
    };
    let migrator = Migrator::new(vec![rename(2, "name", None), plain(3)], options);
    let (mut driver, _) = driver(true);
    let report = migrator.up(&mut driver, None).await.expect("up --contract");
    let phases: Vec<(i64, Option<Phase>)> = report
        .migrations
        .iter()
        .map(|m| (m.version.key(), m.phase))
        .collect();
    assert_eq!(
        phases,
        [
            (2, Some(Phase::Expand)),
            (2, Some(Phase::Contract)),
            (3, None)
        ]
    );
    assert_eq!(state(&driver, 2).as_deref(), Some("applied"));
    assert!(report.held.is_none());
}

#[tokio::test]
async fn an_operation_that_does_not_compile_changes_nothing() {
    let migrator = Migrator::new(vec![rename(2, "nickname", None)], options());
    let (mut driver, _) = driver(true);
    let error = migrator
        .up(&mut driver, None)
        .await
        .expect_err("refused")
        .error;
    let message = error.to_string();
    assert!(
        matches!(
            error,
            Error::Operation {
                kind: "rename_column",
                ..
            }
        ),
        "{error:?}"
    );
    for part in [
        "migration.toml:1",
        "rename_column",
        "sqlite",
        "users.nickname",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert!(driver.db.history.is_empty());
    assert!(driver.applied().is_empty());
}

// ----- failures and resuming -------------------------------------------------

#[tokio::test]
async fn a_failed_step_leaves_expanding_and_up_continues_from_that_step() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    driver.fail_matching("CREATE TRIGGER", DriverErrorKind::Statement, 1);
    let error = migrator
        .up(&mut driver, None)
        .await
        .expect_err("step 2 fails")
        .error;
    let message = error.to_string();
    for part in [
        "expand of migration 2 (m2) stopped at step 2 of 2 (create trigger)",
        "expanding after 1 step(s)",
        "cairn up",
        "cairn abort 2",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert_eq!(state(&driver, 2).as_deref(), Some("expanding"));
    assert_eq!(driver.cell(2, "statements_done").as_deref(), Some("1"));
    assert!(driver.cell(2, "error").is_some_and(|e| e.contains("boom")));
    assert_eq!(log(&driver), [entry(2, "expand", "failed")]);
    assert_eq!(
        migrator
            .status(&mut driver)
            .await
            .expect("status")
            .migrations[0]
            .state,
        State::Expanding
    );

    migrator.up(&mut driver, None).await.expect("up continues");
    assert_eq!(driver.applied(), EXPAND);
    assert_eq!(state(&driver, 2).as_deref(), Some("expanded"));
    assert_eq!(driver.cell(2, "error"), None);
}

#[tokio::test]
async fn ctrl_c_during_a_step_stops_the_phase_after_it_and_up_continues_from_the_next() {
    let mut migrator = Migrator::new(
        vec![rename(crate::migration::Version::from(2), "name", None)],
        options(),
    );
    let stop = crate::backfill::StopSignal::new();
    migrator.set_stop_signal(stop.clone());
    let (mut driver, _) = driver(true);
    driver.stop_on("ALTER TABLE users ADD COLUMN full_name", stop);
    let error = migrator
        .up(&mut driver, None)
        .await
        .expect_err("stops after step 1")
        .error;
    assert!(
        matches!(
            error,
            Error::PhaseStopped {
                version,
                phase: Phase::Expand,
                done: 1,
                count: 2,
                state: HistoryState::Expanding,
                ..
            } if version == 2
        ),
        "{error:?}"
    );
    let message = error.to_string();
    for part in [
        "expand of migration 2 (m2) stopped as asked after step 1 of 2",
        "expanding",
        "cairn up",
        "cairn abort 2",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert_eq!(driver.applied(), &EXPAND[..1]);
    assert_eq!(
        state(&driver, crate::migration::Version::from(2)).as_deref(),
        Some("expanding")
    );
    assert_eq!(
        driver
            .cell(crate::migration::Version::from(2), "statements_done")
            .as_deref(),
        Some("1")
    );

    let migrator = Migrator::new(
        vec![rename(crate::migration::Version::from(2), "name", None)],
        options(),
    );
    migrator.up(&mut driver, None).await.expect("up continues");
    assert_eq!(driver.applied(), EXPAND);
    assert_eq!(
        state(&driver, crate::migration::Version::from(2)).as_deref(),
        Some("expanded")
    );
}

#[tokio::test]
async fn a_step_whose_effect_is_there_is_skipped_by_its_guard() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    driver.fail_matching("CREATE TRIGGER", DriverErrorKind::Statement, 1);
    migrator
        .up(&mut driver, None)
        .await
        .expect_err("step 2 fails");
    // A run killed after step 1 ran but before its progress was recorded.
    let sql = crate::history::HistorySql::new(&TestOnline::new(), &options().table);
    let mut row = migrator.history(&mut driver).await.expect("history")[0].clone();
    row.statements_done = Some(0);
    crate::Driver::execute(&mut driver, &sql.update(&row))
        .await
        .expect("rewind");
    migrator.up(&mut driver, None).await.expect("up continues");
    assert_eq!(
        driver.applied_count("ADD COLUMN full_name"),
        1,
        "{:?}",
        driver.applied()
    );
    assert_eq!(state(&driver, 2).as_deref(), Some("expanded"));
}

#[tokio::test]
async fn lock_timeouts_are_retried_then_fail_leaving_expanding() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    // Retried twice (lock_retries = 2): three timeouts give up.
    driver.fail_matching("ADD COLUMN", DriverErrorKind::LockTimeout, 3);
    let error = migrator
        .up(&mut driver, None)
        .await
        .expect_err("gives up")
        .error;
    match &error {
        Error::Driver { cause, .. } => assert_eq!(cause.kind, DriverErrorKind::LockTimeout),
        other => panic!("not a driver error: {other:?}"),
    }
    let message = error.to_string();
    for part in [
        "gave up after 3 attempt(s)",
        "123 ms",
        "add column",
        "cairn up",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert_eq!(state(&driver, 2).as_deref(), Some("expanding"));
    assert_eq!(driver.cell(2, "statements_done").as_deref(), Some("0"));
    assert!(driver.applied().is_empty());

    // Two timeouts are absorbed by the retries.
    driver.fail_matching("ADD COLUMN", DriverErrorKind::LockTimeout, 2);
    migrator.up(&mut driver, None).await.expect("retried");
    assert_eq!(driver.applied(), EXPAND);
    assert_eq!(state(&driver, 2).as_deref(), Some("expanded"));
}

#[tokio::test]
async fn a_failed_contract_continues_from_its_step() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(false);
    migrator.up(&mut driver, None).await.expect("expand");
    driver.fail_matching("DROP COLUMN name", DriverErrorKind::Statement, 1);
    let error = migrator
        .contract(&mut driver, None)
        .await
        .expect_err("fails")
        .error;
    assert!(error.to_string().contains("cairn contract 2"), "{error}");
    assert_eq!(state(&driver, 2).as_deref(), Some("contracting"));
    assert_eq!(driver.cell(2, "statements_done").as_deref(), Some("1"));
    // up refuses while it is contracting, and says what to run.
    let refused = migrator
        .up(&mut driver, None)
        .await
        .expect_err("refused")
        .error;
    assert!(
        refused.to_string().contains("cairn contract 2"),
        "{refused}"
    );
    migrator
        .contract(&mut driver, None)
        .await
        .expect("continues");
    assert_eq!(driver.applied_count("DROP TRIGGER"), 1);
    assert_eq!(state(&driver, 2).as_deref(), Some("applied"));
}

// ----- abort -----------------------------------------------------------------

async fn assert_aborted(migrator: &Migrator, driver: &mut RecordingDriver) {
    assert_eq!(state(driver, 2), None, "the row is gone");
    assert!(driver.db.shapes.is_empty(), "the shape is forgotten");
    assert_eq!(log(driver).last(), Some(&entry(2, "abort", "ok")));
    assert_eq!(
        migrator
            .status(&mut *driver)
            .await
            .expect("status")
            .migrations[0]
            .state,
        State::Pending
    );
}

#[tokio::test]
async fn abort_undoes_an_expanded_migration() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    let report = migrator.abort(&mut driver, None).await.expect("abort");
    assert_eq!(report.migrations[0].phase, Some(Phase::Abort));
    assert_eq!(report.migrations[0].direction, Direction::Down);
    assert_eq!(
        driver.applied()[2..],
        [
            "DROP TRIGGER IF EXISTS cairn_2_0_sync",
            "ALTER TABLE users DROP COLUMN IF EXISTS full_name"
        ]
    );
    assert_aborted(&migrator, &mut driver).await;
    // And it can be expanded again.
    migrator.up(&mut driver, None).await.expect("expand again");
    assert_eq!(state(&driver, 2).as_deref(), Some("expanded"));
}

#[tokio::test]
async fn abort_undoes_a_failed_expand() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(false);
    driver.fail_matching("CREATE TRIGGER", DriverErrorKind::Statement, 1);
    migrator.up(&mut driver, None).await.expect_err("fails");
    migrator
        .abort(&mut driver, Some(crate::migration::Version::from(2)))
        .await
        .expect("abort");
    assert_eq!(driver.applied_count("DROP COLUMN IF EXISTS full_name"), 1);
    assert_aborted(&migrator, &mut driver).await;
}

#[tokio::test]
async fn abort_of_an_expand_that_did_nothing_only_forgets_it() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    driver.fail_matching("ADD COLUMN", DriverErrorKind::LockTimeout, 3);
    migrator.up(&mut driver, None).await.expect_err("gives up");
    migrator.abort(&mut driver, None).await.expect("abort");
    assert!(driver.applied().is_empty());
    assert_aborted(&migrator, &mut driver).await;
}

#[tokio::test]
async fn abort_undoes_a_backfilling_migration() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    // As a run killed during its backfill leaves it.
    let sql = crate::history::HistorySql::new(&TestOnline::new(), &options().table);
    let mut row = migrator.history(&mut driver).await.expect("history")[0].clone();
    row.state = HistoryState::Backfilling;
    crate::Driver::execute(&mut driver, &sql.update(&row))
        .await
        .expect("set");
    let status = migrator.status(&mut driver).await.expect("status");
    assert_eq!(status.expanded[0].state, HistoryState::Backfilling);
    migrator.abort(&mut driver, None).await.expect("abort");
    assert_aborted(&migrator, &mut driver).await;
}

#[tokio::test]
async fn a_failed_abort_continues_from_its_step() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    driver.fail_matching("DROP COLUMN IF EXISTS", DriverErrorKind::Statement, 1);
    let error = migrator
        .abort(&mut driver, None)
        .await
        .expect_err("fails")
        .error;
    assert!(error.to_string().contains("cairn abort 2"), "{error}");
    assert_eq!(state(&driver, 2).as_deref(), Some("aborting"));
    assert_eq!(driver.cell(2, "statements_done").as_deref(), Some("1"));
    migrator.abort(&mut driver, None).await.expect("continues");
    assert_eq!(driver.applied_count("DROP TRIGGER IF EXISTS"), 1);
    assert_aborted(&migrator, &mut driver).await;
}

#[tokio::test]
async fn up_sql_runs_before_the_operations_and_abort_runs_down_sql_after_them() {
    for transactional in [true, false] {
        let up = (
            "CREATE TABLE audit (id INT);\nCREATE TABLE audit2 (id INT);\n",
            "DROP TABLE audit2;\nDROP TABLE audit;\n",
        );
        let migrator = Migrator::new(vec![rename(2, "name", Some(up))], options());
        let (mut driver, _) = driver(transactional);
        let report = migrator.up(&mut driver, None).await.expect("expand");
        assert_eq!(report.migrations[0].statements, 4);
        assert_eq!(
            driver.applied(),
            [
                "CREATE TABLE audit (id INT)",
                "CREATE TABLE audit2 (id INT)",
                EXPAND[0],
                EXPAND[1]
            ]
        );
        migrator.abort(&mut driver, None).await.expect("abort");
        assert_eq!(
            driver.applied()[4..],
            [
                "DROP TRIGGER IF EXISTS cairn_2_0_sync",
                "ALTER TABLE users DROP COLUMN IF EXISTS full_name",
                "DROP TABLE audit2",
                "DROP TABLE audit"
            ]
        );
        assert_aborted(&migrator, &mut driver).await;
    }
}

#[tokio::test]
async fn commands_that_do_not_fit_the_state_are_refused_with_what_to_run() {
    let migrator = Migrator::new(vec![rename(2, "name", None), plain(3)], options());
    let (mut driver, _) = driver(true);
    let error = migrator
        .contract(&mut driver, None)
        .await
        .expect_err("nothing")
        .error;
    assert!(
        matches!(
            error,
            Error::NoPhaseInProgress {
                command: "contract",
                ..
            }
        ),
        "{error:?}"
    );
    let error = migrator
        .abort(&mut driver, Some(crate::migration::Version::from(7)))
        .await
        .expect_err("unknown")
        .error;
    assert!(
        error
            .to_string()
            .contains("migration 7 is not in the history"),
        "{error}"
    );
    migrator.up(&mut driver, None).await.expect("expand");
    migrator
        .contract(&mut driver, None)
        .await
        .expect("contract");
    let error = migrator
        .abort(&mut driver, Some(crate::migration::Version::from(2)))
        .await
        .expect_err("contracted")
        .error;
    assert!(
        matches!(
            error,
            Error::PhaseState {
                state: HistoryState::Applied,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("cairn down"), "{error}");
    let error = migrator
        .contract(&mut driver, Some(crate::migration::Version::from(2)))
        .await
        .expect_err("again")
        .error;
    assert!(error.to_string().contains("contracted already"), "{error}");
    migrator.up(&mut driver, None).await.expect("3");
    let error = migrator
        .contract(&mut driver, Some(crate::migration::Version::from(3)))
        .await
        .expect_err("plain")
        .error;
    assert!(
        error.to_string().contains("declares no `[[operation]]`"),
        "{error}"
    );
}

// ----- down: un-contract -----------------------------------------------------

#[tokio::test]
async fn down_of_a_contracted_migration_uncontracts_and_a_further_down_aborts() {
    let migrator = Migrator::new(vec![plain(1), rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    migrator
        .contract(&mut driver, None)
        .await
        .expect("contract");
    let report = migrator
        .down(&mut driver, DownTarget::Steps(1))
        .await
        .expect("un-contract");
    assert_eq!(report.migrations.len(), 1);
    assert_eq!(report.migrations[0].phase, Some(Phase::Uncontract));
    assert_eq!(
        report.held.as_ref().map(|h| h.state),
        Some(HistoryState::Expanded)
    );
    assert_eq!(state(&driver, 2).as_deref(), Some("expanded"));
    assert_eq!(
        driver.applied()[5..],
        [
            "ALTER TABLE users ADD COLUMN name",
            "CREATE TRIGGER cairn_2_0_sync AGAIN"
        ]
    );
    assert_eq!(log(&driver).last(), Some(&entry(2, "uncontract", "ok")));

    let report = migrator
        .down(&mut driver, DownTarget::Steps(1))
        .await
        .expect("abort");
    assert_eq!(report.migrations[0].phase, Some(Phase::Abort));
    assert_eq!(state(&driver, 2), None);
    assert_eq!(
        state(&driver, 1).as_deref(),
        Some("applied"),
        "one step only"
    );
    migrator
        .down(&mut driver, DownTarget::Steps(1))
        .await
        .expect("plain down");
    assert_eq!(state(&driver, 1), None);
}

#[tokio::test]
async fn down_all_takes_a_contracted_migration_all_the_way_back() {
    let migrator = Migrator::new(vec![plain(1), rename(2, "name", None)], options());
    let (mut driver, _) = driver(false);
    migrator.up(&mut driver, None).await.expect("expand");
    migrator
        .contract(&mut driver, None)
        .await
        .expect("contract");
    let report = migrator
        .down(&mut driver, DownTarget::All)
        .await
        .expect("down --all");
    let phases: Vec<(i64, Option<Phase>)> = report
        .migrations
        .iter()
        .map(|m| (m.version.key(), m.phase))
        .collect();
    assert_eq!(
        phases,
        [
            (2, Some(Phase::Uncontract)),
            (2, Some(Phase::Abort)),
            (1, None)
        ]
    );
    assert!(driver.db.history.is_empty());
}

#[tokio::test]
async fn a_failed_uncontract_continues_from_its_step_with_down() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    migrator
        .contract(&mut driver, None)
        .await
        .expect("contract");
    driver.fail_matching("AGAIN", DriverErrorKind::Statement, 1);
    let error = migrator
        .down(&mut driver, DownTarget::Steps(1))
        .await
        .expect_err("fails")
        .error;
    assert!(error.to_string().contains("cairn down"), "{error}");
    assert_eq!(state(&driver, 2).as_deref(), Some("uncontracting"));
    migrator
        .down(&mut driver, DownTarget::Steps(1))
        .await
        .expect("continues");
    assert_eq!(driver.applied_count("ADD COLUMN name"), 1);
    assert_eq!(state(&driver, 2).as_deref(), Some("expanded"));
}

#[tokio::test]
async fn redo_moves_an_operation_migration_one_phase_back_and_forth() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    let report = migrator.redo(&mut driver).await.expect("redo expanded");
    let phases: Vec<Option<Phase>> = report.migrations.iter().map(|m| m.phase).collect();
    assert_eq!(phases, [Some(Phase::Abort), Some(Phase::Expand)]);
    assert_eq!(state(&driver, 2).as_deref(), Some("expanded"));
    migrator
        .contract(&mut driver, None)
        .await
        .expect("contract");
    let report = migrator.redo(&mut driver).await.expect("redo applied");
    let phases: Vec<Option<Phase>> = report.migrations.iter().map(|m| m.phase).collect();
    assert_eq!(phases, [Some(Phase::Uncontract), Some(Phase::Contract)]);
    assert_eq!(state(&driver, 2).as_deref(), Some("applied"));
}

// ----- status and dry runs ---------------------------------------------------

#[tokio::test]
async fn status_lists_the_expanded_migration_with_what_each_version_may_use() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    let status = migrator.status(&mut driver).await.expect("status");
    assert_eq!(status.migrations[0].state, State::Expanded);
    assert!(status.problems.is_empty());
    let expanded = &status.expanded[0];
    assert_eq!(expanded.versions.new, ["users.full_name"]);
    assert!(expanded.next.contains("cairn contract 2"));
    migrator
        .contract(&mut driver, None)
        .await
        .expect("contract");
    assert!(migrator
        .status(&mut driver)
        .await
        .expect("status")
        .expanded
        .is_empty());
}

#[tokio::test]
async fn dry_runs_show_each_phase_and_write_nothing() {
    let migrator = Migrator::new(vec![plain(1), rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    let planned = migrator.plan_up(&mut driver, None).await.expect("plan up");
    assert_eq!(planned.len(), 2);
    let sql: Vec<&str> = planned[1]
        .statements
        .iter()
        .map(|s| s.sql.as_str())
        .collect();
    assert_eq!(sql.len(), 2);
    assert!(
        sql[0].starts_with("-- add column\n-- skipped when this returns a row: SELECT applied"),
        "{}",
        sql[0]
    );
    assert!(sql[0].ends_with(EXPAND[0]), "{}", sql[0]);
    assert!(planned[1].statements[0]
        .location
        .ends_with("migration.toml:1"));
    assert!(
        driver.calls.iter().all(|c| !c.writes()),
        "{:?}",
        driver.calls
    );

    migrator.up(&mut driver, None).await.expect("expand");
    let contract = migrator
        .plan_contract(&mut driver, None)
        .await
        .expect("plan contract");
    assert!(contract[0].statements[1]
        .sql
        .ends_with("ALTER TABLE users DROP COLUMN name"));
    let abort = migrator
        .plan_abort(&mut driver, None)
        .await
        .expect("plan abort");
    assert_eq!(abort[0].direction, Direction::Down);
    assert!(abort[0].statements[1]
        .sql
        .ends_with("DROP COLUMN IF EXISTS full_name"));
    let down = migrator
        .plan_down(&mut driver, DownTarget::Steps(1))
        .await
        .expect("plan down");
    assert_eq!(
        down[0].statements.len(),
        2,
        "down of an expanded migration is its abort"
    );
    migrator
        .contract(&mut driver, None)
        .await
        .expect("contract");
    let down = migrator
        .plan_down(&mut driver, DownTarget::Steps(1))
        .await
        .expect("plan down");
    assert!(down[0].statements[0]
        .sql
        .ends_with("ALTER TABLE users ADD COLUMN name"));
    assert_eq!(
        state(&driver, 2).as_deref(),
        Some("applied"),
        "dry runs changed nothing"
    );
}

// ----- error paths -------------------------------------------------------------

#[tokio::test]
async fn a_failing_up_sql_statement_stops_the_expand_where_up_and_abort_continue() {
    let up = (
        "CREATE TABLE audit (id INT);\nCREATE TABLE audit2 (id INT);\n",
        "DROP TABLE audit2;\nDROP TABLE audit;\n",
    );
    // Outside a transaction: the first statement stays, abort refuses to
    // run a down.sql over half an up.sql, and up continues from the second.
    let migrator = Migrator::new(vec![rename(2, "name", Some(up))], options());
    let (mut driver, _) = driver(false);
    driver.fail_matching("audit2", DriverErrorKind::Statement, 1);
    let error = migrator
        .up(&mut driver, None)
        .await
        .expect_err("fails")
        .error;
    assert!(
        matches!(
            error,
            Error::Statement {
                index: 2,
                count: 2,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("cairn up"), "{error}");
    assert_eq!(state(&driver, 2).as_deref(), Some("expanding"));
    assert_eq!(driver.cell(2, "statements_done").as_deref(), Some("1"));
    let refused = migrator
        .abort(&mut driver, None)
        .await
        .expect_err("refused")
        .error;
    assert!(
        matches!(
            refused,
            Error::PhaseState {
                state: HistoryState::Expanding,
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(
        refused
            .to_string()
            .contains("stopped after 1 of 2 statement(s)"),
        "{refused}"
    );
    migrator.up(&mut driver, None).await.expect("continues");
    assert_eq!(
        driver.applied_count("CREATE TABLE audit"),
        2,
        "each once: {:?}",
        driver.applied()
    );
    assert_eq!(state(&driver, 2).as_deref(), Some("expanded"));

    // In a transaction: nothing stays, and abort only forgets the row.
    let migrator = Migrator::new(vec![rename(2, "name", Some(up))], options());
    let (mut driver, _) = self::driver(true);
    driver.fail_matching("audit2", DriverErrorKind::Statement, 1);
    let error = migrator
        .up(&mut driver, None)
        .await
        .expect_err("fails")
        .error;
    assert!(error.to_string().contains("rolled back"), "{error}");
    assert!(driver.applied().is_empty());
    assert_eq!(driver.cell(2, "statements_done").as_deref(), Some("0"));
    migrator.abort(&mut driver, None).await.expect("abort");
    assert!(
        driver.applied().is_empty(),
        "no down.sql over an up.sql that did not run"
    );
    assert_aborted(&migrator, &mut driver).await;
}

#[tokio::test]
async fn abort_without_a_down_sql_for_its_up_sql_is_refused_changing_nothing() {
    let mut m = rename(2, "name", Some(("CREATE TABLE audit (id INT);\n", "")));
    m.down = Scripts::default();
    let migrator = Migrator::new(vec![m], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    let error = migrator
        .abort(&mut driver, None)
        .await
        .expect_err("refused")
        .error;
    assert!(
        matches!(error, Error::NoDownScript { version, .. } if version == 2),
        "{error:?}"
    );
    assert_eq!(state(&driver, 2).as_deref(), Some("expanded"));
    assert_eq!(driver.applied().len(), 3);
}

#[tokio::test]
async fn a_lost_or_unreadable_before_shape_is_named_with_what_to_do() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    let kept = driver.db.shapes.clone();
    for entry in driver.db.shapes.values_mut() {
        entry.1 = "{not json".to_owned();
    }
    let error = migrator
        .contract(&mut driver, None)
        .await
        .expect_err("unreadable")
        .error;
    assert!(matches!(error, Error::CorruptHistory { .. }), "{error:?}");
    assert!(
        error.to_string().contains("\"cairn_history_shape\""),
        "{error}"
    );
    assert!(error.to_string().contains("not readable"), "{error}");
    driver.db.shapes.clear();
    let error = migrator
        .abort(&mut driver, None)
        .await
        .expect_err("lost")
        .error;
    assert!(error.to_string().contains("is not kept"), "{error}");
    assert!(error.to_string().contains("from a backup"), "{error}");
    assert_eq!(
        state(&driver, 2).as_deref(),
        Some("expanded"),
        "nothing changed"
    );
    driver.db.shapes = kept;
    migrator
        .contract(&mut driver, None)
        .await
        .expect("restored");
}

#[tokio::test]
async fn a_migration_in_a_phase_whose_files_are_gone_stops_every_command() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    let gone = Migrator::new(vec![plain(3)], options());
    let error = gone.up(&mut driver, None).await.expect_err("refused").error;
    assert!(
        matches!(error, Error::PhaseState { version, .. } if version == 2),
        "{error:?}"
    );
    assert!(error.to_string().contains("no longer on disk"), "{error}");
    let error = gone
        .abort(&mut driver, None)
        .await
        .expect_err("refused")
        .error;
    assert!(error.to_string().contains("no longer on disk"), "{error}");
    assert_eq!(state(&driver, 3), None);
}

#[tokio::test]
async fn down_and_redo_refuse_states_they_cannot_move_and_say_what_to_run() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    driver.fail_matching("DROP COLUMN name", DriverErrorKind::Statement, 1);
    migrator
        .contract(&mut driver, None)
        .await
        .expect_err("fails");
    let error = migrator
        .down(&mut driver, DownTarget::Steps(1))
        .await
        .expect_err("refused")
        .error;
    assert!(
        matches!(
            error,
            Error::PhaseState {
                state: HistoryState::Contracting,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("cairn contract 2"), "{error}");
    let dry = migrator
        .plan_down(&mut driver, DownTarget::Steps(1))
        .await
        .expect_err("refused");
    assert!(dry.to_string().contains("cairn contract 2"), "{dry}");
    let error = migrator.redo(&mut driver).await.expect_err("refused").error;
    assert!(
        error
            .to_string()
            .contains("`cairn redo` needs it expanded or applied"),
        "{error}"
    );
    assert_eq!(state(&driver, 2).as_deref(), Some("contracting"));
}

#[tokio::test]
async fn a_modified_migration_toml_refuses_contract_as_a_modified_migration() {
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    let mut changed = rename(2, "name", None);
    if let Some(declaration) = changed.declaration.as_mut() {
        declaration.text.push_str("# edited\n");
    }
    let changed = Migrator::new(vec![changed], options());
    let error = changed
        .contract(&mut driver, None)
        .await
        .expect_err("refused")
        .error;
    assert!(matches!(error, Error::Validation(_)), "{error:?}");
    assert!(error.to_string().contains("modified"), "{error}");
    assert_eq!(state(&driver, 2).as_deref(), Some("expanded"));
}

#[tokio::test]
async fn a_busy_history_table_is_retried_like_a_statement() {
    // SQLite: the application's writers hold the write lock when Cairn
    // records a step's progress or ends a phase; Cairn waits its turn.
    let migrator = Migrator::new(vec![rename(2, "name", None)], options());
    let (mut driver, _) = driver(true);
    migrator.up(&mut driver, None).await.expect("expand");
    driver.busy_history(2);
    migrator
        .contract(&mut driver, None)
        .await
        .expect("the progress is recorded after two retries");
    assert_eq!(state(&driver, 2).as_deref(), Some("applied"));

    // Out of retries (lock_retries = 2): the phase stops, resumable.
    migrator
        .down(&mut driver, DownTarget::Steps(1))
        .await
        .expect("un-contract");
    driver.busy_history(3);
    let error = migrator
        .contract(&mut driver, None)
        .await
        .expect_err("gives up")
        .error;
    assert!(error.to_string().contains("in the history"), "{error}");
    migrator
        .contract(&mut driver, None)
        .await
        .expect("contract continues once the history is free");
    assert_eq!(state(&driver, 2).as_deref(), Some("applied"));
}

//! Zero-downtime operations on SQLite: each operation's phases run step by
//! step on a real file, with an old-version and a new-version application
//! connection writing between them (one with `recursive_triggers` on).

use cairn_core::backfill::{Action, Backfill};
use cairn_core::dialect::for_engine;
use cairn_core::operation::exec::run_step;
use cairn_core::operation::{Context, Expr, Kind, Operation, Phases, Step};
use cairn_core::schema::{diff, Snapshot, Table};
use cairn_core::url::DatabaseUrl;
use cairn_core::{Driver, Engine, Location};
use cairn_sqlite::SqliteDriver;
use cairn_testkit::TestDatabase;

mod add_column;
mod change_column_type;
mod concurrency;
mod constraints;
mod drop_column;
mod index;
mod killed;
mod raw_sql;
mod refusals;
mod rename_column;
mod rename_table;
mod set_not_null;

/// A database file with Cairn's connection and two application ones.
struct Db {
    _file: TestDatabase,
    cairn: SqliteDriver,
    /// The old application version, `recursive_triggers` on.
    old: SqliteDriver,
    /// The new application version, `recursive_triggers` off.
    new: SqliteDriver,
}

impl Db {
    async fn new(setup: &[&str]) -> Db {
        let file = TestDatabase::sqlite();
        let url = DatabaseUrl::parse(file.url()).expect("a sqlite URL");
        let mut cairn = SqliteDriver::connect(&url).await.expect("SQLite opens");
        // Durability is no part of these tests; fsyncs would make them slow.
        cairn
            .execute("PRAGMA synchronous = OFF")
            .await
            .expect("pragma");
        for sql in setup {
            cairn
                .execute(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let mut old = SqliteDriver::connect(&url).await.expect("SQLite opens");
        old.execute("PRAGMA recursive_triggers = ON")
            .await
            .expect("pragma");
        let new = SqliteDriver::connect(&url).await.expect("SQLite opens");
        Db {
            _file: file,
            cairn,
            old,
            new,
        }
    }

    async fn snapshot(&mut self) -> Snapshot {
        for_engine(Engine::Sqlite)
            .read_schema(&mut self.cairn)
            .await
            .expect("introspects")
    }

    async fn table(&mut self, name: &str) -> Table {
        self.snapshot().await.tables[name].clone()
    }

    /// Runs `steps`, each must succeed.
    async fn run(&mut self, steps: &[Step]) {
        for step in steps {
            if let Err(failure) = run_step(&mut self.cairn, step).await {
                panic!(
                    "{}: statement {:?} failed: {}\n{:#?}",
                    step.what, failure.statement, failure.error, step
                );
            }
        }
    }

    /// Runs `steps` a second time and checks that the schema did not change.
    async fn run_twice(&mut self, steps: &[Step]) {
        self.run(steps).await;
        let once = self.snapshot().await;
        self.run(steps).await;
        let twice = self.snapshot().await;
        assert_eq!(
            diff(&once, &twice),
            vec![],
            "running the phase again changed the schema"
        );
    }

    /// Each backfill as one plain UPDATE.
    async fn backfill(&mut self, backfills: &[Backfill]) {
        for b in backfills {
            let Action::Sql { set, filter, .. } = &b.action else {
                panic!("a SQL backfill");
            };
            let filter = filter.as_deref().unwrap_or("true");
            let sql = format!("UPDATE {} SET {set} WHERE {filter}", b.table);
            self.cairn
                .execute(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    async fn rows(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.cairn
            .query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The one value `sql` returns.
    async fn value(&mut self, sql: &str) -> Option<String> {
        self.rows(sql).await.remove(0).remove(0)
    }

    /// Names of objects Cairn left (triggers, indexes, tables named `cairn_*`).
    async fn cairn_objects(&mut self) -> Vec<String> {
        self.rows("SELECT name FROM sqlite_master WHERE name LIKE 'cairn%' ORDER BY name")
            .await
            .into_iter()
            .map(|r| r[0].clone().unwrap_or_default())
            .collect()
    }
}

/// Runs `sql` on an application connection.
async fn app(driver: &mut SqliteDriver, sql: &str) {
    driver
        .execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The phases of `kind` compiled against `before`.
fn compile(kind: Kind, before: Option<&Table>) -> Result<Phases, String> {
    let operation = Operation {
        kind,
        location: Location::new("migration.toml", 3),
        batch: Default::default(),
    };
    let ctx = Context {
        version: cairn_core::Version::from(20260101090500),
        index: 0,
        before,
    };
    for_engine(Engine::Sqlite).compile_operation(&operation, &ctx)
}

fn expr(sql: &str) -> Expr {
    Expr::new(sql)
}

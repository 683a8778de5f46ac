//! Zero-downtime operations on a real PostgreSQL server: the SQL of each
//! phase (`dialect/postgres/online/`), run step by step with
//! `operation::exec::run_step`, checked through an *old* application (which
//! writes only the old column) and a *new* one (only the new column), and by
//! introspection after each phase. The migrator's life cycle and the public
//! harness are tested elsewhere; this module is about the SQL.

use cairn_core::backfill::{Action, Backfill};
use cairn_core::dialect::postgres::PostgresDialect;
use cairn_core::operation::exec::{run_step, Ran};
use cairn_core::operation::{Context, Expr, Kind, Operation, Phases, Step};
use cairn_core::schema::{diff, diff_with, quote_key, DiffOptions, Snapshot, Table};
use cairn_core::{Dialect, Driver, Engine, Location};
use cairn_postgres::PgDriver;
use cairn_testkit::TestDatabase;

mod concurrency;
mod lifecycle;
mod operations;

/// A fresh database with a driver on it.
struct Lab {
    db: TestDatabase,
    driver: PgDriver,
}

impl Lab {
    /// A fresh database where `setup` ran.
    async fn new(setup: &str) -> Lab {
        let db = cairn_testkit::postgres::database().await;
        let mut driver = super::connect(&db).await;
        driver
            .execute(setup)
            .await
            .unwrap_or_else(|e| panic!("setup failed: {e}\n{setup}"));
        Lab { db, driver }
    }

    async fn execute(&mut self, sql: &str) {
        self.driver
            .execute(sql)
            .await
            .unwrap_or_else(|e| panic!("`{sql}` failed: {e}"));
    }

    /// The error of `sql`, which must fail.
    async fn fails(&mut self, sql: &str) -> String {
        match self.driver.execute(sql).await {
            Ok(_) => panic!("`{sql}` succeeded, but it must fail"),
            Err(e) => e.to_string(),
        }
    }

    /// The rows of `sql`, NULL as `None`.
    async fn rows(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.driver
            .query(sql)
            .await
            .unwrap_or_else(|e| panic!("`{sql}` failed: {e}"))
    }

    /// The one value of `sql`.
    async fn value(&mut self, sql: &str) -> Option<String> {
        let rows = self.rows(sql).await;
        assert_eq!(rows.len(), 1, "`{sql}` gave {rows:?}");
        rows[0][0].clone()
    }

    async fn snapshot(&mut self) -> Snapshot {
        let dialect = self.driver.dialect().shared();
        dialect
            .read_schema(&mut self.driver)
            .await
            .unwrap_or_else(|e| panic!("cannot introspect: {e}"))
    }

    async fn table(&mut self, name: &str) -> Table {
        let snapshot = self.snapshot().await;
        snapshot
            .tables
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no table {name} in {}", snapshot.to_text()))
    }

    /// Runs `steps` in order; how many ran (were not skipped).
    async fn run(&mut self, steps: &[Step]) -> usize {
        let mut ran = 0;
        for step in steps {
            match run_step(&mut self.driver, step).await {
                Ok(Ran::Done) => ran += 1,
                Ok(Ran::Skipped) => {}
                Err(failure) => panic!(
                    "step `{}` failed at statement {:?}: {}\n{:#?}",
                    step.what, failure.statement, failure.error, step.statements
                ),
            }
        }
        ran
    }

    /// Runs `steps` twice: the second run must leave the schema as the
    /// first did.
    async fn run_twice(&mut self, steps: &[Step]) {
        self.run(steps).await;
        let once = self.snapshot().await;
        self.run(steps).await;
        let twice = self.snapshot().await;
        assert_no_difference(&once, &twice, "running the phase again");
    }

    /// Each backfill as one plain `UPDATE t SET <set> WHERE <filter>`.
    async fn backfill(&mut self, backfills: &[Backfill]) {
        for backfill in backfills {
            let Action::Sql { set, filter, .. } = &backfill.action else {
                panic!("a SQL backfill, not {:?}", backfill.action);
            };
            let mut sql = format!(
                "UPDATE {} SET {set}",
                quote_key(Engine::Postgres, &backfill.table)
            );
            if let Some(filter) = filter {
                sql.push_str(&format!(" WHERE {filter}"));
            }
            self.execute(&sql).await;
        }
    }

    /// The names of every object Cairn made that is still there.
    async fn cairn_objects(&mut self) -> Vec<String> {
        let sql = "SELECT relname FROM pg_class WHERE relname LIKE 'cairn\\_%' \
                   AND relname NOT LIKE 'cairn\\_history%' \
                   UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE 'cairn\\_%' \
                   UNION ALL SELECT tgname FROM pg_trigger WHERE tgname LIKE 'cairn\\_%' \
                   UNION ALL SELECT conname FROM pg_constraint WHERE conname LIKE 'cairn\\_%' \
                   UNION ALL SELECT attname FROM pg_attribute WHERE attname LIKE 'cairn\\_%' \
                     AND NOT attisdropped";
        self.rows(sql)
            .await
            .into_iter()
            .filter_map(|row| row[0].clone())
            .collect()
    }

    /// Asserts the schema is `before` (column order ignored when asked)
    /// and no object of Cairn's is left.
    async fn assert_restored(&mut self, before: &Snapshot, ignore_column_order: bool) {
        let now = self.snapshot().await;
        let differences = diff_with(
            before,
            &now,
            &DiffOptions {
                ignore_column_order,
            },
        );
        assert!(
            differences.is_empty(),
            "the schema is not as before:\n{}",
            differences
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        let left = self.cairn_objects().await;
        assert!(left.is_empty(), "Cairn's objects are left: {left:?}");
    }
}

fn assert_no_difference(a: &Snapshot, b: &Snapshot, what: &str) {
    let differences = diff(a, b);
    assert!(
        differences.is_empty(),
        "{what} changed the schema:\n{}",
        differences
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The operation's phases, compiled against `before` as the migrator does,
/// by the family's dialect with no server version known.
fn compile(kind: Kind, before: Option<&Table>) -> Result<Phases, String> {
    compile_for(&PostgresDialect::DEFAULT, kind, before)
}

/// [`compile`] by `dialect` (a connection's, which knows the server version).
fn compile_for(
    dialect: &dyn Dialect,
    kind: Kind,
    before: Option<&Table>,
) -> Result<Phases, String> {
    let operation = Operation {
        kind,
        location: Location::new("migrations/20260101090500_op/migration.toml", 2),
        batch: Default::default(),
    };
    let ctx = Context {
        version: cairn_core::Version::from(20260101090500),
        index: 0,
        before,
    };
    dialect.compile_operation(&operation, &ctx)
}

fn compiled(kind: Kind, before: &Table) -> Phases {
    compile(kind, Some(before)).unwrap_or_else(|e| panic!("does not compile: {e}"))
}

fn rename(table: &str, column: &str, to: &str) -> Kind {
    Kind::RenameColumn {
        table: table.to_owned(),
        column: column.to_owned(),
        to: to.to_owned(),
    }
}

fn expr(sql: &str) -> Expr {
    Expr::new(sql)
}

//! The zero-downtime life cycle through the migrator on real SQLite files:
//! `up` expands and stops, both application versions write while it is
//! expanded, `contract`, `down` un-contracts and a further `down` aborts,
//! each phase checked by introspection and by the rows.

use cairn_core::history::HistoryState;
use cairn_core::operation::Phase;
use cairn_core::plan::{DownTarget, State};
use cairn_core::schema::{diff, Snapshot};
use cairn_core::url::DatabaseUrl;
use cairn_core::{Driver, Migrator, MigratorOptions};
use cairn_sqlite::SqliteDriver;
use cairn_testkit::fixture::{Fixture, FixtureDir};
use cairn_testkit::TestDatabase;

const USERS: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT);";
const RENAME: &str =
    "[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\ncolumn = \"name\"\nto = \"full_name\"\n";

fn migrations() -> FixtureDir {
    Fixture::new()
        .migration(1, "users", USERS, Some("DROP TABLE users;"))
        .file("2_rename/migration.toml", RENAME)
        .migration(
            3,
            "later",
            "CREATE TABLE later (id INTEGER PRIMARY KEY);",
            Some("DROP TABLE later;"),
        )
        .build()
}

struct Db {
    _file: TestDatabase,
    cairn: SqliteDriver,
    app: SqliteDriver,
}

impl Db {
    async fn new() -> Db {
        let file = TestDatabase::sqlite();
        let url = DatabaseUrl::parse(file.url()).expect("a sqlite URL");
        let cairn = SqliteDriver::connect(&url).await.expect("SQLite opens");
        let app = SqliteDriver::connect(&url).await.expect("SQLite opens");
        Db {
            _file: file,
            cairn,
            app,
        }
    }

    async fn write(&mut self, sql: &str) {
        self.app
            .execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn rows(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.app
            .query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The schema without Cairn's own tables.
    async fn snapshot(&mut self) -> Snapshot {
        cairn_core::schema::introspect(&mut self.cairn, &Default::default())
            .await
            .expect("introspects")
    }
}

fn text(value: &str) -> Option<String> {
    Some(value.to_owned())
}

#[tokio::test]
async fn expand_contract_uncontract_abort_keep_both_versions_and_every_row() {
    let dir = migrations();
    let migrator = Migrator::new(dir.read(), MigratorOptions::default());
    let mut db = Db::new().await;
    migrator
        .up(&mut db.cairn, Some(cairn_core::Version::from(1)))
        .await
        .expect("users table");
    db.write("INSERT INTO users (id, name, email) VALUES (1, 'Ada', 'a@x'), (2, 'Bob', NULL)")
        .await;
    let before = db.snapshot().await;

    // up: expand and backfill, then stop before migration 3.
    let report = migrator.up(&mut db.cairn, None).await.expect("expand");
    let phases: Vec<_> = report
        .migrations
        .iter()
        .map(|m| (m.version.key(), m.phase))
        .collect();
    assert_eq!(phases, [(2, Some(Phase::Expand))]);
    let held = report.held.expect("up says where it stopped");
    assert_eq!(
        (held.version.key(), held.state),
        (2, HistoryState::Expanded)
    );
    assert!(held.next.contains("cairn contract 2"), "{}", held.next);
    let status = migrator.status(&mut db.cairn).await.expect("status");
    let states: Vec<_> = status.migrations.iter().map(|m| m.state).collect();
    assert_eq!(states, [State::Applied, State::Expanded, State::Pending]);
    assert_eq!(status.expanded[0].version, 2);
    assert!(!status.expanded[0].versions.new.is_empty());
    assert!(status.problems.is_empty(), "{:?}", status.problems);
    // The backfill filled the new column of the old rows.
    assert_eq!(
        db.rows("SELECT full_name FROM users ORDER BY id").await,
        [vec![text("Ada")], vec![text("Bob")]]
    );
    // Both versions write, each reads the other's rows.
    db.write("INSERT INTO users (id, name) VALUES (3, 'old writer')")
        .await;
    db.write("INSERT INTO users (id, full_name) VALUES (4, 'new writer')")
        .await;
    assert_eq!(
        db.rows("SELECT name, full_name FROM users WHERE id IN (3, 4) ORDER BY id")
            .await,
        [
            vec![text("old writer"), text("old writer")],
            vec![text("new writer"), text("new writer")]
        ]
    );
    // `up` again refuses to apply 3 over it.
    let refused = migrator
        .up(&mut db.cairn, None)
        .await
        .expect_err("refused")
        .error;
    assert!(
        refused.to_string().contains("cairn contract 2"),
        "{refused}"
    );

    // contract: the old column goes; then up goes on.
    let report = migrator
        .contract(&mut db.cairn, None)
        .await
        .expect("contract");
    assert_eq!(report.migrations[0].phase, Some(Phase::Contract));
    let users = &db.snapshot().await.tables["users"];
    assert!(users.columns.contains_key("full_name"));
    assert!(!users.columns.contains_key("name"), "{users:?}");
    migrator.up(&mut db.cairn, None).await.expect("3 applies");
    migrator
        .down(&mut db.cairn, DownTarget::Steps(1))
        .await
        .expect("3 rolls back");

    // down: un-contract, back to expanded, `name` restored from `full_name`.
    db.write("INSERT INTO users (id, full_name) VALUES (5, 'after contract')")
        .await;
    let report = migrator
        .down(&mut db.cairn, DownTarget::Steps(1))
        .await
        .expect("un-contract");
    assert_eq!(report.migrations[0].phase, Some(Phase::Uncontract));
    let status = migrator.status(&mut db.cairn).await.expect("status");
    assert_eq!(status.migrations[1].state, State::Expanded);
    assert_eq!(
        db.rows("SELECT name FROM users ORDER BY id").await,
        [
            vec![text("Ada")],
            vec![text("Bob")],
            vec![text("old writer")],
            vec![text("new writer")],
            vec![text("after contract")]
        ]
    );

    // down again: abort, the schema as before and every row in the old shape.
    db.write("INSERT INTO users (id, full_name) VALUES (6, 'during expanded')")
        .await;
    let report = migrator
        .down(&mut db.cairn, DownTarget::Steps(1))
        .await
        .expect("abort");
    assert_eq!(report.migrations[0].phase, Some(Phase::Abort));
    let after = db.snapshot().await;
    let differences = diff(&before, &after);
    assert!(differences.is_empty(), "{differences:#?}");
    assert_eq!(
        db.rows("SELECT id, name FROM users ORDER BY id")
            .await
            .len(),
        6
    );
    assert_eq!(
        db.rows("SELECT name FROM users WHERE id = 6").await,
        [vec![text("during expanded")]]
    );
    let history = migrator.history(&mut db.cairn).await.expect("history");
    assert_eq!(history.iter().map(|r| r.version).collect::<Vec<_>>(), [1]);
}

#[tokio::test]
async fn abort_right_after_expand_gives_back_the_schema() {
    let dir = migrations();
    let migrator = Migrator::new(dir.read(), MigratorOptions::default());
    let mut db = Db::new().await;
    migrator
        .up(&mut db.cairn, Some(cairn_core::Version::from(1)))
        .await
        .expect("users");
    db.write("INSERT INTO users (id, name) VALUES (1, 'Ada')")
        .await;
    let before = db.snapshot().await;
    migrator.up(&mut db.cairn, None).await.expect("expand");
    let report = migrator
        .abort(&mut db.cairn, Some(cairn_core::Version::from(2)))
        .await
        .expect("abort");
    assert_eq!(report.migrations[0].phase, Some(Phase::Abort));
    let differences = diff(&before, &db.snapshot().await);
    assert!(differences.is_empty(), "{differences:#?}");
    // No Cairn object is left, and the before-shape is forgotten.
    let leftovers = db
        .rows("SELECT name FROM sqlite_master WHERE name LIKE 'cairn_2_%'")
        .await;
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let shapes = db
        .rows("SELECT count(*) FROM cairn_history_shape WHERE version = 2")
        .await;
    assert_eq!(shapes, [vec![text("0")]]);
    // Expanding again works from scratch.
    migrator
        .up(&mut db.cairn, None)
        .await
        .expect("expand again");
    let status = migrator.status(&mut db.cairn).await.expect("status");
    assert_eq!(status.migrations[1].state, State::Expanded);
}

#[tokio::test]
async fn dry_runs_print_the_sql_of_each_phase_and_change_nothing() {
    let dir = migrations();
    let migrator = Migrator::new(dir.read(), MigratorOptions::default());
    let mut db = Db::new().await;
    migrator
        .up(&mut db.cairn, Some(cairn_core::Version::from(1)))
        .await
        .expect("users");
    let planned = migrator
        .plan_up(&mut db.cairn, None)
        .await
        .expect("plan up");
    assert_eq!(planned.len(), 1, "up stops at the expand: {planned:#?}");
    let expand: Vec<&str> = planned[0]
        .statements
        .iter()
        .map(|s| s.sql.as_str())
        .collect();
    assert!(
        expand.iter().any(|s| s.contains("full_name")),
        "{expand:#?}"
    );
    assert!(
        expand.iter().any(|s| s.contains("CREATE TRIGGER")),
        "{expand:#?}"
    );
    assert!(planned[0].statements[0]
        .location
        .ends_with("migration.toml:1"));
    let history = migrator.history(&mut db.cairn).await.expect("history");
    assert_eq!(history.len(), 1, "the dry run changed nothing");

    migrator.up(&mut db.cairn, None).await.expect("expand");
    let contract = migrator
        .plan_contract(&mut db.cairn, None)
        .await
        .expect("plan contract");
    assert!(
        contract[0]
            .statements
            .iter()
            .any(|s| s.sql.contains("DROP TRIGGER")),
        "{contract:#?}"
    );
    let abort = migrator
        .plan_abort(&mut db.cairn, None)
        .await
        .expect("plan abort");
    assert!(
        abort[0]
            .statements
            .iter()
            .any(|s| s.sql.contains("full_name")),
        "{abort:#?}"
    );
    let status = migrator.status(&mut db.cairn).await.expect("status");
    assert_eq!(status.migrations[1].state, State::Expanded);
}

//! The zero-downtime life cycle through the migrator on a real PostgreSQL
//! server: `up` expands and stops, both application versions write,
//! `contract`, `down` un-contracts and a further `down` aborts back to the
//! same schema; and a session holding the table makes the expand time out
//! and retry without making a third session's queries wait longer than the
//! operation lock timeout, then stop in a state `up` continues from.

use std::time::{Duration, Instant};

use cairn_core::history::HistoryState;
use cairn_core::operation::Phase;
use cairn_core::plan::{DownTarget, State};
use cairn_core::schema::{diff_with, DiffOptions, Snapshot};
use cairn_core::url::DatabaseUrl;
use cairn_core::{Driver, DriverErrorKind, Error, Migrator, MigratorOptions};
use cairn_postgres::PgDriver;
use cairn_testkit::fixture::{Fixture, FixtureDir};
use cairn_testkit::TestDatabase;

const USERS: &str = "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL, email TEXT);";
const RENAME: &str =
    "[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\ncolumn = \"name\"\nto = \"full_name\"\n";

fn migrations() -> FixtureDir {
    Fixture::new()
        .migration(1, "users", USERS, Some("DROP TABLE users;"))
        .file("2_rename/migration.toml", RENAME)
        .migration(
            3,
            "later",
            "CREATE TABLE later (id BIGINT PRIMARY KEY);",
            Some("DROP TABLE later;"),
        )
        .build()
}

struct Db {
    file: TestDatabase,
    cairn: PgDriver,
    app: PgDriver,
}

async fn connect(url: &str) -> PgDriver {
    let url = DatabaseUrl::parse(url).expect("a postgres URL");
    PgDriver::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"))
}

impl Db {
    async fn new() -> Db {
        let file = cairn_testkit::postgres::database().await;
        let cairn = connect(file.url()).await;
        let app = connect(file.url()).await;
        Db { file, cairn, app }
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
        .expect("users");
    db.write("INSERT INTO users (id, name, email) VALUES (1, 'Ada', 'a@x'), (2, 'Bob', NULL)")
        .await;
    let before = db.snapshot().await;

    let report = migrator.up(&mut db.cairn, None).await.expect("expand");
    assert_eq!(report.migrations.len(), 1);
    assert_eq!(report.migrations[0].phase, Some(Phase::Expand));
    let held = report.held.expect("up says where it stopped");
    assert_eq!(
        (held.version.key(), held.state),
        (2, HistoryState::Expanded)
    );
    let status = migrator.status(&mut db.cairn).await.expect("status");
    assert_eq!(status.expanded.len(), 1);
    assert!(!status.expanded[0].versions.old.is_empty());
    assert_eq!(
        db.rows("SELECT full_name FROM users ORDER BY id").await,
        [vec![text("Ada")], vec![text("Bob")]]
    );
    db.write("INSERT INTO users (id, name) VALUES (3, 'old writer')")
        .await;
    db.write("INSERT INTO users (id, full_name) VALUES (4, 'new writer')")
        .await;
    db.write("UPDATE users SET full_name = 'Ada L' WHERE id = 1")
        .await;
    assert_eq!(
        db.rows("SELECT name, full_name FROM users WHERE id IN (1, 3, 4) ORDER BY id")
            .await,
        [
            vec![text("Ada L"), text("Ada L")],
            vec![text("old writer"), text("old writer")],
            vec![text("new writer"), text("new writer")]
        ]
    );
    let refused = migrator
        .up(&mut db.cairn, None)
        .await
        .expect_err("refused")
        .error;
    assert!(
        matches!(refused, Error::PhaseState { version, .. } if version == 2),
        "{refused:?}"
    );

    migrator
        .contract(&mut db.cairn, Some(cairn_core::Version::from(2)))
        .await
        .expect("contract");
    let users = &db.snapshot().await.tables["users"];
    assert!(!users.columns.contains_key("name"), "{users:?}");
    assert!(!users.columns["full_name"].nullable, "{users:?}");
    migrator.up(&mut db.cairn, None).await.expect("3 applies");
    migrator
        .down(&mut db.cairn, DownTarget::Steps(1))
        .await
        .expect("3 rolls back");

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
        db.rows("SELECT name FROM users WHERE id = 5").await,
        [vec![text("after contract")]]
    );

    db.write("INSERT INTO users (id, full_name) VALUES (6, 'during expanded')")
        .await;
    migrator
        .down(&mut db.cairn, DownTarget::Steps(1))
        .await
        .expect("abort");
    // PostgreSQL adds a column at the end only: un-contract brings `name`
    // back after `email`, and that order stays (as after any down and up).
    let options = DiffOptions {
        ignore_column_order: true,
    };
    let differences = diff_with(&before, &db.snapshot().await, &options);
    assert!(differences.is_empty(), "{differences:#?}");
    assert_eq!(
        db.rows("SELECT name FROM users ORDER BY id").await,
        [
            vec![text("Ada L")],
            vec![text("Bob")],
            vec![text("old writer")],
            vec![text("new writer")],
            vec![text("after contract")],
            vec![text("during expanded")]
        ]
    );
    let leftovers = db
        .rows("SELECT proname FROM pg_proc WHERE proname LIKE 'cairn_2_%'")
        .await;
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let history = migrator.history(&mut db.cairn).await.expect("history");
    assert_eq!(history.iter().map(|r| r.version).collect::<Vec<_>>(), [1]);
}

#[tokio::test]
async fn a_session_holding_the_table_never_queues_the_application_behind_expand() {
    let dir = migrations();
    let timeout = Duration::from_millis(200);
    let options = MigratorOptions {
        operation_lock_timeout: timeout,
        lock_retries: 3,
        retry_backoff: Duration::from_millis(100),
        retry_backoff_max: Duration::from_millis(200),
        ..MigratorOptions::default()
    };
    let migrator = Migrator::new(dir.read(), options);
    let mut db = Db::new().await;
    migrator
        .up(&mut db.cairn, Some(cairn_core::Version::from(1)))
        .await
        .expect("users");
    db.write("INSERT INTO users (id, name) VALUES (1, 'Ada')")
        .await;
    // An idle transaction that read the table holds ACCESS SHARE on it.
    let mut holder = connect(db.file.url()).await;
    holder.begin().await.expect("begin");
    holder
        .query("SELECT * FROM users")
        .await
        .expect("read under the transaction");

    // A third session reads the table over and over while Cairn tries.
    let mut reader = connect(db.file.url()).await;
    let started = Instant::now();
    let (outcome, longest) = tokio::join!(migrator.up(&mut db.cairn, None), async {
        let mut longest = Duration::ZERO;
        while started.elapsed() < Duration::from_millis(1500) {
            let query = Instant::now();
            reader
                .query("SELECT count(*) FROM users")
                .await
                .expect("the application's read succeeds");
            longest = longest.max(query.elapsed());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        longest
    });
    let error = outcome.expect_err("times out").error;
    match &error {
        Error::Driver { cause, .. } => assert_eq!(cause.kind, DriverErrorKind::LockTimeout),
        other => panic!("not a lock timeout: {other:?}"),
    }
    assert!(
        error.to_string().contains("gave up after 4 attempt(s)"),
        "{error}"
    );
    assert!(
        longest <= timeout + Duration::from_millis(150),
        "an application query waited {longest:?} behind Cairn's DDL"
    );
    let status = migrator.status(&mut db.cairn).await.expect("status");
    assert_eq!(status.migrations[1].state, State::Expanding);

    holder.rollback().await.expect("the session ends");
    migrator
        .up(&mut db.cairn, None)
        .await
        .expect("up continues");
    let status = migrator.status(&mut db.cairn).await.expect("status");
    assert_eq!(status.migrations[1].state, State::Expanded);
    assert_eq!(
        db.rows("SELECT full_name FROM users").await,
        [vec![text("Ada")]]
    );
}

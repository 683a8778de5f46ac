//! The zero-downtime life cycle through the migrator on a real MySQL or
//! MariaDB server, where no DDL runs in a transaction: `up` expands and
//! stops, both application versions write, `contract`, `down` un-contracts
//! and a further `down` aborts back to the same schema; and a session
//! holding the table makes the expand time out, retry and stop resumably.

use std::time::Duration;

use cairn_core::history::HistoryState;
use cairn_core::operation::Phase;
use cairn_core::plan::{DownTarget, State};
use cairn_core::schema::{diff, Snapshot};
use cairn_core::url::DatabaseUrl;
use cairn_core::{Driver, DriverErrorKind, Error, Migrator, MigratorOptions};
use cairn_mysql::MySqlDriver;
use cairn_testkit::fixture::{Fixture, FixtureDir};
use cairn_testkit::TestDatabase;

const USERS: &str =
    "CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(100));";
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
    cairn: MySqlDriver,
    app: MySqlDriver,
}

async fn connect(url: &str) -> MySqlDriver {
    let url = DatabaseUrl::parse(url).expect("a mysql URL");
    MySqlDriver::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"))
}

impl Db {
    async fn new() -> Db {
        let file = cairn_testkit::mysql::database().await;
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
    assert_eq!(
        report.held.map(|h| (h.version.key(), h.state)),
        Some((2, HistoryState::Expanded))
    );
    assert_eq!(
        db.rows("SELECT full_name FROM users ORDER BY id").await,
        [vec![text("Ada")], vec![text("Bob")]]
    );
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
    let differences = diff(&before, &db.snapshot().await);
    assert!(differences.is_empty(), "{differences:#?}");
    assert_eq!(
        db.rows("SELECT name FROM users ORDER BY id").await,
        [
            vec![text("Ada")],
            vec![text("Bob")],
            vec![text("old writer")],
            vec![text("new writer")],
            vec![text("after contract")],
            vec![text("during expanded")]
        ]
    );
    let history = migrator.history(&mut db.cairn).await.expect("history");
    assert_eq!(history.iter().map(|r| r.version).collect::<Vec<_>>(), [1]);
}

#[tokio::test]
async fn a_session_holding_the_table_makes_expand_retry_then_stop_resumably() {
    let dir = migrations();
    let options = MigratorOptions {
        operation_lock_timeout: Duration::from_millis(500),
        lock_retries: 1,
        retry_backoff: Duration::from_millis(10),
        retry_backoff_max: Duration::from_millis(20),
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
    // An open transaction that read the table holds its metadata lock.
    let mut holder = connect(db.file.url()).await;
    holder.begin().await.expect("begin");
    holder
        .query("SELECT * FROM users")
        .await
        .expect("read under the transaction");

    let error = migrator
        .up(&mut db.cairn, None)
        .await
        .expect_err("times out")
        .error;
    match &error {
        Error::Driver { cause, .. } => assert_eq!(cause.kind, DriverErrorKind::LockTimeout),
        other => panic!("not a lock timeout: {other:?}"),
    }
    let message = error.to_string();
    for part in [
        "expand of migration 2",
        "gave up after 2 attempt(s)",
        "cairn up",
        "cairn abort 2",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
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

//! The test kit's own tests, each on every engine: SQLite always, PostgreSQL
//! and MySQL/MariaDB with `--features servers` (a fresh database per test,
//! from `CAIRN_TEST_POSTGRES_URL` / `CAIRN_TEST_MYSQL_URL` or a container).
//!
//! The migrations are built in memory (`cairn::source::read_files`), so each
//! test shows the whole project it runs.

use std::path::Path;

use cairn::testing::{TestDb, TestError};
use cairn::{Migrator, MigratorOptions};

/// A migrator over migrations given as `(path, text)`, as in a directory.
fn migrator(files: &[(&str, &str)]) -> Migrator {
    let migrations =
        cairn::source::read_files(Path::new("migrations"), files).expect("the fixture reads");
    Migrator::new(migrations, MigratorOptions::default())
}

/// The version of the `n`th migration (1-based): versions are opaque.
fn nth(db: &TestDb, n: usize) -> cairn::Version {
    db.migrator().migrations()[n - 1].version
}

/// Users, then a nickname column whose down drops it: the values of the
/// column are lost by down and up again.
const LOSSY: &[(&str, &str)] = &[
    (
        "1_users/up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);",
    ),
    ("1_users/down.sql", "DROP TABLE users;"),
    (
        "2_nickname/up.sql",
        "ALTER TABLE users ADD COLUMN nickname VARCHAR(50);",
    ),
    (
        "2_nickname/down.sql",
        "ALTER TABLE users DROP COLUMN nickname;",
    ),
];

/// One test function per engine for each `async fn(TestDb)` case.
macro_rules! on_every_engine {
    ($($case:ident => $migrations:ident;)*) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = cairn::testing::TestDb::sqlite(super::migrator(super::$migrations))
                        .await
                        .expect("a SQLite test database");
                    super::$case(db).await;
                }
            )*
        }
        #[cfg(feature = "servers")]
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = cairn::testing::TestDb::postgres(super::migrator(super::$migrations))
                        .await
                        .expect("a PostgreSQL test database");
                    super::$case(db).await;
                }
            )*
        }
        #[cfg(feature = "servers")]
        mod mysql {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = cairn::testing::TestDb::mysql(super::migrator(super::$migrations))
                        .await
                        .expect("a MySQL test database");
                    super::$case(db).await;
                }
            )*
        }
    };
}

on_every_engine! {
    a_lossy_down_is_caught_by_assert_reversible => LOSSY;
    a_down_that_leaves_an_object_is_caught_before_up_runs_again => LEAVES_INDEX;
    a_faithful_down_passes_with_its_rows => LOSSY;
    assert_reversible_refuses_when_a_newer_migration_is_applied => LOSSY;
    a_missing_down_script_is_reported_and_changes_nothing => NO_DOWN;
    migrate_to_goes_forward_and_back => LOSSY;
    an_unknown_migration_is_named_with_the_known_ones => LOSSY;
    a_sql_data_migration_that_adds_twice_is_not_idempotent => CREDITS;
    a_guarded_sql_data_migration_is_idempotent => GUARDED_CREDITS;
    a_backfill_that_adds_twice_is_not_idempotent => COUNTER_BACKFILL;
    a_guarded_backfill_is_idempotent => GUARDED_BACKFILL;
    a_schema_migration_cannot_run_twice_and_says_so => LOSSY;
    table_checksums_follow_the_rows => LOSSY;
    the_zero_downtime_phases_expand_abort_and_contract => RENAME;
    a_down_that_drops_an_older_table_names_its_rows => DROPS_TOO_MUCH;
    assert_reversible_applies_the_migrations_before_first => LOSSY;
}

async fn a_lossy_down_is_caught_by_assert_reversible(mut db: TestDb) {
    db.migrate_to(nth(&db, 2)).await.expect("migrate to 2");
    db.execute("INSERT INTO users (id, name, nickname) VALUES (1, 'Ada Lovelace', 'ada')")
        .await
        .expect("insert");

    let error = db
        .assert_reversible(nth(&db, 2))
        .await
        .expect_err("the down is lossy");
    let TestError::NotReversible(findings) = &error else {
        panic!("expected NotReversible, got {error:?}");
    };
    assert_eq!(
        (findings.version, findings.name.as_str()),
        (nth(&db, 2), "nickname")
    );
    assert_eq!(findings.engine, db.engine());
    let message = error.to_string();
    assert!(
        message.contains("migration 2 (nickname)")
            && message.contains("down and up again did not give back the database")
            && message.contains("table `users`")
            && message.contains("nickname=ada")
            && message.contains("nickname=NULL"),
        "the loss is reported with the row: {message}"
    );
    // The database is left with the migration applied, as the check found it.
    assert_eq!(
        db.query("SELECT id, nickname FROM users")
            .await
            .expect("query"),
        [[Some("1".to_owned()), None]]
    );
}

/// An index whose down forgets it (an empty down script is accepted).
const LEAVES_INDEX: &[(&str, &str)] = &[
    (
        "1_users/up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);",
    ),
    ("1_users/down.sql", "DROP TABLE users;"),
    (
        "2_index/up.sql",
        "CREATE INDEX users_name_idx ON users (name);",
    ),
    ("2_index/down.sql", "-- forgot to drop it\n"),
];

async fn a_down_that_leaves_an_object_is_caught_before_up_runs_again(mut db: TestDb) {
    db.migrate_to(nth(&db, 1)).await.expect("migrate to 1");
    db.execute("INSERT INTO users (id, name) VALUES (1, 'Ada')")
        .await
        .expect("insert");
    // Not applied yet: the check applies it and also checks that down gives
    // back the database as it was, before up runs again.
    let error = db
        .assert_reversible(nth(&db, 2))
        .await
        .expect_err("the down is incomplete");
    let message = error.to_string();
    assert!(
        matches!(error, TestError::NotReversible(_))
            && message.contains("migration 2 (index)")
            && message.contains(": down did not give back the database as it was")
            && message.contains("users_name_idx"),
        "the index the down left is named: {message}"
    );
    assert_eq!(
        db.state(nth(&db, 2)).await.expect("state"),
        None,
        "left rolled back"
    );
}

async fn a_faithful_down_passes_with_its_rows(mut db: TestDb) {
    // Rows in the old shape; migration 2 is reversible for them (the
    // nickname column it adds is empty).
    db.migrate_to(nth(&db, 1)).await.expect("migrate to 1");
    db.execute("INSERT INTO users (id, name) VALUES (1, 'Ada'), (2, 'Grace')")
        .await
        .expect("insert");
    db.assert_reversible(nth(&db, 2)).await.expect("reversible");
    assert_eq!(
        db.state(nth(&db, 2)).await.expect("state"),
        Some(cairn::HistoryState::Applied)
    );
    // And migration 1 drops the table with its rows: not reversible.
    db.migrate_to(nth(&db, 1)).await.expect("back to 1");
    let error = db
        .assert_reversible(nth(&db, 1))
        .await
        .expect_err("rows are lost");
    assert!(
        error.to_string().contains("2 of 2 rows lost"),
        "the lost rows are counted: {error}"
    );
}

async fn assert_reversible_refuses_when_a_newer_migration_is_applied(mut db: TestDb) {
    db.migrate_to(nth(&db, 2)).await.expect("migrate to 2");
    let error = db
        .assert_reversible(nth(&db, 1))
        .await
        .expect_err("2 is applied");
    assert!(
        matches!(error, TestError::NotApplicable { .. })
            && error
                .to_string()
                .contains("migration 2, newer than it, is applied"),
        "{error}"
    );
    assert_eq!(
        db.state(nth(&db, 2)).await.expect("state"),
        Some(cairn::HistoryState::Applied)
    );
}

const NO_DOWN: &[(&str, &str)] = &[(
    "1_users/up.sql",
    "-- cairn:irreversible\nCREATE TABLE users (id INTEGER PRIMARY KEY);",
)];

async fn a_missing_down_script_is_reported_and_changes_nothing(mut db: TestDb) {
    db.migrate_to(nth(&db, 1)).await.expect("migrate to 1");
    db.execute("INSERT INTO users (id) VALUES (7)")
        .await
        .expect("insert");
    let error = db
        .assert_reversible(nth(&db, 1))
        .await
        .expect_err("no down script");
    assert!(error.to_string().contains("has no down script"), "{error}");
    assert_eq!(
        db.query("SELECT id FROM users")
            .await
            .expect("the table is still there"),
        [[Some("7".to_owned())]]
    );
}

async fn migrate_to_goes_forward_and_back(mut db: TestDb) {
    db.migrate_to(nth(&db, 2)).await.expect("migrate to 2");
    assert_eq!(
        db.state(nth(&db, 2)).await.expect("state"),
        Some(cairn::HistoryState::Applied)
    );
    db.migrate_to(nth(&db, 1)).await.expect("back to 1");
    assert_eq!(db.state(nth(&db, 2)).await.expect("state"), None);
    assert!(db.schema().await.expect("schema").tables["users"]
        .columns
        .keys()
        .all(|column| column != "nickname"));
    db.migrate_all().await.expect("all");
    assert_eq!(
        db.state(nth(&db, 2)).await.expect("state"),
        Some(cairn::HistoryState::Applied)
    );
}

async fn an_unknown_migration_is_named_with_the_known_ones(mut db: TestDb) {
    let error = db.version("nick").expect_err("no such migration");
    assert_eq!(
        error.to_string(),
        "no migration is named `nick`: the migrations are 1 users, 2 nickname"
    );
    let error = db.migrate_to(3).await.expect_err("no such version");
    assert!(error.to_string().contains("`with version 3`"), "{error}");
    assert_eq!(
        db.state(nth(&db, 1)).await.expect("state"),
        None,
        "nothing was applied"
    );
}

const CREDITS: &[(&str, &str)] = &[
    (
        "1_accounts/up.sql",
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, credits INTEGER NOT NULL, welcomed INTEGER NOT NULL DEFAULT 0);",
    ),
    ("1_accounts/down.sql", "DROP TABLE accounts;"),
    ("2_welcome_credits/up.sql", "UPDATE accounts SET credits = credits + 10;"),
    ("2_welcome_credits/down.sql", "UPDATE accounts SET credits = credits - 10;"),
];

async fn a_sql_data_migration_that_adds_twice_is_not_idempotent(mut db: TestDb) {
    db.migrate_to(nth(&db, 1)).await.expect("migrate to 1");
    db.execute("INSERT INTO accounts (id, credits) VALUES (1, 5)")
        .await
        .expect("insert");
    let error = db
        .assert_idempotent(nth(&db, 2))
        .await
        .expect_err("adds twice");
    let message = error.to_string();
    assert!(
        matches!(error, TestError::NotIdempotent(_))
            && message.contains("running it a second time did not give back")
            && message.contains("credits=15")
            && message.contains("credits=25"),
        "{message}"
    );
}

const GUARDED_CREDITS: &[(&str, &str)] = &[
    (
        "1_accounts/up.sql",
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, credits INTEGER NOT NULL, welcomed INTEGER NOT NULL DEFAULT 0);",
    ),
    ("1_accounts/down.sql", "DROP TABLE accounts;"),
    (
        "2_welcome_credits/up.sql",
        "UPDATE accounts SET credits = credits + 10, welcomed = 1 WHERE welcomed = 0;",
    ),
    (
        "2_welcome_credits/down.sql",
        "UPDATE accounts SET credits = credits - 10, welcomed = 0 WHERE welcomed = 1;",
    ),
];

async fn a_guarded_sql_data_migration_is_idempotent(mut db: TestDb) {
    db.migrate_to(nth(&db, 1)).await.expect("migrate to 1");
    db.execute("INSERT INTO accounts (id, credits) VALUES (1, 5), (2, 0)")
        .await
        .expect("insert");
    db.assert_idempotent(nth(&db, 2)).await.expect("idempotent");
    assert_eq!(
        db.query("SELECT id, credits FROM accounts ORDER BY id")
            .await
            .expect("query"),
        [
            [Some("1".to_owned()), Some("15".to_owned())],
            [Some("2".to_owned()), Some("10".to_owned())]
        ]
    );
    // And it rolls back to the old rows.
    db.assert_reversible(nth(&db, 2)).await.expect("reversible");
}

const COUNTER_BACKFILL: &[(&str, &str)] = &[
    (
        "1_accounts/up.sql",
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, credits INTEGER NOT NULL);",
    ),
    ("1_accounts/down.sql", "DROP TABLE accounts;"),
    (
        "2_bonus/migration.toml",
        "[[backfill]]\ntable = \"accounts\"\nset = \"credits = credits + 1\"\nbatch_size = 2\n",
    ),
];

async fn a_backfill_that_adds_twice_is_not_idempotent(mut db: TestDb) {
    db.migrate_to(nth(&db, 1)).await.expect("migrate to 1");
    db.execute("INSERT INTO accounts (id, credits) VALUES (1, 0), (2, 0), (3, 0)")
        .await
        .expect("insert");
    let error = db
        .assert_idempotent(nth(&db, 2))
        .await
        .expect_err("adds twice");
    assert!(
        error.to_string().contains("3 of 3 rows changed"),
        "every row changed: {error}"
    );
}

const GUARDED_BACKFILL: &[(&str, &str)] = &[
    (
        "1_accounts/up.sql",
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL, email_lower VARCHAR(100));",
    ),
    ("1_accounts/down.sql", "DROP TABLE accounts;"),
    (
        "2_lower/migration.toml",
        "[[backfill]]\ntable = \"accounts\"\nset = \"email_lower = lower(email)\"\nwhere = \"email_lower IS NULL\"\nbatch_size = 2\n",
    ),
];

async fn a_guarded_backfill_is_idempotent(mut db: TestDb) {
    db.migrate_to(nth(&db, 1)).await.expect("migrate to 1");
    db.execute(
        "INSERT INTO accounts (id, email) VALUES (1, 'Ada@X.org'), (2, 'B@Y.org'), (3, 'c@z.org')",
    )
    .await
    .expect("insert");
    db.assert_idempotent(nth(&db, 2)).await.expect("idempotent");
    let before = db.table_checksum("accounts").await.expect("checksum");
    db.assert_idempotent(nth(&db, 2))
        .await
        .expect("idempotent again");
    assert_eq!(
        db.table_checksum("accounts").await.expect("checksum"),
        before
    );
    assert_eq!(
        db.query("SELECT email_lower FROM accounts ORDER BY id")
            .await
            .expect("query"),
        [
            [Some("ada@x.org".to_owned())],
            [Some("b@y.org".to_owned())],
            [Some("c@z.org".to_owned())]
        ]
    );
}

async fn a_schema_migration_cannot_run_twice_and_says_so(mut db: TestDb) {
    db.migrate_to(nth(&db, 1)).await.expect("migrate to 1");
    let error = db
        .assert_idempotent(nth(&db, 2))
        .await
        .expect_err("ADD COLUMN twice");
    let message = error.to_string();
    assert!(
        matches!(error, TestError::Statement { .. })
            && message.contains("ALTER TABLE users ADD COLUMN nickname")
            && message.contains("run a second time")
            && message.contains("2_nickname/up.sql:1"),
        "{message}"
    );
}

async fn table_checksums_follow_the_rows(mut db: TestDb) {
    db.migrate_to(nth(&db, 1)).await.expect("migrate to 1");
    let empty = db.table_checksum("users").await.expect("checksum");
    db.execute("INSERT INTO users (id, name) VALUES (1, 'a'), (2, 'b')")
        .await
        .expect("insert");
    let two = db.table_checksum("users").await.expect("checksum");
    assert_ne!(empty, two);
    db.execute("DELETE FROM users").await.expect("delete");
    db.execute("INSERT INTO users (id, name) VALUES (2, 'b'), (1, 'a')")
        .await
        .expect("insert");
    assert_eq!(
        db.table_checksum("users").await.expect("checksum"),
        two,
        "order does not matter"
    );
    let error = db.table_checksum("nope").await.expect_err("no such table");
    assert!(
        error.to_string().contains("there is no table `nope`"),
        "{error}"
    );
}

/// A rename without downtime: expand, then abort or contract.
const RENAME: &[(&str, &str)] = &[
    (
        "1_users/up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);",
    ),
    ("1_users/down.sql", "DROP TABLE users;"),
    (
        "2_rename/migration.toml",
        "[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\ncolumn = \"name\"\nto = \"full_name\"\n",
    ),
];

async fn the_zero_downtime_phases_expand_abort_and_contract(mut db: TestDb) {
    use cairn::HistoryState;
    db.migrate_to(nth(&db, 1)).await.expect("migrate to 1");
    db.execute("INSERT INTO users (id, name) VALUES (1, 'Ada')")
        .await
        .expect("insert");
    let columns = |schema: cairn::schema::Snapshot| -> Vec<String> {
        schema.tables["users"].columns.keys().cloned().collect()
    };

    // A contract before the expand is refused, naming what to do.
    let error = db
        .contract(nth(&db, 2))
        .await
        .expect_err("nothing is expanded");
    assert!(matches!(error, TestError::Run(_)), "{error:?}");

    db.migrate_to(nth(&db, 2)).await.expect("expand");
    assert_eq!(
        db.state(nth(&db, 2)).await.expect("state"),
        Some(HistoryState::Expanded)
    );
    // The old application version writes `name` on its own connection; the
    // new one sees it in `full_name`.
    let mut old_app = db.connect().await.expect("a second connection");
    old_app
        .execute("INSERT INTO users (id, name) VALUES (2, 'Grace')")
        .await
        .expect("old version insert");
    drop(old_app);
    let full_names = [[Some("Ada".to_owned())], [Some("Grace".to_owned())]];
    assert_eq!(
        db.query("SELECT full_name FROM users ORDER BY id")
            .await
            .expect("query"),
        full_names
    );

    db.abort(nth(&db, 2)).await.expect("abort");
    assert_eq!(db.state(nth(&db, 2)).await.expect("state"), None);
    assert_eq!(columns(db.schema().await.expect("schema")), ["id", "name"]);

    db.migrate_to(nth(&db, 2)).await.expect("expand again");
    db.contract(nth(&db, 2)).await.expect("contract");
    assert_eq!(
        db.state(nth(&db, 2)).await.expect("state"),
        Some(HistoryState::Applied)
    );
    assert_eq!(
        columns(db.schema().await.expect("schema")),
        ["full_name", "id"]
    );
    assert_eq!(
        db.query("SELECT full_name FROM users ORDER BY id")
            .await
            .expect("query"),
        full_names
    );
}

/// A down that drops more than its up created.
const DROPS_TOO_MUCH: &[(&str, &str)] = &[
    (
        "1_users/up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);",
    ),
    ("1_users/down.sql", "DROP TABLE users;"),
    (
        "2_tags/up.sql",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY);",
    ),
    ("2_tags/down.sql", "DROP TABLE tags;\nDROP TABLE users;"),
];

async fn a_down_that_drops_an_older_table_names_its_rows(mut db: TestDb) {
    db.migrate_to(nth(&db, 1)).await.expect("migrate to 1");
    db.execute("INSERT INTO users (id, name) VALUES (1, 'Ada')")
        .await
        .expect("insert");
    let error = db
        .assert_reversible(nth(&db, 2))
        .await
        .expect_err("the down drops users");
    let message = error.to_string();
    assert!(
        message.contains("migration 2 (tags)")
            && message.contains(": down did not give back the database as it was")
            && message.contains("table `users` removed")
            && message.contains("table `users`: its 1 rows are gone with it"),
        "{message}"
    );
}

async fn assert_reversible_applies_the_migrations_before_first(mut db: TestDb) {
    // Nothing is applied: migration 1 is applied first, then 2 is checked
    // against the database with 1 alone.
    db.assert_reversible(nth(&db, 2)).await.expect("reversible");
    assert_eq!(
        db.state(nth(&db, 1)).await.expect("state"),
        Some(cairn::HistoryState::Applied)
    );
    assert_eq!(
        db.state(nth(&db, 2)).await.expect("state"),
        Some(cairn::HistoryState::Applied)
    );
}

//! Zero-downtime operations on a real MySQL/MariaDB server, through SQL:
//! each operation compiled by the dialect, its phases run step by step with
//! `operation::exec::run_step`, the backfill as one plain `UPDATE`, and an
//! *old* application (writes only the old shape) and a *new* one (only the
//! new shape) writing and reading through each other in between. Each test
//! has its own database; the life cycle through the migrator is tested
//! elsewhere (the migrator's and the test kit's harness).

use std::collections::BTreeMap;

use cairn_core::backfill::{Action, Backfill};
use cairn_core::operation::exec::{run_step, Ran};
use cairn_core::operation::{Context, Expr, Kind, Operation, Phases, Step};
use cairn_core::schema::{diff, Snapshot, Table};
use cairn_core::{Driver, Flavour, Location};
use cairn_mysql::MySqlDriver;
use cairn_testkit::TestDatabase;

use super::connect;

const VERSION: i64 = 20260101090500;

/// A fresh database with `setup` run in it.
async fn database(setup: &[&str]) -> (TestDatabase, MySqlDriver) {
    let db = cairn_testkit::mysql::database().await;
    let mut driver = connect(db.url()).await;
    for sql in setup {
        exec(&mut driver, sql).await;
    }
    (db, driver)
}

async fn exec(driver: &mut MySqlDriver, sql: &str) {
    driver
        .execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn rows(driver: &mut MySqlDriver, sql: &str) -> Vec<Vec<Option<String>>> {
    driver
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn one(driver: &mut MySqlDriver, sql: &str) -> Option<String> {
    rows(driver, sql)
        .await
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .flatten()
}

async fn snapshot(driver: &mut MySqlDriver) -> Snapshot {
    let dialect = driver.dialect().shared();
    dialect
        .read_schema(driver)
        .await
        .unwrap_or_else(|e| panic!("introspection: {e}"))
}

fn table<'a>(snapshot: &'a Snapshot, name: &str) -> &'a Table {
    snapshot
        .tables
        .get(name)
        .unwrap_or_else(|| panic!("no table {name} in {}", snapshot.to_text()))
}

/// The operation compiled against `before` on the driver's server.
fn compile(driver: &MySqlDriver, kind: Kind, before: Option<&Table>) -> Result<Phases, String> {
    let operation = Operation {
        kind,
        location: Location::new("migration.toml", 2),
        batch: Default::default(),
    };
    let ctx = Context {
        version: VERSION.into(),
        index: 0,
        before,
    };
    driver.dialect().compile_operation(&operation, &ctx)
}

fn compiled(driver: &MySqlDriver, kind: Kind, before: &Table) -> Phases {
    compile(driver, kind, Some(before)).unwrap_or_else(|e| panic!("compile: {e}"))
}

/// Runs `steps` in order; panics naming the failing step.
async fn run(driver: &mut MySqlDriver, steps: &[Step]) -> Vec<Ran> {
    let mut ran = Vec::new();
    for step in steps {
        match run_step(driver, step).await {
            Ok(r) => ran.push(r),
            Err(f) => panic!(
                "step `{}` failed at statement {:?}: {}\n{:#?}",
                step.what, f.statement, f.error, step.statements
            ),
        }
    }
    ran
}

/// Runs `steps`, then again: the second run must skip every step that has
/// statements (guards); checks, which have none, change nothing and run again.
async fn run_twice(driver: &mut MySqlDriver, steps: &[Step]) {
    run(driver, steps).await;
    let again = run(driver, steps).await;
    for (step, ran) in steps.iter().zip(&again) {
        if step.statements.is_empty() {
            assert!(step.must_be_empty.is_some(), "`{}` does nothing", step.what);
            continue;
        }
        assert_eq!(
            *ran,
            Ran::Skipped,
            "second run of `{}` was not skipped",
            step.what
        );
    }
}

/// A backfill run as one plain `UPDATE`.
async fn backfill(driver: &mut MySqlDriver, backfills: &[Backfill]) {
    for b in backfills {
        let Action::Sql { set, filter, .. } = &b.action else {
            panic!("a SQL backfill expected");
        };
        let filter = filter.as_deref().unwrap_or("TRUE");
        exec(
            driver,
            &format!("UPDATE `{}` SET {set} WHERE {filter}", b.table),
        )
        .await;
    }
}

/// No trigger, column, index or foreign key named `cairn_*` is left.
fn no_cairn_objects(snapshot: &Snapshot) {
    let text = snapshot.to_text();
    assert!(
        !text.contains("cairn_"),
        "objects named cairn_* are left:\n{text}"
    );
}

/// `snapshot` equals `expected`, by `schema::diff`.
fn same_schema(expected: &Snapshot, actual: &Snapshot) {
    let differences = diff(expected, actual);
    assert!(
        differences.is_empty(),
        "schemas differ: {differences:#?}\nexpected:\n{}\nactual:\n{}",
        expected.to_text(),
        actual.to_text()
    );
}

/// `before` with column `from` of `table` renamed `to`: what a plain
/// rename leaves, which contract must leave too.
fn renamed(before: &Snapshot, table: &str, from: &str, to: &str) -> Snapshot {
    let mut after = before.clone();
    let t = after.tables.get_mut(table).expect("the table");
    let column = t.columns.remove(from).expect("the column");
    t.columns.insert(to.to_owned(), column);
    for c in &mut t.column_order {
        if c == from {
            *c = to.to_owned();
        }
    }
    let rename_key = |key: &mut String| {
        let end = key.find(['(', ' ']).unwrap_or(key.len());
        if &key[..end] == from {
            *key = format!("{to}{}", &key[end..]);
        }
    };
    for index in t.indexes.values_mut() {
        index.columns.iter_mut().for_each(rename_key);
    }
    for fk in t.foreign_keys.values_mut() {
        fk.columns.iter_mut().for_each(rename_key);
    }
    after
}

fn rename(table: &str, column: &str, to: &str) -> Kind {
    Kind::RenameColumn {
        table: table.to_owned(),
        column: column.to_owned(),
        to: to.to_owned(),
    }
}

/// Rows where the two columns disagree (`NOT (a <=> b)`).
async fn disagreeing(driver: &mut MySqlDriver, table: &str, a: &str, b: &str) -> String {
    one(
        driver,
        &format!("SELECT COUNT(*) FROM {table} WHERE NOT ({a} <=> {b})"),
    )
    .await
    .expect("a count")
}

const USERS: &[&str] = &[
    "CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, \
     name VARCHAR(50) NOT NULL DEFAULT 'anon' COMMENT 'the user''s name', \
     age INT, email VARCHAR(100) COLLATE utf8mb4_bin, \
     KEY users_name (name), UNIQUE KEY users_name_age (name, age), KEY users_email (email(10)))",
    // The user's own trigger, which must keep working beside Cairn's.
    "CREATE TRIGGER users_age BEFORE INSERT ON users FOR EACH ROW SET NEW.age = COALESCE(NEW.age, 18)",
    "INSERT INTO users (name, age) VALUES ('ann', 30), ('bob', 40), ('cy', NULL)",
];

mod rename_column {
    use super::*;

    /// The whole life cycle of a rename through SQL: expand (twice), the
    /// backfill, both application versions writing and reading through each
    /// other, contract (twice) to the shape of a plain rename, un-contract
    /// (twice) with old writers working again, abort (twice) back to before.
    #[tokio::test]
    async fn keeps_both_versions_working_through_every_phase() {
        let (_db, mut d) = database(USERS).await;
        let before = snapshot(&mut d).await;
        let phases = compiled(
            &d,
            rename("users", "name", "full_name"),
            table(&before, "users"),
        );
        assert_eq!(phases.versions.old, ["users.name"]);
        assert_eq!(phases.versions.new, ["users.full_name"]);

        run_twice(&mut d, &phases.expand).await;
        backfill(&mut d, &phases.backfill).await;
        assert_eq!(disagreeing(&mut d, "users", "name", "full_name").await, "0");

        // The old application writes only `name`, the new one only `full_name`.
        exec(&mut d, "INSERT INTO users (name, age) VALUES ('old', 1)").await;
        exec(
            &mut d,
            "INSERT INTO users (full_name, age) VALUES ('new', 2)",
        )
        .await;
        exec(&mut d, "INSERT INTO users (age) VALUES (3)").await;
        exec(&mut d, "UPDATE users SET name = 'ann2' WHERE id = 1").await;
        exec(&mut d, "UPDATE users SET full_name = 'bob2' WHERE id = 2").await;
        exec(&mut d, "UPDATE users SET age = 41 WHERE full_name = 'bob2'").await;
        exec(&mut d, "DELETE FROM users WHERE full_name = 'cy'").await;
        assert_eq!(
            one(&mut d, "SELECT full_name FROM users WHERE id = 1")
                .await
                .as_deref(),
            Some("ann2")
        );
        assert_eq!(
            one(&mut d, "SELECT name FROM users WHERE id = 2")
                .await
                .as_deref(),
            Some("bob2")
        );
        assert_eq!(
            one(&mut d, "SELECT name FROM users WHERE age = 2")
                .await
                .as_deref(),
            Some("new")
        );
        assert_eq!(
            one(&mut d, "SELECT full_name FROM users WHERE age = 1")
                .await
                .as_deref(),
            Some("old")
        );
        // An old writer relying on `name`'s default: both columns get it.
        assert_eq!(
            one(&mut d, "SELECT full_name FROM users WHERE age = 3")
                .await
                .as_deref(),
            Some("anon")
        );
        assert_eq!(disagreeing(&mut d, "users", "name", "full_name").await, "0");
        // The carried unique index refuses what the original refuses.
        assert!(d
            .execute("INSERT INTO users (full_name, age) VALUES ('new', 2)")
            .await
            .is_err());

        run_twice(&mut d, &phases.contract).await;
        let contracted = snapshot(&mut d).await;
        same_schema(&renamed(&before, "users", "name", "full_name"), &contracted);
        assert_eq!(
            one(
                &mut d,
                "SELECT COLUMN_COMMENT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME = 'users' AND COLUMN_NAME = 'full_name'"
            )
            .await
            .as_deref(),
            Some("the user's name")
        );
        exec(&mut d, "INSERT INTO users (age) VALUES (4)").await;
        assert_eq!(
            one(&mut d, "SELECT full_name FROM users WHERE age = 4")
                .await
                .as_deref(),
            Some("anon")
        );

        run_twice(&mut d, &phases.uncontract).await;
        backfill(&mut d, &phases.uncontract_backfill).await;
        assert_eq!(disagreeing(&mut d, "users", "name", "full_name").await, "0");
        exec(
            &mut d,
            "INSERT INTO users (name, age) VALUES ('old again', 5)",
        )
        .await;
        exec(
            &mut d,
            "INSERT INTO users (full_name, age) VALUES ('new again', 6)",
        )
        .await;
        exec(&mut d, "UPDATE users SET name = 'ann3' WHERE id = 1").await;
        assert_eq!(
            one(&mut d, "SELECT full_name FROM users WHERE age = 5")
                .await
                .as_deref(),
            Some("old again")
        );
        assert_eq!(
            one(&mut d, "SELECT name FROM users WHERE age = 6")
                .await
                .as_deref(),
            Some("new again")
        );
        assert_eq!(
            one(&mut d, "SELECT full_name FROM users WHERE id = 1")
                .await
                .as_deref(),
            Some("ann3")
        );
        assert_eq!(disagreeing(&mut d, "users", "name", "full_name").await, "0");

        run_twice(&mut d, &phases.abort).await;
        let aborted = snapshot(&mut d).await;
        same_schema(&before, &aborted);
        no_cairn_objects(&aborted);
        assert_eq!(
            one(
                &mut d,
                "SELECT COLUMN_COMMENT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME = 'users' AND COLUMN_NAME = 'name'"
            )
            .await
            .as_deref(),
            Some("the user's name")
        );
        // Rows written by either version meanwhile survive, in the old shape.
        assert_eq!(
            one(&mut d, "SELECT name FROM users WHERE age = 6")
                .await
                .as_deref(),
            Some("new again")
        );
        assert_eq!(
            one(&mut d, "SELECT COUNT(*) FROM users").await.as_deref(),
            Some("8")
        );
    }

    /// Abort right after expand and backfill restores the table exactly.
    #[tokio::test]
    async fn abort_after_expand_restores_the_table() {
        let (_db, mut d) = database(USERS).await;
        let before = snapshot(&mut d).await;
        let phases = compiled(
            &d,
            rename("users", "name", "full_name"),
            table(&before, "users"),
        );
        run(&mut d, &phases.expand).await;
        backfill(&mut d, &phases.backfill).await;
        exec(&mut d, "INSERT INTO users (full_name) VALUES ('new')").await;
        run_twice(&mut d, &phases.abort).await;
        let aborted = snapshot(&mut d).await;
        same_schema(&before, &aborted);
        no_cairn_objects(&aborted);
        assert_eq!(
            one(&mut d, "SELECT COUNT(*) FROM users WHERE name = 'new'")
                .await
                .as_deref(),
            Some("1")
        );
    }

    /// An expand killed after each of its steps is undone by abort.
    #[tokio::test]
    async fn abort_undoes_an_expand_killed_half_way() {
        let (_db, mut d) = database(USERS).await;
        let before = snapshot(&mut d).await;
        let phases = compiled(
            &d,
            rename("users", "name", "full_name"),
            table(&before, "users"),
        );
        assert!(phases.expand.len() >= 4, "{:#?}", phases.expand);
        for k in 1..phases.expand.len() {
            run(&mut d, &phases.expand[..k]).await;
            run(&mut d, &phases.abort).await;
            let aborted = snapshot(&mut d).await;
            same_schema(&before, &aborted);
            no_cairn_objects(&aborted);
        }
    }

    /// A foreign key on the renamed column is carried to the new one, and
    /// restored on the old one by abort.
    #[tokio::test]
    async fn carries_a_foreign_key() {
        let (_db, mut d) = database(&[
            "CREATE TABLE teams (id INT PRIMARY KEY)",
            "INSERT INTO teams VALUES (1), (2)",
            "CREATE TABLE players (id INT AUTO_INCREMENT PRIMARY KEY, team_id INT NOT NULL, \
             CONSTRAINT players_team FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE CASCADE)",
            "INSERT INTO players (team_id) VALUES (1), (2)",
        ])
        .await;
        let before = snapshot(&mut d).await;
        let phases = compiled(
            &d,
            rename("players", "team_id", "team"),
            table(&before, "players"),
        );
        run_twice(&mut d, &phases.expand).await;
        backfill(&mut d, &phases.backfill).await;
        exec(&mut d, "INSERT INTO players (team) VALUES (2)").await;
        assert!(d
            .execute("INSERT INTO players (team) VALUES (9)")
            .await
            .is_err());
        exec(&mut d, "DELETE FROM teams WHERE id = 1").await;
        assert_eq!(
            one(&mut d, "SELECT COUNT(*) FROM players").await.as_deref(),
            Some("2")
        );
        assert_eq!(disagreeing(&mut d, "players", "team_id", "team").await, "0");

        run_twice(&mut d, &phases.contract).await;
        same_schema(
            &renamed(&before, "players", "team_id", "team"),
            &snapshot(&mut d).await,
        );
        assert!(d
            .execute("INSERT INTO players (team) VALUES (9)")
            .await
            .is_err());

        run_twice(&mut d, &phases.uncontract).await;
        backfill(&mut d, &phases.uncontract_backfill).await;
        exec(&mut d, "INSERT INTO players (team_id) VALUES (2)").await;
        assert_eq!(disagreeing(&mut d, "players", "team_id", "team").await, "0");

        run_twice(&mut d, &phases.abort).await;
        let aborted = snapshot(&mut d).await;
        same_schema(&before, &aborted);
        no_cairn_objects(&aborted);
    }

    /// Objects outside the table that read the column (another table's
    /// foreign key, a view, the user's trigger) stop expand at its first
    /// step, before anything changed, naming them.
    #[tokio::test]
    async fn refuses_at_expand_a_column_others_depend_on() {
        let cases: [(&str, &[&str]); 3] = [
            (
                "foreign key",
                &["CREATE TABLE child (id INT PRIMARY KEY, code VARCHAR(10), \
                   CONSTRAINT child_code FOREIGN KEY (code) REFERENCES codes (code))"],
            ),
            ("view", &["CREATE VIEW code_list AS SELECT code FROM codes"]),
            (
                "trigger",
                &[
                    "CREATE TRIGGER codes_upper BEFORE INSERT ON codes FOR EACH ROW \
                   SET NEW.`code` = UPPER(NEW.`code`)",
                ],
            ),
        ];
        for (dependent, setup) in cases {
            let (_db, mut d) = database(&[
                "CREATE TABLE codes (id INT PRIMARY KEY, code VARCHAR(10), other INT, KEY codes_code (code))",
                "CREATE VIEW others AS SELECT other FROM codes",
            ])
            .await;
            for sql in setup {
                exec(&mut d, sql).await;
            }
            let before = snapshot(&mut d).await;
            let phases = compiled(
                &d,
                rename("codes", "code", "label"),
                table(&before, "codes"),
            );
            let failure = run_step(&mut d, &phases.expand[0])
                .await
                .expect_err("a dependent object");
            let message = failure.error.to_string();
            assert!(message.contains(dependent), "{dependent}: {message}");
            assert!(message.contains("earlier migration"), "{message}");
            same_schema(&before, &snapshot(&mut d).await);
        }
        // A view of another column does not count.
        let (_db, mut d) = database(&[
            "CREATE TABLE codes (id INT PRIMARY KEY, code VARCHAR(10), other INT)",
            "CREATE VIEW others AS SELECT other FROM codes",
        ])
        .await;
        let before = snapshot(&mut d).await;
        let phases = compiled(
            &d,
            rename("codes", "code", "label"),
            table(&before, "codes"),
        );
        run_step(&mut d, &phases.expand[0])
            .await
            .expect("nothing depends on it");
    }

    /// What cannot be renamed online is refused before anything runs, saying why.
    #[tokio::test]
    async fn refuses_what_it_cannot_do_online() {
        let (_db, mut d) = database(&[
            "CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT, CONSTRAINT b_positive CHECK (b > 0))",
            "CREATE TABLE nokey (a INT)",
        ])
        .await;
        let s = snapshot(&mut d).await;
        let t = table(&s, "t");
        let refused = |kind| compile(&d, kind, Some(t)).expect_err("refused");
        assert!(refused(rename("t", "zz", "y")).contains("column `zz` does not exist"));
        assert!(refused(rename("t", "a", "b")).contains("`b` already exists"));
        assert!(refused(rename("t", "id", "key_id")).contains("primary key"));
        assert!(refused(rename("t", "b", "c")).contains("check constraint `b_positive`"));
        let nokey =
            compile(&d, rename("nokey", "a", "b"), Some(table(&s, "nokey"))).expect_err("refused");
        assert!(nokey.contains("no primary key"), "{nokey}");
        let missing = compile(&d, rename("gone", "a", "b"), None).expect_err("refused");
        assert!(missing.contains("table `gone` does not exist"), "{missing}");
    }
}

/// MariaDB checks NOT NULL after BEFORE triggers ran (MDEV-8605), MySQL
/// before (error 1364): why expand relaxes a NOT NULL old column on MySQL
/// only. Pins the behaviour of the server under test.
#[tokio::test]
async fn mariadb_checks_not_null_after_before_triggers() {
    let (_db, mut d) = database(&[
        "CREATE TABLE t (id INT PRIMARY KEY, o INT NOT NULL, n INT)",
        "CREATE TRIGGER t_fill BEFORE INSERT ON t FOR EACH ROW SET NEW.o = NEW.n",
    ])
    .await;
    let outcome = d.execute("INSERT INTO t (id, n) VALUES (1, 7)").await;
    if d.dialect().flavour() == Flavour::MariaDb {
        outcome.unwrap_or_else(|e| panic!("MariaDB refused: {e}"));
        assert_eq!(one(&mut d, "SELECT o FROM t").await.as_deref(), Some("7"));
    } else {
        let e = outcome.expect_err("MySQL checks NOT NULL before triggers");
        assert!(e.to_string().contains("1364"), "{e}");
    }
}

fn expr(sql: &str) -> Expr {
    Expr {
        sql: sql.to_owned(),
        overrides: BTreeMap::new(),
    }
}

mod add_column {
    use super::*;

    fn add(not_null: bool, default: Option<&str>, up: Option<&str>) -> Kind {
        Kind::AddColumn {
            table: "people".to_owned(),
            column: "display".to_owned(),
            data_type: "VARCHAR(200)".to_owned(),
            not_null,
            default: default.map(str::to_owned),
            up: up.map(expr),
        }
    }

    const PEOPLE: &[&str] = &[
        "CREATE TABLE people (id INT AUTO_INCREMENT PRIMARY KEY, first VARCHAR(50), last VARCHAR(50))",
        "INSERT INTO people (first, last) VALUES ('ada', 'lovelace'), ('alan', 'turing')",
    ];

    /// A NOT NULL column filled by `up` for old rows and old writers' rows,
    /// through contract, un-contract and abort.
    #[tokio::test]
    async fn fills_old_writers_rows_by_up() {
        let (_db, mut d) = database(PEOPLE).await;
        let before = snapshot(&mut d).await;
        let phases = compiled(
            &d,
            add(true, Some("'?'"), Some("CONCAT(first, ' ', last)")),
            table(&before, "people"),
        );
        assert_eq!(phases.versions.new, ["people.display"]);
        run_twice(&mut d, &phases.expand).await;
        backfill(&mut d, &phases.backfill).await;
        // Old writers know nothing of `display`; new writers set it.
        exec(
            &mut d,
            "INSERT INTO people (first, last) VALUES ('grace', 'hopper')",
        )
        .await;
        exec(
            &mut d,
            "INSERT INTO people (first, last, display) VALUES ('x', 'y', 'custom')",
        )
        .await;
        exec(&mut d, "UPDATE people SET last = 'byron' WHERE id = 1").await;
        exec(&mut d, "UPDATE people SET display = 'mine' WHERE id = 2").await;
        let all = rows(&mut d, "SELECT id, display FROM people ORDER BY id").await;
        let display: Vec<_> = all.iter().map(|r| r[1].as_deref()).collect();
        assert_eq!(
            display,
            [
                Some("ada byron"),
                Some("mine"),
                Some("grace hopper"),
                Some("custom")
            ]
        );

        run_twice(&mut d, &phases.contract).await;
        let contracted = snapshot(&mut d).await;
        let column = &table(&contracted, "people").columns["display"];
        assert!(!column.nullable);
        // MariaDB reports a string default quoted, MySQL 8 not.
        assert!(
            matches!(column.default.as_deref(), Some("'?'" | "?")),
            "{column:?}"
        );
        no_cairn_objects(&contracted);

        run_twice(&mut d, &phases.uncontract).await;
        exec(
            &mut d,
            "INSERT INTO people (first, last) VALUES ('old', 'writer')",
        )
        .await;
        assert_eq!(
            one(&mut d, "SELECT display FROM people WHERE first = 'old'")
                .await
                .as_deref(),
            Some("old writer")
        );

        run_twice(&mut d, &phases.abort).await;
        let aborted = snapshot(&mut d).await;
        same_schema(&before, &aborted);
        no_cairn_objects(&aborted);
    }

    /// A nullable column without `up` is only added; abort drops it.
    #[tokio::test]
    async fn a_plain_nullable_column() {
        let (_db, mut d) = database(PEOPLE).await;
        let before = snapshot(&mut d).await;
        let phases = compiled(&d, add(false, None, None), table(&before, "people"));
        assert!(phases.backfill.is_empty());
        run_twice(&mut d, &phases.expand).await;
        exec(&mut d, "INSERT INTO people (first) VALUES ('old')").await;
        run_twice(&mut d, &phases.contract).await;
        assert!(table(&snapshot(&mut d).await, "people").columns["display"].nullable);
        run_twice(&mut d, &phases.abort).await;
        same_schema(&before, &snapshot(&mut d).await);
    }

    #[tokio::test]
    async fn refuses_a_not_null_column_nothing_fills() {
        let (_db, mut d) = database(PEOPLE).await;
        let before = snapshot(&mut d).await;
        let people = table(&before, "people");
        let e = compile(&d, add(true, None, None), Some(people)).expect_err("refused");
        assert!(e.contains("neither `up` nor `default`"), "{e}");
        let taken = Kind::AddColumn {
            table: "people".to_owned(),
            column: "first".to_owned(),
            data_type: "INT".to_owned(),
            not_null: false,
            default: None,
            up: None,
        };
        let e = compile(&d, taken, Some(people)).expect_err("refused");
        assert!(e.contains("`first` already exists"), "{e}");
    }
}

mod drop_column {
    use super::*;

    fn drop(column: &str, down: Option<&str>) -> Kind {
        Kind::DropColumn {
            table: "items".to_owned(),
            column: column.to_owned(),
            down: down.map(expr),
        }
    }

    const ITEMS: &[&str] = &[
        "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, price INT NOT NULL, \
         legacy_price VARCHAR(20) NOT NULL DEFAULT 'n/a', note TEXT, KEY items_legacy (legacy_price))",
        "INSERT INTO items (price, legacy_price) VALUES (10, '10'), (20, '20')",
    ];

    /// New writers omit a NOT NULL column; `down` fills it for old readers;
    /// contract drops it; un-contract re-adds and refills it; abort restores it.
    #[tokio::test]
    async fn down_fills_it_for_old_readers() {
        let (_db, mut d) = database(ITEMS).await;
        let before = snapshot(&mut d).await;
        let phases = compiled(
            &d,
            drop("legacy_price", Some("CAST(price AS CHAR)")),
            table(&before, "items"),
        );
        assert_eq!(phases.versions.old, ["items.legacy_price"]);
        run_twice(&mut d, &phases.expand).await;
        exec(&mut d, "INSERT INTO items (price) VALUES (30)").await;
        exec(&mut d, "UPDATE items SET price = 11 WHERE id = 1").await;
        exec(
            &mut d,
            "INSERT INTO items (price, legacy_price) VALUES (40, 'old')",
        )
        .await;
        let all = rows(&mut d, "SELECT legacy_price FROM items ORDER BY id").await;
        let legacy: Vec<_> = all.iter().map(|r| r[0].as_deref()).collect();
        assert_eq!(legacy, [Some("11"), Some("20"), Some("30"), Some("old")]);

        run_twice(&mut d, &phases.abort).await;
        same_schema(&before, &snapshot(&mut d).await);

        run_twice(&mut d, &phases.expand).await;
        run_twice(&mut d, &phases.contract).await;
        let contracted = snapshot(&mut d).await;
        assert!(!table(&contracted, "items")
            .columns
            .contains_key("legacy_price"));
        no_cairn_objects(&contracted);
        exec(&mut d, "INSERT INTO items (price) VALUES (50)").await;

        run_twice(&mut d, &phases.uncontract).await;
        backfill(&mut d, &phases.uncontract_backfill).await;
        assert_eq!(
            one(&mut d, "SELECT legacy_price FROM items WHERE price = 50")
                .await
                .as_deref(),
            Some("50")
        );
        exec(&mut d, "INSERT INTO items (price) VALUES (60)").await;
        run_twice(&mut d, &phases.abort).await;
        let aborted = snapshot(&mut d).await;
        same_schema(&before, &aborted);
        no_cairn_objects(&aborted);
        assert_eq!(
            one(&mut d, "SELECT legacy_price FROM items WHERE price = 60")
                .await
                .as_deref(),
            Some("60")
        );
    }

    /// A nullable column without `down`: dropped at contract, re-added empty.
    #[tokio::test]
    async fn a_nullable_column_without_down() {
        let (_db, mut d) = database(ITEMS).await;
        let before = snapshot(&mut d).await;
        let phases = compiled(&d, drop("note", None), table(&before, "items"));
        run_twice(&mut d, &phases.expand).await;
        run_twice(&mut d, &phases.contract).await;
        assert!(!table(&snapshot(&mut d).await, "items")
            .columns
            .contains_key("note"));
        run_twice(&mut d, &phases.uncontract).await;
        run_twice(&mut d, &phases.abort).await;
        same_schema(&before, &snapshot(&mut d).await);
    }

    #[tokio::test]
    async fn refuses_a_not_null_column_without_down_or_default() {
        let (_db, mut d) = database(ITEMS).await;
        let before = snapshot(&mut d).await;
        let items = table(&before, "items");
        let e = compile(&d, drop("price", None), Some(items)).expect_err("refused");
        assert!(e.contains("add `down"), "{e}");
        let e = compile(&d, drop("id", None), Some(items)).expect_err("refused");
        assert!(e.contains("primary key"), "{e}");
    }
}

mod indexes {
    use super::*;

    /// create_index at expand, undone by abort; drop_index at contract,
    /// re-created by un-contract.
    #[tokio::test]
    async fn create_and_drop_online() {
        let (_db, mut d) = database(&[
            "CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(40), KEY t_b (b(8) DESC, a))",
        ])
        .await;
        let before = snapshot(&mut d).await;
        let t = table(&before, "t");
        let create = compiled(
            &d,
            Kind::CreateIndex {
                table: "t".to_owned(),
                name: "t_a".to_owned(),
                columns: vec!["a".to_owned()],
                unique: true,
            },
            t,
        );
        run_twice(&mut d, &create.expand).await;
        let s = snapshot(&mut d).await;
        assert!(table(&s, "t").indexes["t_a"].unique);
        run_twice(&mut d, &create.abort).await;
        same_schema(&before, &snapshot(&mut d).await);

        let drop = compiled(
            &d,
            Kind::DropIndex {
                table: "t".to_owned(),
                name: "t_b".to_owned(),
            },
            t,
        );
        assert!(drop.expand.is_empty());
        run_twice(&mut d, &drop.contract).await;
        assert!(!table(&snapshot(&mut d).await, "t")
            .indexes
            .contains_key("t_b"));
        run_twice(&mut d, &drop.uncontract).await;
        same_schema(&before, &snapshot(&mut d).await);

        let missing = compile(
            &d,
            Kind::DropIndex {
                table: "t".to_owned(),
                name: "nope".to_owned(),
            },
            Some(t),
        )
        .expect_err("refused");
        assert!(missing.contains("index `nope` does not exist"), "{missing}");
        let bad = compile(
            &d,
            Kind::CreateIndex {
                table: "t".to_owned(),
                name: "t_b".to_owned(),
                columns: vec!["a".to_owned()],
                unique: false,
            },
            Some(t),
        )
        .expect_err("refused");
        assert!(bad.contains("already exists"), "{bad}");
    }
}

/// raw_sql runs as written and is flagged unchecked.
#[tokio::test]
async fn raw_sql_runs_as_written_and_is_unchecked() {
    let (_db, mut d) = database(&["CREATE TABLE t (id INT PRIMARY KEY)"]).await;
    let phases = compile(
        &d,
        Kind::RawSql {
            up: expr("ALTER TABLE t ADD COLUMN x INT, ALGORITHM=INSTANT;\nINSERT INTO t (id, x) VALUES (1, 2);"),
            down: Some(expr("ALTER TABLE t DROP COLUMN x")),
            contract: None,
        },
        None,
    )
    .expect("raw_sql compiles");
    assert!(phases.unchecked);
    assert!(phases.expand[0].what.contains("unchecked"));
    assert_eq!(phases.expand[0].statements.len(), 2);
    run(&mut d, &phases.expand).await;
    assert!(table(&snapshot(&mut d).await, "t")
        .columns
        .contains_key("x"));
    assert_eq!(one(&mut d, "SELECT x FROM t").await.as_deref(), Some("2"));
    run(&mut d, &phases.abort).await;
    assert!(!table(&snapshot(&mut d).await, "t")
        .columns
        .contains_key("x"));
    let empty = compile(
        &d,
        Kind::RawSql {
            up: expr("-- nothing"),
            down: None,
            contract: None,
        },
        None,
    )
    .expect_err("refused");
    assert!(empty.contains("`up` holds no statement"), "{empty}");
}

/// add_check is refused as not online, saying what to do instead.
#[tokio::test]
async fn refuses_add_check_as_not_online() {
    let (_db, mut d) = database(&["CREATE TABLE t (id INT PRIMARY KEY, a INT)"]).await;
    let s = snapshot(&mut d).await;
    let check = compile(
        &d,
        Kind::AddCheck {
            table: "t".to_owned(),
            name: "a_positive".to_owned(),
            check: expr("a > 0"),
        },
        Some(table(&s, "t")),
    )
    .expect_err("refused");
    assert!(check.contains("ALGORITHM=COPY"), "{check}");
}

mod add_foreign_key {
    use super::*;

    fn fk() -> Kind {
        Kind::AddForeignKey {
            table: "pets".to_owned(),
            name: "pets_owner".to_owned(),
            columns: vec!["owner_id".to_owned()],
            references: "owners".to_owned(),
            referenced_columns: vec!["id".to_owned()],
            on_delete: Some("CASCADE".to_owned()),
        }
    }

    const PETS: &[&str] = &[
        "CREATE TABLE owners (id INT PRIMARY KEY)",
        "INSERT INTO owners VALUES (1)",
        "CREATE TABLE pets (id INT PRIMARY KEY, owner_id INT)",
        "INSERT INTO pets VALUES (1, 1), (2, NULL)",
    ];

    /// Added in place without validating, then validated by a query; abort
    /// drops it and the index the server made for it.
    #[tokio::test]
    async fn added_in_place_then_validated() {
        let (_db, mut d) = database(PETS).await;
        let before = snapshot(&mut d).await;
        let phases = compiled(&d, fk(), table(&before, "pets"));
        run(&mut d, &phases.expand).await;
        assert!(d.execute("INSERT INTO pets VALUES (3, 9)").await.is_err());
        let s = snapshot(&mut d).await;
        assert_eq!(
            table(&s, "pets").foreign_keys["pets_owner"].on_delete,
            "CASCADE"
        );
        run_twice(&mut d, &phases.abort).await;
        let aborted = snapshot(&mut d).await;
        same_schema(&before, &aborted);
    }

    /// An orphan row fails the validation step, which names what to do.
    #[tokio::test]
    async fn an_orphan_fails_validation() {
        let (_db, mut d) = database(PETS).await;
        exec(&mut d, "INSERT INTO pets VALUES (3, 9)").await;
        let before = snapshot(&mut d).await;
        let phases = compiled(&d, fk(), table(&before, "pets"));
        run_step(&mut d, &phases.expand[0]).await.expect("added");
        let failure = run_step(&mut d, &phases.expand[1])
            .await
            .expect_err("an orphan");
        assert!(
            failure.error.to_string().contains("no match in owners"),
            "{}",
            failure.error
        );
        run(&mut d, &phases.abort).await;
        same_schema(&before, &snapshot(&mut d).await);
    }
}

/// add_unique builds a unique index online; abort drops it.
#[tokio::test]
async fn add_unique_builds_a_unique_index() {
    let (_db, mut d) = database(&["CREATE TABLE t (id INT PRIMARY KEY, a INT)"]).await;
    let before = snapshot(&mut d).await;
    let kind = Kind::AddUnique {
        table: "t".to_owned(),
        name: "t_a".to_owned(),
        columns: vec!["a".to_owned()],
    };
    let phases = compiled(&d, kind, table(&before, "t"));
    run_twice(&mut d, &phases.expand).await;
    assert!(table(&snapshot(&mut d).await, "t").indexes["t_a"].unique);
    run_twice(&mut d, &phases.abort).await;
    same_schema(&before, &snapshot(&mut d).await);
}

mod change_column_type {
    use super::*;

    /// A VARCHAR of digits becomes an INT column: `up` and `down` convert,
    /// both versions write through each other, contract leaves the new
    /// column where the old one stood, with its index and NOT NULL.
    #[tokio::test]
    async fn converts_both_ways() {
        let (_db, mut d) = database(&[
            "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, qty VARCHAR(10) NOT NULL DEFAULT '8', \
             note TEXT, KEY orders_qty (qty))",
            "INSERT INTO orders (qty) VALUES ('1'), ('22')",
        ])
        .await;
        let before = snapshot(&mut d).await;
        let kind = Kind::ChangeColumnType {
            table: "orders".to_owned(),
            column: "qty".to_owned(),
            to: "quantity".to_owned(),
            data_type: "INT".to_owned(),
            up: expr("CAST(qty AS SIGNED)"),
            down: expr("CAST(quantity AS CHAR)"),
        };
        let phases = compiled(&d, kind, table(&before, "orders"));
        run_twice(&mut d, &phases.expand).await;
        backfill(&mut d, &phases.backfill).await;
        exec(&mut d, "INSERT INTO orders (qty) VALUES ('333')").await;
        exec(&mut d, "INSERT INTO orders (quantity) VALUES (4444)").await;
        exec(&mut d, "UPDATE orders SET qty = '5' WHERE id = 1").await;
        exec(&mut d, "UPDATE orders SET quantity = 66 WHERE id = 2").await;
        let bad = one(
            &mut d,
            "SELECT COUNT(*) FROM orders WHERE NOT (quantity <=> CAST(qty AS SIGNED))",
        )
        .await;
        assert_eq!(bad.as_deref(), Some("0"));
        assert_eq!(
            one(&mut d, "SELECT qty FROM orders WHERE quantity = 4444")
                .await
                .as_deref(),
            Some("4444")
        );

        run_twice(&mut d, &phases.contract).await;
        let contracted = snapshot(&mut d).await;
        let orders = table(&contracted, "orders");
        assert_eq!(orders.column_order, ["id", "quantity", "note"]);
        // MySQL 8.0.19+ prints no display width.
        assert!(orders.columns["quantity"].data_type.starts_with("int"));
        assert!(!orders.columns["quantity"].nullable);
        // The old default, converted by `up`: a literal of the new type.
        assert_eq!(orders.columns["quantity"].default.as_deref(), Some("8"));
        exec(&mut d, "INSERT INTO orders (note) VALUES ('defaulted')").await;
        assert_eq!(
            one(
                &mut d,
                "SELECT quantity FROM orders WHERE note = 'defaulted'"
            )
            .await
            .as_deref(),
            Some("8")
        );
        assert_eq!(orders.indexes["orders_qty"].columns, ["quantity"]);
        no_cairn_objects(&contracted);

        run_twice(&mut d, &phases.uncontract).await;
        backfill(&mut d, &phases.uncontract_backfill).await;
        exec(&mut d, "INSERT INTO orders (qty) VALUES ('7')").await;
        assert_eq!(
            one(&mut d, "SELECT quantity FROM orders WHERE qty = '7'")
                .await
                .as_deref(),
            Some("7")
        );
        run_twice(&mut d, &phases.abort).await;
        let aborted = snapshot(&mut d).await;
        same_schema(&before, &aborted);
        no_cairn_objects(&aborted);
    }
}

mod set_not_null {
    use super::*;

    /// Old code still writes NULL: the triggers rewrite it by `up`; contract
    /// makes the column NOT NULL; un-contract relaxes it again.
    #[tokio::test]
    async fn rewrites_nulls_by_up() {
        let (_db, mut d) = database(&[
            "CREATE TABLE t (id INT PRIMARY KEY, email VARCHAR(50))",
            "INSERT INTO t VALUES (1, NULL), (2, 'b@x')",
        ])
        .await;
        let before = snapshot(&mut d).await;
        let kind = Kind::SetNotNull {
            table: "t".to_owned(),
            column: "email".to_owned(),
            up: expr("CONCAT('user', id, '@unknown')"),
        };
        let phases = compiled(&d, kind, table(&before, "t"));
        run_twice(&mut d, &phases.expand).await;
        backfill(&mut d, &phases.backfill).await;
        exec(&mut d, "INSERT INTO t VALUES (3, NULL)").await;
        exec(&mut d, "UPDATE t SET email = NULL WHERE id = 2").await;
        let emails: Vec<_> = rows(&mut d, "SELECT email FROM t ORDER BY id")
            .await
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        let expected = ["user1@unknown", "user2@unknown", "user3@unknown"];
        assert_eq!(emails, expected.map(|e| Some(e.to_owned())));
        run_twice(&mut d, &phases.contract).await;
        assert!(!table(&snapshot(&mut d).await, "t").columns["email"].nullable);
        run_twice(&mut d, &phases.uncontract).await;
        exec(&mut d, "INSERT INTO t VALUES (4, NULL)").await;
        run_twice(&mut d, &phases.abort).await;
        let aborted = snapshot(&mut d).await;
        same_schema(&before, &aborted);
        no_cairn_objects(&aborted);
        let e = compile(
            &d,
            Kind::SetNotNull {
                table: "t".to_owned(),
                column: "id".to_owned(),
                up: expr("0"),
            },
            Some(table(&before, "t")),
        )
        .expect_err("refused");
        assert!(e.contains("NOT NULL already"), "{e}");
    }
}

mod rename_table {
    use super::*;

    /// The new name is an updatable view while expanded; contract swaps the
    /// names atomically; un-contract leaves a view under the old name.
    #[tokio::test]
    async fn both_names_work_through_every_phase() {
        let (_db, mut d) = database(&[
            "CREATE TABLE clients (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50))",
            "INSERT INTO clients (name) VALUES ('a')",
        ])
        .await;
        let before = snapshot(&mut d).await;
        let kind = Kind::RenameTable {
            table: "clients".to_owned(),
            to: "customers".to_owned(),
        };
        let phases = compiled(&d, kind, table(&before, "clients"));
        run_twice(&mut d, &phases.expand).await;
        exec(&mut d, "INSERT INTO customers (name) VALUES ('new')").await;
        exec(&mut d, "INSERT INTO clients (name) VALUES ('old')").await;
        exec(&mut d, "UPDATE customers SET name = 'a2' WHERE id = 1").await;
        assert_eq!(
            one(&mut d, "SELECT name FROM clients WHERE id = 1")
                .await
                .as_deref(),
            Some("a2")
        );
        assert_eq!(
            one(&mut d, "SELECT COUNT(*) FROM customers")
                .await
                .as_deref(),
            Some("3")
        );

        run_twice(&mut d, &phases.contract).await;
        let contracted = snapshot(&mut d).await;
        assert!(contracted.tables.contains_key("customers"));
        assert!(!contracted.tables.contains_key("clients"));
        assert!(contracted.views.is_empty(), "{}", contracted.to_text());

        run_twice(&mut d, &phases.uncontract).await;
        exec(&mut d, "INSERT INTO clients (name) VALUES ('old again')").await;
        assert_eq!(
            one(&mut d, "SELECT COUNT(*) FROM customers")
                .await
                .as_deref(),
            Some("4")
        );

        run_twice(&mut d, &phases.abort).await;
        let aborted = snapshot(&mut d).await;
        same_schema(&before, &aborted);
        no_cairn_objects(&aborted);
        assert_eq!(
            one(&mut d, "SELECT COUNT(*) FROM clients").await.as_deref(),
            Some("4")
        );
    }
}

//! `rename_column` on SQLite.

use super::*;

const USERS: &[&str] = &[
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, \
     email TEXT UNIQUE, age INTEGER CHECK (age >= 0), team_id INTEGER REFERENCES teams (id))",
    "CREATE TABLE teams (id INTEGER PRIMARY KEY)",
    "INSERT INTO teams VALUES (1)",
    "CREATE INDEX users_name ON users (name)",
    "CREATE INDEX users_lower ON users (lower(name) DESC) WHERE name <> 'x'",
    "CREATE VIEW user_emails AS SELECT email FROM users",
    "INSERT INTO users (name, email, age, team_id) VALUES ('ada', 'a@x', 36, 1), ('bob', 'b@x', 40, NULL), ('cy', NULL, 1, 1)",
];

fn rename(table: &str, column: &str, to: &str) -> Kind {
    Kind::RenameColumn {
        table: table.to_owned(),
        column: column.to_owned(),
        to: to.to_owned(),
    }
}

/// Old and new writers insert, update and delete; every row ends with both
/// columns equal, and each reads what the other wrote.
async fn both_versions_write(db: &mut Db, old: &str, new: &str, round: u32) {
    app(
        &mut db.old,
        &format!("INSERT INTO users ({old}, email) VALUES ('old{round}', 'o{round}@x')"),
    )
    .await;
    app(
        &mut db.new,
        &format!("INSERT INTO users ({new}, email) VALUES ('new{round}', 'n{round}@x')"),
    )
    .await;
    app(
        &mut db.old,
        &format!("UPDATE users SET {old} = 'old-upd{round}' WHERE id = 1"),
    )
    .await;
    app(
        &mut db.new,
        &format!("UPDATE users SET {new} = 'new-upd{round}' WHERE id = 2"),
    )
    .await;
    app(
        &mut db.new,
        &format!("UPDATE users SET email = 'e{round}' WHERE id = 2"),
    )
    .await;
    app(
        &mut db.old,
        &format!("INSERT INTO users ({old}, email) VALUES ('gone{round}', NULL)"),
    )
    .await;
    app(
        &mut db.new,
        &format!("DELETE FROM users WHERE {new} = 'gone{round}'"),
    )
    .await;
    let read = |column: &str, id: u32| format!("SELECT {column} FROM users WHERE id = {id}");
    assert_eq!(
        db.value(&read(new, 1)).await.as_deref(),
        Some(&*format!("old-upd{round}"))
    );
    assert_eq!(
        db.value(&read(old, 2)).await.as_deref(),
        Some(&*format!("new-upd{round}"))
    );
    assert_eq!(
        db.value(&format!(
            "SELECT {old} FROM users WHERE email = 'n{round}@x'"
        ))
        .await
        .as_deref(),
        Some(&*format!("new{round}"))
    );
    assert_eq!(
        db.value(&format!(
            "SELECT {new} FROM users WHERE email = 'o{round}@x'"
        ))
        .await
        .as_deref(),
        Some(&*format!("old{round}"))
    );
    let differ = format!("SELECT count(*) FROM users WHERE {old} IS NOT {new}");
    assert_eq!(db.value(&differ).await.as_deref(), Some("0"));
}

#[tokio::test]
async fn a_not_null_column_round_trips_through_every_phase() {
    let mut db = Db::new(USERS).await;
    let before = db.snapshot().await;
    let phases = compile(
        rename("users", "name", "full_name"),
        before.tables.get("users"),
    )
    .expect("compiles");
    assert_eq!(phases.versions.old, ["users.name"]);
    assert_eq!(phases.versions.new, ["users.full_name"]);
    assert!(
        phases.expand.iter().any(|s| s.rows_of.is_some()),
        "NOT NULL is relaxed by a rebuild"
    );

    db.run_twice(&phases.expand).await;
    db.backfill(&phases.backfill).await;
    let expanded = db.table("users").await;
    assert!(expanded.columns["name"].nullable, "old column relaxed");
    assert!(expanded.columns["full_name"].nullable);
    both_versions_write(&mut db, "name", "full_name", 1).await;
    // The backfill again finds nothing to do.
    db.backfill(&phases.backfill).await;

    db.run_twice(&phases.contract).await;
    let contracted = db.snapshot().await;
    let users = &contracted.tables["users"];
    assert_eq!(
        users.column_order,
        ["id", "full_name", "email", "age", "team_id"]
    );
    assert!(
        !users.columns["full_name"].nullable,
        "NOT NULL onto the new column"
    );
    assert_eq!(users.indexes["users_name"].columns, ["full_name"]);
    assert_eq!(
        users.indexes["users_lower"].columns,
        ["lower(full_name) DESC"]
    );
    assert_eq!(
        users.indexes["users_lower"].predicate.as_deref(),
        Some("full_name <> 'x'")
    );
    assert_eq!(users.indexes.len(), 2);
    assert_eq!(users.checks, before.tables["users"].checks);
    assert_eq!(users.foreign_keys, before.tables["users"].foreign_keys);
    assert!(contracted.views.contains_key("user_emails"));
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
    app(
        &mut db.new,
        "INSERT INTO users (full_name) VALUES ('after')",
    )
    .await;

    db.run_twice(&phases.uncontract).await;
    db.backfill(&phases.uncontract_backfill).await;
    assert_eq!(
        db.table("users").await,
        expanded,
        "un-contract restores the expanded shape"
    );
    both_versions_write(&mut db, "name", "full_name", 2).await;

    db.run_twice(&phases.abort).await;
    let aborted = db.snapshot().await;
    assert_eq!(diff(&before, &aborted), vec![], "abort restores the schema");
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
    assert_eq!(
        db.value("SELECT name FROM users WHERE id = 2")
            .await
            .as_deref(),
        Some("new-upd2"),
        "rows written by the new version survive in the old shape"
    );
    assert_eq!(
        db.value("SELECT count(*) FROM user_emails")
            .await
            .as_deref(),
        Some("8")
    );
}

#[tokio::test]
async fn a_nullable_column_is_renamed_in_place_at_contract() {
    let mut db = Db::new(&[
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT UNIQUE, email TEXT)",
        "INSERT INTO users (name, email) VALUES ('ada', 'a@x'), ('bob', 'b@x'), (NULL, 'c@x')",
    ])
    .await;
    let before = db.snapshot().await;
    let phases = compile(
        rename("users", "name", "full_name"),
        before.tables.get("users"),
    )
    .expect("compiles");
    assert!(
        phases.expand.iter().all(|s| s.rows_of.is_none()),
        "no rebuild at expand"
    );
    db.run_twice(&phases.expand).await;
    db.backfill(&phases.backfill).await;
    let expanded = db.table("users").await;
    assert_eq!(
        expanded.indexes.len(),
        1,
        "the unique constraint carried as an index"
    );
    both_versions_write(&mut db, "name", "full_name", 1).await;
    // The carried unique index holds for new writers.
    let duplicate = db
        .new
        .execute("INSERT INTO users (full_name) VALUES ('new1')")
        .await;
    assert!(duplicate.is_err(), "unique on the new column");

    db.run_twice(&phases.contract).await;
    assert!(phases
        .contract
        .iter()
        .all(|s| s.statements.iter().all(|q| !q.contains("CREATE TABLE"))));
    let users = db.table("users").await;
    assert_eq!(users.column_order, ["id", "full_name", "email"]);
    assert_eq!(
        users.unique_constraints.values().collect::<Vec<_>>(),
        [&vec!["full_name".to_owned()]]
    );
    assert!(users.indexes.is_empty());
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());

    db.run_twice(&phases.uncontract).await;
    db.backfill(&phases.uncontract_backfill).await;
    assert_eq!(db.table("users").await, expanded);
    both_versions_write(&mut db, "name", "full_name", 2).await;
    db.run_twice(&phases.abort).await;
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
}

#[tokio::test]
async fn an_expand_killed_after_any_step_is_aborted_cleanly() {
    let mut db = Db::new(USERS).await;
    let before = db.snapshot().await;
    let phases = compile(
        rename("users", "name", "full_name"),
        before.tables.get("users"),
    )
    .expect("compiles");
    for k in 0..=phases.expand.len() {
        db.run(&phases.expand[..k]).await;
        app(
            &mut db.old,
            &format!("INSERT INTO users (name) VALUES ('k{k}')"),
        )
        .await;
        db.run(&phases.abort).await;
        assert_eq!(
            diff(&before, &db.snapshot().await),
            vec![],
            "abort after {k} expand steps"
        );
        assert_eq!(
            db.cairn_objects().await,
            Vec::<String>::new(),
            "after {k} steps"
        );
        assert_eq!(
            db.value(&format!("SELECT count(*) FROM users WHERE name = 'k{k}'"))
                .await
                .as_deref(),
            Some("1")
        );
    }
}

#[tokio::test]
async fn a_contract_with_rows_the_new_column_lacks_fails_and_keeps_everything() {
    let mut db = Db::new(USERS).await;
    let before = db.snapshot().await;
    let phases = compile(
        rename("users", "name", "full_name"),
        before.tables.get("users"),
    )
    .expect("compiles");
    db.run(&phases.expand).await;
    // No backfill: the old rows have no full_name, which contract makes NOT NULL.
    let mut failed = None;
    for step in &phases.contract {
        if let Err(failure) = run_step(&mut db.cairn, step).await {
            failed = Some(failure.error.to_string());
            break;
        }
    }
    let failed = failed.expect("contract refuses NULLs in the NOT NULL column");
    assert!(failed.contains("NOT NULL"), "{failed}");
    let users = db.table("users").await;
    assert!(users.columns.contains_key("name") && users.columns.contains_key("full_name"));
    let objects = db.cairn_objects().await;
    for trigger in ["insert", "old", "new"] {
        let name = format!("cairn_20260101090500_0_{trigger}");
        assert!(objects.contains(&name), "the triggers stay: {objects:?}");
    }
}

#[tokio::test]
async fn a_table_with_its_own_trigger_is_refused_before_the_rebuild() {
    let mut db = Db::new(&[
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE audit (n TEXT)",
        "CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN INSERT INTO audit VALUES (NEW.name); END",
    ])
    .await;
    let before = db.snapshot().await;
    let phases = compile(
        rename("users", "name", "full_name"),
        before.tables.get("users"),
    )
    .expect("compiles");
    let mut steps = phases.expand.iter();
    let failure = loop {
        let step = steps.next().expect("a step refuses");
        if let Err(failure) = run_step(&mut db.cairn, step).await {
            break failure;
        }
    };
    let message = failure.error.to_string();
    assert!(
        message.contains("users_audit") && message.contains("drop it"),
        "{message}"
    );
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
}

/// A column's collation is carried to the new column, its unique index,
/// and through every rebuild.
#[tokio::test]
async fn a_column_collation_is_carried_through_every_phase() {
    let mut db = Db::new(&[
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE)",
        "INSERT INTO users (name) VALUES ('ada')",
    ])
    .await;
    let before = db.snapshot().await;
    assert_eq!(
        before.tables["users"].columns["name"].collation.as_deref(),
        Some("nocase")
    );
    let phases = compile(
        rename("users", "name", "full_name"),
        before.tables.get("users"),
    )
    .expect("compiles");
    db.run_twice(&phases.expand).await;
    db.backfill(&phases.backfill).await;
    assert_eq!(
        db.table("users").await.columns["full_name"]
            .collation
            .as_deref(),
        Some("nocase")
    );
    let duplicate = db
        .new
        .execute("INSERT INTO users (full_name) VALUES ('ADA')")
        .await;
    assert!(
        duplicate.is_err(),
        "unique without regard to case on the new column"
    );
    db.run_twice(&phases.contract).await;
    let users = db.table("users").await;
    assert_eq!(
        users.columns["full_name"].collation.as_deref(),
        Some("nocase")
    );
    assert!(!users.columns["full_name"].nullable);
    db.run_twice(&phases.uncontract).await;
    db.backfill(&phases.uncontract_backfill).await;
    db.run_twice(&phases.abort).await;
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
}

#[test]
fn what_cannot_be_renamed_is_refused_with_what_to_do() {
    let mut table = Table::default();
    let error = compile(rename("users", "name", "n"), None).expect_err("no table");
    assert!(error.contains("table `users` does not exist"), "{error}");
    let error = compile(rename("users", "name", "n"), Some(&table)).expect_err("no column");
    assert!(
        error.contains("column `users.name` does not exist"),
        "{error}"
    );
    for c in ["id", "name"] {
        table.column_order.push(c.to_owned());
        table.columns.insert(c.to_owned(), Default::default());
    }
    let error = compile(rename("users", "name", "ID"), Some(&table)).expect_err("taken");
    assert!(error.contains("`users.id` exists already"), "{error}");
    let error = compile(rename("users", "name", "n"), Some(&table)).expect_err("no key");
    assert!(error.contains("no primary key"), "{error}");
    table.primary_key = Some(cairn_core::schema::PrimaryKey {
        name: None,
        columns: vec!["id".to_owned()],
    });
    let error = compile(rename("users", "id", "n"), Some(&table)).expect_err("key column");
    assert!(error.contains("part of the primary key"), "{error}");
    table.columns.get_mut("name").unwrap().generated = Some("virtual".to_owned());
    let error = compile(rename("users", "name", "n"), Some(&table)).expect_err("generated");
    assert!(error.contains("generated"), "{error}");
}

/// Two operations of one migration compile against the same table as it
/// was before: a rebuild of the second must not drop what the first added.
#[tokio::test]
async fn a_rebuild_that_would_lose_another_operations_column_is_refused() {
    let mut db = Db::new(USERS).await;
    let before = db.snapshot().await;
    let users = before.tables.get("users");
    let rename = compile(rename("users", "name", "full_name"), users).expect("compiles");
    let add = compile(
        Kind::AddColumn {
            table: "users".to_owned(),
            column: "display".to_owned(),
            data_type: "TEXT".to_owned(),
            not_null: false,
            default: None,
            up: Some(expr("upper(name)")),
        },
        users,
    )
    .expect("compiles");
    db.run(&rename.expand).await;
    db.run(&add.expand).await;
    db.backfill(&rename.backfill).await;
    db.backfill(&add.backfill).await;
    let expanded = db.snapshot().await;
    let mut failed = None;
    for step in &rename.contract {
        if let Err(failure) = run_step(&mut db.cairn, step).await {
            failed = Some(failure.error.to_string());
            break;
        }
    }
    let failed = failed.expect("the rebuild refuses");
    assert!(
        failed.contains("column display of users would be lost"),
        "{failed}"
    );
    assert_eq!(diff(&expanded, &db.snapshot().await), vec![]);
}

#[tokio::test]
async fn a_column_other_tables_reference_is_refused_when_contract_rebuilds() {
    let mut db = Db::new(&[
        "CREATE TABLE users (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE)",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_code TEXT REFERENCES users (code))",
    ])
    .await;
    let before = db.snapshot().await;
    let phases = compile(
        rename("users", "code", "user_code"),
        before.tables.get("users"),
    )
    .expect("compiles");
    let failure = run_step(&mut db.cairn, &phases.expand[0])
        .await
        .expect_err("refused");
    let message = failure.error.to_string();
    assert!(
        message.contains("foreign key of orders references users.code"),
        "{message}"
    );
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
}

/// The triggers find rows by the primary key, so a `WITHOUT ROWID` table
/// with a composite key works too (no rebuild needed for a nullable column).
#[tokio::test]
async fn a_without_rowid_table_with_a_composite_key_is_kept_in_sync() {
    let mut db = Db::new(&[
        "CREATE TABLE memberships (team TEXT NOT NULL, member TEXT NOT NULL, role TEXT, \
         PRIMARY KEY (team, member)) WITHOUT ROWID",
        "INSERT INTO memberships VALUES ('a', 'ada', 'lead'), ('a', 'bob', NULL)",
    ])
    .await;
    let before = db.snapshot().await;
    let phases = compile(
        Kind::RenameColumn {
            table: "memberships".to_owned(),
            column: "role".to_owned(),
            to: "position".to_owned(),
        },
        before.tables.get("memberships"),
    )
    .expect("compiles");
    db.run_twice(&phases.expand).await;
    db.backfill(&phases.backfill).await;
    app(
        &mut db.old,
        "INSERT INTO memberships (team, member, role) VALUES ('b', 'cy', 'x')",
    )
    .await;
    app(
        &mut db.new,
        "INSERT INTO memberships (team, member, position) VALUES ('b', 'dee', 'y')",
    )
    .await;
    app(
        &mut db.new,
        "UPDATE memberships SET position = 'z' WHERE team = 'a' AND member = 'bob'",
    )
    .await;
    let differ = "SELECT count(*) FROM memberships WHERE role IS NOT position";
    assert_eq!(db.value(differ).await.as_deref(), Some("0"));
    db.run_twice(&phases.contract).await;
    assert_eq!(
        db.table("memberships").await.column_order,
        ["team", "member", "position"]
    );
    app(
        &mut db.new,
        "UPDATE memberships SET position = 'w' WHERE member = 'cy'",
    )
    .await;
    // Un-contract needs no rebuild either: the inverse RENAME COLUMN.
    assert!(phases
        .uncontract
        .iter()
        .all(|s| s.statements.iter().all(|q| !q.contains("CREATE TABLE"))));
    db.run_twice(&phases.uncontract).await;
    db.backfill(&phases.uncontract_backfill).await;
    assert_eq!(db.value(differ).await.as_deref(), Some("0"));
    app(
        &mut db.old,
        "UPDATE memberships SET role = 'v' WHERE member = 'ada'",
    )
    .await;
    assert_eq!(db.value(differ).await.as_deref(), Some("0"));
    db.run_twice(&phases.abort).await;
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
    assert_eq!(
        db.value("SELECT role FROM memberships WHERE member = 'cy'")
            .await
            .as_deref(),
        Some("w")
    );
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
}

//! `add_column` on SQLite.

use super::*;

fn add(not_null: bool, default: Option<&str>, up: Option<&str>) -> Kind {
    Kind::AddColumn {
        table: "users".to_owned(),
        column: "display".to_owned(),
        data_type: "TEXT".to_owned(),
        not_null,
        default: default.map(str::to_owned),
        up: up.map(expr),
    }
}

const USERS: &[&str] = &[
    "CREATE TABLE users (id INTEGER PRIMARY KEY, first TEXT NOT NULL, last TEXT NOT NULL)",
    "CREATE INDEX users_last ON users (last)",
    "INSERT INTO users (first, last) VALUES ('Ada', 'Lovelace'), ('Alan', 'Turing')",
];

#[tokio::test]
async fn a_not_null_column_filled_by_up_round_trips_through_every_phase() {
    let mut db = Db::new(USERS).await;
    let before = db.snapshot().await;
    let phases = compile(
        add(true, None, Some("first || ' ' || last")),
        before.tables.get("users"),
    )
    .expect("compiles");
    assert_eq!(phases.versions.new, ["users.display"]);
    assert!(phases.versions.old.is_empty());

    db.run_twice(&phases.expand).await;
    db.backfill(&phases.backfill).await;
    assert_eq!(
        db.value("SELECT display FROM users WHERE id = 1")
            .await
            .as_deref(),
        Some("Ada Lovelace")
    );
    app(
        &mut db.old,
        "INSERT INTO users (first, last) VALUES ('Grace', 'Hopper')",
    )
    .await;
    app(&mut db.old, "UPDATE users SET last = 'King' WHERE id = 1").await;
    app(
        &mut db.new,
        "INSERT INTO users (first, last, display) VALUES ('Kat', 'J', 'Katherine')",
    )
    .await;
    app(
        &mut db.new,
        "UPDATE users SET display = 'Dr Turing' WHERE id = 2",
    )
    .await;
    let displays = db.rows("SELECT display FROM users ORDER BY id").await;
    let displays: Vec<_> = displays
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect();
    assert_eq!(
        displays,
        ["Ada King", "Dr Turing", "Grace Hopper", "Katherine"]
    );

    db.run_twice(&phases.contract).await;
    let users = db.table("users").await;
    assert!(!users.columns["display"].nullable);
    assert_eq!(users.indexes.len(), 1, "the user's index is rebuilt");
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
    let omitted = db
        .new
        .execute("INSERT INTO users (first, last) VALUES ('x', 'y')")
        .await;
    assert!(omitted.is_err(), "NOT NULL after contract");

    db.run_twice(&phases.uncontract).await;
    db.backfill(&phases.uncontract_backfill).await;
    assert!(db.table("users").await.columns["display"].nullable);
    app(
        &mut db.old,
        "INSERT INTO users (first, last) VALUES ('Old', 'Again')",
    )
    .await;
    assert_eq!(
        db.value("SELECT display FROM users WHERE first = 'Old'")
            .await
            .as_deref(),
        Some("Old Again")
    );

    db.run_twice(&phases.abort).await;
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
    assert_eq!(
        db.value("SELECT count(*) FROM users").await.as_deref(),
        Some("5")
    );
}

#[tokio::test]
async fn a_default_is_set_at_contract_and_old_rows_get_it() {
    let mut db = Db::new(USERS).await;
    let before = db.snapshot().await;
    let phases =
        compile(add(true, Some("'none'"), None), before.tables.get("users")).expect("compiles");
    db.run_twice(&phases.expand).await;
    db.backfill(&phases.backfill).await;
    app(
        &mut db.old,
        "INSERT INTO users (first, last) VALUES ('Grace', 'Hopper')",
    )
    .await;
    db.run_twice(&phases.contract).await;
    let users = db.table("users").await;
    assert_eq!(users.columns["display"].default.as_deref(), Some("'none'"));
    app(
        &mut db.new,
        "INSERT INTO users (first, last) VALUES ('x', 'y')",
    )
    .await;
    assert_eq!(
        db.value("SELECT count(*) FROM users WHERE display = 'none'")
            .await
            .as_deref(),
        Some("4")
    );
    db.run_twice(&phases.uncontract).await;
    db.run_twice(&phases.abort).await;
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
}

#[tokio::test]
async fn a_nullable_column_without_up_needs_no_rebuild() {
    let mut db = Db::new(USERS).await;
    let before = db.snapshot().await;
    let phases = compile(add(false, None, None), before.tables.get("users")).expect("compiles");
    assert!(phases.backfill.is_empty());
    assert!(phases.contract.iter().all(|s| s.rows_of.is_none()));
    db.run_twice(&phases.expand).await;
    db.run_twice(&phases.contract).await;
    assert!(db.table("users").await.columns["display"].nullable);
    db.run_twice(&phases.uncontract).await;
    db.run_twice(&phases.abort).await;
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
}

#[test]
fn a_not_null_column_without_a_value_is_refused() {
    let mut table = Table::default();
    table.column_order.push("id".to_owned());
    table.columns.insert("id".to_owned(), Default::default());
    table.primary_key = Some(cairn_core::schema::PrimaryKey {
        name: None,
        columns: vec!["id".to_owned()],
    });
    let error = compile(add(true, None, None), Some(&table)).expect_err("refused");
    assert!(error.contains("needs `up` or `default`"), "{error}");
    let mut taken = table.clone();
    taken
        .columns
        .insert("Display".to_owned(), Default::default());
    let error = compile(add(false, None, None), Some(&taken)).expect_err("refused");
    assert!(error.contains("exists already"), "{error}");
}

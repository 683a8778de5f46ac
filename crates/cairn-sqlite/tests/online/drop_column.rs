//! `drop_column` on SQLite.

use super::*;

fn drop(column: &str, down: Option<&str>) -> Kind {
    Kind::DropColumn {
        table: "users".to_owned(),
        column: column.to_owned(),
        down: down.map(expr),
    }
}

#[tokio::test]
async fn a_constrained_not_null_column_round_trips_through_every_phase() {
    let mut db = Db::new(&[
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, \
         legacy TEXT NOT NULL CHECK (length(legacy) > 0))",
        "CREATE INDEX users_legacy ON users (legacy)",
        "CREATE INDEX users_name ON users (name)",
        "INSERT INTO users (name, legacy) VALUES ('ada', 'ADA'), ('bob', 'BOB')",
    ])
    .await;
    let before = db.snapshot().await;
    let phases = compile(
        drop("legacy", Some("upper(name)")),
        before.tables.get("users"),
    )
    .expect("compiles");
    assert_eq!(phases.versions.old, ["users.legacy"]);

    db.run_twice(&phases.expand).await;
    db.backfill(&phases.backfill).await;
    app(&mut db.new, "INSERT INTO users (name) VALUES ('cy')").await;
    app(
        &mut db.old,
        "INSERT INTO users (name, legacy) VALUES ('dee', 'D')",
    )
    .await;
    assert_eq!(
        db.value("SELECT legacy FROM users WHERE name = 'cy'")
            .await
            .as_deref(),
        Some("CY")
    );
    assert_eq!(
        db.value("SELECT legacy FROM users WHERE name = 'dee'")
            .await
            .as_deref(),
        Some("D")
    );

    db.run_twice(&phases.contract).await;
    let users = db.table("users").await;
    assert_eq!(users.column_order, ["id", "name"]);
    assert!(users.checks.is_empty());
    assert_eq!(users.indexes.keys().collect::<Vec<_>>(), ["users_name"]);
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
    app(&mut db.new, "INSERT INTO users (name) VALUES ('eve')").await;

    db.run_twice(&phases.uncontract).await;
    db.backfill(&phases.uncontract_backfill).await;
    assert_eq!(
        db.value("SELECT legacy FROM users WHERE name = 'eve'")
            .await
            .as_deref(),
        Some("EVE")
    );
    app(&mut db.new, "INSERT INTO users (name) VALUES ('fay')").await;
    assert_eq!(
        db.value("SELECT legacy FROM users WHERE name = 'fay'")
            .await
            .as_deref(),
        Some("FAY")
    );

    db.run_twice(&phases.abort).await;
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
    assert_eq!(
        db.value("SELECT count(*) FROM users WHERE legacy IS NULL")
            .await
            .as_deref(),
        Some("0")
    );
}

#[tokio::test]
async fn an_indexed_nullable_column_is_dropped_in_place() {
    let mut db = Db::new(&[
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, legacy TEXT)",
        "CREATE INDEX users_legacy ON users (name, legacy)",
        "INSERT INTO users (name, legacy) VALUES ('ada', 'x')",
    ])
    .await;
    let before = db.snapshot().await;
    let phases = compile(drop("legacy", None), before.tables.get("users")).expect("compiles");
    assert!(phases.expand.is_empty(), "nothing to add without `down`");
    db.run_twice(&phases.contract).await;
    assert!(phases
        .contract
        .iter()
        .all(|s| s.statements.iter().all(|q| !q.contains("CREATE TABLE"))));
    let users = db.table("users").await;
    assert_eq!(users.column_order, ["id", "name"]);
    assert!(users.indexes.is_empty());
    db.run_twice(&phases.uncontract).await;
    db.run_twice(&phases.abort).await;
    let after = db.snapshot().await;
    // The dropped column's values are gone (there was no `down`), its shape is back.
    assert_eq!(diff(&before, &after), vec![]);
}

#[test]
fn a_key_column_cannot_be_dropped() {
    let mut table = Table::default();
    table.column_order.push("id".to_owned());
    table.columns.insert("id".to_owned(), Default::default());
    table.primary_key = Some(cairn_core::schema::PrimaryKey {
        name: None,
        columns: vec!["id".to_owned()],
    });
    let error = compile(drop("id", None), Some(&table)).expect_err("refused");
    assert!(error.contains("part of the primary key"), "{error}");
}

#[tokio::test]
async fn down_and_not_the_default_fills_new_writers_rows() {
    let mut db = Db::new(&[
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, legacy TEXT NOT NULL DEFAULT 'none')",
        "INSERT INTO users (name, legacy) VALUES ('ada', 'A')",
    ])
    .await;
    let before = db.snapshot().await;
    let phases = compile(
        drop("legacy", Some("upper(name)")),
        before.tables.get("users"),
    )
    .expect("compiles");
    db.run_twice(&phases.expand).await;
    app(&mut db.new, "INSERT INTO users (name) VALUES ('bob')").await;
    assert_eq!(
        db.value("SELECT legacy FROM users WHERE name = 'bob'")
            .await
            .as_deref(),
        Some("BOB")
    );
    db.run_twice(&phases.abort).await;
    assert_eq!(
        diff(&before, &db.snapshot().await),
        vec![],
        "the default and NOT NULL are back"
    );
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
}

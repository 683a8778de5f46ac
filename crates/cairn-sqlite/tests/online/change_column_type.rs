//! `change_column_type` on SQLite.

use super::*;

#[tokio::test]
async fn a_text_column_becomes_an_integer_one_through_every_phase() {
    let mut db = Db::new(&[
        "CREATE TABLE users (id INTEGER PRIMARY KEY, age TEXT NOT NULL DEFAULT '0', name TEXT)",
        "CREATE INDEX users_age ON users (age)",
        "INSERT INTO users (age, name) VALUES ('36', 'ada'), ('40', 'bob')",
    ])
    .await;
    // Cairn's own connection with recursive triggers on, too.
    db.cairn
        .execute("PRAGMA recursive_triggers = ON")
        .await
        .expect("pragma");
    let before = db.snapshot().await;
    let kind = Kind::ChangeColumnType {
        table: "users".to_owned(),
        column: "age".to_owned(),
        to: "age_years".to_owned(),
        data_type: "INTEGER".to_owned(),
        up: expr("CAST(age AS INTEGER)"),
        down: expr("CAST(age_years AS TEXT)"),
    };
    let phases = compile(kind, before.tables.get("users")).expect("compiles");
    db.run_twice(&phases.expand).await;
    db.backfill(&phases.backfill).await;
    app(
        &mut db.old,
        "INSERT INTO users (age, name) VALUES ('7', 'cy')",
    )
    .await;
    app(
        &mut db.new,
        "INSERT INTO users (age_years, name) VALUES (8, 'dee')",
    )
    .await;
    app(&mut db.old, "UPDATE users SET age = '37' WHERE id = 1").await;
    app(&mut db.new, "UPDATE users SET age_years = 41 WHERE id = 2").await;
    let differ = "SELECT count(*) FROM users WHERE age_years IS NOT CAST(age AS INTEGER)";
    assert_eq!(db.value(differ).await.as_deref(), Some("0"));
    assert_eq!(
        db.value("SELECT age FROM users WHERE name = 'dee'")
            .await
            .as_deref(),
        Some("8")
    );
    assert_eq!(
        db.value("SELECT typeof(age_years) FROM users WHERE id = 1")
            .await
            .as_deref(),
        Some("integer")
    );

    db.run_twice(&phases.contract).await;
    let users = db.table("users").await;
    assert_eq!(users.column_order, ["id", "age_years", "name"]);
    assert_eq!(users.columns["age_years"].data_type, "integer");
    assert!(!users.columns["age_years"].nullable);
    assert_eq!(users.indexes["users_age"].columns, ["age_years"]);
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());

    db.run_twice(&phases.uncontract).await;
    db.backfill(&phases.uncontract_backfill).await;
    app(
        &mut db.old,
        "INSERT INTO users (age, name) VALUES ('9', 'eve')",
    )
    .await;
    assert_eq!(
        db.value("SELECT age_years FROM users WHERE name = 'eve'")
            .await
            .as_deref(),
        Some("9")
    );
    assert_eq!(
        db.value("SELECT age FROM users WHERE id = 2")
            .await
            .as_deref(),
        Some("41")
    );

    db.run_twice(&phases.abort).await;
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
}

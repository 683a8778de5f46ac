//! `set_not_null` on SQLite.

use super::*;

#[tokio::test]
async fn old_writers_nulls_are_rewritten_until_contract_makes_it_not_null() {
    let mut db = Db::new(&[
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT)",
        "CREATE INDEX users_email ON users (email)",
        "INSERT INTO users (name, email) VALUES ('ada', NULL), ('bob', 'b@x')",
    ])
    .await;
    let before = db.snapshot().await;
    let kind = Kind::SetNotNull {
        table: "users".to_owned(),
        column: "email".to_owned(),
        up: expr("name || '@unknown'"),
    };
    let phases = compile(kind, before.tables.get("users")).expect("compiles");
    db.run_twice(&phases.expand).await;
    db.backfill(&phases.backfill).await;
    app(&mut db.old, "INSERT INTO users (name) VALUES ('cy')").await;
    app(&mut db.old, "UPDATE users SET email = NULL WHERE id = 2").await;
    let nulls = "SELECT count(*) FROM users WHERE email IS NULL";
    assert_eq!(db.value(nulls).await.as_deref(), Some("0"));
    assert_eq!(
        db.value("SELECT email FROM users WHERE id = 2")
            .await
            .as_deref(),
        Some("bob@unknown")
    );
    db.run_twice(&phases.contract).await;
    let users = db.table("users").await;
    assert!(!users.columns["email"].nullable);
    assert_eq!(users.indexes.len(), 1);
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
    db.run_twice(&phases.uncontract).await;
    app(&mut db.old, "INSERT INTO users (name) VALUES ('dee')").await;
    assert_eq!(db.value(nulls).await.as_deref(), Some("0"));
    db.run_twice(&phases.abort).await;
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
}

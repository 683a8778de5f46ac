//! `rename_table` on SQLite.

use super::*;

#[tokio::test]
async fn old_code_keeps_writing_through_a_view_under_the_old_name() {
    let mut db = Db::new(&[
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, \
         active INTEGER NOT NULL DEFAULT 1)",
        "CREATE INDEX users_name ON users (name)",
        "INSERT INTO users (name) VALUES ('ada'), ('bob')",
    ])
    .await;
    let before = db.snapshot().await;
    let kind = Kind::RenameTable {
        table: "users".to_owned(),
        to: "accounts".to_owned(),
    };
    let phases = compile(kind, before.tables.get("users")).expect("compiles");
    assert_eq!(phases.versions.old, ["users"]);
    assert_eq!(phases.versions.new, ["accounts"]);
    db.run_twice(&phases.expand).await;
    app(&mut db.old, "INSERT INTO users (name) VALUES ('cy')").await;
    app(&mut db.old, "UPDATE users SET name = 'ada2' WHERE id = 1").await;
    app(&mut db.old, "DELETE FROM users WHERE id = 2").await;
    app(&mut db.new, "INSERT INTO accounts (name) VALUES ('dee')").await;
    let names = db
        .rows("SELECT name, active FROM accounts ORDER BY id")
        .await;
    assert_eq!(names.len(), 3);
    assert_eq!(names[0][0].as_deref(), Some("ada2"));
    assert_eq!(
        names[1][1].as_deref(),
        Some("1"),
        "the default for old code's insert"
    );
    assert_eq!(
        db.value("SELECT count(*) FROM users").await.as_deref(),
        Some("3")
    );

    db.run_twice(&phases.contract).await;
    let after = db.snapshot().await;
    assert!(after.views.is_empty() && after.tables.contains_key("accounts"));
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
    db.run_twice(&phases.uncontract).await;
    app(&mut db.old, "INSERT INTO users (name) VALUES ('eve')").await;
    db.run_twice(&phases.abort).await;
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
    assert_eq!(db.cairn_objects().await, Vec::<String>::new());
    assert_eq!(
        db.value("SELECT count(*) FROM users").await.as_deref(),
        Some("4")
    );
}

//! `add_check` and `add_foreign_key` on SQLite: a rebuild whose copy checks
//! every row.

use super::*;

const TABLES: &[&str] = &[
    "CREATE TABLE teams (id INTEGER PRIMARY KEY)",
    "INSERT INTO teams VALUES (1), (2)",
    "CREATE TABLE users (id INTEGER PRIMARY KEY, age INTEGER, team_id INTEGER)",
    "CREATE INDEX users_team ON users (team_id)",
    "INSERT INTO users (age, team_id) VALUES (30, 1), (40, 2)",
];

fn check() -> Kind {
    Kind::AddCheck {
        table: "users".to_owned(),
        name: "age_positive".to_owned(),
        check: expr("age > 0"),
    }
}

fn foreign_key() -> Kind {
    Kind::AddForeignKey {
        table: "users".to_owned(),
        name: "users_team_fk".to_owned(),
        columns: vec!["team_id".to_owned()],
        references: "teams".to_owned(),
        referenced_columns: vec!["id".to_owned()],
        on_delete: Some("cascade".to_owned()),
    }
}

#[tokio::test]
async fn a_check_and_a_foreign_key_are_added_and_aborted() {
    let mut db = Db::new(TABLES).await;
    let before = db.snapshot().await;
    for kind in [check(), foreign_key()] {
        let phases = compile(kind, before.tables.get("users")).expect("compiles");
        db.run_twice(&phases.expand).await;
        db.run_twice(&phases.contract).await;
        let users = db.table("users").await;
        assert_eq!(users.indexes.len(), 1, "indexes rebuilt");
        assert_eq!(users.checks.len() + users.foreign_keys.len(), 1);
        db.run_twice(&phases.uncontract).await;
        db.run_twice(&phases.abort).await;
        assert_eq!(diff(&before, &db.snapshot().await), vec![]);
        assert_eq!(db.cairn_objects().await, Vec::<String>::new());
    }
    let phases = compile(check(), before.tables.get("users")).expect("compiles");
    db.run(&phases.expand).await;
    let refused = db.old.execute("INSERT INTO users (age) VALUES (-1)").await;
    assert!(refused.is_err(), "the check holds");
}

#[tokio::test]
async fn rows_that_break_the_constraint_fail_the_rebuild_and_keep_the_table() {
    let mut db = Db::new(TABLES).await;
    app(
        &mut db.old,
        "INSERT INTO users (age, team_id) VALUES (-5, 9)",
    )
    .await;
    let before = db.snapshot().await;
    for (kind, error) in [(check(), "CHECK"), (foreign_key(), "foreign_key_check")] {
        let phases = compile(kind, before.tables.get("users")).expect("compiles");
        let mut failed = None;
        for step in &phases.expand {
            if let Err(failure) = run_step(&mut db.cairn, step).await {
                failed = Some(failure.error.to_string());
                break;
            }
        }
        let failed = failed.expect("the rebuild refuses the bad row");
        assert!(failed.contains(error), "{failed}");
        db.cairn
            .execute("PRAGMA foreign_keys = ON")
            .await
            .expect("pragma");
        assert_eq!(diff(&before, &db.snapshot().await), vec![]);
        assert_eq!(
            db.value("SELECT count(*) FROM users").await.as_deref(),
            Some("3")
        );
    }
}

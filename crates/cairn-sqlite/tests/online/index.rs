//! `create_index`, `add_unique` and `drop_index` on SQLite.

use super::*;

const USERS: &[&str] = &[
    "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT)",
    "CREATE INDEX users_name ON users (name)",
    "INSERT INTO users (email, name) VALUES ('a@x', 'ada'), ('b@x', 'bob')",
];

fn create(name: &str, columns: &[&str], unique: bool) -> Kind {
    Kind::CreateIndex {
        table: "users".to_owned(),
        name: name.to_owned(),
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        unique,
    }
}

#[tokio::test]
async fn create_index_and_add_unique_are_built_and_aborted() {
    let mut db = Db::new(USERS).await;
    let before = db.snapshot().await;
    for kind in [
        create("users_email_name", &["email", "name"], false),
        Kind::AddUnique {
            table: "users".to_owned(),
            name: "users_email".to_owned(),
            columns: vec!["email".to_owned()],
        },
    ] {
        let phases = compile(kind, before.tables.get("users")).expect("compiles");
        assert!(
            phases.expand[0].rows_of.is_some(),
            "the build's row count is announced"
        );
        db.run_twice(&phases.expand).await;
        db.run_twice(&phases.contract).await;
        assert_eq!(db.table("users").await.indexes.len(), 2);
        db.run_twice(&phases.uncontract).await;
        db.run_twice(&phases.abort).await;
        assert_eq!(diff(&before, &db.snapshot().await), vec![]);
    }
}

#[tokio::test]
async fn a_unique_index_over_duplicates_fails_and_leaves_nothing() {
    let mut db = Db::new(USERS).await;
    app(&mut db.old, "INSERT INTO users (email) VALUES ('a@x')").await;
    let before = db.snapshot().await;
    let phases = compile(
        create("users_email", &["email"], true),
        before.tables.get("users"),
    )
    .expect("compiles");
    let failure = run_step(&mut db.cairn, &phases.expand[0])
        .await
        .expect_err("duplicates");
    assert!(
        failure.error.to_string().contains("UNIQUE"),
        "{}",
        failure.error
    );
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
    app(&mut db.old, "DELETE FROM users WHERE id = 3").await;
    db.run(&phases.expand).await;
    assert!(db.table("users").await.indexes["users_email"].unique);
}

#[tokio::test]
async fn drop_index_drops_at_contract_and_un_contract_builds_it_again() {
    let mut db = Db::new(USERS).await;
    let before = db.snapshot().await;
    let kind = Kind::DropIndex {
        table: "users".to_owned(),
        name: "users_name".to_owned(),
    };
    let phases = compile(kind, before.tables.get("users")).expect("compiles");
    db.run_twice(&phases.expand).await;
    assert_eq!(
        diff(&before, &db.snapshot().await),
        vec![],
        "old code keeps the index while expanded"
    );
    db.run_twice(&phases.contract).await;
    assert!(db.table("users").await.indexes.is_empty());
    db.run_twice(&phases.uncontract).await;
    db.run_twice(&phases.abort).await;
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
}

#[test]
fn unknown_indexes_and_columns_are_refused() {
    let mut table = Table::default();
    table.column_order.push("id".to_owned());
    table.columns.insert("id".to_owned(), Default::default());
    let error = compile(create("i", &["nope"], false), Some(&table)).expect_err("no column");
    assert!(error.contains("`users.nope` does not exist"), "{error}");
    let error = compile(create("i", &[], false), Some(&table)).expect_err("no columns");
    assert!(error.contains("`columns` is empty"), "{error}");
    table.indexes.insert("i".to_owned(), Default::default());
    let error = compile(create("i", &["id"], false), Some(&table)).expect_err("taken");
    assert!(error.contains("exists already"), "{error}");
    let kind = Kind::DropIndex {
        table: "users".to_owned(),
        name: "j".to_owned(),
    };
    let error = compile(kind, Some(&table)).expect_err("no index");
    assert!(
        error.contains("`j` does not exist") && error.contains("(it has i)"),
        "{error}"
    );
}

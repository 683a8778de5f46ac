//! What SQLite refuses online, each with what to do instead.

use super::*;

fn users() -> Table {
    let mut table = Table::default();
    for (c, nullable) in [("id", false), ("name", false), ("email", true)] {
        table.column_order.push(c.to_owned());
        table.columns.insert(
            c.to_owned(),
            cairn_core::schema::Column {
                data_type: "text".to_owned(),
                nullable,
                ..Default::default()
            },
        );
    }
    table.primary_key = Some(cairn_core::schema::PrimaryKey {
        name: None,
        columns: vec!["id".to_owned()],
    });
    table
        .checks
        .insert("email_at".to_owned(), "email LIKE '%@%'".to_owned());
    table.foreign_keys.insert(
        "(email) references emails (address)".to_owned(),
        cairn_core::schema::ForeignKey {
            columns: vec!["email".to_owned()],
            referenced_table: "emails".to_owned(),
            referenced_columns: vec!["address".to_owned()],
            on_delete: "NO ACTION".to_owned(),
            on_update: "NO ACTION".to_owned(),
            name: Some("users_email_fk".to_owned()),
        },
    );
    table
}

#[test]
fn operations_that_cannot_be_right_are_refused_with_what_to_do() {
    let table = users();
    let s = |v: &str| v.to_owned();
    let cases: Vec<(Kind, &str)> = vec![
        (
            Kind::ChangeColumnType {
                table: s("users"),
                column: s("email"),
                to: s("email2"),
                data_type: s(" "),
                up: expr("email"),
                down: expr("email2"),
            },
            "`type` is empty",
        ),
        (
            Kind::AddColumn {
                table: s("users"),
                column: s("c"),
                data_type: s(""),
                not_null: false,
                default: None,
                up: None,
            },
            "`type` is empty",
        ),
        (
            Kind::SetNotNull {
                table: s("users"),
                column: s("name"),
                up: expr("'x'"),
            },
            "NOT NULL already",
        ),
        (
            Kind::RenameTable {
                table: s("users"),
                to: s("Users"),
            },
            "`to` is `users` already",
        ),
        (
            Kind::AddCheck {
                table: s("users"),
                name: s("email_at"),
                check: expr("true"),
            },
            "check `email_at` exists already",
        ),
        (
            Kind::AddForeignKey {
                table: s("users"),
                name: s("users_email_fk"),
                columns: vec![s("email")],
                references: s("emails"),
                referenced_columns: vec![s("address")],
                on_delete: None,
            },
            "foreign key `users_email_fk` exists already",
        ),
        (
            Kind::AddForeignKey {
                table: s("users"),
                name: s("fk"),
                columns: Vec::new(),
                references: s("emails"),
                referenced_columns: Vec::new(),
                on_delete: None,
            },
            "`columns` is empty",
        ),
        (
            Kind::AddForeignKey {
                table: s("users"),
                name: s("fk"),
                columns: vec![s("nope")],
                references: s("emails"),
                referenced_columns: Vec::new(),
                on_delete: None,
            },
            "`users.nope` does not exist",
        ),
    ];
    for (kind, expected) in cases {
        let name = kind.name();
        let error = compile(kind, Some(&table)).expect_err(name);
        assert!(error.contains(expected), "{name}: {error}");
    }
}

async fn first_failure(db: &mut Db, steps: &[Step]) -> String {
    for step in steps {
        if let Err(failure) = run_step(&mut db.cairn, step).await {
            return failure.error.to_string();
        }
    }
    panic!("no step failed")
}

#[tokio::test]
async fn a_rebuild_refuses_what_it_would_lose() {
    for (setup, expected) in [
        (
            "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)",
            "AUTOINCREMENT, WITHOUT ROWID or STRICT",
        ),
        (
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT",
            "AUTOINCREMENT, WITHOUT ROWID or STRICT",
        ),
    ] {
        let mut db = Db::new(&[setup]).await;
        let before = db.snapshot().await;
        let kind = Kind::RenameColumn {
            table: "users".to_owned(),
            column: "name".to_owned(),
            to: "full_name".to_owned(),
        };
        let phases = compile(kind, before.tables.get("users")).expect("compiles");
        let failed = first_failure(&mut db, &phases.expand).await;
        assert!(
            failed.contains(expected) && failed.contains("raw_sql"),
            "{failed}"
        );
        assert_eq!(diff(&before, &db.snapshot().await), vec![]);
    }
}

#[tokio::test]
async fn a_rebuild_refuses_an_index_it_was_compiled_without() {
    let mut db = Db::new(&["CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)"]).await;
    let before = db.snapshot().await;
    let kind = Kind::SetNotNull {
        table: "users".to_owned(),
        column: "email".to_owned(),
        up: expr("'none'"),
    };
    let phases = compile(kind, before.tables.get("users")).expect("compiles");
    db.run(&phases.expand).await;
    db.cairn
        .execute("CREATE INDEX users_email_late ON users (email)")
        .await
        .expect("an index made meanwhile");
    let failed = first_failure(&mut db, &phases.contract).await;
    assert!(
        failed.contains("index users_email_late of users would be lost"),
        "{failed}"
    );
    assert!(db
        .table("users")
        .await
        .indexes
        .contains_key("users_email_late"));
}

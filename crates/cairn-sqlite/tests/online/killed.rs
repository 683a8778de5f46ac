//! An expand killed after any of its steps is undone by abort, for every
//! operation: the schema is the one before, nothing of Cairn's is left, and
//! the rows written meanwhile by old code are there.

use super::*;

fn s(v: &str) -> String {
    v.to_owned()
}

fn operations() -> Vec<Kind> {
    vec![
        Kind::ChangeColumnType {
            table: s("users"),
            column: s("age"),
            to: s("age_years"),
            data_type: s("INTEGER"),
            up: expr("CAST(age AS INTEGER)"),
            down: expr("CAST(age_years AS TEXT)"),
        },
        Kind::AddColumn {
            table: s("users"),
            column: s("display"),
            data_type: s("TEXT"),
            not_null: true,
            default: None,
            up: Some(expr("upper(name)")),
        },
        Kind::DropColumn {
            table: s("users"),
            column: s("nick"),
            down: Some(expr("lower(name)")),
        },
        Kind::SetNotNull {
            table: s("users"),
            column: s("email"),
            up: expr("name || '@x'"),
        },
        Kind::AddCheck {
            table: s("users"),
            name: s("name_long"),
            check: expr("length(name) > 0"),
        },
        Kind::CreateIndex {
            table: s("users"),
            name: s("users_email"),
            columns: vec![s("email")],
            unique: false,
        },
        Kind::RenameTable {
            table: s("users"),
            to: s("people"),
        },
    ]
}

#[tokio::test]
async fn every_operation_aborts_from_any_point_of_its_expand() {
    for kind in operations() {
        let operation = kind.name();
        let mut db = Db::new(&[
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, \
             age TEXT NOT NULL, email TEXT, nick TEXT NOT NULL)",
            "CREATE INDEX users_age ON users (age)",
            "INSERT INTO users (name, age, nick) VALUES ('ada', '36', 'a'), ('bob', '40', 'b')",
        ])
        .await;
        let before = db.snapshot().await;
        let phases = compile(kind, before.tables.get("users")).expect(operation);
        for k in 0..=phases.expand.len() {
            db.run(&phases.expand[..k]).await;
            app(
                &mut db.old,
                &format!("INSERT INTO users (name, age, nick) VALUES ('k{k}', '{k}', 'n')"),
            )
            .await;
            db.run(&phases.abort).await;
            let after = db.snapshot().await;
            assert_eq!(
                diff(&before, &after),
                vec![],
                "{operation}: abort after {k} steps"
            );
            assert_eq!(
                db.cairn_objects().await,
                Vec::<String>::new(),
                "{operation}: {k}"
            );
            let written = format!("SELECT count(*) FROM users WHERE name = 'k{k}'");
            assert_eq!(
                db.value(&written).await.as_deref(),
                Some("1"),
                "{operation}: {k}"
            );
        }
    }
}

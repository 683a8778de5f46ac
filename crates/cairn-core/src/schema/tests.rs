//! Unit tests for the snapshot model, its text rendering and `diff`.

use super::*;

fn users() -> Table {
    let mut table = Table::default();
    for (name, data_type, nullable, default) in [
        ("id", "integer", false, None),
        ("email", "text", true, None),
        ("name", "text", false, Some("'x'")),
    ] {
        table.column_order.push(name.to_owned());
        table.columns.insert(
            name.to_owned(),
            Column {
                data_type: data_type.to_owned(),
                nullable,
                default: default.map(str::to_owned),
                ..Column::default()
            },
        );
    }
    table.primary_key = Some(PrimaryKey {
        name: Some("users_pkey".to_owned()),
        columns: vec!["id".to_owned()],
    });
    table.indexes.insert(
        "users_email".to_owned(),
        Index {
            columns: vec!["email".to_owned(), "name desc".to_owned()],
            unique: true,
            predicate: Some("email IS NOT NULL".to_owned()),
            method: None,
            key_options: Vec::new(),
        },
    );
    table
        .checks
        .insert("name_len".to_owned(), "length(name) < 10".to_owned());
    table
}

fn snapshot() -> Snapshot {
    let mut snapshot = Snapshot::new(Engine::Postgres);
    snapshot.tables.insert("users".to_owned(), users());
    let mut orders = Table::default();
    orders.column_order.push("user_id".to_owned());
    orders.columns.insert(
        "user_id".to_owned(),
        Column {
            data_type: "integer".to_owned(),
            ..Column::default()
        },
    );
    orders.foreign_keys.insert(
        "orders_user".to_owned(),
        ForeignKey {
            columns: vec!["user_id".to_owned()],
            referenced_table: "users".to_owned(),
            referenced_columns: vec!["id".to_owned()],
            on_delete: "CASCADE".to_owned(),
            on_update: "NO ACTION".to_owned(),
            name: None,
        },
    );
    snapshot.tables.insert("orders".to_owned(), orders);
    snapshot.views.insert(
        "names".to_owned(),
        View {
            materialized: false,
            definition: "SELECT name FROM users".to_owned(),
        },
    );
    snapshot.triggers.insert(
        "touch".to_owned(),
        Trigger {
            name: "touch".to_owned(),
            table: "users".to_owned(),
            timing: "BEFORE".to_owned(),
            events: vec!["INSERT".to_owned(), "UPDATE".to_owned()],
            definition: "EXECUTE FUNCTION touch()".to_owned(),
        },
    );
    snapshot.enums.insert(
        "mood".to_owned(),
        vec!["sad".to_owned(), "it's ok".to_owned()],
    );
    snapshot
}

fn messages(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    diff(before, after)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn schema_equal_snapshots_have_no_difference() {
    assert_eq!(diff(&snapshot(), &snapshot()), Vec::new());
}

#[test]
fn schema_diff_reports_a_changed_default_with_both_values() {
    let before = snapshot();
    let mut after = snapshot();
    let users = after.tables.get_mut("users").expect("users");
    users.columns.get_mut("email").expect("email").default = Some("'x'".to_owned());
    let differences = diff(&before, &after);
    assert_eq!(
        differences,
        vec![Difference {
            path: vec![
                (ObjectKind::Table, "users".to_owned()),
                (ObjectKind::Column, "email".to_owned())
            ],
            change: Change::Changed {
                attribute: "default".to_owned(),
                before: "NULL".to_owned(),
                after: "'x'".to_owned()
            }
        }]
    );
    assert_eq!(
        differences[0].to_string(),
        "table `users`: column `email` default changed from `NULL` to `'x'`"
    );
}

#[test]
fn schema_diff_reports_added_and_removed_objects() {
    let before = snapshot();
    let mut after = snapshot();
    let users = after.tables.get_mut("users").expect("users");
    users.indexes.clear();
    users.column_order.push("age".to_owned());
    users.columns.insert(
        "age".to_owned(),
        Column {
            data_type: "integer".to_owned(),
            nullable: true,
            ..Column::default()
        },
    );
    after.views.clear();
    after.tables.remove("orders");
    after.triggers.get_mut("touch").expect("touch").events.pop();
    assert_eq!(
        messages(&before, &after),
        vec![
            "table `orders` removed (was: (user_id integer not null))",
            "table `users`: column `age` added: integer null",
            "table `users`: index `users_email` removed (was: unique (email, name desc) where email IS NOT NULL)",
            "view `names` removed (was: as SELECT name FROM users)",
            "trigger `touch` events changed from `INSERT or UPDATE` to `INSERT`",
        ]
    );
    // And the other way round.
    let back = messages(&after, &before);
    assert!(
        back.contains(&"table `orders` added: (user_id integer not null)".to_owned()),
        "{back:?}"
    );
    assert!(
        back.contains(&"table `users`: column `age` removed (was: integer null)".to_owned()),
        "{back:?}"
    );
}

#[test]
fn schema_diff_reports_a_renamed_index_and_column_order() {
    let before = snapshot();
    let mut after = snapshot();
    let users = after.tables.get_mut("users").expect("users");
    let index = users.indexes.remove("users_email").expect("index");
    users.indexes.insert("users_email_2".to_owned(), index);
    users.column_order.swap(1, 2);
    let fk = after
        .tables
        .get_mut("orders")
        .and_then(|t| t.foreign_keys.get_mut("orders_user"))
        .expect("fk");
    fk.on_delete = "RESTRICT".to_owned();
    assert_eq!(
        messages(&before, &after),
        vec![
            "table `orders`: foreign key `orders_user` on delete changed from `CASCADE` to `RESTRICT`",
            "table `users`: column order changed from `id, email, name` to `id, name, email`",
            "table `users`: index `users_email` removed (was: unique (email, name desc) where email IS NOT NULL)",
            "table `users`: index `users_email_2` added: unique (email, name desc) where email IS NOT NULL",
        ]
    );
}

#[test]
fn schema_text_is_stable_and_readable() {
    let text = snapshot().to_text();
    assert_eq!(text, snapshot().to_text());
    assert_eq!(
        text,
        "-- postgres schema\n\
         enum mood ('sad', 'it''s ok')\n\
         table orders\n\
         \x20 column user_id integer not null\n\
         \x20 foreign key orders_user (user_id) references users (id) on delete CASCADE on update NO ACTION\n\
         table users\n\
         \x20 column id integer not null\n\
         \x20 column email text null\n\
         \x20 column name text not null default 'x'\n\
         \x20 primary key users_pkey (id)\n\
         \x20 index users_email unique (email, name desc) where email IS NOT NULL\n\
         \x20 check name_len length(name) < 10\n\
         view names as SELECT name FROM users\n\
         trigger touch BEFORE INSERT or UPDATE on users: EXECUTE FUNCTION touch()\n"
    );
}

#[test]
fn schema_sql_text_is_normalised() {
    assert_eq!(
        normalize_sql("  SELECT  a,\n\tb FROM t WHERE c = 'x  y' ;\n"),
        "SELECT a, b FROM t WHERE c = 'x  y'"
    );
    assert_eq!(normalize_default(Some("NULL".to_owned())), None);
    assert_eq!(
        normalize_default(Some("'a'".to_owned())),
        Some("'a'".to_owned())
    );
}

#[test]
fn schema_history_tables_are_excluded() {
    let options = IntrospectOptions {
        history_table: "my_history".to_owned(),
        history_schema: Some("cairn".to_owned()),
    };
    for table in [
        "my_history",
        "my_history_log",
        "my_history_shape",
        "cairn_history",
        "cairn_history_log",
        "cairn_history_shape",
    ] {
        assert!(options.is_excluded(table), "{table}");
    }
    assert!(options.is_excluded("cairn.my_history"));
    assert!(!options.is_excluded("app.my_history"));
    assert!(!options.is_excluded("users"));
}

#[test]
fn schemas_column_order_reads_once_and_can_be_ignored() {
    let before = snapshot();
    let mut after = before.clone();
    after
        .tables
        .get_mut("users")
        .unwrap()
        .column_order
        .swap(1, 2);
    let differences = diff(&before, &after);
    assert_eq!(differences.len(), 1);
    assert_eq!(
        differences[0].to_string(),
        "table `users`: column order changed from `id, email, name` to `id, name, email`"
    );
    let ignoring = DiffOptions {
        ignore_column_order: true,
    };
    assert!(diff_with(&before, &after, &ignoring).is_empty());
}

#[test]
fn verify_a_changed_view_is_shown_as_a_line_diff() {
    let before = snapshot();
    let mut after = before.clone();
    after.views.get_mut("names").unwrap().definition =
        "SELECT name, email FROM users WHERE email IS NOT NULL".to_owned();
    let differences = diff(&before, &after);
    assert_eq!(differences.len(), 1);
    insta::assert_snapshot!(differences[0].to_string(), @r"
    view `names` definition changed:
      - SELECT name
      + SELECT name,
      + email
      + WHERE email IS NOT NULL
    ");
}

#[test]
fn verify_a_changed_function_is_shown_by_its_lines() {
    let mut before = Snapshot::new(Engine::Postgres);
    before.functions.insert(
        "f()".to_owned(),
        "CREATE FUNCTION f()\n RETURNS integer\nAS $$\n  SELECT 1\n$$".to_owned(),
    );
    let mut after = before.clone();
    after.functions.insert(
        "f()".to_owned(),
        "CREATE FUNCTION f()\n RETURNS integer\nAS $$\n  SELECT 2\n$$".to_owned(),
    );
    let text = diff(&before, &after)[0].to_string();
    assert_eq!(
        text,
        "function `f()` definition changed:\n  -   SELECT 1\n  +   SELECT 2"
    );
}

#[test]
fn verify_line_diff_keeps_order_and_leaves_out_common_lines() {
    let lines = |t: &str| t.split(' ').map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        line_diff(&lines("a b c d"), &lines("a x c d e")),
        ["- b", "+ x", "+ e"]
    );
    assert!(line_diff(&lines("a b"), &lines("a b")).is_empty());
    assert_eq!(line_diff(&[], &lines("a")), ["+ a"]);
}

#[test]
fn schemas_and_extensions_are_objects_with_qualified_names() {
    let mut s = Snapshot::new(Engine::Postgres);
    s.schemas.insert("app".to_owned());
    s.extensions
        .insert("pg_trgm".to_owned(), "public".to_owned());
    let mut users = users();
    users.indexes.insert(
        "users_name_trgm".to_owned(),
        Index {
            columns: vec!["name".to_owned()],
            method: Some("gin".to_owned()),
            key_options: vec!["gin_trgm_ops".to_owned()],
            ..Index::default()
        },
    );
    users.indexes.insert(
        "users_email_pattern".to_owned(),
        Index {
            columns: vec!["email desc".to_owned()],
            key_options: vec!["collate \"C\" text_pattern_ops".to_owned()],
            ..Index::default()
        },
    );
    s.tables.insert("app.users".to_owned(), users);
    let text = s.to_text();
    assert!(text.contains("schema app\n"), "{text}");
    assert!(text.contains("extension pg_trgm in public\n"), "{text}");
    assert!(text.contains("table app.users\n"), "{text}");
    assert!(
        text.contains("index users_email_pattern (email collate \"C\" text_pattern_ops desc)"),
        "{text}"
    );
    let sql = s.to_sql();
    assert!(sql.contains("CREATE SCHEMA app;"), "{sql}");
    assert!(
        sql.contains("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;"),
        "{sql}"
    );
    assert!(sql.contains("CREATE TABLE app.users ("), "{sql}");
    assert!(
        sql.contains("CREATE INDEX users_name_trgm ON app.users USING gin (name gin_trgm_ops);"),
        "{sql}"
    );
    assert!(
        sql.contains("ON app.users (email COLLATE \"C\" text_pattern_ops DESC);"),
        "{sql}"
    );
    let mut without = s.clone();
    without.schemas.clear();
    without.extensions.clear();
    let messages: Vec<String> = diff(&s, &without).iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "schema `app` removed (was: (schema))",
            "extension `pg_trgm` removed (was: in schema public)"
        ]
    );
    let mut plain = s.clone();
    plain
        .tables
        .get_mut("app.users")
        .unwrap()
        .indexes
        .get_mut("users_name_trgm")
        .unwrap()
        .key_options
        .clear();
    let messages: Vec<String> = diff(&s, &plain).iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        ["table `app.users`: index `users_name_trgm` columns changed from `name gin_trgm_ops` to `name`"]
    );
    assert_eq!(
        quote_key(Engine::Postgres, "app.users"),
        "\"app\".\"users\""
    );
    assert_eq!(quote_key(Engine::Sqlite, "a.b"), "\"a.b\"");
}

#[test]
fn schemas_sqlite_foreign_key_names_are_compared() {
    let mut before = Snapshot::new(Engine::Sqlite);
    let mut t = Table::default();
    t.foreign_keys.insert(
        "(p_id) references p (id)".to_owned(),
        ForeignKey {
            columns: vec!["p_id".to_owned()],
            referenced_table: "p".to_owned(),
            referenced_columns: vec!["id".to_owned()],
            on_delete: "NO ACTION".to_owned(),
            on_update: "NO ACTION".to_owned(),
            name: Some("c_p".to_owned()),
        },
    );
    before.tables.insert("c".to_owned(), t);
    let mut after = before.clone();
    after
        .tables
        .get_mut("c")
        .unwrap()
        .foreign_keys
        .values_mut()
        .next()
        .unwrap()
        .name = Some("c_parent".to_owned());
    let messages: Vec<String> = diff(&before, &after)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        messages,
        ["table `c`: foreign key `(p_id) references p (id)` name changed from `c_p` to `c_parent`"]
    );
    let sql = before.to_sql();
    assert!(
        sql.contains("CONSTRAINT c_p FOREIGN KEY (p_id) REFERENCES p (id)"),
        "{sql}"
    );
}

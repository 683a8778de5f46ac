//! `rename_column` through its whole life cycle: expand, backfill, both
//! application versions, contract, un-contract, abort; every phase twice;
//! an expand killed after each of its steps, then aborted.

use super::*;

/// A table whose `name` has everything a column can carry: NOT NULL, a
/// default, a check, a comment, a unique expression index, a partial
/// index, a two-column unique constraint, and a foreign key beside it.
const USERS: &str = "
CREATE TABLE teams (id int PRIMARY KEY);
INSERT INTO teams VALUES (1), (2);
CREATE TABLE users (
    id bigserial PRIMARY KEY,
    name text NOT NULL DEFAULT 'anon' CONSTRAINT users_name_check CHECK (name <> ''),
    email text,
    team_id int CONSTRAINT users_team_fk REFERENCES teams (id),
    CONSTRAINT users_name_email UNIQUE (name, email)
);
COMMENT ON COLUMN users.name IS 'what the user is called';
CREATE UNIQUE INDEX users_lower_name ON users (lower(name));
CREATE INDEX users_name_partial ON users (name DESC) WHERE name <> 'x';
INSERT INTO users (name, email, team_id)
    SELECT 'user' || i, 'u' || i || '@example.com', 1 + i % 2 FROM generate_series(1, 50) i;
";

/// `users` as the rename should leave it, built directly.
const RENAMED: &str = "
CREATE TABLE teams (id int PRIMARY KEY);
CREATE TABLE users (
    id bigserial PRIMARY KEY,
    email text,
    team_id int CONSTRAINT users_team_fk REFERENCES teams (id),
    full_name text NOT NULL DEFAULT 'anon' CONSTRAINT users_name_check CHECK (full_name <> ''),
    CONSTRAINT users_name_email UNIQUE (full_name, email)
);
CREATE UNIQUE INDEX users_lower_name ON users (lower(full_name));
CREATE INDEX users_name_partial ON users (full_name DESC) WHERE full_name <> 'x';
";

async fn in_sync(lab: &mut Lab) {
    let out_of_sync = lab
        .value("SELECT count(*) FROM users WHERE name IS DISTINCT FROM full_name")
        .await;
    assert_eq!(
        out_of_sync.as_deref(),
        Some("0"),
        "rows where name <> full_name"
    );
}

/// Writes through the old application (only `name`) and the new one (only
/// `full_name`), each read back through the other.
async fn both_versions_write(lab: &mut Lab) {
    lab.execute("DELETE FROM users WHERE email IN ('old@example.com', 'new@example.com')")
        .await;
    lab.execute("INSERT INTO users (name, email) VALUES ('old writer', 'old@example.com')")
        .await;
    assert_eq!(
        lab.value("SELECT full_name FROM users WHERE email = 'old@example.com'")
            .await
            .as_deref(),
        Some("old writer")
    );
    lab.execute("INSERT INTO users (full_name, email) VALUES ('new writer', 'new@example.com')")
        .await;
    assert_eq!(
        lab.value("SELECT name FROM users WHERE email = 'new@example.com'")
            .await
            .as_deref(),
        Some("new writer"),
        "the new writer's name must reach the old column despite its default"
    );
    lab.execute("UPDATE users SET name = 'old update' WHERE email = 'new@example.com'")
        .await;
    assert_eq!(
        lab.value("SELECT full_name FROM users WHERE email = 'new@example.com'")
            .await
            .as_deref(),
        Some("old update")
    );
    lab.execute("UPDATE users SET full_name = 'new update' WHERE email = 'old@example.com'")
        .await;
    assert_eq!(
        lab.value("SELECT name FROM users WHERE email = 'old@example.com'")
            .await
            .as_deref(),
        Some("new update")
    );
    // Updates of other columns leave both alone.
    lab.execute("UPDATE users SET team_id = 2 WHERE email = 'old@example.com'")
        .await;
    // The carried unique index and check hold for new writers too.
    let duplicate = lab
        .fails("INSERT INTO users (full_name, email) VALUES ('NEW UPDATE', 'x@example.com')")
        .await;
    assert!(duplicate.contains("duplicate key"), "{duplicate}");
    let empty = lab
        .fails("INSERT INTO users (full_name, email) VALUES ('', 'y@example.com')")
        .await;
    assert!(empty.contains("check constraint"), "{empty}");
    lab.execute("DELETE FROM users WHERE email = 'old@example.com'")
        .await;
    in_sync(lab).await;
}

#[tokio::test]
async fn rename_column_expand_contract_uncontract_abort() {
    let mut lab = Lab::new(USERS).await;
    let before = lab.snapshot().await;
    let phases = compiled(
        rename("users", "name", "full_name"),
        &before.tables["users"],
    );
    assert_eq!(phases.versions.old, ["users.name"]);
    assert_eq!(phases.versions.new, ["users.full_name"]);

    lab.run_twice(&phases.expand).await;
    assert_eq!(
        lab.run(&phases.expand).await,
        0,
        "every expand step is guarded"
    );
    lab.backfill(&phases.backfill).await;
    in_sync(&mut lab).await;
    both_versions_write(&mut lab).await;
    assert_eq!(
        lab.value(
            "SELECT col_description('users'::regclass, attnum) FROM pg_attribute \
             WHERE attrelid = 'users'::regclass AND attname = 'full_name'"
        )
        .await
        .as_deref(),
        Some("what the user is called")
    );

    lab.run_twice(&phases.contract).await;
    let unguarded: Vec<&str> = phases
        .contract
        .iter()
        .filter(|s| s.done_if.is_none())
        .map(|s| s.what.as_str())
        .collect();
    assert!(
        unguarded.is_empty(),
        "unguarded contract steps: {unguarded:?}"
    );
    assert_eq!(
        lab.run(&phases.contract).await,
        0,
        "every step is skipped once done"
    );
    let contracted = lab.snapshot().await;
    let mut expected = Lab::new(RENAMED).await;
    let expected = expected.snapshot().await;
    let differences = diff_with(&expected, &contracted, &DiffOptions::default());
    assert!(
        differences.is_empty(),
        "after contract:\n{}\n{}",
        differences
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        contracted.to_text()
    );
    assert!(lab.cairn_objects().await.is_empty());
    assert_eq!(
        lab.value("SELECT pg_get_serial_sequence('users', 'id')")
            .await
            .as_deref(),
        Some("public.users_id_seq")
    );
    lab.execute("INSERT INTO users (full_name, email) VALUES ('after contract', 'c@example.com')")
        .await;
    lab.execute("INSERT INTO users (email) VALUES ('default@example.com')")
        .await;
    assert_eq!(
        lab.value("SELECT full_name FROM users WHERE email = 'default@example.com'")
            .await
            .as_deref(),
        Some("anon")
    );

    lab.run_twice(&phases.uncontract).await;
    lab.backfill(&phases.uncontract_backfill).await;
    in_sync(&mut lab).await;
    lab.execute("DELETE FROM users WHERE email IN ('c@example.com', 'default@example.com')")
        .await;
    both_versions_write(&mut lab).await;
    lab.execute("INSERT INTO users (email) VALUES ('omits both')")
        .await;
    in_sync(&mut lab).await;

    lab.run_twice(&phases.abort).await;
    lab.assert_restored(&before, true).await;
    assert_eq!(
        lab.value("SELECT count(*) FROM users WHERE name IS NULL")
            .await
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        lab.value("SELECT name FROM users WHERE email = 'omits both'")
            .await
            .as_deref(),
        Some("anon")
    );
}

#[tokio::test]
async fn rename_column_abort_after_expand_restores_the_table_exactly() {
    let mut lab = Lab::new(USERS).await;
    let before = lab.snapshot().await;
    let phases = compiled(
        rename("users", "name", "full_name"),
        &before.tables["users"],
    );
    lab.run(&phases.expand).await;
    lab.backfill(&phases.backfill).await;
    both_versions_write(&mut lab).await;
    lab.run_twice(&phases.abort).await;
    lab.assert_restored(&before, false).await;
    assert_eq!(
        lab.value("SELECT name FROM users WHERE email = 'new@example.com'")
            .await
            .as_deref(),
        Some("old update"),
        "rows written while expanded survive the abort"
    );
}

#[tokio::test]
async fn rename_column_expand_killed_after_any_step_is_aborted_cleanly() {
    let mut lab = Lab::new(USERS).await;
    let before = lab.snapshot().await;
    let phases = compiled(
        rename("users", "name", "full_name"),
        &before.tables["users"],
    );
    assert!(phases.expand.len() >= 4, "{:#?}", phases.expand);
    for k in 0..=phases.expand.len() {
        lab.run(&phases.expand[..k]).await;
        lab.execute("INSERT INTO users (name) VALUES ('meanwhile')")
            .await;
        lab.run(&phases.abort).await;
        lab.assert_restored(&before, false).await;
        lab.execute("DELETE FROM users WHERE name = 'meanwhile'")
            .await;
    }
}

/// What a `CREATE INDEX CONCURRENTLY` killed half-way leaves: an INVALID
/// index under Cairn's name. Expand run again drops and rebuilds it.
#[tokio::test]
async fn rename_column_rebuilds_an_invalid_index_left_by_a_failed_build() {
    let mut lab = Lab::new(USERS).await;
    let before = lab.snapshot().await;
    let phases = compiled(
        rename("users", "name", "full_name"),
        &before.tables["users"],
    );
    let build = phases
        .expand
        .iter()
        .position(|s| s.what.contains("users_lower_name"))
        .expect("a step that builds the carried users_lower_name");
    lab.run(&phases.expand[..build]).await;
    // A duplicate in the new column only makes the unique build fail,
    // leaving the index INVALID.
    lab.execute("ALTER TABLE users DISABLE TRIGGER USER").await;
    lab.execute("UPDATE users SET full_name = 'same' WHERE id IN (1, 2)")
        .await;
    lab.execute("ALTER TABLE users ENABLE TRIGGER USER").await;
    let failure = run_step(&mut lab.driver, &phases.expand[build])
        .await
        .expect_err("a unique build over duplicates fails");
    assert!(
        failure
            .error
            .to_string()
            .contains("could not create unique index"),
        "{}",
        failure.error
    );
    let invalid = lab
        .value(
            "SELECT count(*) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                WHERE i.relname LIKE 'cairn\\_%' AND NOT x.indisvalid",
        )
        .await;
    assert_eq!(invalid.as_deref(), Some("1"));
    lab.execute("UPDATE users SET full_name = name WHERE id IN (1, 2)")
        .await;
    lab.run(&phases.expand).await;
    let invalid = lab
        .value("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
        .await;
    assert_eq!(invalid.as_deref(), Some("0"));
    lab.backfill(&phases.backfill).await;
    in_sync(&mut lab).await;
    lab.run(&phases.abort).await;
    lab.assert_restored(&before, false).await;
}

#[tokio::test]
async fn rename_column_in_another_schema_with_quoted_names() {
    let mut lab = Lab::new(
        "CREATE SCHEMA app;
         CREATE TABLE app.\"People\" (id int PRIMARY KEY, \"Given Name\" varchar(40) COLLATE \"C\");
         CREATE INDEX \"People_given\" ON app.\"People\" (\"Given Name\");
         INSERT INTO app.\"People\" VALUES (1, 'Ada'), (2, NULL);",
    )
    .await;
    let before = lab.snapshot().await;
    let phases = compiled(
        rename("app.People", "Given Name", "First Name"),
        &before.tables["app.People"],
    );
    lab.run_twice(&phases.expand).await;
    lab.backfill(&phases.backfill).await;
    lab.execute("INSERT INTO app.\"People\" (id, \"First Name\") VALUES (3, 'Grace')")
        .await;
    let rows = lab
        .rows("SELECT \"Given Name\", \"First Name\" FROM app.\"People\" ORDER BY id")
        .await;
    assert_eq!(
        rows,
        [
            [Some("Ada".to_owned()), Some("Ada".to_owned())],
            [None, None],
            [Some("Grace".to_owned()), Some("Grace".to_owned())]
        ]
    );
    lab.run_twice(&phases.contract).await;
    let table = lab.table("app.People").await;
    assert_eq!(table.column_order, ["id", "First Name"]);
    assert_eq!(table.columns["First Name"].collation.as_deref(), Some("C"));
    assert_eq!(table.indexes["People_given"].columns, ["\"First Name\""]);
    assert!(lab.cairn_objects().await.is_empty());
}

#[tokio::test]
async fn rename_column_refuses_what_it_cannot_do_online() {
    let mut lab = Lab::new(
        "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a int, \
         g int GENERATED ALWAYS AS (a * 2) STORED, k int GENERATED BY DEFAULT AS IDENTITY);
         CREATE TABLE nokey (a int);",
    )
    .await;
    let snapshot = lab.snapshot().await;
    let t = &snapshot.tables["t"];
    let cases = [
        (
            rename("t", "missing", "b"),
            "column `missing` does not exist in table `t`",
        ),
        (rename("t", "a", "g"), "column `g` already exists"),
        (rename("t", "g", "b"), "generated column"),
    ];
    for (kind, message) in cases {
        let error = compile(kind, Some(t)).unwrap_err();
        assert!(error.contains(message), "{error} should say {message}");
    }
    let error = compile(rename("nokey", "a", "b"), Some(&snapshot.tables["nokey"])).unwrap_err();
    assert!(error.contains("no primary key"), "{error}");
    let error = compile(rename("absent", "a", "b"), None).unwrap_err();
    assert!(error.contains("table `absent` does not exist"), "{error}");
}

#[tokio::test]
async fn rename_column_refuses_at_expand_a_column_others_depend_on() {
    let mut lab = Lab::new(
        "CREATE TABLE accounts (id int PRIMARY KEY, code text UNIQUE, label text);
         CREATE TABLE orders (id int PRIMARY KEY, account_code text REFERENCES accounts (code));
         CREATE VIEW labels AS SELECT label FROM accounts;
         ALTER TABLE accounts ADD COLUMN parent int CONSTRAINT accounts_parent_fk REFERENCES accounts (id);",
    )
    .await;
    let before = lab.snapshot().await;
    for (column, dependent) in [
        ("code", "foreign key orders_account_code_fkey of orders"),
        ("label", "view labels"),
        ("id", "foreign key accounts_parent_fk of accounts"),
    ] {
        let phases = compiled(
            rename("accounts", column, "renamed"),
            &before.tables["accounts"],
        );
        let failure = run_step(&mut lab.driver, &phases.expand[0])
            .await
            .expect_err("the first expand step refuses");
        let message = failure.error.to_string();
        assert!(
            message.contains(dependent) && message.contains(&format!("accounts.{column}")),
            "{message}"
        );
        lab.assert_restored(&before, false).await;
    }
}

#[tokio::test]
async fn rename_column_moves_sequence_ownership() {
    let mut lab = Lab::new(
        "CREATE TABLE tickets (id int PRIMARY KEY, number serial, title text);
         INSERT INTO tickets (id, title) VALUES (1, 'a'), (2, 'b');",
    )
    .await;
    let before = lab.snapshot().await;
    let phases = compiled(
        rename("tickets", "number", "ticket_no"),
        &before.tables["tickets"],
    );
    lab.run(&phases.expand).await;
    lab.backfill(&phases.backfill).await;
    lab.execute("INSERT INTO tickets (id, title) VALUES (3, 'new writer omits both')")
        .await;
    assert_eq!(
        strings(
            lab.rows("SELECT number, ticket_no FROM tickets ORDER BY id")
                .await
        ),
        [["1", "1"], ["2", "2"], ["3", "3"]]
    );
    lab.run_twice(&phases.contract).await;
    assert_eq!(
        lab.value("SELECT pg_get_serial_sequence('tickets', 'ticket_no')")
            .await
            .as_deref(),
        Some("public.tickets_number_seq")
    );
    lab.execute("INSERT INTO tickets (id, title) VALUES (4, 'after')")
        .await;
    assert_eq!(
        lab.value("SELECT ticket_no FROM tickets WHERE id = 4")
            .await
            .as_deref(),
        Some("4")
    );
    lab.run(&phases.uncontract).await;
    lab.backfill(&phases.uncontract_backfill).await;
    lab.run(&phases.abort).await;
    assert_eq!(
        lab.value("SELECT pg_get_serial_sequence('tickets', 'number')")
            .await
            .as_deref(),
        Some("public.tickets_number_seq")
    );
    lab.assert_restored(&before, true).await;
}

fn strings(rows: Vec<Vec<Option<String>>>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".to_owned()))
                .collect()
        })
        .collect()
}

/// The classic: a primary key `int` that will overflow becomes `bigint`,
/// its serial sequence and the key itself carried to the new column.
#[tokio::test]
async fn change_column_type_of_the_primary_key() {
    let mut lab = Lab::new(
        "CREATE TABLE events (id serial PRIMARY KEY, payload text);
         INSERT INTO events (payload) SELECT 'e' || i FROM generate_series(1, 20) i;",
    )
    .await;
    let before = lab.snapshot().await;
    let kind = Kind::ChangeColumnType {
        table: "events".to_owned(),
        column: "id".to_owned(),
        to: "big_id".to_owned(),
        data_type: "bigint".to_owned(),
        up: expr("id"),
        down: expr("big_id::int"),
    };
    let phases = compiled(kind, &before.tables["events"]);
    lab.run_twice(&phases.expand).await;
    lab.backfill(&phases.backfill).await;
    lab.execute("INSERT INTO events (payload) VALUES ('old writer')")
        .await;
    lab.execute("INSERT INTO events (big_id, payload) VALUES (1000, 'new writer')")
        .await;
    assert_eq!(
        lab.value("SELECT count(*) FROM events WHERE id IS DISTINCT FROM big_id")
            .await
            .as_deref(),
        Some("0")
    );
    lab.run_twice(&phases.contract).await;
    let table = lab.table("events").await;
    let pk = table.primary_key.expect("a primary key");
    assert_eq!(
        (pk.name.as_deref(), pk.columns),
        (Some("events_pkey"), vec!["big_id".to_owned()])
    );
    assert_eq!(table.columns["big_id"].data_type, "bigint");
    assert_eq!(
        lab.value("SELECT pg_get_serial_sequence('events', 'big_id')")
            .await
            .as_deref(),
        Some("public.events_id_seq")
    );
    lab.execute("INSERT INTO events (payload) VALUES ('after contract')")
        .await;
    assert!(lab.cairn_objects().await.is_empty());

    lab.run_twice(&phases.uncontract).await;
    lab.backfill(&phases.uncontract_backfill).await;
    lab.execute("INSERT INTO events (payload) VALUES ('old writer again')")
        .await;
    lab.run_twice(&phases.abort).await;
    lab.assert_restored(&before, true).await;
    assert_eq!(
        lab.value("SELECT count(*) FROM events").await.as_deref(),
        Some("24")
    );
}

/// An identity primary key `int` becomes `bigint`: the identity moves to the
/// new column at contract, starting after the last value given, and back
/// to the old one at abort after un-contract.
#[tokio::test]
async fn change_column_type_of_an_identity_primary_key() {
    let mut lab = Lab::new(
        "CREATE TABLE items (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);
         INSERT INTO items (name) SELECT 'i' || n FROM generate_series(1, 10) n;",
    )
    .await;
    let before = lab.snapshot().await;
    let kind = Kind::ChangeColumnType {
        table: "items".to_owned(),
        column: "id".to_owned(),
        to: "big_id".to_owned(),
        data_type: "bigint".to_owned(),
        up: expr("id"),
        down: expr("big_id::int"),
    };
    let phases = compiled(kind, &before.tables["items"]);
    lab.run_twice(&phases.expand).await;
    lab.backfill(&phases.backfill).await;
    lab.execute("INSERT INTO items (name) VALUES ('during expand')")
        .await;
    lab.run_twice(&phases.contract).await;
    let table = lab.table("items").await;
    assert_eq!(table.columns["big_id"].identity.as_deref(), Some("always"));
    assert_eq!(
        table.primary_key.map(|pk| pk.columns),
        Some(vec!["big_id".to_owned()])
    );
    lab.execute("INSERT INTO items (name) VALUES ('after contract')")
        .await;
    assert_eq!(
        lab.value("SELECT big_id FROM items WHERE name = 'after contract'")
            .await
            .as_deref(),
        Some("12"),
        "the identity goes on after the last value"
    );
    lab.run_twice(&phases.uncontract).await;
    lab.backfill(&phases.uncontract_backfill).await;
    lab.execute("INSERT INTO items (name) VALUES ('old writer again')")
        .await;
    assert_eq!(
        lab.value("SELECT count(*) FROM items WHERE id IS DISTINCT FROM big_id")
            .await
            .as_deref(),
        Some("0")
    );
    lab.run_twice(&phases.abort).await;
    lab.assert_restored(&before, true).await;
    lab.execute("INSERT INTO items (name) VALUES ('after abort')")
        .await;
    assert_eq!(
        lab.value("SELECT id FROM items WHERE name = 'after abort'")
            .await
            .as_deref(),
        Some("14")
    );
}

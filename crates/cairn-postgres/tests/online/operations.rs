//! The other operations, each through expand (twice), its backfill, writes
//! of both application versions, contract, un-contract and abort.

use super::*;

fn strings(rows: Vec<Vec<Option<String>>>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".to_owned()))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn change_column_type_with_lossy_down_keeps_old_values() {
    let mut lab = Lab::new(
        "CREATE TABLE prices (id serial PRIMARY KEY, amount text NOT NULL DEFAULT '0' \
             CONSTRAINT prices_amount_check CHECK (amount <> ''));
         CREATE INDEX prices_amount ON prices (amount);
         INSERT INTO prices (amount) VALUES ('12.345'), ('7');",
    )
    .await;
    let before = lab.snapshot().await;
    let kind = Kind::ChangeColumnType {
        table: "prices".to_owned(),
        column: "amount".to_owned(),
        to: "cents".to_owned(),
        data_type: "bigint".to_owned(),
        up: expr("round(amount::numeric * 100)::bigint"),
        down: expr("(cents / 100.0)::text"),
    };
    let phases = compiled(kind, &before.tables["prices"]);
    lab.run_twice(&phases.expand).await;
    lab.backfill(&phases.backfill).await;
    assert_eq!(
        strings(
            lab.rows("SELECT amount, cents FROM prices ORDER BY id")
                .await
        ),
        [["12.345", "1235"], ["7", "700"]],
        "the backfill of cents must not rewrite amount as down(cents)"
    );
    lab.execute("INSERT INTO prices (amount) VALUES ('1.5')")
        .await;
    lab.execute("INSERT INTO prices (cents) VALUES (250)").await;
    lab.execute("UPDATE prices SET cents = 800 WHERE amount = '7'")
        .await;
    assert_eq!(
        strings(
            lab.rows("SELECT amount, cents FROM prices ORDER BY id")
                .await
        ),
        [
            ["12.345", "1235"],
            ["8.0000000000000000", "800"],
            ["1.5", "150"],
            ["2.5000000000000000", "250"]
        ]
    );
    lab.run_twice(&phases.contract).await;
    let table = lab.table("prices").await;
    assert_eq!(table.column_order, ["id", "cents"]);
    let cents = &table.columns["cents"];
    assert_eq!(
        (cents.data_type.as_str(), cents.nullable),
        ("bigint", false)
    );
    assert_eq!(cents.default, None, "a text default does not fit bigint");
    assert_eq!(table.indexes["prices_amount"].columns, ["cents"]);
    assert!(
        table.checks.is_empty(),
        "a check comparing with text does not fit: {:?}",
        table.checks
    );
    assert!(lab.cairn_objects().await.is_empty());

    lab.run_twice(&phases.uncontract).await;
    lab.backfill(&phases.uncontract_backfill).await;
    lab.execute("INSERT INTO prices (amount) VALUES ('3')")
        .await;
    assert_eq!(
        lab.value("SELECT cents FROM prices WHERE amount = '3'")
            .await
            .as_deref(),
        Some("300")
    );
    lab.run_twice(&phases.abort).await;
    lab.assert_restored(&before, true).await;
    assert_eq!(
        lab.value("SELECT count(*) FROM prices").await.as_deref(),
        Some("5")
    );
}

#[tokio::test]
async fn change_column_type_aborted_after_expand_restores_the_table() {
    let mut lab = Lab::new(
        "CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL CHECK (n > 0));
         INSERT INTO t VALUES (1, 5);",
    )
    .await;
    let before = lab.snapshot().await;
    let kind = Kind::ChangeColumnType {
        table: "t".to_owned(),
        column: "n".to_owned(),
        to: "big".to_owned(),
        data_type: "bigint".to_owned(),
        up: expr("n"),
        down: expr("big::int"),
    };
    let phases = compiled(kind, &before.tables["t"]);
    lab.run(&phases.expand).await;
    let error = lab.fails("INSERT INTO t (id, big) VALUES (2, -1)").await;
    assert!(
        error.contains("check constraint"),
        "the carried check holds: {error}"
    );
    lab.run_twice(&phases.abort).await;
    lab.assert_restored(&before, false).await;
}

#[tokio::test]
async fn add_column_filled_by_up_for_old_writers() {
    let mut lab = Lab::new(
        "CREATE TABLE people (id serial PRIMARY KEY, first text, last text);
         INSERT INTO people (first, last) VALUES ('Ada', 'Lovelace');",
    )
    .await;
    let before = lab.snapshot().await;
    let kind = Kind::AddColumn {
        table: "people".to_owned(),
        column: "display".to_owned(),
        data_type: "varchar(200)".to_owned(),
        not_null: true,
        default: None,
        up: Some(expr("first || ' ' || last")),
    };
    let phases = compiled(kind, &before.tables["people"]);
    assert_eq!(phases.versions.new, ["people.display"]);
    lab.run_twice(&phases.expand).await;
    lab.backfill(&phases.backfill).await;
    lab.execute("INSERT INTO people (first, last) VALUES ('Grace', 'Hopper')")
        .await;
    lab.execute("INSERT INTO people (first, last, display) VALUES ('Alan', 'Turing', 'AMT')")
        .await;
    lab.execute("UPDATE people SET last = 'King' WHERE first = 'Ada'")
        .await;
    lab.execute("UPDATE people SET last = 'T.' WHERE first = 'Alan'")
        .await;
    assert_eq!(
        strings(lab.rows("SELECT display FROM people ORDER BY id").await),
        [["Ada King"], ["Grace Hopper"], ["AMT"]],
        "old writers' rows follow `up`; a value a new writer chose is kept"
    );
    lab.run_twice(&phases.contract).await;
    let table = lab.table("people").await;
    assert!(!table.columns["display"].nullable);
    assert!(lab.cairn_objects().await.is_empty());
    let error = lab.fails("INSERT INTO people (first) VALUES ('x')").await;
    assert!(error.contains("null value"), "{error}");

    lab.run_twice(&phases.uncontract).await;
    lab.execute("INSERT INTO people (first, last) VALUES ('Old', 'Writer')")
        .await;
    assert_eq!(
        lab.value("SELECT display FROM people WHERE first = 'Old'")
            .await
            .as_deref(),
        Some("Old Writer")
    );
    lab.run_twice(&phases.abort).await;
    lab.assert_restored(&before, false).await;
}

#[tokio::test]
async fn add_column_with_a_default_and_its_errors() {
    let mut lab =
        Lab::new("CREATE TABLE t (id int PRIMARY KEY, a int); INSERT INTO t VALUES (1, 1);").await;
    let before = lab.snapshot().await;
    let table = &before.tables["t"];
    let add = |not_null, default: Option<&str>, up: Option<&str>| Kind::AddColumn {
        table: "t".to_owned(),
        column: "flag".to_owned(),
        data_type: "boolean".to_owned(),
        not_null,
        default: default.map(str::to_owned),
        up: up.map(expr),
    };
    let error = compile(add(true, None, None), Some(table)).unwrap_err();
    assert!(error.contains("needs `up`"), "{error}");
    let phases = compiled(add(true, Some("false"), None), table);
    lab.run_twice(&phases.expand).await;
    lab.backfill(&phases.backfill).await;
    lab.execute("INSERT INTO t (id, a) VALUES (2, 2)").await;
    lab.run_twice(&phases.contract).await;
    let after = lab.table("t").await;
    assert_eq!(after.columns["flag"].default.as_deref(), Some("false"));
    assert!(!after.columns["flag"].nullable);
    assert_eq!(
        lab.value("SELECT count(*) FROM t WHERE flag = false")
            .await
            .as_deref(),
        Some("2")
    );
    lab.run_twice(&phases.uncontract).await;
    lab.run_twice(&phases.abort).await;
    lab.assert_restored(&before, false).await;
}

#[tokio::test]
async fn drop_column_filled_by_down_for_old_readers() {
    let mut lab = Lab::new(
        "CREATE TABLE codes (code text PRIMARY KEY);
         INSERT INTO codes VALUES ('one'), ('#1'), ('#2'), ('old writer');
         CREATE TABLE t (id int PRIMARY KEY, legacy text NOT NULL CONSTRAINT t_legacy_check CHECK (legacy <> ''),
             kept int, CONSTRAINT t_legacy_kept UNIQUE (legacy, kept),
             CONSTRAINT t_legacy_fk FOREIGN KEY (legacy) REFERENCES codes (code));
         CREATE INDEX t_legacy ON t (legacy);
         INSERT INTO t VALUES (1, 'one', 1);",
    )
    .await;
    let before = lab.snapshot().await;
    let kind = Kind::DropColumn {
        table: "t".to_owned(),
        column: "legacy".to_owned(),
        down: Some(expr("'#' || kept")),
    };
    let phases = compiled(kind, &before.tables["t"]);
    assert_eq!(phases.versions.old, ["t.legacy"]);
    lab.run_twice(&phases.expand).await;
    lab.execute("INSERT INTO t (id, kept) VALUES (2, 2)").await;
    assert_eq!(
        lab.value("SELECT legacy FROM t WHERE id = 2")
            .await
            .as_deref(),
        Some("#2")
    );
    lab.run_twice(&phases.contract).await;
    assert_eq!(lab.table("t").await.column_order, ["id", "kept"]);
    assert!(lab.cairn_objects().await.is_empty());
    lab.run_twice(&phases.uncontract).await;
    lab.backfill(&phases.uncontract_backfill).await;
    lab.execute("INSERT INTO t (id, legacy, kept) VALUES (3, 'old writer', 3)")
        .await;
    assert_eq!(
        strings(lab.rows("SELECT legacy FROM t ORDER BY id").await),
        [["#1"], ["#2"], ["old writer"]]
    );
    lab.run_twice(&phases.abort).await;
    lab.assert_restored(&before, true).await;
}

#[tokio::test]
async fn drop_column_without_down_relaxes_not_null_until_abort() {
    let mut lab = Lab::new(
        "CREATE TABLE t (id int PRIMARY KEY, legacy text NOT NULL); INSERT INTO t VALUES (1, 'a');",
    )
    .await;
    let before = lab.snapshot().await;
    let kind = Kind::DropColumn {
        table: "t".to_owned(),
        column: "legacy".to_owned(),
        down: None,
    };
    let phases = compiled(kind, &before.tables["t"]);
    lab.run_twice(&phases.expand).await;
    lab.execute("INSERT INTO t (id) VALUES (2)").await;
    lab.execute("DELETE FROM t WHERE id = 2").await;
    lab.run_twice(&phases.abort).await;
    lab.assert_restored(&before, false).await;
    let error = compile(
        Kind::DropColumn {
            table: "t".to_owned(),
            column: "id".to_owned(),
            down: None,
        },
        Some(&before.tables["t"]),
    )
    .unwrap_err();
    assert!(error.contains("primary key"), "{error}");
}

#[tokio::test]
async fn set_not_null_rewrites_nulls_of_old_writers() {
    let mut lab = Lab::new(
        "CREATE TABLE t (id int PRIMARY KEY, email text); INSERT INTO t VALUES (1, NULL), (2, 'b');",
    )
    .await;
    let before = lab.snapshot().await;
    let kind = Kind::SetNotNull {
        table: "t".to_owned(),
        column: "email".to_owned(),
        up: expr("'unknown-' || id"),
    };
    let phases = compiled(kind.clone(), &before.tables["t"]);
    lab.run_twice(&phases.expand).await;
    lab.execute("INSERT INTO t VALUES (3, NULL)").await;
    lab.execute("UPDATE t SET email = NULL WHERE id = 2").await;
    lab.backfill(&phases.backfill).await;
    assert_eq!(
        strings(lab.rows("SELECT email FROM t ORDER BY id").await),
        [["unknown-1"], ["unknown-2"], ["unknown-3"]]
    );
    lab.run_twice(&phases.contract).await;
    assert!(!lab.table("t").await.columns["email"].nullable);
    assert!(lab.cairn_objects().await.is_empty());
    lab.run_twice(&phases.uncontract).await;
    lab.execute("INSERT INTO t VALUES (4, NULL)").await;
    lab.run_twice(&phases.abort).await;
    lab.assert_restored(&before, false).await;
    let error = compile(kind, Some(&lab.table("t").await.clone()))
        .map(|_| ())
        .err();
    assert_eq!(error, None, "email is nullable again, so it compiles");
    lab.execute("ALTER TABLE t ALTER COLUMN email SET NOT NULL")
        .await;
    let error = compile(
        Kind::SetNotNull {
            table: "t".to_owned(),
            column: "email".to_owned(),
            up: expr("''"),
        },
        Some(&lab.table("t").await),
    )
    .unwrap_err();
    assert!(error.contains("NOT NULL already"), "{error}");
}

#[tokio::test]
async fn one_step_operations_index_check_unique_foreign_key() {
    let mut lab = Lab::new(
        "CREATE TABLE teams (id int PRIMARY KEY);
         CREATE TABLE t (id int PRIMARY KEY, a int, team int, old_ix int);
         CREATE INDEX t_old ON t (old_ix);
         INSERT INTO teams VALUES (1);
         INSERT INTO t VALUES (1, 1, 1, 1), (2, 2, 1, 2);",
    )
    .await;
    let before = lab.snapshot().await;
    let table = &before.tables["t"];
    let kinds = [
        Kind::CreateIndex {
            table: "t".to_owned(),
            name: "t_a".to_owned(),
            columns: vec!["a".to_owned()],
            unique: false,
        },
        Kind::DropIndex {
            table: "t".to_owned(),
            name: "t_old".to_owned(),
        },
        Kind::AddCheck {
            table: "t".to_owned(),
            name: "t_a_positive".to_owned(),
            check: expr("a > 0"),
        },
        Kind::AddUnique {
            table: "t".to_owned(),
            name: "t_a_team".to_owned(),
            columns: vec!["a".to_owned(), "team".to_owned()],
        },
        Kind::AddForeignKey {
            table: "t".to_owned(),
            name: "t_team_fk".to_owned(),
            columns: vec!["team".to_owned()],
            references: "teams".to_owned(),
            referenced_columns: vec!["id".to_owned()],
            on_delete: Some("CASCADE".to_owned()),
        },
    ];
    let all: Vec<Phases> = kinds.into_iter().map(|k| compiled(k, table)).collect();
    let expand: Vec<Step> = all.iter().flat_map(|p| p.expand.clone()).collect();
    let contract: Vec<Step> = all.iter().flat_map(|p| p.contract.clone()).collect();
    let uncontract: Vec<Step> = all
        .iter()
        .rev()
        .flat_map(|p| p.uncontract.clone())
        .collect();
    let abort: Vec<Step> = all.iter().rev().flat_map(|p| p.abort.clone()).collect();
    lab.run_twice(&expand).await;
    let error = lab.fails("INSERT INTO t VALUES (3, -1, 1, 3)").await;
    assert!(error.contains("t_a_positive"), "{error}");
    let error = lab.fails("INSERT INTO t VALUES (3, 1, 1, 3)").await;
    assert!(error.contains("t_a_team"), "{error}");
    let error = lab.fails("INSERT INTO t VALUES (3, 3, 9, 3)").await;
    assert!(error.contains("t_team_fk"), "{error}");
    lab.run_twice(&contract).await;
    let after = lab.table("t").await;
    assert!(after.indexes.contains_key("t_a"));
    assert!(!after.indexes.contains_key("t_old"));
    assert_eq!(after.unique_constraints["t_a_team"], ["a", "team"]);
    assert_eq!(after.checks["t_a_positive"], "CHECK (a > 0)");
    assert_eq!(after.foreign_keys["t_team_fk"].on_delete, "CASCADE");
    assert_eq!(
        lab.value("SELECT count(*) FROM pg_constraint WHERE NOT convalidated")
            .await
            .as_deref(),
        Some("0")
    );
    lab.run_twice(&uncontract).await;
    assert!(lab.table("t").await.indexes.contains_key("t_old"));
    lab.run_twice(&abort).await;
    lab.assert_restored(&before, false).await;

    let error = compile(
        Kind::DropIndex {
            table: "t".to_owned(),
            name: "nope".to_owned(),
        },
        Some(table),
    )
    .unwrap_err();
    assert!(error.contains("index `nope` does not exist"), "{error}");
    let error = compile(
        Kind::CreateIndex {
            table: "t".to_owned(),
            name: "t_old".to_owned(),
            columns: vec!["a".to_owned()],
            unique: false,
        },
        Some(table),
    )
    .unwrap_err();
    assert!(error.contains("exists already"), "{error}");
}

#[tokio::test]
async fn rename_table_keeps_a_view_for_old_code() {
    let mut lab = Lab::new(
        "CREATE TABLE accounts (id int PRIMARY KEY, name text); INSERT INTO accounts VALUES (1, 'a');",
    )
    .await;
    let before = lab.snapshot().await;
    let kind = Kind::RenameTable {
        table: "accounts".to_owned(),
        to: "customers".to_owned(),
    };
    let dialect = lab.driver.dialect().shared();
    let phases = compile_for(dialect.as_ref(), kind, Some(&before.tables["accounts"])).unwrap();
    assert_eq!(phases.versions.new, ["customers"]);
    lab.run_twice(&phases.expand).await;
    assert_eq!(
        lab.value(
            "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'accounts'"
        )
        .await
        .as_deref(),
        Some("security_invoker=true"),
        "the view for old code applies the caller's privileges (PostgreSQL 15+)"
    );
    lab.execute("INSERT INTO accounts VALUES (2, 'old code')")
        .await;
    lab.execute("UPDATE accounts SET name = 'old update' WHERE id = 1")
        .await;
    lab.execute("INSERT INTO customers VALUES (3, 'new code')")
        .await;
    assert_eq!(
        strings(lab.rows("SELECT name FROM accounts ORDER BY id").await),
        [["old update"], ["old code"], ["new code"]]
    );
    lab.run_twice(&phases.contract).await;
    assert!(lab.snapshot().await.views.is_empty());
    lab.run_twice(&phases.uncontract).await;
    lab.run_twice(&phases.abort).await;
    lab.assert_restored(&before, false).await;
}

#[tokio::test]
async fn raw_sql_is_unchecked() {
    let mut lab = Lab::new("CREATE TABLE t (id int PRIMARY KEY);").await;
    let phases = compile(
        Kind::RawSql {
            up: expr("CREATE TABLE extra (id int)"),
            down: Some(expr("DROP TABLE IF EXISTS extra")),
            contract: Some(expr("ALTER TABLE extra ADD COLUMN c int")),
        },
        None,
    )
    .expect("raw_sql needs no table");
    assert!(phases.unchecked);
    assert!(phases
        .expand
        .iter()
        .all(|s| s.what.contains("unchecked") && s.done_if.is_none()));
    lab.run(&phases.expand).await;
    lab.run(&phases.contract).await;
    assert!(lab.table("extra").await.columns.contains_key("c"));
    lab.run(&phases.abort).await;
    assert!(!lab.snapshot().await.tables.contains_key("extra"));
}

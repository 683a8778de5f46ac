//! Unit tests of reading `[[operation]]` tables: every kind and key, and each refusal with its line.

use super::*;

fn path() -> &'static Path {
    Path::new("migrations/7_ops/migration.toml")
}

fn ops(text: &str) -> Vec<Operation> {
    parse(text, path()).unwrap()
}

fn err(text: &str) -> String {
    parse(text, path()).unwrap_err().to_string()
}

#[test]
fn no_operations_is_an_empty_list() {
    assert!(ops("[[backfill]]\ntable = \"a\"\nset = \"x = 1\"\n").is_empty());
    assert!(ops("").is_empty());
}

#[test]
fn every_kind_with_its_keys() {
    let text = r#"
[[operation]]
kind = "rename_column"
table = "users"
column = "name"
to = "full_name"

[[operation]]
kind = "change_column_type"
table = "users"
column = "age"
to = "age_big"
type = "BIGINT"
up = "age"
down = "age"
[operation.mysql]
up = "CAST(age AS SIGNED)"

[[operation]]
kind = "add_column"
table = "users"
column = "display_name"
type = "VARCHAR(200)"
not_null = true
up = "first_name || ' ' || last_name"
[operation.mysql]
up = "CONCAT(first_name, ' ', last_name)"

[[operation]]
kind = "drop_column"
table = "users"
column = "legacy"
down = "''"

[[operation]]
kind = "set_not_null"
table = "users"
column = "email"
up = "'unknown'"

[[operation]]
kind = "rename_table"
table = "posts"
to = "articles"

[[operation]]
kind = "create_index"
table = "users"
name = "users_email"
columns = ["email", "id"]
unique = true

[[operation]]
kind = "drop_index"
table = "users"
name = "users_old"

[[operation]]
kind = "add_foreign_key"
table = "comments"
name = "comments_user"
columns = ["user_id"]
references = "users"
referenced_columns = ["id"]
on_delete = "set  null"

[[operation]]
kind = "add_check"
table = "users"
name = "users_age"
check = "age >= 0"
[operation.sqlite]
check = "age >= 0 AND age < 200"

[[operation]]
kind = "add_unique"
table = "users"
name = "users_handle"
columns = ["handle"]

[[operation]]
kind = "raw_sql"
up = "CREATE VIEW v AS SELECT 1"
down = "DROP VIEW v"
[operation.postgres]
contract = "SELECT 1"
contract_is_not_here = "x"
"#;
    // The last table has an unknown key: first check it is refused, then read the rest.
    assert!(err(text).contains("unknown key `contract_is_not_here` in [operation.postgres]"));
    let text = text.replace("contract_is_not_here = \"x\"\n", "");
    assert!(err(&text).contains("`contract` is given for postgres only"));
    let text = text.replace("[operation.postgres]\ncontract", "contract");
    let ops = ops(&text);
    let names: Vec<&str> = ops.iter().map(|o| o.kind.name()).collect();
    assert_eq!(names, KINDS);
    assert_eq!(
        ops[0].location.to_string(),
        format!("{}:2", path().display())
    );
    assert_eq!(ops[1].location.line(), 8);
    assert_eq!(
        ops[0].kind,
        Kind::RenameColumn {
            table: "users".into(),
            column: "name".into(),
            to: "full_name".into()
        }
    );
    let Kind::ChangeColumnType {
        up,
        down,
        data_type,
        ..
    } = &ops[1].kind
    else {
        panic!("{:?}", ops[1].kind)
    };
    assert_eq!(data_type, "BIGINT");
    assert_eq!(up.for_engine(Engine::Mysql), "CAST(age AS SIGNED)");
    assert_eq!(up.for_engine(Engine::Postgres), "age");
    assert_eq!(down.overrides.len(), 0);
    let Kind::AddColumn {
        not_null,
        default,
        up,
        ..
    } = &ops[2].kind
    else {
        panic!("{:?}", ops[2].kind)
    };
    assert!(*not_null);
    assert_eq!(default, &None);
    assert_eq!(
        up.as_ref().unwrap().for_engine(Engine::Mysql),
        "CONCAT(first_name, ' ', last_name)"
    );
    assert_eq!(
        up.as_ref().unwrap().for_engine(Engine::Sqlite),
        "first_name || ' ' || last_name"
    );
    assert_eq!(
        ops[6].kind,
        Kind::CreateIndex {
            table: "users".into(),
            name: "users_email".into(),
            columns: vec!["email".into(), "id".into()],
            unique: true
        }
    );
    let Kind::AddForeignKey { on_delete, .. } = &ops[8].kind else {
        panic!("{:?}", ops[8].kind)
    };
    assert_eq!(on_delete.as_deref(), Some("SET NULL"));
    let Kind::AddCheck { check, .. } = &ops[9].kind else {
        panic!("{:?}", ops[9].kind)
    };
    assert_eq!(check.for_engine(Engine::Sqlite), "age >= 0 AND age < 200");
    assert_eq!(check.for_engine(Engine::Mysql), "age >= 0");
    let Kind::RawSql { up, down, contract } = &ops[11].kind else {
        panic!("{:?}", ops[11].kind)
    };
    assert_eq!(up.sql, "CREATE VIEW v AS SELECT 1");
    assert_eq!(down.as_ref().unwrap().sql, "DROP VIEW v");
    assert_eq!(contract.as_ref().unwrap().sql, "SELECT 1");
}

#[test]
fn defaults_of_optional_keys() {
    let ops = ops(
        "[[operation]]\nkind = \"add_column\"\ntable = \"t\"\ncolumn = \"c\"\ntype = \"int\"\n\
         [[operation]]\nkind = \"add_column\"\ntable = \"t\"\ncolumn = \"d\"\ntype = \"int\"\nnot_null = true\ndefault = \"0\"\n\
         [[operation]]\nkind = \"create_index\"\ntable = \"t\"\nname = \"i\"\ncolumns = [\"c\"]\n\
         [[operation]]\nkind = \"drop_column\"\ntable = \"t\"\ncolumn = \"e\"\n",
    );
    assert_eq!(
        ops[0].kind,
        Kind::AddColumn {
            table: "t".into(),
            column: "c".into(),
            data_type: "int".into(),
            not_null: false,
            default: None,
            up: None
        }
    );
    let Kind::AddColumn {
        default,
        not_null,
        up,
        ..
    } = &ops[1].kind
    else {
        panic!()
    };
    assert_eq!(
        (default.as_deref(), *not_null, up),
        (Some("0"), true, &None)
    );
    assert!(matches!(
        ops[2].kind,
        Kind::CreateIndex { unique: false, .. }
    ));
    assert!(matches!(ops[3].kind, Kind::DropColumn { down: None, .. }));
    assert_eq!(ops[3].location.line(), 18);
}

#[test]
fn unknown_keys_and_kinds_list_what_is_allowed() {
    assert_eq!(
        err("\n[[operation]]\nkind = \"rename_column\"\ntable = \"t\"\ncolumn = \"a\"\nto = \"b\"\nnew_name = \"c\"\n"),
        "migrations/7_ops/migration.toml:2: migration.toml: operation 1 (rename_column): unknown key \
         `new_name`: `rename_column` takes `table`, `column`, `to`, the batch keys `batch_size`, \
         `pause`, `target_batch_time`, `max_replication_lag`, and per-engine tables \
         [operation.<engine>] (postgres, mysql, sqlite)"
    );
    let e = err("[[operation]]\nkind = \"rename_columns\"\ntable = \"t\"\n");
    assert!(
        e.starts_with("migrations/7_ops/migration.toml:1: migration.toml: operation 1 (rename_columns): unknown kind `rename_columns`: the kinds are `rename_column`, `change_column_type`,"),
        "{e}"
    );
    assert!(e.ends_with("`raw_sql`"), "{e}");
    assert!(err("[[operation]]\ntable = \"t\"\n").contains(
        "operation 1: `kind` is missing: write `kind = \"<kind>\"`, one of `rename_column`"
    ));
    assert!(err("[[operation]]\nkind = 3\n").contains("`kind` must be a string"));
    // A key of another kind is unknown to this one.
    assert!(err(
        "[[operation]]\nkind = \"drop_index\"\ntable = \"t\"\nname = \"i\"\nunique = true\n"
    )
    .contains("unknown key `unique`: `drop_index` takes `table`, `name`"));
}

#[test]
fn engine_tables() {
    let base =
        "[[operation]]\nkind = \"set_not_null\"\ntable = \"t\"\ncolumn = \"c\"\nup = \"0\"\n";
    assert_eq!(
        err(&format!("{base}[operation.oracle]\nup = \"1\"\n")),
        "migrations/7_ops/migration.toml:1: migration.toml: operation 1 (set_not_null): unknown \
         engine `oracle` in [operation.oracle]: the per-engine tables are [operation.postgres], \
         [operation.mysql], [operation.sqlite]"
    );
    assert!(err(&format!("{base}[operation.mysql]\ndown = \"1\"\n"))
        .contains("unknown key `down` in [operation.mysql]: [operation.mysql] of `set_not_null` overrides `up`"));
    assert!(err("[[operation]]\nkind = \"rename_table\"\ntable = \"t\"\nto = \"u\"\n[operation.sqlite]\nup = \"1\"\n")
        .contains("`rename_table` has no expression to override"));
    assert!(err(&format!("{base}[operation.mysql]\nup = 1\n")).contains("must be a string of SQL"));
    assert!(err(&format!("{base}[operation.mysql]\nup = \" \"\n")).contains("is empty"));
    let ops = ops(&format!(
        "{base}[operation.postgres]\nup = \"2\"\n[operation.sqlite]\nup = \"3\"\n"
    ));
    let Kind::SetNotNull { up, .. } = &ops[0].kind else {
        panic!()
    };
    assert_eq!(
        [Engine::Postgres, Engine::Mysql, Engine::Sqlite].map(|e| up.for_engine(e)),
        ["2", "0", "3"]
    );
}

#[test]
fn missing_and_empty_values() {
    let cases = [
        ("kind = \"rename_column\"\ncolumn = \"a\"\nto = \"b\"", "`table` is missing: give the table it changes"),
        ("kind = \"rename_column\"\ntable = \" \"\ncolumn = \"a\"\nto = \"b\"", "`table` is empty"),
        ("kind = \"rename_column\"\ntable = \"t\"\nto = \"b\"", "`column` is missing"),
        ("kind = \"rename_column\"\ntable = \"t\"\ncolumn = \"a\"", "`to` is missing: give the column's new name"),
        ("kind = \"rename_column\"\ntable = \"t\"\ncolumn = \"a\"\nto = \"\"", "`to` is empty"),
        ("kind = \"rename_column\"\ntable = \"t\"\ncolumn = \"a\"\nto = \"a\"", "`to` is `a`, the column's current name: give a new name"),
        ("kind = \"rename_table\"\ntable = \"t\"\nto = \"t\"", "`to` is `t`, the table's current name"),
        ("kind = \"change_column_type\"\ntable = \"t\"\ncolumn = \"a\"\nto = \"b\"\ntype = \"int\"\ndown = \"b\"", "`up` is missing: `change_column_type` needs the new column's value from the old row"),
        ("kind = \"change_column_type\"\ntable = \"t\"\ncolumn = \"a\"\nto = \"b\"\ntype = \"int\"\nup = \"a\"", "`down` is missing: `change_column_type` needs the old column's value"),
        ("kind = \"change_column_type\"\ntable = \"t\"\ncolumn = \"a\"\nto = \"b\"\nup = \"a\"\ndown = \"b\"", "`type` is missing"),
        ("kind = \"change_column_type\"\ntable = \"t\"\ncolumn = \"a\"\nto = \"b\"\ntype = \"int\"\nup = \"\"\ndown = \"b\"", "`up` is empty"),
        ("kind = \"set_not_null\"\ntable = \"t\"\ncolumn = \"a\"", "`up` is missing: `set_not_null` needs the value that replaces NULL"),
        ("kind = \"add_column\"\ntable = \"t\"\ncolumn = \"a\"\ntype = \"int\"\nnot_null = true", "`not_null = true` without `default` needs `up`"),
        ("kind = \"add_column\"\ntable = \"t\"\ncolumn = \"a\"\ntype = \"int\"\nnot_null = \"yes\"", "`not_null` must be true or false, found string"),
        ("kind = \"add_column\"\ntable = \"t\"\ncolumn = \"a\"\ntype = \"int\"\ndefault = \"\"", "`default` is empty"),
        ("kind = \"add_column\"\ntable = \"t\"\ncolumn = 3\ntype = \"int\"", "`column` must be a string, found integer"),
        ("kind = \"create_index\"\ntable = \"t\"\nname = \"i\"", "`columns` is missing: list the columns"),
        ("kind = \"create_index\"\ntable = \"t\"\nname = \"i\"\ncolumns = []", "`columns` is empty"),
        ("kind = \"create_index\"\ntable = \"t\"\nname = \"i\"\ncolumns = \"a\"", "`columns` must be a list of column names"),
        ("kind = \"create_index\"\ntable = \"t\"\nname = \"i\"\ncolumns = [1]", "`columns` must be a list of column names"),
        ("kind = \"create_index\"\ntable = \"t\"\nname = \"i\"\ncolumns = [\"\"]", "`columns` holds an empty column name"),
        ("kind = \"create_index\"\ntable = \"t\"\nname = \"i\"\ncolumns = [\"a\", \"a\"]", "`columns` names `a` twice"),
        ("kind = \"create_index\"\ntable = \"t\"\ncolumns = [\"a\"]", "`name` is missing: give the name of the index or constraint"),
        ("kind = \"drop_index\"\ntable = \"t\"\nname = \"\"", "`name` is empty"),
        ("kind = \"add_foreign_key\"\ntable = \"t\"\nname = \"f\"\ncolumns = [\"a\"]\nreferenced_columns = [\"id\"]", "`references` is missing: give the referenced table"),
        ("kind = \"add_foreign_key\"\ntable = \"t\"\nname = \"f\"\ncolumns = [\"a\"]\nreferences = \"u\"", "`referenced_columns` is missing"),
        ("kind = \"add_foreign_key\"\ntable = \"t\"\nname = \"f\"\ncolumns = [\"a\", \"b\"]\nreferences = \"u\"\nreferenced_columns = [\"id\"]", "`columns` has 2 column(s) and `referenced_columns` 1"),
        ("kind = \"add_foreign_key\"\ntable = \"t\"\nname = \"f\"\ncolumns = [\"a\"]\nreferences = \"u\"\nreferenced_columns = [\"id\"]\non_delete = \"explode\"", "`on_delete` is `explode`: write one of `CASCADE`, `SET NULL`"),
        ("kind = \"add_check\"\ntable = \"t\"\nname = \"c\"", "`check` is missing: `add_check` needs the condition"),
        ("kind = \"add_unique\"\ntable = \"t\"\nname = \"u\"", "`columns` is missing"),
        ("kind = \"raw_sql\"\ndown = \"x\"", "`up` is missing: `raw_sql` needs the SQL to run at expand"),
        ("kind = \"raw_sql\"\ntable = \"t\"\nup = \"x\"", "unknown key `table`: `raw_sql` takes `up`, `down`, `contract`"),
    ];
    for (body, expected) in cases {
        let text = format!("# header\n[[operation]]\n{body}\n");
        let e = err(&text);
        assert!(
            e.starts_with("migrations/7_ops/migration.toml:2: migration.toml: operation 1 ("),
            "{body}: {e}"
        );
        assert!(e.contains(expected), "{body}: {e}");
    }
}

#[test]
fn two_operations_on_one_column_are_refused() {
    let e = err(
        "[[operation]]\nkind = \"rename_column\"\ntable = \"t\"\ncolumn = \"a\"\nto = \"b\"\n\n\
         [[operation]]\nkind = \"set_not_null\"\ntable = \"t\"\ncolumn = \"b\"\nup = \"0\"\n",
    );
    assert_eq!(
        e,
        "migrations/7_ops/migration.toml:7: migration.toml: operation 2 (set_not_null): `t.b` is \
         also changed by the operation at line 1 (rename_column): one operation per column; put \
         the second change in a later migration"
    );
    assert!(err(
        "[[operation]]\nkind = \"rename_table\"\ntable = \"t\"\nto = \"u\"\n\
         [[operation]]\nkind = \"rename_table\"\ntable = \"u\"\nto = \"v\"\n"
    )
    .contains("`u` is also changed"));
    // The same column name on two tables is two columns.
    assert_eq!(
        ops(
            "[[operation]]\nkind = \"drop_column\"\ntable = \"t\"\ncolumn = \"a\"\n\
             [[operation]]\nkind = \"drop_column\"\ntable = \"u\"\ncolumn = \"a\"\n"
        )
        .len(),
        2
    );
}

#[test]
fn bad_toml_and_bad_shapes() {
    assert!(err("[[operation]\n").contains("migration.toml:1: migration.toml:"));
    assert!(err("x = 1\noperation = 3\n")
        .contains(":2: migration.toml: `operation` must be a list of `[[operation]]` tables"));
    assert!(err("operation = [3]\n").contains("operation 1: must be a table"));
}

#[test]
fn batch_keys_on_the_kinds_that_backfill() {
    let read = ops("[[operation]]\nkind = \"rename_column\"\ntable = \"t\"\ncolumn = \"a\"\nto = \"b\"\nbatch_size = 500\npause = \"20ms\"\ntarget_batch_time = \"100ms\"\n");
    assert_eq!(read[0].batch.size, Some(500));
    assert_eq!(
        read[0].batch.pause,
        Some(std::time::Duration::from_millis(20))
    );
    assert_eq!(
        read[0].batch.target_time,
        Some(std::time::Duration::from_millis(100))
    );
    assert_eq!(read[0].batch.max_replication_lag, None);
    let plain =
        ops("[[operation]]\nkind = \"rename_column\"\ntable = \"t\"\ncolumn = \"a\"\nto = \"b\"\n");
    assert_eq!(plain[0].batch, BatchSettings::default());
}

#[test]
fn bad_batch_keys_name_the_line_and_the_fix() {
    let head = "# ops\n[[operation]]\nkind = \"rename_column\"\ntable = \"t\"\ncolumn = \"a\"\nto = \"b\"\n";
    assert_eq!(
        err(&format!("{head}batch_size = 0\n")),
        "migrations/7_ops/migration.toml:2: migration.toml: operation 1 (rename_column): `batch_size` must be between 1 and 100000, found 0"
    );
    assert!(err(&format!("{head}batch_size = \"many\"\n"))
        .ends_with("`batch_size` must be a whole number of rows"));
    assert!(err(&format!("{head}pause = \"soon\"\n")).contains(
        ":2: migration.toml: operation 1 (rename_column): `pause` must be a duration like `50ms`"
    ));
    assert!(err(&format!("{head}pause = 5\n")).contains("`pause` must be a duration string"));
    assert!(err(&format!("{head}target_batch_time = \"0ms\"\n"))
        .contains("`target_batch_time` must be more than zero"));
    // An operation that never backfills takes none of them.
    let index = "[[operation]]\nkind = \"create_index\"\ntable = \"t\"\nname = \"t_a\"\ncolumns = [\"a\"]\nbatch_size = 10\n";
    let message = err(index);
    assert!(message.contains("unknown key `batch_size`"), "{message}");
    assert!(!message.contains("the batch keys"), "{message}");
    let rename = err(&format!("{head}batchsize = 10\n"));
    assert!(
        rename.contains(
            "the batch keys `batch_size`, `pause`, `target_batch_time`, `max_replication_lag`"
        ),
        "{rename}"
    );
}

//! The SQL the mysql family writes, per flavour and version, without a
//! server: MySQL 8 has no server on the development machine, so its
//! differences from MariaDB are pinned here.

use super::triggers::qualify;
use super::*;
use crate::dialect::ServerVersion;
use crate::error::Location;
use crate::operation::Expr;
use crate::schema::{Index, PrimaryKey};

fn dialect(version: &str) -> MysqlDialect {
    MysqlDialect::from_version(version)
}

fn users() -> Table {
    let mut t = Table::default();
    let column = |data_type: &str, nullable: bool, default: Option<&str>| Column {
        data_type: data_type.to_owned(),
        nullable,
        default: default.map(str::to_owned),
        ..Column::default()
    };
    t.columns
        .insert("id".to_owned(), column("int(11)", false, None));
    t.columns.insert(
        "name".to_owned(),
        column("varchar(50)", false, Some("anon")),
    );
    t.column_order = vec!["id".to_owned(), "name".to_owned()];
    t.primary_key = Some(PrimaryKey {
        name: Some("PRIMARY".to_owned()),
        columns: vec!["id".to_owned()],
    });
    t.indexes.insert(
        "users_name".to_owned(),
        Index {
            columns: vec!["name(10) desc".to_owned()],
            ..Index::default()
        },
    );
    t
}

fn compile(dialect: &MysqlDialect, kind: Kind, before: &Table) -> Result<Phases, String> {
    let operation = Operation {
        kind,
        location: Location::new("migration.toml", 3),
        batch: Default::default(),
    };
    let ctx = Context {
        version: crate::migration::Version::from(20260101090500),
        index: 1,
        before: Some(before),
    };
    dialect.compile_operation(&operation, &ctx)
}

fn rename() -> Kind {
    Kind::RenameColumn {
        table: "users".to_owned(),
        column: "name".to_owned(),
        to: "full_name".to_owned(),
    }
}

fn sql_of(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| format!("-- {}\n{}\n", s.what, s.statements.join(";\n")))
        .collect()
}

#[test]
fn qualify_reads_only_columns() {
    let d = MysqlDialect::DEFAULT;
    let sql = Sql { dialect: &d };
    let e = qualify(
        &sql,
        "CONCAT(first, ' first ', `Last`, t.first, \"last\") # last\n + LOWER (first) -- first",
        &["first", "last"],
    );
    assert_eq!(
        e.sql,
        "CONCAT(NEW.first, ' first ', NEW.last, t.first, \"last\") # last\n + LOWER (NEW.first) -- first"
    );
    assert_eq!(e.reads, ["first", "last"]);
    let call = qualify(&sql, "last(1) + 2e3 + first2", &["last", "first"]);
    assert_eq!(call.sql, "last(1) + 2e3 + first2");
    assert!(call.reads.is_empty());
    let quoted = qualify(
        &sql,
        "'it''s' || `we``ird` /* first */",
        &["we`ird", "first"],
    );
    assert_eq!(quoted.sql, "'it''s' || NEW.`we``ird` /* first */");
}

/// MySQL checks NOT NULL before triggers: expand relaxes the old column,
/// restating its whole definition (the comment through the catalog).
#[test]
fn mysql_relaxes_the_old_not_null_column_and_mariadb_does_not() {
    let before = users();
    let mysql = compile(&dialect("8.0.36"), rename(), &before).expect("compiles");
    // First a check that nothing outside the table reads the column.
    assert!(mysql.expand[0].statements.is_empty());
    let check = mysql.expand[0].must_be_empty.as_deref().unwrap_or_default();
    assert!(check.contains("REFERENCED_COLUMN_NAME = 'name'"), "{check}");
    assert!(check.contains("VIEW_DEFINITION LIKE"), "{check}");
    let text = sql_of(&mysql.expand[1..]);
    insta::assert_snapshot!(text, @r"
    -- add column users.full_name, nullable
    ALTER TABLE users ADD COLUMN full_name varchar(50) NULL, ALGORITHM=INSTANT
    -- restate column users.name as NULL with its default
    SET @cairn_ddl = CONCAT('ALTER TABLE users MODIFY COLUMN name varchar(50) NULL DEFAULT ''anon''', ' COMMENT ', QUOTE(COALESCE((SELECT COLUMN_COMMENT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME IN ('name') AND COLUMN_COMMENT <> '' ORDER BY FIELD(COLUMN_NAME, 'name') LIMIT 1), '')), ', ALGORITHM=INPLACE, LOCK=NONE');
    PREPARE cairn_ddl FROM @cairn_ddl;
    EXECUTE cairn_ddl;
    DEALLOCATE PREPARE cairn_ddl
    -- create trigger cairn_20260101090500_1_ins on users
    CREATE TRIGGER cairn_20260101090500_1_ins BEFORE INSERT ON users FOR EACH ROW BEGIN IF NEW.full_name IS NULL THEN IF NEW.name IS NOT NULL THEN SET NEW.full_name = (NEW.name); END IF; ELSE SET NEW.name = (NEW.full_name); END IF; END
    -- create trigger cairn_20260101090500_1_upd on users
    CREATE TRIGGER cairn_20260101090500_1_upd BEFORE UPDATE ON users FOR EACH ROW BEGIN IF NOT (NEW.name <=> OLD.name) AND NEW.full_name <=> OLD.full_name THEN SET NEW.full_name = (NEW.name); ELSEIF NOT (NEW.full_name <=> OLD.full_name) AND NEW.name <=> OLD.name AND NOT (NEW.full_name <=> (NEW.name)) THEN SET NEW.name = (NEW.full_name); END IF; END
    -- create index cairn_20260101090500_1_ix0 on users (full_name)
    ALTER TABLE users ADD INDEX cairn_20260101090500_1_ix0 (full_name(10) DESC), ALGORITHM=INPLACE, LOCK=NONE
    ");
    let mariadb = compile(&dialect("10.11.6-MariaDB"), rename(), &before).expect("compiles");
    assert_eq!(mariadb.expand.len(), mysql.expand.len() - 1);
    assert!(!sql_of(&mariadb.expand).contains("MODIFY COLUMN name"));
    // Un-contract relaxes the new column on MySQL only; both drop its default.
    assert!(
        sql_of(&mysql.uncontract).contains("MODIFY COLUMN full_name varchar(50) NULL', ' COMMENT")
    );
    assert!(sql_of(&mariadb.uncontract)
        .contains("MODIFY COLUMN full_name varchar(50) NOT NULL', ' COMMENT"));
    // Abort restores the old column's definition, at its place.
    assert!(sql_of(&mysql.abort)
        .contains("MODIFY COLUMN name varchar(50) NOT NULL DEFAULT ''anon''', ' COMMENT ', QUOTE"));
    assert!(sql_of(&mysql.abort).contains("AFTER id, ALGORITHM=INPLACE, LOCK=NONE"));
    // Every step but none is guarded.
    for step in mysql
        .expand
        .iter()
        .chain(&mysql.contract)
        .chain(&mysql.abort)
        .chain(&mysql.uncontract)
    {
        if step.statements.is_empty() {
            assert!(step.must_be_empty.is_some(), "`{}` does nothing", step.what);
            continue;
        }
        assert!(step.done_if.is_some(), "`{}` has no guard", step.what);
        assert!(
            step.lock_timeout,
            "`{}` is not under the lock timeout",
            step.what
        );
    }
}

#[test]
fn algorithms_follow_the_server_version() {
    let sql = |v: &str| {
        let d = dialect(v);
        (
            Sql { dialect: &d }.add_column_algorithm(),
            Sql { dialect: &d }.drop_column_algorithm(),
        )
    };
    assert_eq!(sql("8.0.11"), (INPLACE, INPLACE));
    assert_eq!(sql("8.0.12"), ("ALGORITHM=INSTANT", INPLACE));
    assert_eq!(sql("8.0.29"), ("ALGORITHM=INSTANT", "ALGORITHM=INSTANT"));
    assert_eq!(sql("10.3.1-MariaDB"), (INPLACE, INPLACE));
    assert_eq!(
        sql("10.4.0-MariaDB"),
        ("ALGORITHM=INSTANT", "ALGORITHM=INSTANT")
    );
    let unknown = MysqlDialect::new(crate::dialect::Flavour::Mysql, None);
    assert_eq!(
        Sql { dialect: &unknown }.add_column_algorithm(),
        "ALGORITHM=INSTANT"
    );
    let _ = ServerVersion::parse("8.0.0");
}

#[test]
fn foreign_key_checks_are_off_for_the_statement_only_on_mariadb() {
    let mysql = dialect("8.0.36");
    let maria = dialect("10.11.6-MariaDB");
    assert_eq!(
        Sql { dialect: &mysql }.without_foreign_key_checks("ALTER TABLE t ADD x"),
        [
            "SET SESSION foreign_key_checks = 0",
            "ALTER TABLE t ADD x",
            "SET SESSION foreign_key_checks = 1"
        ]
    );
    assert_eq!(
        Sql { dialect: &maria }.without_foreign_key_checks("ALTER TABLE t ADD x"),
        ["SET STATEMENT foreign_key_checks = 0 FOR ALTER TABLE t ADD x"]
    );
}

#[test]
fn defaults_are_sql_on_both_flavours() {
    let mysql = dialect("8.0.36");
    let maria = dialect("10.11.6-MariaDB");
    let my = Sql { dialect: &mysql };
    assert_eq!(my.default_sql("anon"), "'anon'");
    assert_eq!(my.default_sql("0"), "0");
    assert_eq!(my.default_sql("CURRENT_TIMESTAMP"), "CURRENT_TIMESTAMP");
    assert_eq!(my.default_sql("uuid()"), "(uuid())");
    assert_eq!(Sql { dialect: &maria }.default_sql("'anon'"), "'anon'");
}

#[test]
fn refusals_say_what_to_do() {
    let before = users();
    let d = dialect("10.11.6-MariaDB");
    let check = compile(
        &d,
        Kind::AddCheck {
            table: "users".to_owned(),
            name: "c".to_owned(),
            check: Expr::new("id > 0"),
        },
        &before,
    )
    .expect_err("refused");
    assert!(check.contains("ALGORITHM=COPY"), "{check}");
    let same = compile(
        &d,
        Kind::RenameColumn {
            table: "users".to_owned(),
            column: "name".to_owned(),
            to: "NAME".to_owned(),
        },
        &before,
    )
    .expect_err("refused");
    assert!(same.contains("without case"), "{same}");
    let mut generated = users();
    generated.columns.insert(
        "upper_name".to_owned(),
        Column {
            data_type: "varchar(50)".to_owned(),
            nullable: true,
            generated: Some("upper(`name`) virtual".to_owned()),
            ..Column::default()
        },
    );
    generated.column_order.push("upper_name".to_owned());
    let e = compile(&d, rename(), &generated).expect_err("refused");
    assert!(e.contains("generated column `upper_name`"), "{e}");
    let mut keyed = users();
    keyed.indexes.get_mut("users_name").expect("index").columns = vec!["name".to_owned()];
    keyed.foreign_keys.insert(
        "users_name_fk".to_owned(),
        crate::schema::ForeignKey {
            columns: vec!["name".to_owned()],
            referenced_table: "names".to_owned(),
            referenced_columns: vec!["name".to_owned()],
            ..Default::default()
        },
    );
    let drop = Kind::DropIndex {
        table: "users".to_owned(),
        name: "users_name".to_owned(),
    };
    let e = compile(&d, drop, &keyed).expect_err("refused");
    assert!(e.contains("foreign key `users_name_fk` needs"), "{e}");
    let mut fulltext = users();
    fulltext
        .indexes
        .get_mut("users_name")
        .expect("index")
        .method = Some("fulltext".to_owned());
    let e = compile(&d, rename(), &fulltext).expect_err("refused");
    assert!(e.contains("fulltext"), "{e}");
}

/// The placeholder default that keeps inserts working between dropping
/// the triggers and the column they filled, per type and flavour.
#[test]
fn placeholders_fit_the_type() {
    let mysql = dialect("8.0.36");
    let maria = dialect("10.11.6-MariaDB");
    let set = |d: &MysqlDialect, t: &str| {
        Sql { dialect: d }
            .omittable("t", "c", t)
            .map(|s| s.statements.join(""))
    };
    assert_eq!(
        set(&maria, "int(11)").as_deref(),
        Some("ALTER TABLE t ALTER COLUMN c SET DEFAULT 0, ALGORITHM=INSTANT")
    );
    assert!(set(&maria, "varchar(50)").is_some_and(|s| s.contains("DEFAULT ''")));
    assert!(set(&maria, "text").is_some_and(|s| s.contains("DEFAULT ''")));
    assert!(set(&mysql, "text").is_some_and(|s| s.contains("DEFAULT ('')")));
    assert!(set(&mysql, "datetime(6)").is_some_and(|s| s.contains("'1970-01-01 00:00:01'")));
    assert_eq!(set(&mysql, "enum('a','b')"), None);
    let step = Sql { dialect: &maria }
        .omittable("t", "c", "int")
        .expect("a step");
    let guard = step.done_if.expect("a guard");
    assert!(
        guard.contains("IS_NULLABLE = 'NO' AND COLUMN_DEFAULT IS NULL"),
        "{guard}"
    );
}

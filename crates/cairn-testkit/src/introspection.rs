//! Schema introspection cases every Cairn driver must pass: the snapshot of
//! `cairn_core::schema` read through the real driver on a fresh database.
//!
//! A driver crate expands [`introspection_tests!`](crate::introspection_tests) with its
//! [`Target`], as it does `conformance_tests!`:
//! one `#[tokio::test]` per case in [`CASES`].

use std::time::Duration;

use cairn_core::schema::{
    dialect_of, diff, introspect, Change, IntrospectOptions, ObjectKind, Snapshot,
};
use cairn_core::seed::{self, Seeder};
use cairn_core::{Driver, Flavour, Migrator, MigratorOptions};

use crate::conformance::Target;
use crate::fixture::Fixture;

/// The names of every case, in the order [`introspection_tests!`](crate::introspection_tests) expands them.
pub const CASES: &[&str] = &[
    "repeatable",
    "sees_every_object",
    "dropped_index",
    "added_column",
    "changed_default",
    "dropped_foreign_key",
    "dropped_trigger",
    "dropped_view",
    "history_tables_never_appear",
    "sql_dump_round_trip",
    "seed_rows_fill_every_table",
];

/// Expands to one `#[tokio::test]` per introspection case for `$target`
/// (an expression of a type implementing [`Target`]).
#[macro_export]
macro_rules! introspection_tests {
    ($target:expr) => {
        $crate::introspection_tests!(@cases $target;
            repeatable, sees_every_object, dropped_index, added_column, changed_default,
            dropped_foreign_key, dropped_trigger, dropped_view, history_tables_never_appear,
            sql_dump_round_trip, seed_rows_fill_every_table);
    };
    (@cases $target:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::introspection::$case(&$target).await;
            }
        )*
    };
}

/// The product family a fixture is written for, from the driver's dialect:
/// MariaDB takes MySQL's fixtures. A new flavour names itself here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Postgres,
    Mysql,
    Sqlite,
}

fn family(driver: &dyn Driver) -> Family {
    match dialect_of(driver).flavour() {
        Flavour::Postgres => Family::Postgres,
        Flavour::Mysql | Flavour::MariaDb => Family::Mysql,
        Flavour::Sqlite => Family::Sqlite,
        other => panic!(
            "cairn-testkit has no introspection fixture for {other}: \
             add it to `family` in crates/cairn-testkit/src/introspection.rs"
        ),
    }
}

/// The schema every case starts from, for `family`: tables with defaults, a
/// primary key, a unique constraint, a multi-column and (PostgreSQL, SQLite)
/// a partial index, foreign keys (one `ON DELETE CASCADE`), a check, a view
/// and a trigger.
fn schema(family: Family) -> Vec<&'static str> {
    let mut statements = vec![
        "CREATE TABLE authors (id INTEGER PRIMARY KEY, email VARCHAR(200) NOT NULL, \
         name VARCHAR(50) DEFAULT 'anon', CONSTRAINT authors_email_key UNIQUE (email))",
        "CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL, \
         title VARCHAR(100) NOT NULL, price INTEGER DEFAULT 0, published INTEGER, \
         CONSTRAINT books_author_fk FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE CASCADE, \
         CONSTRAINT books_price_positive CHECK (price >= 0))",
        "CREATE TABLE reviews (id INTEGER PRIMARY KEY, book_id INTEGER, stars INTEGER DEFAULT 3, \
         CONSTRAINT reviews_book_fk FOREIGN KEY (book_id) REFERENCES books (id))",
        "CREATE INDEX books_author_title ON books (author_id, title)",
        "CREATE VIEW cheap_books AS SELECT id, title FROM books WHERE price < 10",
    ];
    match family {
        Family::Postgres => statements.extend([
            "CREATE INDEX books_published ON books (published) WHERE published IS NOT NULL",
            "CREATE FUNCTION books_touch() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN NEW.price := COALESCE(NEW.price, 0); RETURN NEW; END $$",
            "CREATE TRIGGER books_touch BEFORE INSERT ON books FOR EACH ROW EXECUTE FUNCTION books_touch()",
        ]),
        Family::Mysql => statements.extend([
            // No partial indexes on MySQL.
            "CREATE INDEX books_published ON books (published)",
            "CREATE TRIGGER books_touch BEFORE INSERT ON books FOR EACH ROW SET NEW.price = COALESCE(NEW.price, 0)",
        ]),
        Family::Sqlite => statements.extend([
            "CREATE INDEX books_published ON books (published) WHERE published IS NOT NULL",
            "CREATE TRIGGER books_touch BEFORE INSERT ON books BEGIN SELECT 1; END",
        ]),
    }
    statements
}

async fn build(driver: &mut dyn Driver) {
    for statement in schema(family(driver)) {
        run(driver, statement).await;
    }
}

async fn run(driver: &mut dyn Driver, statement: &str) {
    driver
        .execute(statement)
        .await
        .unwrap_or_else(|e| panic!("{} rejected {statement}: {e}", driver.dialect().engine()));
}

async fn snapshot(driver: &mut dyn Driver) -> Snapshot {
    introspect(driver, &IntrospectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("introspection failed: {e}"))
}

/// Two introspections of the same schema are identical, text and all.
pub async fn repeatable(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    build(driver.as_mut()).await;
    let first = snapshot(driver.as_mut()).await;
    let mut other = db.connect().await;
    let second = snapshot(other.as_mut()).await;
    assert_eq!(first, second);
    assert_eq!(first.to_text(), second.to_text());
    assert!(diff(&first, &second).is_empty());
}

/// The schema built from SQL introspects to the objects it declares.
pub async fn sees_every_object(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    build(driver.as_mut()).await;
    let family = family(driver.as_ref());
    let s = snapshot(driver.as_mut()).await;
    let text = s.to_text();
    assert_eq!(
        s.tables.keys().collect::<Vec<_>>(),
        ["authors", "books", "reviews"],
        "{text}"
    );
    let authors = &s.tables["authors"];
    assert_eq!(authors.column_order, ["id", "email", "name"], "{text}");
    let email = &authors.columns["email"];
    assert!(!email.nullable, "{text}");
    assert!(
        email.data_type.contains("varchar") || email.data_type.contains("character varying"),
        "{text}"
    );
    let name = &authors.columns["name"];
    assert!(name.nullable, "{text}");
    assert!(
        name.default.as_deref().is_some_and(|d| d.contains("anon")),
        "{text}"
    );
    match family {
        Family::Mysql => {
            let unique = &authors.indexes["authors_email_key"];
            assert!(unique.unique, "{text}");
            assert_eq!(unique.columns, ["email"], "{text}");
        }
        Family::Postgres => assert_eq!(
            authors.unique_constraints["authors_email_key"],
            ["email"],
            "{text}"
        ),
        Family::Sqlite => assert_eq!(
            authors.unique_constraints["unique (email)"],
            ["email"],
            "{text}"
        ),
    }

    let books = &s.tables["books"];
    assert_eq!(
        books.primary_key.as_ref().map(|pk| pk.columns.clone()),
        Some(vec!["id".to_owned()]),
        "{text}"
    );
    assert_eq!(
        books.columns["price"].default.as_deref(),
        Some("0"),
        "{text}"
    );
    let multi = &books.indexes["books_author_title"];
    assert_eq!(multi.columns, ["author_id", "title"], "{text}");
    assert!(!multi.unique, "{text}");
    let partial = &books.indexes["books_published"];
    assert_eq!(partial.columns, ["published"], "{text}");
    if family != Family::Mysql {
        assert!(
            partial
                .predicate
                .as_deref()
                .is_some_and(|p| p.contains("published IS NOT NULL")),
            "{text}"
        );
    }
    let (fk_name, fk) = books
        .foreign_keys
        .iter()
        .next()
        .expect("a foreign key on books");
    assert_eq!(books.foreign_keys.len(), 1, "{text}");
    if family != Family::Sqlite {
        assert_eq!(fk_name, "books_author_fk", "{text}");
    }
    assert_eq!(fk.columns, ["author_id"], "{text}");
    assert_eq!(fk.referenced_table, "authors", "{text}");
    assert_eq!(fk.referenced_columns, ["id"], "{text}");
    assert_eq!(fk.on_delete, "CASCADE", "{text}");
    let check = books
        .checks
        .get("books_price_positive")
        .unwrap_or_else(|| panic!("check books_price_positive missing:\n{text}"));
    assert!(check.contains("price") && check.contains(">= 0"), "{text}");

    let view = &s.views["cheap_books"];
    assert!(view.definition.contains("price"), "{text}");
    let trigger = &s.triggers["books_touch"];
    assert_eq!(trigger.table, "books", "{text}");
    assert_eq!(trigger.timing, "BEFORE", "{text}");
    assert_eq!(trigger.events, ["INSERT"], "{text}");
}

/// Builds the schema, snapshots it, applies `change`, snapshots again, and
/// checks the diff is exactly one difference at `path` of the expected kind.
async fn single_change(
    target: &dyn Target,
    change: fn(Family) -> Vec<&'static str>,
    path: fn(Family) -> Vec<(ObjectKind, &'static str)>,
    expected: fn(&Change) -> bool,
) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    build(driver.as_mut()).await;
    let before = snapshot(driver.as_mut()).await;
    for statement in change(family(driver.as_ref())) {
        run(driver.as_mut(), statement).await;
    }
    let after = snapshot(driver.as_mut()).await;
    let differences = diff(&before, &after);
    let shown: Vec<String> = differences.iter().map(ToString::to_string).collect();
    assert_eq!(differences.len(), 1, "{shown:#?}");
    let path: Vec<(ObjectKind, String)> = path(family(driver.as_ref()))
        .iter()
        .map(|(kind, name)| (*kind, (*name).to_owned()))
        .collect();
    assert_eq!(differences[0].path, path, "{shown:#?}");
    assert!(expected(&differences[0].change), "{shown:#?}");
}

fn added(change: &Change) -> bool {
    matches!(change, Change::Added { .. })
}

fn removed(change: &Change) -> bool {
    matches!(change, Change::Removed { .. })
}

/// Dropping an index is one removed index.
pub async fn dropped_index(target: &dyn Target) {
    single_change(
        target,
        |family| match family {
            Family::Mysql => vec!["DROP INDEX books_published ON books"],
            _ => vec!["DROP INDEX books_published"],
        },
        |_| {
            vec![
                (ObjectKind::Table, "books"),
                (ObjectKind::Index, "books_published"),
            ]
        },
        removed,
    )
    .await;
}

/// Adding a column is one added column.
pub async fn added_column(target: &dyn Target) {
    single_change(
        target,
        |_| vec!["ALTER TABLE books ADD COLUMN isbn VARCHAR(20)"],
        |_| vec![(ObjectKind::Table, "books"), (ObjectKind::Column, "isbn")],
        added,
    )
    .await;
}

/// Changing a column's default is one changed `default`, with both values.
pub async fn changed_default(target: &dyn Target) {
    single_change(
        target,
        |family| match family {
            // SQLite cannot alter a column: rebuild the table.
            Family::Sqlite => vec![
                "CREATE TABLE reviews_new (id INTEGER PRIMARY KEY, book_id INTEGER, stars INTEGER DEFAULT 5, \
                 CONSTRAINT reviews_book_fk FOREIGN KEY (book_id) REFERENCES books (id))",
                "INSERT INTO reviews_new SELECT id, book_id, stars FROM reviews",
                "DROP TABLE reviews",
                "ALTER TABLE reviews_new RENAME TO reviews",
            ],
            _ => vec!["ALTER TABLE reviews ALTER COLUMN stars SET DEFAULT 5"],
        },
        |_| vec![(ObjectKind::Table, "reviews"), (ObjectKind::Column, "stars")],
        |change| {
            matches!(change, Change::Changed { attribute, before, after }
                if attribute == "default" && before == "3" && after == "5")
        },
    )
    .await;
}

/// Dropping a foreign key is one removed foreign key.
pub async fn dropped_foreign_key(target: &dyn Target) {
    single_change(
        target,
        |family| match family {
            Family::Sqlite => vec![
                "CREATE TABLE reviews_new (id INTEGER PRIMARY KEY, book_id INTEGER, stars INTEGER DEFAULT 3)",
                "INSERT INTO reviews_new SELECT id, book_id, stars FROM reviews",
                "DROP TABLE reviews",
                "ALTER TABLE reviews_new RENAME TO reviews",
            ],
            // MySQL keeps the index it made for the foreign key.
            Family::Mysql => vec!["ALTER TABLE reviews DROP FOREIGN KEY reviews_book_fk"],
            Family::Postgres => vec!["ALTER TABLE reviews DROP CONSTRAINT reviews_book_fk"],
        },
        |family| {
            let name = if family == Family::Sqlite {
                "(book_id) references books (id)"
            } else {
                "reviews_book_fk"
            };
            vec![(ObjectKind::Table, "reviews"), (ObjectKind::ForeignKey, name)]
        },
        removed,
    )
    .await;
}

/// Dropping a trigger is one removed trigger.
pub async fn dropped_trigger(target: &dyn Target) {
    single_change(
        target,
        |family| match family {
            Family::Postgres => vec!["DROP TRIGGER books_touch ON books"],
            _ => vec!["DROP TRIGGER books_touch"],
        },
        |_| vec![(ObjectKind::Trigger, "books_touch")],
        removed,
    )
    .await;
}

/// Dropping a view is one removed view.
pub async fn dropped_view(target: &dyn Target) {
    single_change(
        target,
        |_| vec!["DROP VIEW cheap_books"],
        |_| vec![(ObjectKind::View, "cheap_books")],
        removed,
    )
    .await;
}

/// Cairn's history tables (default and configured names) never appear.
pub async fn history_tables_never_appear(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    let lock_wait = Duration::from_secs(30);
    let first = Fixture::new()
        .migration(1, "a", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n", None)
        .build();
    Migrator::new(
        first.read(),
        MigratorOptions {
            lock_wait,
            ..MigratorOptions::default()
        },
    )
    .up(driver.as_mut(), None)
    .await
    .unwrap_or_else(|f| panic!("up failed: {f}"));
    let second = Fixture::new()
        .migration(1, "b", "CREATE TABLE b (id INTEGER PRIMARY KEY);\n", None)
        .build();
    let mut options = MigratorOptions {
        lock_wait,
        ..MigratorOptions::default()
    };
    options.table.name = "app_history".to_owned();
    Migrator::new(second.read(), options)
        .up(driver.as_mut(), None)
        .await
        .unwrap_or_else(|f| panic!("up with history table app_history failed: {f}"));
    let options = IntrospectOptions {
        history_table: "app_history".to_owned(),
        ..IntrospectOptions::default()
    };
    let s = introspect(driver.as_mut(), &options)
        .await
        .unwrap_or_else(|e| panic!("introspection failed: {e}"));
    let text = s.to_text();
    assert_eq!(s.tables.keys().collect::<Vec<_>>(), ["a", "b"], "{text}");
    assert!(!text.contains("history"), "{text}");
}

/// Objects beyond [`schema`] that a SQL dump must also rebuild: a view on a
/// view, a descending and an expression index, a generated column, a
/// column-level check, and on PostgreSQL an enum type, a sequence owned by a
/// column, an identity column and a function.
fn extra_schema(family: Family) -> Vec<&'static str> {
    let mut statements = vec!["CREATE VIEW cheap_titles AS SELECT title FROM cheap_books"];
    match family {
        Family::Postgres => statements.extend([
            "CREATE TYPE mood AS ENUM ('happy', 'it''s fine')",
            "CREATE TABLE tags (id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
             serial_no SERIAL, label TEXT COLLATE \"C\" NOT NULL CHECK (label <> ''), \
             feeling mood DEFAULT 'happy', upper_label TEXT GENERATED ALWAYS AS (upper(label)) STORED)",
            "CREATE INDEX tags_lower ON tags (lower(label) DESC NULLS LAST)",
            "CREATE SEQUENCE invoice_numbers START 100 INCREMENT 5",
            "CREATE FUNCTION tag_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM tags $$",
        ]),
        Family::Mysql => statements.extend([
            "CREATE TABLE tags (id INTEGER AUTO_INCREMENT PRIMARY KEY, label VARCHAR(50) NOT NULL CHECK (label <> ''), \
             feeling ENUM('happy', 'it''s fine') DEFAULT 'happy', upper_label VARCHAR(50) AS (upper(label)) STORED, \
             touched TIMESTAMP NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP)",
            "CREATE INDEX tags_label ON tags (label(10) DESC)",
        ]),
        Family::Sqlite => statements.extend([
            "CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT NOT NULL CHECK (label <> ''), \
             upper_label TEXT GENERATED ALWAYS AS (upper(label)) STORED, UNIQUE (label, id))",
            "CREATE INDEX tags_lower ON tags (lower(label) DESC)",
        ]),
    }
    statements
}

/// `Snapshot::to_sql` of a schema with every kind of object, applied to an
/// empty database, introspects to the same snapshot.
pub async fn sql_dump_round_trip(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    build(driver.as_mut()).await;
    for statement in extra_schema(family(driver.as_ref())) {
        run(driver.as_mut(), statement).await;
    }
    let original = snapshot(driver.as_mut()).await;
    let sql = original.to_sql();
    let copy = target.fresh().await;
    let mut other = copy.connect().await;
    let statements = cairn_core::split::split(&sql, other.dialect().engine())
        .unwrap_or_else(|e| panic!("the dump does not split: {e}\n{sql}"));
    for statement in &statements {
        other.execute(&statement.sql).await.unwrap_or_else(|e| {
            panic!(
                "the dump's statement was refused: {e}\n{}\n\nwhole dump:\n{sql}",
                statement.sql
            )
        });
    }
    let rebuilt = snapshot(other.as_mut()).await;
    let differences: Vec<String> = diff(&original, &rebuilt)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(differences.is_empty(), "{differences:#?}\n{sql}");
    assert_eq!(original, rebuilt, "{sql}");
    assert_eq!(rebuilt.to_sql(), sql);
}

/// The seeder fills every table of the schema (parents first, foreign keys
/// satisfied), twice in a row without breaking a unique constraint, and
/// reading the rows back gives what a second read gives.
pub async fn seed_rows_fill_every_table(target: &dyn Target) {
    let db = target.fresh().await;
    let mut driver = db.connect().await;
    build(driver.as_mut()).await;
    for statement in extra_schema(family(driver.as_ref())) {
        run(driver.as_mut(), statement).await;
    }
    let s = snapshot(driver.as_mut()).await;
    let mut seeder = Seeder::new();
    for round in 1..=2 {
        let report = seeder
            .seed(driver.as_mut(), &s)
            .await
            .unwrap_or_else(|e| panic!("seeding failed: {e}"));
        assert!(report.skipped.is_empty(), "round {round}: {report:#?}");
        assert_eq!(
            report.inserted.keys().collect::<Vec<_>>(),
            s.tables.keys().collect::<Vec<_>>(),
            "round {round}"
        );
    }
    for (table, columns) in seed::surviving(&s, &s) {
        let first = seed::read_rows(driver.as_mut(), &table, &columns)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.len(), 2 * seed::ROWS_PER_TABLE, "{table}");
        let second = seed::read_rows(driver.as_mut(), &table, &columns)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(seed::compare_rows(&table, &columns, &first, &second), None);
    }
}

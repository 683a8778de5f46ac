//! Unit tests of the engine-neutral checks before compiling, with a fake dialect that records what it is asked.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::*;
use crate::dialect::{
    self, Bookkeeping, ColumnTypes, Flavour, IdentifierLimit, Online, Schema, ServerVersion,
};
use crate::driver::Driver;
use crate::engine::Engine;
use crate::literal::SessionPreconditions;
use crate::operation::spec;
use crate::schema::{Column, PrimaryKey, Snapshot};
use crate::split::SplitRules;

/// A dialect whose `compile_operation` records what it was asked and
/// answers with a step naming the operation; the rest is SQLite's.
#[derive(Debug, Default)]
struct Fake {
    asked: Mutex<Vec<(usize, bool)>>,
}

fn sqlite() -> &'static dyn Dialect {
    dialect::for_engine(Engine::Sqlite)
}

impl Bookkeeping for Fake {
    fn string_literal(&self, value: &str) -> String {
        sqlite().string_literal(value)
    }
    fn session_preconditions(&self) -> SessionPreconditions {
        sqlite().session_preconditions()
    }
    fn identifier_limit(&self) -> Option<IdentifierLimit> {
        sqlite().identifier_limit()
    }
    fn column_types(&self) -> ColumnTypes {
        sqlite().column_types()
    }
    fn table_exists(&self, schema: Option<&str>, name: &str) -> String {
        sqlite().table_exists(schema, name)
    }
    fn primary_key_query(&self, table: &str) -> String {
        sqlite().primary_key_query(table)
    }
    fn lock_blocker_hint(&self) -> &'static str {
        sqlite().lock_blocker_hint()
    }
    fn split_rules(&self) -> SplitRules {
        sqlite().split_rules()
    }
}

#[async_trait]
impl Schema for Fake {
    async fn read_schema(&self, driver: &mut dyn Driver) -> Result<Snapshot, Error> {
        sqlite().read_schema(driver).await
    }
    fn example_server_url(&self) -> &'static str {
        sqlite().example_server_url()
    }
}

impl Online for Fake {
    fn compile_operation(
        &self,
        operation: &Operation,
        ctx: &Context<'_>,
    ) -> Result<Phases, String> {
        self.asked
            .lock()
            .unwrap()
            .push((ctx.index, ctx.before.is_some()));
        if matches!(operation.kind, Kind::RawSql { .. }) {
            return Err("raw_sql is refused by this fake".to_owned());
        }
        Ok(Phases {
            expand: vec![Step::new(operation.kind.name(), ctx.object_name("x"))],
            abort: vec![Step::new("abort", format!("abort {}", ctx.index))],
            versions: Versions {
                old: vec![format!("old {}", ctx.index)],
                new: vec![format!("new {}", ctx.index)],
            },
            ..Phases::default()
        })
    }
}

impl Dialect for Fake {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }
    fn flavour(&self) -> Flavour {
        Flavour::Sqlite
    }
    fn server_version(&self) -> Option<&ServerVersion> {
        None
    }
    fn shared(&self) -> Arc<dyn Dialect> {
        Arc::new(Fake::default())
    }
}

fn column(data_type: &str) -> Column {
    Column {
        data_type: data_type.to_owned(),
        nullable: true,
        ..Column::default()
    }
}

fn table(columns: &[&str], primary_key: bool) -> Table {
    Table {
        columns: columns
            .iter()
            .map(|c| ((*c).to_owned(), column("text")))
            .collect(),
        column_order: columns.iter().map(|c| (*c).to_owned()).collect(),
        primary_key: primary_key.then(|| PrimaryKey {
            name: None,
            columns: vec![columns[0].to_owned()],
        }),
        ..Table::default()
    }
}

/// `users (id, name, email)` with index `users_email` and unique `users_name`;
/// `logs (at, line)` without a primary key; `teams (id)`.
fn before() -> BTreeMap<String, Table> {
    let mut users = table(&["id", "name", "email"], true);
    users.indexes.insert(
        "users_email".to_owned(),
        crate::schema::Index {
            columns: vec!["email".to_owned()],
            ..Default::default()
        },
    );
    users
        .unique_constraints
        .insert("users_name".to_owned(), vec!["name".to_owned()]);
    users
        .checks
        .insert("users_check".to_owned(), "id > 0".to_owned());
    [
        ("users", users),
        ("logs", table(&["at", "line"], false)),
        ("teams", table(&["id"], true)),
    ]
    .into_iter()
    .map(|(name, table)| (name.to_owned(), table))
    .collect()
}

fn operations(text: &str) -> Vec<Operation> {
    spec::parse(
        &format!("# ops\n{text}"),
        Path::new("migrations/9_ops/migration.toml"),
    )
    .unwrap()
}

fn version() -> Version {
    "9".parse().unwrap()
}

/// The error of compiling `text` against [`before`] with the fake dialect.
fn err(text: &str) -> String {
    compile(&operations(text), version(), &before(), &Fake::default())
        .unwrap_err()
        .to_string()
}

const PREFIX: &str = "migrations/9_ops/migration.toml:2: operation";

#[test]
fn a_valid_migration_reaches_the_dialect_with_each_table() {
    let fake = Fake::default();
    let ops = operations(
        "[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\ncolumn = \"name\"\nto = \"full_name\"\n\
         [[operation]]\nkind = \"create_index\"\ntable = \"users\"\nname = \"users_full_name\"\ncolumns = [\"full_name\"]\n\
         [[operation]]\nkind = \"add_column\"\ntable = \"logs\"\ncolumn = \"level\"\ntype = \"int\"\n",
    );
    let compiled = compile(&ops, version(), &before(), &fake).unwrap();
    assert_eq!(
        *fake.asked.lock().unwrap(),
        [(0, true), (1, true), (2, true)]
    );
    let expand: Vec<&str> = compiled.expand().iter().map(|s| s.what.as_str()).collect();
    assert_eq!(expand, ["rename_column", "create_index", "add_column"]);
    assert_eq!(compiled.expand()[0].statements, ["cairn_9_0_x"]);
    // Abort undoes the last operation first.
    let abort: Vec<&str> = compiled
        .abort()
        .iter()
        .map(|s| s.statements[0].as_str())
        .collect();
    assert_eq!(abort, ["abort 2", "abort 1", "abort 0"]);
    assert_eq!(compiled.versions().old, ["old 0", "old 1", "old 2"]);
    assert!(!compiled.unchecked());
}

#[test]
fn the_dialect_refusal_names_file_operation_and_engine() {
    assert_eq!(
        err("[[operation]]\nkind = \"raw_sql\"\nup = \"SELECT 1\"\n"),
        format!("{PREFIX} `raw_sql` on sqlite: raw_sql is refused by this fake")
    );
}

#[test]
fn the_checks_run_before_any_operation_is_compiled() {
    let fake = Fake::default();
    let ops = operations(
        "[[operation]]\nkind = \"add_column\"\ntable = \"users\"\ncolumn = \"x\"\ntype = \"int\"\n\
         [[operation]]\nkind = \"drop_column\"\ntable = \"users\"\ncolumn = \"nope\"\n",
    );
    let e = compile(&ops, version(), &before(), &fake).unwrap_err();
    assert!(matches!(
        e,
        Error::Operation {
            kind: "drop_column",
            engine: Engine::Sqlite,
            ..
        }
    ));
    assert!(fake.asked.lock().unwrap().is_empty());
}

#[test]
fn a_missing_table_or_column() {
    assert_eq!(
        err("[[operation]]\nkind = \"drop_column\"\ntable = \"accounts\"\ncolumn = \"a\"\n"),
        format!(
            "{PREFIX} `drop_column` on sqlite: table `accounts` does not exist: check `table`, or \
             create the table in an earlier migration"
        )
    );
    assert!(
        err("[[operation]]\nkind = \"drop_column\"\ntable = \"Users\"\ncolumn = \"a\"\n")
            .contains("table `Users` does not exist (did you mean `users`?)")
    );
    assert_eq!(
        err("[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\ncolumn = \"nam\"\nto = \"b\"\n"),
        format!(
            "{PREFIX} `rename_column` on sqlite: column `users.nam` does not exist (columns: id, \
             name, email): check `column`"
        )
    );
    assert!(err("[[operation]]\nkind = \"set_not_null\"\ntable = \"users\"\ncolumn = \"Email\"\nup = \"''\"\n")
        .contains("(did you mean `email`? columns: id, name, email)"));
    assert!(err("[[operation]]\nkind = \"change_column_type\"\ntable = \"users\"\ncolumn = \"x\"\nto = \"y\"\ntype = \"int\"\nup = \"x\"\ndown = \"y\"\n")
        .contains("column `users.x` does not exist"));
    // raw_sql has no table to check: it reaches the dialect.
    assert!(
        err("[[operation]]\nkind = \"raw_sql\"\nup = \"SELECT 1\"\n")
            .contains("refused by this fake")
    );
}

#[test]
fn a_new_name_that_is_taken() {
    assert_eq!(
        err("[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\ncolumn = \"name\"\nto = \"email\"\n"),
        format!(
            "{PREFIX} `rename_column` on sqlite: column `users.email` exists already: choose \
             another `to`, or drop the column in an earlier migration"
        )
    );
    assert!(err("[[operation]]\nkind = \"add_column\"\ntable = \"users\"\ncolumn = \"name\"\ntype = \"int\"\n")
        .contains("column `users.name` exists already: choose another `column`"));
    assert!(err("[[operation]]\nkind = \"change_column_type\"\ntable = \"users\"\ncolumn = \"name\"\nto = \"id\"\ntype = \"int\"\nup = \"1\"\ndown = \"''\"\n")
        .contains("column `users.id` exists already"));
    assert!(
        err("[[operation]]\nkind = \"rename_table\"\ntable = \"users\"\nto = \"teams\"\n")
            .contains(
                "`rename_table` on sqlite: table `teams` exists already: choose another `to`"
            )
    );
    assert!(
        err("[[operation]]\nkind = \"rename_table\"\ntable = \"people\"\nto = \"persons\"\n")
            .contains("table `people` does not exist")
    );
}

#[test]
fn a_backfill_needs_a_primary_key() {
    let message = "table `logs` has no primary key, which the backfill of this operation pages \
                   through: add a primary key in an earlier migration";
    for op in [
        "kind = \"rename_column\"\ntable = \"logs\"\ncolumn = \"line\"\nto = \"text\"",
        "kind = \"change_column_type\"\ntable = \"logs\"\ncolumn = \"line\"\nto = \"l2\"\ntype = \"int\"\nup = \"1\"\ndown = \"''\"",
        "kind = \"add_column\"\ntable = \"logs\"\ncolumn = \"c\"\ntype = \"int\"\nup = \"1\"",
        "kind = \"add_column\"\ntable = \"logs\"\ncolumn = \"c\"\ntype = \"int\"\ndefault = \"1\"",
        "kind = \"set_not_null\"\ntable = \"logs\"\ncolumn = \"line\"\nup = \"''\"",
        "kind = \"drop_column\"\ntable = \"logs\"\ncolumn = \"line\"\ndown = \"''\"",
    ] {
        let e = err(&format!("[[operation]]\n{op}\n"));
        assert!(e.ends_with(message), "{op}: {e}");
    }
    // Without a backfill, no primary key is needed.
    for op in [
        "kind = \"add_column\"\ntable = \"logs\"\ncolumn = \"c\"\ntype = \"int\"",
        "kind = \"drop_column\"\ntable = \"logs\"\ncolumn = \"line\"",
        "kind = \"create_index\"\ntable = \"logs\"\nname = \"logs_at\"\ncolumns = [\"at\"]",
        "kind = \"rename_table\"\ntable = \"logs\"\nto = \"journal\"",
    ] {
        let ops = operations(&format!("[[operation]]\n{op}\n"));
        assert!(
            compile(&ops, version(), &before(), &Fake::default()).is_ok(),
            "{op}"
        );
    }
}

#[test]
fn indexes_and_constraints() {
    assert_eq!(
        err("[[operation]]\nkind = \"create_index\"\ntable = \"users\"\nname = \"users_email\"\ncolumns = [\"name\"]\n"),
        format!(
            "{PREFIX} `create_index` on sqlite: `users_email` is already an index of `users`: \
             choose another `name`"
        )
    );
    assert!(err("[[operation]]\nkind = \"create_index\"\ntable = \"users\"\nname = \"i\"\ncolumns = [\"name\", \"age\"]\n")
        .contains("column `users.age` does not exist (columns: id, name, email): check `columns`"));
    assert!(err("[[operation]]\nkind = \"add_unique\"\ntable = \"users\"\nname = \"users_name\"\ncolumns = [\"email\"]\n")
        .contains("`users_name` is already a unique constraint of `users`"));
    assert!(err("[[operation]]\nkind = \"add_unique\"\ntable = \"users\"\nname = \"u\"\ncolumns = [\"mail\"]\n")
        .contains("column `users.mail` does not exist"));
    assert!(err("[[operation]]\nkind = \"add_check\"\ntable = \"users\"\nname = \"users_check\"\ncheck = \"1 = 1\"\n")
        .contains("`users_check` is already a check constraint of `users`"));
    assert_eq!(
        err("[[operation]]\nkind = \"drop_index\"\ntable = \"users\"\nname = \"users_mail\"\n"),
        format!(
            "{PREFIX} `drop_index` on sqlite: index `users_mail` does not exist on `users` \
             (indexes: users_email): check `name`"
        )
    );
    assert!(
        err("[[operation]]\nkind = \"drop_index\"\ntable = \"teams\"\nname = \"x\"\n")
            .contains("(no indexes)")
    );
    assert!(err(
        "[[operation]]\nkind = \"drop_index\"\ntable = \"users\"\nname = \"users_name\"\n"
    )
    .contains("`users_name` on `users` is a unique constraint, not an index"));
}

#[test]
fn foreign_keys() {
    let fk = |columns: &str, references: &str, referenced: &str| {
        format!(
            "[[operation]]\nkind = \"add_foreign_key\"\ntable = \"users\"\nname = \"users_team\"\n\
             columns = [\"{columns}\"]\nreferences = \"{references}\"\nreferenced_columns = [\"{referenced}\"]\n"
        )
    };
    let ops = operations(&fk("id", "teams", "id"));
    assert!(compile(&ops, version(), &before(), &Fake::default()).is_ok());
    assert!(err(&fk("team_id", "teams", "id")).contains("column `users.team_id` does not exist"));
    // A referenced table that is not in `before` is left to the engine.
    let ops = operations(&fk("id", "squads", "id"));
    assert!(compile(&ops, version(), &before(), &Fake::default()).is_ok());
    assert!(err(&fk("id", "teams", "key"))
        .contains("column `teams.key` does not exist (columns: id): check `referenced_columns`"));
}

#[test]
fn later_operations_see_what_earlier_ones_add() {
    let fake = Fake::default();
    let ops = operations(
        "[[operation]]\nkind = \"add_column\"\ntable = \"users\"\ncolumn = \"team_id\"\ntype = \"int\"\n\
         [[operation]]\nkind = \"create_index\"\ntable = \"users\"\nname = \"users_team\"\ncolumns = [\"team_id\"]\n\
         [[operation]]\nkind = \"add_unique\"\ntable = \"users\"\nname = \"users_team\"\ncolumns = [\"team_id\"]\n",
    );
    let e = compile(&ops, version(), &before(), &fake)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`users_team` is already an index of `users`"),
        "{e}"
    );
    let ops = operations(
        "[[operation]]\nkind = \"rename_table\"\ntable = \"teams\"\nto = \"squads\"\n\
         [[operation]]\nkind = \"add_column\"\ntable = \"squads\"\ncolumn = \"name\"\ntype = \"text\"\n",
    );
    compile(&ops, version(), &before(), &fake).unwrap();
    // The dialect gets the table as it was before expand: `squads` did not exist.
    assert_eq!(fake.asked.lock().unwrap().last(), Some(&(1, false)));
}

#[test]
fn tables_needed_lists_each_table_once() {
    let ops = operations(
        "[[operation]]\nkind = \"rename_table\"\ntable = \"teams\"\nto = \"squads\"\n\
         [[operation]]\nkind = \"add_foreign_key\"\ntable = \"users\"\nname = \"f\"\ncolumns = [\"id\"]\nreferences = \"teams\"\nreferenced_columns = [\"id\"]\n\
         [[operation]]\nkind = \"raw_sql\"\nup = \"SELECT 1\"\n\
         [[operation]]\nkind = \"drop_column\"\ntable = \"users\"\ncolumn = \"email\"\n",
    );
    assert_eq!(tables_needed(&ops), ["teams", "squads", "users"]);
    assert!(tables_needed(&[]).is_empty());
}

#[test]
fn an_operations_batch_keys_replace_the_engines_batch_options() {
    // `email` has no index nor unique constraint, so SQLite renames it
    // without refusing; its backfills pause 10 ms between batches by default.
    let rename = "[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\ncolumn = \"email\"\nto = \"mail\"\n";
    let plain = compile(&operations(rename), version(), &before(), sqlite()).unwrap();
    let engine = plain.backfill()[0].batch;
    assert_eq!(engine.pause, std::time::Duration::from_millis(10));

    let tuned = format!("{rename}batch_size = 50\npause = \"5ms\"\nmax_replication_lag = \"2s\"\n");
    let tuned = compile(&operations(&tuned), version(), &before(), sqlite()).unwrap();
    let phases = &tuned.operations[0];
    for backfill in phases.backfill.iter().chain(&phases.uncontract_backfill) {
        assert_eq!(backfill.batch.size, 50);
        assert_eq!(backfill.batch.pause, std::time::Duration::from_millis(5));
        assert_eq!(
            backfill.batch.max_replication_lag,
            Some(std::time::Duration::from_secs(2))
        );
        // What the file leaves out stays the engine's.
        assert_eq!(backfill.batch.target_time, engine.target_time);
    }
    assert!(!phases.uncontract_backfill.is_empty());
}

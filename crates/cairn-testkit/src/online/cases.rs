//! One [`Case`] per operation kind of ZERO-DOWNTIME.md §2, each a function
//! named after the kind, listed in [`super::CASES`] and expanded by
//! [`crate::online_tests!`].
//!
//! Most cases change `items (id, name, qty)` seeded with three rows, one of
//! them with a NULL name. A case lists in `refused_on` the engines that
//! refuse its operation as not online; the harness asserts that refusal.

use cairn_core::Engine;

use super::{App, Case, Seed, Shape, Sql, Values};

/// The table most cases change, and its three seed rows.
fn items() -> Vec<Sql> {
    vec![
        Sql::new("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(100), qty INTEGER)"),
        Sql::new(
            "INSERT INTO items (id, name, qty) VALUES (1, 'one', 1), (2, 'two', 2), (3, NULL, 3)",
        ),
    ]
}

fn names() -> Vec<Seed> {
    vec![
        Seed::new(1, "one", "one"),
        Seed::new(2, "two", "two"),
        Seed::new(3, "NULL", "NULL"),
    ]
}

fn quantities() -> Vec<Seed> {
    vec![
        Seed::new(1, "1", "1"),
        Seed::new(2, "2", "2"),
        Seed::new(3, "3", "3"),
    ]
}

fn table(name: &str) -> String {
    name.to_owned()
}

/// Both versions write `name` (one column, or one under two names).
fn text_values() -> Values {
    Values::same(("'alpha{id}'", "alpha{id}"), ("'beta{id}'", "beta{id}"))
}

fn number_values() -> Values {
    Values::same(("3", "3"), ("5", "5"))
}

/// `rename_column` of a NOT NULL column: new writers omit the old name.
pub fn rename_column() -> Case {
    let t = table("items");
    Case {
        name: "rename_column",
        setup: vec![
            Sql::new("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, qty INTEGER)"),
            Sql::new("INSERT INTO items (id, name, qty) VALUES (1, 'one', 1), (2, 'two', 2), (3, 'three', 3)"),
        ],
        migration: "[[operation]]\nkind = \"rename_column\"\ntable = \"items\"\ncolumn = \"name\"\nto = \"label\"\n".to_owned(),
        old: App::column("items", "name"),
        new: App::column("items", "label"),
        values: text_values(),
        seeds: vec![
            Seed::new(1, "one", "one"),
            Seed::new(2, "two", "two"),
            Seed::new(3, "three", "three"),
        ],
        old_breaks_after_contract: true,
        after_contract: vec![
            Shape::Column(t.clone(), "label".to_owned()),
            Shape::NoColumn(t.clone(), "name".to_owned()),
            Shape::NotNull(t, "label".to_owned()),
        ],
        seeds_after_uncontract: None,
        refused_on: Vec::new(),
    }
}

/// `add_column` NOT NULL, filled by `up` for old rows and old writers.
pub fn add_column() -> Case {
    Case {
        name: "add_column",
        setup: items(),
        migration: "[[operation]]\nkind = \"add_column\"\ntable = \"items\"\ncolumn = \"doubled\"\ntype = \"INTEGER\"\nnot_null = true\nup = \"qty * 2\"\n".to_owned(),
        old: App::column("items", "qty"),
        new: App::column("items", "doubled")
            .insert("INSERT INTO items (id, qty, doubled) VALUES ({id}, {v}, {v} * 2)")
            .update("UPDATE items SET qty = {v}, doubled = {v} * 2 WHERE id = {id}"),
        values: Values {
            old_writes: "3".to_owned(),
            new_reads: "6".to_owned(),
            new_writes: "5".to_owned(),
            old_reads: "5".to_owned(),
            new_reads_own: "10".to_owned(),
        },
        seeds: vec![
            Seed::new(1, "1", "2"),
            Seed::new(2, "2", "4"),
            Seed::new(3, "3", "6"),
        ],
        old_breaks_after_contract: false,
        after_contract: vec![
            Shape::Column(table("items"), "doubled".to_owned()),
            Shape::NotNull(table("items"), "doubled".to_owned()),
        ],
        seeds_after_uncontract: None,
        refused_on: Vec::new(),
    }
}

/// `drop_column`: the new version no longer writes `qty`; `down` fills it
/// for old readers (and restores it at un-contract).
pub fn drop_column() -> Case {
    Case {
        name: "drop_column",
        setup: items(),
        migration: "[[operation]]\nkind = \"drop_column\"\ntable = \"items\"\ncolumn = \"qty\"\ndown = \"7\"\n".to_owned(),
        old: App::column("items", "name")
            .insert("INSERT INTO items (id, name, qty) VALUES ({id}, {v}, 7)")
            .select("SELECT name, qty FROM items WHERE id = {id}"),
        new: App::column("items", "name"),
        values: Values {
            old_writes: "'alpha'".to_owned(),
            new_reads: "alpha".to_owned(),
            new_writes: "'beta'".to_owned(),
            old_reads: "beta|7".to_owned(),
            new_reads_own: "beta".to_owned(),
        },
        seeds: vec![
            Seed::new(1, "one|1", "one"),
            Seed::new(2, "two|2", "two"),
            Seed::new(3, "NULL|3", "NULL"),
        ],
        old_breaks_after_contract: true,
        after_contract: vec![Shape::NoColumn(table("items"), "qty".to_owned())],
        // Un-contract re-adds `qty` and fills it by `down`.
        seeds_after_uncontract: Some(vec![
            Seed::new(1, "one|7", "one"),
            Seed::new(2, "two|7", "two"),
            Seed::new(3, "NULL|7", "NULL"),
        ]),
        refused_on: Vec::new(),
    }
}

/// `change_column_type` with a transform both ways (`qty` → `amount` = qty × 100).
pub fn change_column_type() -> Case {
    Case {
        name: "change_column_type",
        setup: items(),
        migration: "[[operation]]\nkind = \"change_column_type\"\ntable = \"items\"\ncolumn = \"qty\"\nto = \"amount\"\ntype = \"BIGINT\"\nup = \"qty * 100\"\ndown = \"amount / 100\"\n[operation.mysql]\ndown = \"amount DIV 100\"\n".to_owned(),
        old: App::column("items", "qty"),
        new: App::column("items", "amount"),
        values: Values {
            old_writes: "3".to_owned(),
            new_reads: "300".to_owned(),
            new_writes: "500".to_owned(),
            old_reads: "5".to_owned(),
            new_reads_own: "500".to_owned(),
        },
        seeds: vec![
            Seed::new(1, "1", "100"),
            Seed::new(2, "2", "200"),
            Seed::new(3, "3", "300"),
        ],
        old_breaks_after_contract: true,
        after_contract: vec![
            Shape::Column(table("items"), "amount".to_owned()),
            Shape::NoColumn(table("items"), "qty".to_owned()),
        ],
        seeds_after_uncontract: None,
        refused_on: Vec::new(),
    }
}

/// `set_not_null`: old writers may still write NULL; `up` rewrites it.
pub fn set_not_null() -> Case {
    Case {
        name: "set_not_null",
        setup: items(),
        migration: "[[operation]]\nkind = \"set_not_null\"\ntable = \"items\"\ncolumn = \"name\"\nup = \"'unknown'\"\n".to_owned(),
        old: App::column("items", "name"),
        new: App::column("items", "name"),
        values: Values {
            old_writes: "NULL".to_owned(),
            new_reads: "unknown".to_owned(),
            new_writes: "'beta'".to_owned(),
            old_reads: "beta".to_owned(),
            new_reads_own: "beta".to_owned(),
        },
        seeds: vec![
            Seed::new(1, "one", "one"),
            Seed::new(2, "two", "two"),
            Seed::new(3, "unknown", "unknown"),
        ],
        old_breaks_after_contract: false,
        after_contract: vec![Shape::NotNull(table("items"), "name".to_owned())],
        seeds_after_uncontract: None,
        refused_on: Vec::new(),
    }
}

/// `rename_table`: the old version keeps writing under the old name.
pub fn rename_table() -> Case {
    Case {
        name: "rename_table",
        setup: items(),
        migration: "[[operation]]\nkind = \"rename_table\"\ntable = \"items\"\nto = \"products\"\n"
            .to_owned(),
        old: App::column("items", "name"),
        new: App::column("products", "name"),
        values: text_values(),
        seeds: names(),
        old_breaks_after_contract: true,
        after_contract: vec![
            Shape::Table(table("products")),
            Shape::NoTable(table("items")),
        ],
        seeds_after_uncontract: None,
        refused_on: Vec::new(),
    }
}

/// `create_index`: one online step, no dual schema.
pub fn create_index() -> Case {
    Case {
        name: "create_index",
        setup: items(),
        migration: "[[operation]]\nkind = \"create_index\"\ntable = \"items\"\nname = \"items_name_idx\"\ncolumns = [\"name\"]\n".to_owned(),
        old: App::column("items", "name"),
        new: App::column("items", "name"),
        values: text_values(),
        seeds: names(),
        old_breaks_after_contract: false,
        after_contract: vec![Shape::Index(table("items"), "items_name_idx".to_owned())],
        seeds_after_uncontract: None,
        refused_on: Vec::new(),
    }
}

/// `drop_index`: dropped at contract, recreated at un-contract.
pub fn drop_index() -> Case {
    let mut setup = items();
    setup.push(Sql::new("CREATE INDEX items_qty_idx ON items (qty)"));
    Case {
        name: "drop_index",
        setup,
        migration:
            "[[operation]]\nkind = \"drop_index\"\ntable = \"items\"\nname = \"items_qty_idx\"\n"
                .to_owned(),
        old: App::column("items", "qty"),
        new: App::column("items", "qty"),
        values: number_values(),
        seeds: quantities(),
        old_breaks_after_contract: false,
        after_contract: vec![Shape::NoIndex(table("items"), "items_qty_idx".to_owned())],
        seeds_after_uncontract: None,
        refused_on: Vec::new(),
    }
}

/// `add_check`: added without validating, validated separately. MySQL and
/// MariaDB add a CHECK only by copying the table, so they refuse it.
pub fn add_check() -> Case {
    Case {
        name: "add_check",
        setup: items(),
        migration: "[[operation]]\nkind = \"add_check\"\ntable = \"items\"\nname = \"items_qty_nonneg\"\ncheck = \"qty >= 0\"\n".to_owned(),
        old: App::column("items", "qty"),
        new: App::column("items", "qty"),
        values: number_values(),
        seeds: quantities(),
        old_breaks_after_contract: false,
        after_contract: vec![Shape::Check(table("items"), "qty".to_owned())],
        seeds_after_uncontract: None,
        refused_on: vec![Engine::Mysql],
    }
}

/// `add_unique`: a unique index built online, then a constraint on it.
pub fn add_unique() -> Case {
    Case {
        name: "add_unique",
        setup: items(),
        migration: "[[operation]]\nkind = \"add_unique\"\ntable = \"items\"\nname = \"items_name_key\"\ncolumns = [\"name\"]\n".to_owned(),
        old: App::column("items", "name"),
        new: App::column("items", "name"),
        values: text_values(),
        seeds: names(),
        old_breaks_after_contract: false,
        after_contract: vec![Shape::Unique(table("items"), vec!["name".to_owned()])],
        seeds_after_uncontract: None,
        refused_on: Vec::new(),
    }
}

/// `add_foreign_key`: added without validating, validated separately.
pub fn add_foreign_key() -> Case {
    Case {
        name: "add_foreign_key",
        setup: vec![
            Sql::new("CREATE TABLE owners (id INTEGER PRIMARY KEY)"),
            Sql::new("INSERT INTO owners (id) VALUES (1), (2), (3), (5)"),
            Sql::new("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(100), owner_id INTEGER)"),
            Sql::new("CREATE INDEX items_owner_idx ON items (owner_id)"),
            Sql::new("INSERT INTO items (id, name, owner_id) VALUES (1, 'one', 1), (2, 'two', 2), (3, NULL, NULL)"),
        ],
        migration: "[[operation]]\nkind = \"add_foreign_key\"\ntable = \"items\"\nname = \"items_owner_fk\"\ncolumns = [\"owner_id\"]\nreferences = \"owners\"\nreferenced_columns = [\"id\"]\n".to_owned(),
        old: App::column("items", "owner_id"),
        new: App::column("items", "owner_id"),
        values: Values::same(("3", "3"), ("5", "5")),
        seeds: vec![
            Seed::new(1, "1", "1"),
            Seed::new(2, "2", "2"),
            Seed::new(3, "NULL", "NULL"),
        ],
        old_breaks_after_contract: false,
        after_contract: vec![Shape::ForeignKey(
            table("items"),
            vec!["owner_id".to_owned()],
            table("owners"),
        )],
        seeds_after_uncontract: None,
        refused_on: Vec::new(),
    }
}

/// `raw_sql`: whatever the user wrote (a table of its own), undone by `down`.
pub fn raw_sql() -> Case {
    Case {
        name: "raw_sql",
        setup: items(),
        migration: "[[operation]]\nkind = \"raw_sql\"\nup = \"CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(100))\"\ndown = \"DROP TABLE notes\"\n".to_owned(),
        old: App::column("items", "name"),
        new: App::column("items", "name"),
        values: text_values(),
        seeds: names(),
        old_breaks_after_contract: false,
        after_contract: vec![Shape::Table(table("notes"))],
        seeds_after_uncontract: None,
        refused_on: Vec::new(),
    }
}

/// Every case, in the order of [`super::CASES`].
pub fn all() -> Vec<Case> {
    vec![
        rename_column(),
        add_column(),
        drop_column(),
        change_column_type(),
        set_not_null(),
        rename_table(),
        create_index(),
        drop_index(),
        add_check(),
        add_unique(),
        add_foreign_key(),
        raw_sql(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_case_is_a_function_of_the_same_name() {
        let names: Vec<&str> = all().iter().map(|c| c.name).collect();
        assert_eq!(names, super::super::CASES);
    }

    #[test]
    fn every_case_reads_as_one_operation_of_its_own_kind() {
        for case in all() {
            let operations =
                cairn_core::operation::spec::parse(&case.migration, "migration.toml".as_ref())
                    .unwrap_or_else(|e| panic!("{}: {e}", case.name));
            assert_eq!(operations.len(), 1, "{}", case.name);
            assert_eq!(operations[0].kind.name(), case.name);
        }
    }

    #[test]
    fn every_case_is_one_operation_of_its_own_kind() {
        for case in all() {
            let kind = format!("kind = \"{}\"", case.name);
            assert!(
                case.migration.contains(&kind),
                "{}: {}",
                case.name,
                case.migration
            );
            assert_eq!(
                case.migration.matches("[[operation]]").count(),
                1,
                "{}",
                case.name
            );
        }
    }
}

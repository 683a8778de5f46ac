//! `rename_column` (t.o → n): both names exist while expanded, kept equal
//! both ways by a trigger; contract drops the old one. See `dual.rs` for the
//! phases; this file only says that the values are the same (`up` and
//! `down` are the identity) and what cannot be renamed this way.

use super::dual::{self, Dual};
use super::{q, Target};
use crate::operation::Phases;

/// The phases of renaming `table.column` to `to`.
pub(super) fn compile(
    table: &Target,
    column: &str,
    to: &str,
    location: &str,
) -> Result<Phases, String> {
    let old_column = table.column(column)?;
    table.column_is_new(to)?;
    table.has_primary_key("rename_column")?;
    dual::refuse_special(table, column, old_column, "rename_column")?;
    let dual = Dual {
        table,
        old: column,
        old_column,
        new: to,
        new_type: dual::column_type(old_column),
        same_values: true,
        up: (q(column), format!("NEW.{}", q(column))),
        down: (q(to), format!("NEW.{}", q(to))),
    };
    Ok(dual.phases(location))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::Context;
    use crate::schema::{Column, PrimaryKey, Table};

    fn users() -> Table {
        let mut table = Table::default();
        for (name, nullable) in [("id", false), ("name", false)] {
            table.columns.insert(
                name.to_owned(),
                Column {
                    data_type: if name == "id" { "bigint" } else { "text" }.to_owned(),
                    nullable,
                    ..Column::default()
                },
            );
            table.column_order.push(name.to_owned());
        }
        table.primary_key = Some(PrimaryKey {
            name: Some("users_pkey".to_owned()),
            columns: vec!["id".to_owned()],
        });
        table
    }

    #[test]
    fn refuses_what_it_cannot_rename() {
        let table = users();
        let ctx = Context {
            version: crate::migration::Version::from(20260101090500),
            index: 0,
            before: Some(&table),
        };
        let target = Target::new("users", &ctx).unwrap();
        let missing = compile(&target, "nom", "full_name", "m:1").unwrap_err();
        assert!(missing.contains("column `nom` does not exist"), "{missing}");
        let taken = compile(&target, "name", "id", "m:1").unwrap_err();
        assert!(taken.contains("column `id` already exists"), "{taken}");
        let key = compile(&target, "id", "user_id", "m:1").unwrap();
        assert!(
            key.expand
                .iter()
                .any(|s| s.what.contains("like users_pkey")),
            "the primary key is carried: {:#?}",
            key.expand
        );
        let phases = compile(&target, "name", "full_name", "m:1").unwrap();
        assert_eq!(phases.versions.old, ["users.name"]);
        assert_eq!(phases.versions.new, ["users.full_name"]);
    }

    /// The SQL of every phase, reviewed like code.
    #[test]
    fn the_sql_of_each_phase() {
        let mut table = users();
        let name = table.columns.get_mut("name").unwrap();
        name.default = Some("'anon'::text".to_owned());
        table.indexes.insert(
            "users_lower_name".to_owned(),
            crate::schema::Index {
                columns: vec!["lower(name)".to_owned()],
                unique: true,
                predicate: Some("(name <> 'x'::text)".to_owned()),
                ..Default::default()
            },
        );
        table
            .unique_constraints
            .insert("users_name_key".to_owned(), vec!["name".to_owned()]);
        table.checks.insert(
            "users_name_check".to_owned(),
            "CHECK (name <> ''::text)".to_owned(),
        );
        let ctx = Context {
            version: crate::migration::Version::from(20260101090500),
            index: 0,
            before: Some(&table),
        };
        let target = Target::new("users", &ctx).unwrap();
        let phases = compile(&target, "name", "full_name", "migration.toml:2").unwrap();
        insta::assert_snapshot!(super::super::render(&phases));
    }
}

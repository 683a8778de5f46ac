//! `rename_table` (t → to): expand renames the table and, in the same
//! transaction, creates a view under the old name (`SELECT *` of one table,
//! which PostgreSQL can insert into, update and delete from), so old code
//! keeps working; contract drops the view; abort drops it and renames the
//! table back; un-contract creates the view again.

use super::{guards, Target};
use crate::dialect::Bookkeeping;
use crate::operation::{Phases, Step, Versions};

/// The phases of renaming `table` to `to`.
/// With `security_invoker` (PostgreSQL 15+), the view is read with the
/// privileges and row-level security of the querying role, as the table.
pub(super) fn compile(table: &Target, to: &str, security_invoker: bool) -> Result<Phases, String> {
    if to.contains('.') || to.is_empty() {
        return Err(format!(
            "`to = \"{to}\"`: give the new name without a schema (rename_table keeps the table in its schema)"
        ));
    }
    let pg = super::PostgresDialect::DEFAULT;
    let old = table.sql.clone();
    let new = pg.qualify(table.schema, to);
    let options = if security_invoker {
        " WITH (security_invoker = true)"
    } else {
        ""
    };
    let view = format!("CREATE VIEW {old}{options} AS SELECT * FROM {new}");
    let drop_view = format!("DROP VIEW IF EXISTS {old}");
    let new_key = match table.schema {
        Some(schema) => format!("{schema}.{to}"),
        None => to.to_owned(),
    };
    Ok(Phases {
        expand: vec![Step {
            what: format!(
                "rename table {} to {to}, a view {} for old code",
                table.key, table.key
            ),
            statements: vec![
                format!("ALTER TABLE {old} RENAME TO {}", super::q(to)),
                view.clone(),
            ],
            ..Step::default()
        }
        .done_if(guards::relation_exists(&new))
        .in_transaction()
        .locking()],
        contract: vec![
            Step::new(format!("drop view {}", table.key), drop_view.clone())
                .done_if(guards::relation_missing(&old))
                .locking(),
        ],
        abort: vec![Step {
            what: format!(
                "drop view {}, rename table {new_key} back to {}",
                table.key, table.key
            ),
            statements: vec![
                drop_view,
                format!("ALTER TABLE {new} RENAME TO {}", super::q(table.name())),
            ],
            ..Step::default()
        }
        .done_if(guards::relation_missing(&new))
        .in_transaction()
        .locking()],
        uncontract: vec![Step::new(
            format!("view {} over {new_key} for old code", table.key),
            view,
        )
        .done_if(guards::relation_exists(&old))
        .locking()],
        versions: Versions {
            old: vec![table.key.to_owned()],
            new: vec![new_key],
        },
        ..Phases::default()
    })
}

//! `create_index` (at expand) and `drop_index` (at contract, so the old
//! application keeps it while it runs), each one online `ALTER TABLE` with
//! `ALGORITHM=INPLACE, LOCK=NONE`. A build the server did not finish (killed,
//! timed out) is rolled back by the server itself (atomic DDL), so no
//! half-built index is left to clean up; the guard is the catalog.

use super::{absent, column, Sql, INPLACE};
use crate::operation::{Phases, Step};
use crate::schema::{Index, Table};

/// `ADD [UNIQUE] INDEX name (columns)`, skipped when the index exists.
pub(super) fn add(sql: &Sql<'_>, table: &str, name: &str, keys: &str, unique: bool) -> Step {
    Step::new(
        format!("create index {name} on {table} ({keys})"),
        sql.alter(
            table,
            &format!(
                "ADD {}INDEX {} ({keys})",
                if unique { "UNIQUE " } else { "" },
                sql.id(name)
            ),
            INPLACE,
        ),
    )
    .done_if(sql.index_exists(table, name))
    .locking()
}

/// `DROP INDEX name`, skipped when it is gone.
pub(super) fn remove(sql: &Sql<'_>, table: &str, name: &str) -> Step {
    Step::new(
        format!("drop index {name} of {table}"),
        sql.alter(table, &format!("DROP INDEX {}", sql.id(name)), INPLACE),
    )
    .done_if(absent(&sql.index_exists(table, name)))
    .locking()
}

/// The phases of `create_index`.
pub(super) fn create(
    sql: &Sql<'_>,
    before: &Table,
    table: &str,
    name: &str,
    columns: &[String],
    unique: bool,
) -> Result<Phases, String> {
    if before.indexes.contains_key(name) {
        return Err(format!(
            "index `{name}` already exists on `{table}`; choose another name"
        ));
    }
    if columns.is_empty() {
        return Err("`columns` is empty; name the index's key columns".to_owned());
    }
    for c in columns {
        column(before, table, c)?;
    }
    let keys = columns
        .iter()
        .map(|c| sql.id(c))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Phases {
        expand: vec![add(sql, table, name, &keys, unique)],
        abort: vec![remove(sql, table, name)],
        ..Phases::default()
    })
}

/// The phases of `drop_index`: dropped at contract, re-created from
/// `before` at un-contract.
pub(super) fn drop(
    sql: &Sql<'_>,
    before: &Table,
    table: &str,
    name: &str,
) -> Result<Phases, String> {
    let Some(index) = before.indexes.get(name) else {
        return Err(format!(
            "index `{name}` does not exist on `{table}` (its indexes: {})",
            before
                .indexes
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    // A foreign key needs an index whose leading keys are its columns.
    let leads = |keys: &[String], columns: &[String]| {
        keys.len() >= columns.len()
            && keys
                .iter()
                .zip(columns)
                .all(|(k, c)| k.as_str() == c.as_str())
    };
    for (fk_name, fk) in &before.foreign_keys {
        let other = before
            .indexes
            .iter()
            .filter(|(n, _)| n.as_str() != name)
            .map(|(_, i)| &i.columns)
            .chain(before.primary_key.iter().map(|pk| &pk.columns))
            .any(|keys| leads(keys, &fk.columns));
        if leads(&index.columns, &fk.columns) && !other {
            return Err(format!(
                "index `{name}` of `{table}` is the one foreign key `{fk_name}` needs; drop \
                 the foreign key first, or create another index on ({}) before",
                fk.columns.join(", ")
            ));
        }
    }
    if index.method.is_some() {
        return Err(format!(
            "index `{name}` of `{table}` is {}, which MySQL cannot re-create with LOCK=NONE \
             at un-contract; drop it in a plain migration",
            index.method.as_deref().unwrap_or_default()
        ));
    }
    let keys = keys_sql(sql, before, index);
    Ok(Phases {
        contract: vec![remove(sql, table, name)],
        uncontract: vec![add(sql, table, name, &keys, index.unique)],
        ..Phases::default()
    })
}

/// The keys of `index` of `before` as SQL: columns quoted, prefix lengths
/// and `DESC` kept, expressions parenthesised.
pub(super) fn keys_sql(sql: &Sql<'_>, before: &Table, index: &Index) -> String {
    index
        .columns
        .iter()
        .map(|key| {
            let (body, desc) = match key.strip_suffix(" desc") {
                Some(body) => (body, " DESC"),
                None => (key.as_str(), ""),
            };
            match body.split_once('(') {
                Some((c, rest)) if before.columns.contains_key(c) => {
                    format!("{}({rest}{desc}", sql.id(c))
                }
                _ if before.columns.contains_key(body) => format!("{}{desc}", sql.id(body)),
                _ => format!("({body}){desc}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

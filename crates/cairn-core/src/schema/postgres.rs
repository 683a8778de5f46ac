//! PostgreSQL introspection: `pg_catalog` queries for the current schema.
//!
//! Types come from `format_type`, expressions from `pg_get_expr` and the
//! `pg_get_*def` functions, so they read as PostgreSQL prints them. Indexes that
//! back a primary key, unique or exclusion constraint are shown as that
//! constraint, not again as an index.

use crate::driver::Driver;
use crate::engine::Engine;
use crate::error::Error;

use super::{
    normalize_default, normalize_sql, query, Column, ForeignKey, Index, PrimaryKey, Row, Sequence,
    Snapshot, Trigger, View,
};

const NAMESPACE: &str = "current_schema()::regnamespace";

pub(super) async fn introspect(driver: &mut dyn Driver) -> Result<Snapshot, Error> {
    let mut snapshot = Snapshot::new(Engine::Postgres);
    let columns = format!(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, \
                pg_get_expr(d.adbin, d.adrelid), a.attgenerated, a.attidentity, \
                CASE WHEN a.attcollation <> t.typcollation THEN co.collname END \
         FROM pg_class c \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         JOIN pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum \
         LEFT JOIN pg_collation co ON co.oid = a.attcollation \
         WHERE c.relnamespace = {NAMESPACE} AND c.relkind IN ('r', 'p') \
         ORDER BY c.relname, a.attnum"
    );
    for row in query(driver, "columns", &columns).await? {
        let row = Row(&row);
        let table = snapshot.tables.entry(row.text(0)).or_default();
        let name = row.text(1);
        let expression = row.opt(4);
        let (default, generated) = match row.text(5).as_str() {
            "s" => (
                None,
                expression.map(|e| format!("{} stored", normalize_sql(&e))),
            ),
            "v" => (
                None,
                expression.map(|e| format!("{} virtual", normalize_sql(&e))),
            ),
            _ => (normalize_default(expression), None),
        };
        let identity = match row.text(6).as_str() {
            "a" => Some("always".to_owned()),
            "d" => Some("by default".to_owned()),
            _ => None,
        };
        table.column_order.push(name.clone());
        table.columns.insert(
            name,
            Column {
                data_type: row.text(2).to_lowercase(),
                nullable: row.flag(3),
                default,
                generated,
                identity,
                collation: row.non_empty(7),
                extra: None,
            },
        );
    }

    // One row per constraint column (checks: any one row carries the definition).
    let constraints = format!(
        "SELECT rel.relname, con.conname, con.contype, a.attname, frel.relname, fa.attname, \
                con.confdeltype, con.confupdtype, pg_get_constraintdef(con.oid, true) \
         FROM pg_constraint con \
         JOIN pg_class rel ON rel.oid = con.conrelid \
         LEFT JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, fattnum, ord) ON true \
         LEFT JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum \
         LEFT JOIN pg_class frel ON frel.oid = con.confrelid \
         LEFT JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.fattnum \
         WHERE rel.relnamespace = {NAMESPACE} AND rel.relkind IN ('r', 'p') AND con.contype IN ('p', 'u', 'f', 'c') \
         ORDER BY rel.relname, con.conname, k.ord"
    );
    for row in query(driver, "constraints", &constraints).await? {
        let row = Row(&row);
        let Some(table) = snapshot.tables.get_mut(&row.text(0)) else {
            continue;
        };
        let name = row.text(1);
        let column = row.opt(3);
        match row.text(2).as_str() {
            "p" => {
                let pk = table.primary_key.get_or_insert_with(|| PrimaryKey {
                    name: Some(name.clone()),
                    columns: Vec::new(),
                });
                pk.columns.extend(column);
            }
            "u" => table
                .unique_constraints
                .entry(name)
                .or_default()
                .extend(column),
            "f" => {
                let fk = table
                    .foreign_keys
                    .entry(name)
                    .or_insert_with(|| ForeignKey {
                        referenced_table: row.text(4),
                        on_delete: action(&row.text(6)),
                        on_update: action(&row.text(7)),
                        ..ForeignKey::default()
                    });
                fk.columns.extend(column);
                fk.referenced_columns.extend(row.opt(5));
            }
            _ => {
                table.checks.insert(name, normalize_sql(&row.text(8)));
            }
        }
    }

    let indexes = format!(
        "SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid, k.n, true), \
                x.indoption[k.n - 1], x.indisunique, pg_get_expr(x.indpred, x.indrelid, true), am.amname \
         FROM pg_index x \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_am am ON am.oid = i.relam \
         CROSS JOIN LATERAL generate_series(1, x.indnkeyatts) AS k(n) \
         WHERE t.relnamespace = {NAMESPACE} AND t.relkind IN ('r', 'p') \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid \
                           AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u', 'x')) \
         ORDER BY t.relname, i.relname, k.n"
    );
    for row in query(driver, "indexes", &indexes).await? {
        let row = Row(&row);
        let Some(table) = snapshot.tables.get_mut(&row.text(0)) else {
            continue;
        };
        let index = table.indexes.entry(row.text(1)).or_insert_with(|| Index {
            unique: row.flag(4),
            predicate: row.opt(5).map(|p| normalize_sql(&p)),
            method: row.opt(6).filter(|m| m != "btree"),
            ..Index::default()
        });
        // indoption bit 0: DESC; bit 1: NULLS FIRST.
        let option = row.int(3);
        let mut column = normalize_sql(&row.text(2));
        if option & 1 != 0 {
            column.push_str(" desc");
        }
        if option & 2 != 0 && option & 1 == 0 {
            column.push_str(" nulls first");
        } else if option & 2 == 0 && option & 1 != 0 {
            column.push_str(" nulls last");
        }
        index.columns.push(column);
    }

    let views = format!(
        "SELECT c.relname, c.relkind = 'm', pg_get_viewdef(c.oid, true) FROM pg_class c \
         WHERE c.relnamespace = {NAMESPACE} AND c.relkind IN ('v', 'm') ORDER BY c.relname"
    );
    for row in query(driver, "views", &views).await? {
        let row = Row(&row);
        snapshot.views.insert(
            row.text(0),
            View {
                materialized: row.flag(1),
                definition: normalize_sql(&row.text(2)),
            },
        );
    }

    let triggers = format!(
        "SELECT t.tgname, c.relname, t.tgtype, pg_get_triggerdef(t.oid, true) FROM pg_trigger t \
         JOIN pg_class c ON c.oid = t.tgrelid \
         WHERE c.relnamespace = {NAMESPACE} AND NOT t.tgisinternal ORDER BY c.relname, t.tgname"
    );
    for row in query(driver, "triggers", &triggers).await? {
        let row = Row(&row);
        let (name, table, tgtype) = (row.text(0), row.text(1), row.int(2));
        // pg_trigger.tgtype bits: 1 row, 2 before, 4 insert, 8 delete, 16 update, 32 truncate, 64 instead.
        let timing = if tgtype & 2 != 0 {
            "BEFORE"
        } else if tgtype & 64 != 0 {
            "INSTEAD OF"
        } else {
            "AFTER"
        };
        let events = [
            (4, "INSERT"),
            (16, "UPDATE"),
            (8, "DELETE"),
            (32, "TRUNCATE"),
        ]
        .into_iter()
        .filter(|(bit, _)| tgtype & bit != 0)
        .map(|(_, event)| event.to_owned())
        .collect();
        let key = if snapshot.triggers.contains_key(&name) {
            format!("{table}.{name}")
        } else {
            name.clone()
        };
        snapshot.triggers.insert(
            key,
            Trigger {
                name,
                table,
                timing: timing.to_owned(),
                events,
                definition: normalize_sql(&row.text(3)),
            },
        );
    }

    let sequences = format!(
        "SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, \
                s.seqcycle, o.relname || '.' || a.attname, d.deptype \
         FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid \
         LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid \
              AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') \
         LEFT JOIN pg_class o ON o.oid = d.refobjid \
         LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
         WHERE c.relnamespace = {NAMESPACE} AND c.relkind = 'S' ORDER BY c.relname"
    );
    for row in query(driver, "sequences", &sequences).await? {
        let row = Row(&row);
        if row.text(8) == "i" {
            continue; // an identity column's sequence: shown on the column
        }
        snapshot.sequences.insert(
            row.text(0),
            Sequence {
                data_type: row.text(1),
                start: row.text(2),
                increment: row.text(3),
                min: row.text(4),
                max: row.text(5),
                cycle: row.flag(6),
                owned_by: row.opt(7),
            },
        );
    }

    let enums = format!(
        "SELECT t.typname, e.enumlabel FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid \
         WHERE t.typnamespace = {NAMESPACE} ORDER BY t.typname, e.enumsortorder"
    );
    for row in query(driver, "enum types", &enums).await? {
        let row = Row(&row);
        snapshot
            .enums
            .entry(row.text(0))
            .or_default()
            .push(row.text(1));
    }
    // Functions and procedures (not aggregates or window functions), without
    // those an extension owns (`pg_depend.deptype = 'e'`).
    let functions = format!(
        "SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', \
                pg_get_functiondef(p.oid) \
         FROM pg_proc p WHERE p.pronamespace = {NAMESPACE} AND p.prokind IN ('f', 'p') \
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass \
                           AND d.objid = p.oid AND d.deptype = 'e') \
         ORDER BY 1"
    );
    for row in query(driver, "functions", &functions).await? {
        let row = Row(&row);
        snapshot
            .functions
            .insert(row.text(0), row.text(1).trim().to_owned());
    }
    Ok(snapshot)
}

/// A `confdeltype` / `confupdtype` code as SQL.
fn action(code: &str) -> String {
    match code {
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "NO ACTION",
    }
    .to_owned()
}

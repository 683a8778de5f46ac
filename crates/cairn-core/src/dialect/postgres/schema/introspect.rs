//! PostgreSQL introspection: `pg_catalog` queries for every schema but the
//! system ones (`pg_catalog`, `information_schema`, `pg_toast*`, `pg_temp*`).
//!
//! Objects of the current schema (`current_schema()`, normally `public`) are
//! keyed by their bare name, so a project that uses only `public` reads as
//! before; objects elsewhere are keyed `schema.name`. The schemas themselves
//! (but `public` and the current one) and the extensions (but `plpgsql`) are
//! objects too; what an extension owns (`pg_depend.deptype = 'e'`: the views
//! of `pg_stat_statements`, the functions of `pg_trgm`) is not.
//!
//! Types come from `format_type`, expressions from `pg_get_expr` and the
//! `pg_get_*def` functions, so they read as PostgreSQL prints them. Indexes that
//! back a primary key, unique or exclusion constraint are shown as that
//! constraint, not again as an index.

use crate::driver::Driver;
use crate::engine::Engine;
use crate::error::Error;
use crate::schema::{
    normalize_default, normalize_sql, query, Column, ForeignKey, Index, PrimaryKey, Row, Sequence,
    Snapshot, Trigger, View,
};

/// The schemas introspected: every one but the system schemas.
fn user_schema(alias: &str) -> String {
    format!(
        "{alias}.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND {alias}.nspname NOT LIKE 'pg\\_toast%' AND {alias}.nspname NOT LIKE 'pg\\_temp%'"
    )
}

/// An object's snapshot key: bare in the current schema, else `schema.name`.
fn key(namespace: &str, name: &str) -> String {
    format!(
        "(CASE WHEN {namespace}.nspname = current_schema() THEN '' ELSE {namespace}.nspname || '.' END || {name})"
    )
}

/// Leaves out the objects of `catalog` that an extension owns.
fn not_of_extension(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend ext WHERE ext.classid = '{catalog}'::regclass \
         AND ext.objid = {oid} AND ext.deptype = 'e')"
    )
}

/// Reads the schema, Cairn's own tables included.
pub(super) async fn introspect(driver: &mut dyn Driver) -> Result<Snapshot, Error> {
    let mut snapshot = Snapshot::new(Engine::Postgres);
    let schemas = format!(
        "SELECT n.nspname FROM pg_namespace n WHERE {} AND n.nspname <> 'public' \
           AND n.nspname IS DISTINCT FROM current_schema() AND {} ORDER BY 1",
        user_schema("n"),
        not_of_extension("pg_namespace", "n.oid")
    );
    for row in query(driver, "schemas", &schemas).await? {
        snapshot.schemas.insert(Row(&row).text(0));
    }
    let extensions = "SELECT e.extname, n.nspname FROM pg_extension e \
         JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql' ORDER BY 1";
    for row in query(driver, "extensions", extensions).await? {
        let row = Row(&row);
        snapshot.extensions.insert(row.text(0), row.text(1));
    }
    let relations = format!(
        "{} AND {}",
        user_schema("n"),
        not_of_extension("pg_class", "c.oid")
    );
    let columns = format!(
        "SELECT {}, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, \
                pg_get_expr(d.adbin, d.adrelid), a.attgenerated, a.attidentity, \
                CASE WHEN a.attcollation <> t.typcollation THEN co.collname END \
         FROM pg_class c \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         JOIN pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum \
         LEFT JOIN pg_collation co ON co.oid = a.attcollation \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {relations} AND c.relkind IN ('r', 'p') \
         ORDER BY 1, a.attnum",
        key("n", "c.relname")
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
        "SELECT {}, con.conname, con.contype, a.attname, {}, fa.attname, \
                con.confdeltype, con.confupdtype, pg_get_constraintdef(con.oid, true) \
         FROM pg_constraint con \
         JOIN pg_class rel ON rel.oid = con.conrelid \
         LEFT JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, fattnum, ord) ON true \
         LEFT JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum \
         LEFT JOIN pg_class frel ON frel.oid = con.confrelid \
         LEFT JOIN pg_namespace fn ON fn.oid = frel.relnamespace \
         LEFT JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.fattnum \
         JOIN pg_namespace n ON n.oid = rel.relnamespace \
         WHERE {} AND rel.relkind IN ('r', 'p') AND con.contype IN ('p', 'u', 'f', 'c') \
         ORDER BY 1, con.conname, k.ord",
        key("n", "rel.relname"),
        key("fn", "frel.relname"),
        user_schema("n")
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

    // pg_get_indexdef of one key gives neither its collation nor its
    // operator class: they come from indcollation / indclass (0-based
    // vectors), shown where they are not the key's own collation (a
    // column's, else its type's) or the type's default operator class.
    let indexes = format!(
        "SELECT {}, i.relname, pg_get_indexdef(x.indexrelid, k.n, true), \
                x.indoption[k.n - 1], x.indisunique, pg_get_expr(x.indpred, x.indrelid, true), am.amname, \
                CASE WHEN x.indcollation[k.n - 1] <> 0 \
                      AND x.indcollation[k.n - 1] <> COALESCE(ta.attcollation, it.typcollation) \
                     THEN 'collate ' || {} END, \
                CASE WHEN NOT oc.opcdefault THEN {} END \
         FROM pg_index x \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_am am ON am.oid = i.relam \
         CROSS JOIN LATERAL generate_series(1, x.indnkeyatts) AS k(n) \
         LEFT JOIN pg_attribute ta ON ta.attrelid = x.indrelid AND ta.attnum = x.indkey[k.n - 1] \
              AND x.indkey[k.n - 1] <> 0 \
         LEFT JOIN pg_attribute ia ON ia.attrelid = x.indexrelid AND ia.attnum = k.n \
         LEFT JOIN pg_type it ON it.oid = ia.atttypid \
         LEFT JOIN pg_collation co ON co.oid = x.indcollation[k.n - 1] \
         LEFT JOIN pg_namespace con ON con.oid = co.collnamespace \
         LEFT JOIN pg_opclass oc ON oc.oid = x.indclass[k.n - 1] \
         LEFT JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace \
         WHERE {} AND t.relkind IN ('r', 'p') \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid \
                           AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u', 'x')) \
         ORDER BY 1, i.relname, k.n",
        key("n", "t.relname"),
        qualified_name("con", "quote_ident(co.collname)"),
        qualified_name("ocn", "quote_ident(oc.opcname)"),
        user_schema("n"),
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
        let options: Vec<String> = [row.opt(7), row.opt(8)].into_iter().flatten().collect();
        index.key_options.push(options.join(" "));
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
    for table in snapshot.tables.values_mut() {
        for index in table.indexes.values_mut() {
            if index.key_options.iter().all(String::is_empty) {
                index.key_options.clear();
            }
        }
    }

    let views = format!(
        "SELECT {}, c.relkind = 'm', pg_get_viewdef(c.oid, true) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {relations} AND c.relkind IN ('v', 'm') ORDER BY 1",
        key("n", "c.relname")
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
        "SELECT t.tgname, {}, t.tgtype, pg_get_triggerdef(t.oid, true) FROM pg_trigger t \
         JOIN pg_class c ON c.oid = t.tgrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {relations} AND NOT t.tgisinternal ORDER BY 2, t.tgname",
        key("n", "c.relname")
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
        // A trigger on a table of another schema is keyed by its table.
        let key = if snapshot.triggers.contains_key(&name) || table.contains('.') {
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
        "SELECT {}, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, \
                s.seqcycle, {} || '.' || a.attname, d.deptype \
         FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid \
         LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid \
              AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') \
         LEFT JOIN pg_class o ON o.oid = d.refobjid \
         LEFT JOIN pg_namespace o_n ON o_n.oid = o.relnamespace \
         LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {relations} AND c.relkind = 'S' ORDER BY 1",
        key("n", "c.relname"),
        key("o_n", "o.relname")
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
        "SELECT {}, e.enumlabel FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid \
         JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE {} AND {} ORDER BY 1, e.enumsortorder",
        key("n", "t.typname"),
        user_schema("n"),
        not_of_extension("pg_type", "t.oid")
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
        "SELECT {} || '(' || pg_get_function_identity_arguments(p.oid) || ')', \
                pg_get_functiondef(p.oid) \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE {} AND p.prokind IN ('f', 'p') AND {} \
         ORDER BY 1",
        key("n", "p.proname"),
        user_schema("n"),
        not_of_extension("pg_proc", "p.oid")
    );
    for row in query(driver, "functions", &functions).await? {
        let row = Row(&row);
        snapshot
            .functions
            .insert(row.text(0), row.text(1).trim().to_owned());
    }
    Ok(snapshot)
}

/// A catalog name (already quoted) as SQL names it from the current schema:
/// bare in `pg_catalog` or the current schema, else qualified.
fn qualified_name(namespace: &str, quoted: &str) -> String {
    format!(
        "(CASE WHEN {namespace}.nspname IN ('pg_catalog') OR {namespace}.nspname = current_schema() \
         THEN '' ELSE quote_ident({namespace}.nspname) || '.' END || {quoted})"
    )
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

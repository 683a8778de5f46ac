//! MySQL / MariaDB introspection: `information_schema` queries for the
//! current database (`DATABASE()`).
//!
//! MySQL has no unique constraint apart from a unique index, so unique
//! constraints show under `indexes` (with `unique`); the primary key is the
//! index `PRIMARY`. View and trigger text is stripped of the
//! `` `database`. `` qualifier MySQL writes into it, so snapshots of two
//! databases compare. Defaults are compared as reported: MariaDB quotes string
//! defaults (`'x'`), MySQL 8 does not.

use crate::dialect::{Dialect, Flavour};
use crate::driver::Driver;
use crate::engine::Engine;
use crate::error::Error;
use crate::schema::{
    normalize_default, normalize_sql, query, Column, ForeignKey, Index, PrimaryKey, Row, Snapshot,
    Trigger, View,
};

use super::super::MysqlDialect;

/// Reads the schema, Cairn's own tables included. MariaDB and MySQL differ
/// in their check constraints; the dialect's flavour says which this is.
pub(super) async fn introspect(
    dialect: &MysqlDialect,
    driver: &mut dyn Driver,
) -> Result<Snapshot, Error> {
    let mut snapshot = Snapshot::new(Engine::Mysql);
    let about = query(
        driver,
        "the current database",
        "SELECT DATABASE(), VERSION()",
    )
    .await?;
    let about = about.first().map(|row| Row(row));
    let database = about.as_ref().map(|r| r.text(0)).unwrap_or_default();
    let mariadb = match dialect.server_version() {
        Some(_) => dialect.flavour() == Flavour::MariaDb,
        // A dialect built without a connection does not know the product:
        // the version text tells it (MariaDB's contains `MariaDB`).
        None => about
            .as_ref()
            .is_some_and(|r| r.text(1).contains("MariaDB")),
    };
    let unqualify = |sql: &str| normalize_sql(&sql.replace(&format!("`{database}`."), ""));

    let columns = "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.COLUMN_DEFAULT, \
                c.EXTRA, c.GENERATION_EXPRESSION, c.COLLATION_NAME, t.TABLE_COLLATION \
         FROM information_schema.COLUMNS c \
         JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
         WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' \
         ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION";
    for row in query(driver, "columns", columns).await? {
        let row = Row(&row);
        let table = snapshot.tables.entry(row.text(0)).or_default();
        let name = row.text(1);
        // EXTRA: `auto_increment`, `on update current_timestamp()`,
        // `VIRTUAL GENERATED` / `STORED GENERATED` (MariaDB also `PERSISTENT`),
        // MySQL 8's `DEFAULT_GENERATED` (an expression default: noise here).
        let extra = row.text(5).to_lowercase();
        let mut identity = None;
        let mut kind = "virtual";
        let mut rest = Vec::new();
        for word in extra.split_whitespace() {
            match word {
                "auto_increment" => identity = Some("auto_increment".to_owned()),
                "stored" | "persistent" => kind = "stored",
                "virtual" | "generated" | "default_generated" => {}
                other => rest.push(other),
            }
        }
        let generated = row
            .non_empty(6)
            .map(|expression| format!("{} {kind}", normalize_sql(&expression)));
        let collation = row.non_empty(7).filter(|c| Some(c) != row.opt(8).as_ref());
        table.column_order.push(name.clone());
        table.columns.insert(
            name,
            Column {
                data_type: row.text(2).to_lowercase(),
                nullable: row.flag(3),
                default: if generated.is_some() {
                    None
                } else {
                    normalize_default(row.opt(4))
                },
                generated,
                identity,
                collation,
                extra: (!rest.is_empty()).then(|| rest.join(" ")),
            },
        );
    }

    let indexes =
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, COLLATION, SUB_PART, INDEX_TYPE \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
         ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX";
    for row in query(driver, "indexes", indexes).await? {
        let row = Row(&row);
        let Some(table) = snapshot.tables.get_mut(&row.text(0)) else {
            continue;
        };
        let name = row.text(1);
        let mut column = row.text(3);
        if let Some(part) = row.non_empty(5) {
            column = format!("{column}({part})");
        }
        if name == "PRIMARY" {
            table
                .primary_key
                .get_or_insert_with(|| PrimaryKey {
                    name: Some(name.clone()),
                    columns: Vec::new(),
                })
                .columns
                .push(column);
            continue;
        }
        if row.text(4) == "D" {
            column.push_str(" desc");
        }
        let method = row.text(6).to_lowercase();
        table
            .indexes
            .entry(name)
            .or_insert_with(|| Index {
                unique: !row.flag(2),
                method: (method != "btree").then_some(method),
                ..Index::default()
            })
            .columns
            .push(column);
    }

    let foreign_keys = "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, \
                k.REFERENCED_COLUMN_NAME, r.DELETE_RULE, r.UPDATE_RULE \
         FROM information_schema.KEY_COLUMN_USAGE k \
         JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA \
              AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME \
         WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL \
         ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION";
    for row in query(driver, "foreign keys", foreign_keys).await? {
        let row = Row(&row);
        let Some(table) = snapshot.tables.get_mut(&row.text(0)) else {
            continue;
        };
        let fk = table
            .foreign_keys
            .entry(row.text(1))
            .or_insert_with(|| ForeignKey {
                referenced_table: row.text(3),
                on_delete: row.text(5).to_uppercase(),
                on_update: row.text(6).to_uppercase(),
                ..ForeignKey::default()
            });
        fk.columns.push(row.text(2));
        fk.referenced_columns.push(row.text(4));
    }

    // MariaDB names check constraints per table (and says which in
    // CHECK_CONSTRAINTS.TABLE_NAME); MySQL 8 per database, without that column.
    let same_table = if mariadb {
        " AND cc.TABLE_NAME = tc.TABLE_NAME"
    } else {
        ""
    };
    let checks = format!(
        "SELECT tc.TABLE_NAME, tc.CONSTRAINT_NAME, cc.CHECK_CLAUSE \
         FROM information_schema.TABLE_CONSTRAINTS tc \
         JOIN information_schema.CHECK_CONSTRAINTS cc ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA \
              AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME{same_table} \
         WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK' \
         ORDER BY tc.TABLE_NAME, tc.CONSTRAINT_NAME"
    );
    for row in query(driver, "check constraints", &checks).await? {
        let row = Row(&row);
        if let Some(table) = snapshot.tables.get_mut(&row.text(0)) {
            table.checks.insert(row.text(1), unqualify(&row.text(2)));
        }
    }

    let views = "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME";
    for row in query(driver, "views", views).await? {
        let row = Row(&row);
        snapshot.views.insert(
            row.text(0),
            View {
                materialized: false,
                definition: unqualify(&row.text(1)),
            },
        );
    }

    let triggers = "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, \
                ACTION_ORIENTATION, ACTION_STATEMENT \
         FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY TRIGGER_NAME";
    for row in query(driver, "triggers", triggers).await? {
        let row = Row(&row);
        let name = row.text(0);
        snapshot.triggers.insert(
            name.clone(),
            Trigger {
                name,
                table: row.text(1),
                timing: row.text(2).to_uppercase(),
                events: vec![row.text(3).to_uppercase()],
                definition: format!(
                    "for each {} {}",
                    row.text(4).to_lowercase(),
                    unqualify(&row.text(5))
                ),
            },
        );
    }
    Ok(snapshot)
}

//! Reading and rebuilding a schema on the MySQL family (MySQL, MariaDB): the
//! catalog queries are in [`introspect`]; what a dump, the seeder and scratch
//! databases say differently on MySQL is below.

use async_trait::async_trait;

use super::MysqlDialect;
use crate::dialect::{Dialect, Schema};
use crate::driver::Driver;
use crate::error::Error;
use crate::schema::{ident, Index, Snapshot, Table, Trigger};

mod introspect;

#[async_trait]
impl Schema for MysqlDialect {
    async fn read_schema(&self, driver: &mut dyn Driver) -> Result<Snapshot, Error> {
        introspect::introspect(self, driver).await
    }

    /// Indexes inside the table, so that each foreign key added later finds
    /// the index MySQL would otherwise create under its own name.
    fn ddl_index_in_table(&self, name: &str, index: &Index, columns: &str) -> Option<String> {
        let kind = match index.method.as_deref() {
            Some("fulltext") => "FULLTEXT KEY",
            Some("spatial") => "SPATIAL KEY",
            _ if index.unique => "UNIQUE KEY",
            _ => "KEY",
        };
        let using = match index.method.as_deref() {
            Some(m @ ("hash" | "btree" | "rtree")) => format!(" USING {}", m.to_uppercase()),
            _ => String::new(),
        };
        Some(format!("{kind} {name} ({columns}){using}"))
    }

    fn ddl_identity(&self, _kind: &str) -> Option<String> {
        Some(" AUTO_INCREMENT".to_owned())
    }

    fn ddl_explicit_null(&self) -> bool {
        true
    }

    /// A prefix key reads `name(10)`: the column quoted, the length kept.
    fn ddl_key_expression(&self, table: &Table, expression: &str, order: &str) -> String {
        match expression.split_once('(') {
            Some((column, rest)) if table.columns.contains_key(column) => {
                format!("{}({rest}{order}", ident(self.engine(), column))
            }
            _ => format!("({expression}){order}"),
        }
    }

    /// `ACTION_STATEMENT` is only the body: the header is rebuilt.
    fn ddl_trigger(&self, trigger: &Trigger) -> String {
        format!(
            "CREATE TRIGGER {} {} {} ON {} {}",
            ident(self.engine(), &trigger.name),
            trigger.timing,
            trigger.events.join(" OR "),
            ident(self.engine(), &trigger.table),
            trigger.definition
        )
    }

    fn seed_insert_defaults(&self, table: &str) -> String {
        format!("INSERT INTO {table} () VALUES ()")
    }

    fn example_server_url(&self) -> &'static str {
        "mysql://root@127.0.0.1:3306/mysql"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Flavour;
    use crate::engine::Engine;
    use crate::schema::{Column, PrimaryKey, View};

    const MY: MysqlDialect = MysqlDialect::DEFAULT;

    #[test]
    fn ddl_pieces_are_mysql_sql() {
        assert!(!MY.keys_have_schemas());
        assert_eq!(
            MY.ddl_primary_key(Some("`PRIMARY`"), "id"),
            "PRIMARY KEY (id)"
        );
        assert_eq!(
            MY.ddl_check("c", "c", "a > 0"),
            "CONSTRAINT c CHECK (a > 0)"
        );
        assert_eq!(MY.ddl_collation("utf8mb4_bin"), " COLLATE utf8mb4_bin");
        assert_eq!(
            MY.ddl_identity("auto_increment").as_deref(),
            Some(" AUTO_INCREMENT")
        );
        assert!(MY.ddl_explicit_null());
        let index = |method: Option<&str>, unique| Index {
            unique,
            method: method.map(str::to_owned),
            ..Index::default()
        };
        assert_eq!(
            MY.ddl_index_in_table("i", &index(None, true), "a")
                .as_deref(),
            Some("UNIQUE KEY i (a)")
        );
        assert_eq!(
            MY.ddl_index_in_table("i", &index(Some("fulltext"), false), "a")
                .as_deref(),
            Some("FULLTEXT KEY i (a)")
        );
        assert_eq!(
            MY.ddl_index_in_table("i", &index(Some("hash"), false), "a")
                .as_deref(),
            Some("KEY i (a) USING HASH")
        );
        let mut table = Table::default();
        table.columns.insert("name".to_owned(), Column::default());
        assert_eq!(
            MY.ddl_key_expression(&table, "name(10)", " DESC"),
            "name(10) DESC"
        );
        assert_eq!(MY.ddl_key_expression(&table, "lower(x)", ""), "(lower(x))");
        let trigger = Trigger {
            name: "touch".to_owned(),
            table: "Order".to_owned(),
            timing: "BEFORE".to_owned(),
            events: vec!["INSERT".to_owned()],
            definition: "for each row SET NEW.a = 1".to_owned(),
        };
        assert_eq!(
            MY.ddl_trigger(&trigger),
            "CREATE TRIGGER touch BEFORE INSERT ON `Order` for each row SET NEW.a = 1"
        );
        let view = View {
            materialized: false,
            definition: "select 1".to_owned(),
        };
        assert_eq!(MY.ddl_view("v", &view), "CREATE VIEW v AS select 1");
    }

    #[test]
    fn seed_and_scratch_sql() {
        assert_eq!(MY.seed_boolean(true), "1");
        assert_eq!(
            MY.seed_insert_defaults("`t`"),
            "INSERT INTO `t` () VALUES ()"
        );
        assert_eq!(MY.seed_overriding_identity(), None);
        assert_eq!(MY.relax_durability(), None);
        assert_eq!(MY.create_database("`d`"), "CREATE DATABASE `d`");
        assert_eq!(MY.drop_database("`d`"), "DROP DATABASE IF EXISTS `d`");
    }

    #[test]
    fn a_mysql_dump_is_pinned() {
        let mut s = Snapshot::new(Engine::Mysql);
        let mut t = Table::default();
        for (name, data_type, nullable) in [("id", "int(11)", false), ("b", "varchar(100)", true)] {
            t.column_order.push(name.to_owned());
            t.columns.insert(
                name.to_owned(),
                Column {
                    data_type: data_type.to_owned(),
                    nullable,
                    ..Column::default()
                },
            );
        }
        t.columns.get_mut("id").expect("id").identity = Some("auto_increment".to_owned());
        t.primary_key = Some(PrimaryKey {
            name: Some("PRIMARY".to_owned()),
            columns: vec!["id".to_owned()],
        });
        t.indexes.insert(
            "t_b".to_owned(),
            Index {
                columns: vec!["b(10) desc".to_owned()],
                ..Index::default()
            },
        );
        t.checks
            .insert("b_long".to_owned(), "length(b) > 1".to_owned());
        s.tables.insert("t".to_owned(), t);
        s.triggers.insert(
            "touch".to_owned(),
            Trigger {
                name: "touch".to_owned(),
                table: "t".to_owned(),
                timing: "BEFORE".to_owned(),
                events: vec!["INSERT".to_owned()],
                definition: "for each row SET NEW.b = 'x'".to_owned(),
            },
        );
        let mariadb = MysqlDialect::new(
            Flavour::MariaDb,
            Some(crate::dialect::ServerVersion::parse("10.11.6-MariaDB")),
        );
        assert_eq!(s.to_sql_for(&mariadb), s.to_sql());
        assert_eq!(
            s.to_sql(),
            "-- mysql schema, written by `cairn schema dump --format sql`\n\
             \n\
             CREATE TABLE t (\n    \
             id int(11) AUTO_INCREMENT NOT NULL,\n    \
             b varchar(100) NULL,\n    \
             PRIMARY KEY (id),\n    \
             KEY t_b (b(10) DESC),\n    \
             CONSTRAINT b_long CHECK (length(b) > 1)\n\
             );\n\
             \n\
             CREATE TRIGGER touch BEFORE INSERT ON t for each row SET NEW.b = 'x';\n"
        );
    }
}

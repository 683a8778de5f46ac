//! Which statements may share a multi-statement packet
//! ([`cairn_core::Driver::execute_packet`]).
//!
//! The server answers a multi-statement `COM_QUERY` with one result per
//! statement, in order, and stops at the first error; the driver counts the
//! results to say which statement failed. That count is only right for
//! statements known to produce exactly one result: a single statement (the
//! splitter finds no second one in its text), whose first word is one of
//! [`ONE_RESULT`], without `RETURNING` (MariaDB's `INSERT … RETURNING` sends
//! rows). Anything else (`SELECT`, `CALL`, `SHOW`, `ANALYZE`, a `WITH`, a
//! `SET STATEMENT … FOR`, two statements a script grouped with `DELIMITER`)
//! goes alone, in a round trip of its own, as [`cairn_core::Driver::execute`]
//! would send it; the statements after it start a new packet.

use cairn_core::split::{self, SplitRules};

/// First words of statements that answer with exactly one OK or error.
const ONE_RESULT: &[&str] = &[
    "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE", "INSERT", "UPDATE", "DELETE", "REPLACE",
    "SET", "DO", "START", "COMMIT", "ROLLBACK", "GRANT", "REVOKE",
];

/// Whether `sql` (one statement as the splitter gives it: no leading
/// comment, no trailing delimiter) answers with exactly one result.
pub(crate) fn countable(sql: &str, rules: &SplitRules) -> bool {
    let mut words = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    let Some(first) = words.next() else {
        return false;
    };
    let first = first.to_ascii_uppercase();
    if !ONE_RESULT.contains(&first.as_str()) {
        return false;
    }
    if first == "SET"
        && words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("STATEMENT"))
    {
        return false;
    }
    if sql.to_ascii_uppercase().contains("RETURNING") {
        return false;
    }
    // Only one statement in the text, as the server will read it.
    matches!(split::split_with(sql, rules).as_deref(), Ok([_]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::dialect::mysql::MysqlDialect;
    use cairn_core::Bookkeeping as _;

    fn rules() -> SplitRules {
        MysqlDialect::DEFAULT.split_rules()
    }

    #[test]
    fn ddl_and_dml_are_counted() {
        for sql in [
            "CREATE TABLE t (id INT PRIMARY KEY)",
            "create index i on t (a)",
            "ALTER TABLE t ADD COLUMN b INT",
            "INSERT INTO t VALUES (1)",
            "UPDATE `cairn_history` SET state = 'running' WHERE version = 1",
            "DO SLEEP(1)",
            "SET FOREIGN_KEY_CHECKS = 0",
            "START TRANSACTION",
            "COMMIT",
            "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END",
            "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; END",
        ] {
            assert!(countable(sql, &rules()), "{sql}");
        }
    }

    #[test]
    fn statements_with_rows_or_several_results_end_a_packet() {
        for sql in [
            "SELECT SLEEP(1)",
            "CALL p()",
            "SHOW TABLES",
            "ANALYZE TABLE t",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "SET STATEMENT max_statement_time = 1 FOR SELECT 1",
            "INSERT INTO t VALUES (1) RETURNING id",
            "DELETE FROM t RETURNING id",
            // Two statements a script grouped under `DELIMITER`.
            "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)",
            "/*!40101 SET NAMES utf8 */",
            "",
        ] {
            assert!(!countable(sql, &rules()), "{sql}");
        }
    }
}

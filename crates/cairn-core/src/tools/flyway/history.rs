//! How `cairn adopt --from flyway` reads the history table this tool wrote.
//!
//! `flyway_schema_history (installed_rank INT PRIMARY KEY, version
//! VARCHAR(50), description, type, script, checksum INTEGER, installed_by,
//! installed_on, execution_time INTEGER (ms), success BOOLEAN)`: one row per
//! run, in `installed_rank` order. Rows are replayed in that order: `SQL`
//! rows apply their version (`success = false`: failed), `DELETE` and
//! successful `UNDO_*` rows take it back out, `BASELINE`/`SQL_BASELINE` and
//! Java (`JDBC`, `SPRING_JDBC`, `SCRIPT`, `CUSTOM`) rows become Cairn
//! baselines (Cairn cannot run them), `SCHEMA` markers and repeatable rows
//! (no version) are left out.
//!
//! The checksum is CRC-32 over the UTF-8 bytes of each line as Java's
//! `BufferedReader.readLine` returns it — line terminators dropped, the BOM
//! removed — stored as a signed 32-bit integer. So line endings (and even
//! line breaks) do not change it; whitespace inside lines does.

use std::collections::BTreeMap;

use crate::adopt::{
    self, BadValue, ForeignHistory, ForeignRow, ForeignState, RowKind, Skipped, Verdict,
};
use crate::dialect::Dialect;
use crate::driver::Rows;

/// Flyway's default table.
pub const TABLE: &str = "flyway_schema_history";

const ALGORITHM: &str = "CRC-32";

/// The query, the columns it needs and a hint when they are missing.
pub(crate) fn select(dialect: &dyn Dialect, table: &str) -> (String, &'static str, &'static str) {
    (
        adopt::select(
            dialect,
            table,
            &[
                "installed_rank",
                "version",
                "description",
                "type",
                "script",
                "checksum",
                "installed_by",
                "installed_on",
                "execution_time",
                "success",
            ],
            Some("installed_rank"),
        ),
        "installed_rank, version, description, type, script, checksum, installed_by, installed_on, execution_time, success",
        "is it Flyway's? pass --table with the name set by flyway.table",
    )
}

/// Replays the rows in `installed_rank` order.
pub(crate) fn decode(rows: Rows) -> Result<ForeignHistory, BadValue> {
    let mut history = ForeignHistory::default();
    // By version text, in the order versions were first applied.
    let mut current: BTreeMap<String, (usize, ForeignRow)> = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        let position = adopt::positional(index);
        let rank = adopt::required(row, 0, &position, "installed_rank", "an integer")?;
        let script = adopt::value(row, 4).unwrap_or_default().to_owned();
        let kind = adopt::required(row, 3, rank, "type", "a migration type")?.to_owned();
        let Some(version_text) = adopt::value(row, 1).map(str::trim) else {
            history.skipped.push(Skipped {
                key: script,
                reason: match kind.as_str() {
                    "SCHEMA" => "Flyway's schema-creation marker".to_owned(),
                    _ => "a repeatable migration (R__): it runs again when it changes, and is not part of the versioned history".to_owned(),
                },
            });
            continue;
        };
        let key = version_text.to_owned();
        let success = adopt::boolean(
            adopt::required(row, 9, &key, "success", "a boolean")?,
            &key,
            "success",
        )?;
        match kind.as_str() {
            "DELETE" => {
                current.remove(&key);
                continue;
            }
            k if k.starts_with("UNDO_") => {
                if success {
                    current.remove(&key);
                }
                continue;
            }
            "SCHEMA" => continue,
            _ => {}
        }
        let version = adopt::version(&key, &key, "version")?;
        let mut foreign = ForeignRow::applied(key.clone(), version);
        foreign.name = adopt::value(row, 2).map(str::to_owned);
        foreign.checksum = adopt::value(row, 5).map(|s| s.trim().to_owned());
        foreign.applied_by = adopt::value(row, 6).map(str::to_owned);
        foreign.applied_at = adopt::value(row, 7).and_then(adopt::timestamp);
        foreign.execution_ms = adopt::value(row, 8).and_then(|ms| ms.trim().parse().ok());
        foreign.kind = match kind.as_str() {
            "SQL" => RowKind::Script,
            "BASELINE" | "SQL_BASELINE" => RowKind::Baseline,
            _ => RowKind::Code,
        };
        if foreign.kind != RowKind::Script {
            foreign.checksum = None;
        }
        if !success {
            foreign.state = ForeignState::Failed("success = false".to_owned());
        }
        let order = current.get(&key).map_or(index, |(order, _)| *order);
        current.insert(key, (order, foreign));
    }
    let mut rows: Vec<(usize, ForeignRow)> = current.into_values().collect();
    rows.sort_by_key(|(order, _)| *order);
    history.rows = rows.into_iter().map(|(_, row)| row).collect();
    Ok(history)
}

/// Flyway's checksum of a file's bytes.
pub fn checksum(raw: &[u8]) -> i32 {
    let text = String::from_utf8_lossy(raw);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut hasher = crc32fast::Hasher::new();
    // `readLine` splits on \n, \r and \r\n; an empty line adds no bytes.
    for line in text.split(['\n', '\r']) {
        hasher.update(line.as_bytes());
    }
    // Flyway stores Java's `(int) crc32.getValue()`: the same 32 bits, signed.
    hasher.finalize() as i32
}

/// Checks the stored checksum against the file's original bytes.
pub(crate) fn verify(stored: &str, raw: &[u8]) -> Verdict {
    let computed = checksum(raw);
    if stored.parse::<i64>().ok() == Some(i64::from(computed)) {
        Verdict::Match(ALGORITHM)
    } else {
        Verdict::Mismatch {
            algorithm: ALGORITHM,
            stored: stored.to_owned(),
            computed: computed.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value_signed_as_java_stores_it() {
        // The CRC-32 check value of "123456789" is 0xCBF43926.
        assert_eq!(checksum(b"123456789"), 0xCBF4_3926_u32 as i32);
        assert_eq!(checksum(b"123456789"), -873_187_034);
        assert_eq!(checksum(b""), 0);
    }

    #[test]
    fn line_endings_and_the_bom_do_not_count_whitespace_does() {
        let lf = checksum(b"CREATE TABLE t (\n  id int\n);\n");
        assert_eq!(lf, checksum(b"CREATE TABLE t (\r\n  id int\r\n);\r\n"));
        assert_eq!(lf, checksum(b"\xef\xbb\xbfCREATE TABLE t (\n  id int\n);"));
        assert_eq!(lf, checksum(b"CREATE TABLE t (  id int);"));
        assert_ne!(lf, checksum(b"CREATE TABLE t (\n id int\n);\n"));
        assert_eq!(
            verify(&lf.to_string(), b"CREATE TABLE t (  id int);"),
            Verdict::Match("CRC-32")
        );
    }

    fn row(rank: &str, version: Option<&str>, kind: &str, success: &str) -> Vec<Option<String>> {
        vec![
            Some(rank.into()),
            version.map(Into::into),
            Some("d".into()),
            Some(kind.into()),
            Some("V1__d.sql".into()),
            Some("12".into()),
            Some("ops".into()),
            Some("2026-01-01 00:00:00".into()),
            Some("7".into()),
            Some(success.into()),
        ]
    }

    #[test]
    fn rows_are_replayed_in_rank_order() {
        let history = decode(vec![
            row("0", None, "SCHEMA", "t"),
            row("1", Some("1"), "BASELINE", "t"),
            row("2", Some("2"), "SQL", "t"),
            row("3", Some("3"), "SQL", "f"),
            row("4", Some("3"), "DELETE", "t"),
            row("5", Some("4"), "JDBC", "t"),
            row("6", None, "SQL", "t"),
            row("7", Some("5"), "SQL", "f"),
        ])
        .unwrap();
        let keys: Vec<_> = history.rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["1", "2", "4", "5"]);
        assert_eq!(history.rows[0].kind, RowKind::Baseline);
        assert_eq!(history.rows[1].execution_ms, Some(7));
        assert_eq!(history.rows[1].applied_by.as_deref(), Some("ops"));
        assert_eq!(history.rows[2].kind, RowKind::Code);
        assert!(matches!(history.rows[3].state, ForeignState::Failed(_)));
        assert_eq!(history.skipped.len(), 2);
    }
}

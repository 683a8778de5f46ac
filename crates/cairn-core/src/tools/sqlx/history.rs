//! How `cairn adopt --from sqlx` reads the history table this tool wrote.
//!
//! `_sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT,
//! installed_on TIMESTAMP[TZ], success BOOLEAN, checksum BYTEA|BLOB,
//! execution_time BIGINT)`, the same columns on every engine. The checksum is
//! SHA-384 of the file exactly as sqlx read it (BOM and CRLF kept), stored as
//! 48 raw bytes; `execution_time` is in nanoseconds (`-1` until known). A row
//! with `success = false` (left by a failure on MySQL) is a failed migration.

use sha2::{Digest, Sha384};

use crate::adopt::{self, BadValue, ForeignHistory, ForeignRow, ForeignState, Verdict};
use crate::dialect::Dialect;
use crate::driver::Rows;

/// sqlx's default table.
pub const TABLE: &str = "_sqlx_migrations";

const ALGORITHM: &str = "SHA-384";

/// The query, the columns it needs and a hint when they are missing.
pub(crate) fn select(dialect: &dyn Dialect, table: &str) -> (String, &'static str, &'static str) {
    (
        adopt::select(
            dialect,
            table,
            &[
                "version",
                "description",
                "installed_on",
                "success",
                "hex:checksum",
                "execution_time",
            ],
            Some("version"),
        ),
        "version, description, installed_on, success, checksum, execution_time",
        "is it sqlx's? pass --table with the name set in sqlx.toml ([migrate] table-name)",
    )
}

/// The rows, one per migration.
pub(crate) fn decode(rows: Rows) -> Result<ForeignHistory, BadValue> {
    let mut history = ForeignHistory::default();
    for (index, row) in rows.iter().enumerate() {
        let key = adopt::positional(index);
        let text = adopt::required(row, 0, &key, "version", "an integer version")?;
        let key = text.to_owned();
        let version = adopt::version(text, &key, "version")?;
        let success = adopt::boolean(
            adopt::required(row, 3, &key, "success", "a boolean")?,
            &key,
            "success",
        )?;
        let mut foreign = ForeignRow::applied(key.clone(), version);
        foreign.name = adopt::value(row, 1).map(str::to_owned);
        foreign.applied_at = adopt::value(row, 2).and_then(adopt::timestamp);
        foreign.checksum = adopt::value(row, 4).map(str::to_ascii_lowercase);
        foreign.execution_ms = adopt::value(row, 5)
            .and_then(|ns| ns.trim().parse::<i64>().ok())
            .filter(|ns| *ns >= 0)
            .map(|ns| ns / 1_000_000);
        if !success {
            foreign.state = ForeignState::Failed("success = false".to_owned());
        }
        history.rows.push(foreign);
    }
    Ok(history)
}

/// SHA-384 of `bytes`, as sqlx computes it.
pub fn checksum(bytes: &[u8]) -> [u8; 48] {
    Sha384::digest(bytes).into()
}

/// The checksum of a file under sqlx 0.9's `ignored-chars`: SHA-384 of its
/// text with those characters removed.
pub fn checksum_ignoring(raw: &[u8], ignored: &[char]) -> [u8; 48] {
    let text = String::from_utf8_lossy(raw);
    let kept: String = text.chars().filter(|c| !ignored.contains(c)).collect();
    checksum(kept.as_bytes())
}

/// The `[migrate] ignored-chars` of a `sqlx.toml` (empty when absent).
///
/// # Errors
///
/// What is wrong with the file, for a message that names it.
pub fn ignored_chars(sqlx_toml: &str) -> Result<Vec<char>, String> {
    let value: toml::Value = toml::from_str(sqlx_toml).map_err(|e| e.to_string())?;
    let Some(list) = value.get("migrate").and_then(|m| m.get("ignored-chars")) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or("`[migrate] ignored-chars` is not a list of one-character strings")?;
    list.iter()
        .map(|item| {
            let text = item.as_str().unwrap_or_default();
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(c),
                _ => Err(format!(
                    "`[migrate] ignored-chars` holds {item}, which is not one character"
                )),
            }
        })
        .collect()
}

/// The `[migrate] table-name` of a `sqlx.toml` (`None` when absent): the
/// table sqlx 0.9 writes instead of `_sqlx_migrations`, maybe
/// schema-qualified (`foo._sqlx_migrations`).
///
/// # Errors
///
/// What is wrong with the file, for a message that names it.
pub fn table_name(sqlx_toml: &str) -> Result<Option<String>, String> {
    let value: toml::Value = toml::from_str(sqlx_toml).map_err(|e| e.to_string())?;
    let Some(name) = value.get("migrate").and_then(|m| m.get("table-name")) else {
        return Ok(None);
    };
    match name.as_str().map(str::trim) {
        Some(text) if !text.is_empty() => Ok(Some(text.to_owned())),
        _ => Err(format!(
            "`[migrate] table-name` is {name}, where sqlx takes a table name (`_sqlx_migrations` or `schema._sqlx_migrations`)"
        )),
    }
}

/// Checks the stored checksum (hex) against the file's original bytes, or
/// with `ignored` characters removed when sqlx.toml sets them.
pub(crate) fn verify(stored: &str, raw: &[u8], ignored: &[char]) -> Verdict {
    let computed = adopt::hex(&if ignored.is_empty() {
        checksum(raw)
    } else {
        checksum_ignoring(raw, ignored)
    });
    if stored.eq_ignore_ascii_case(&computed) {
        Verdict::Match(ALGORITHM)
    } else {
        Verdict::Mismatch {
            algorithm: ALGORITHM,
            stored: stored.to_owned(),
            computed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha384_known_values() {
        // FIPS 180-4 / NIST example values.
        assert_eq!(
            adopt::hex(&checksum(b"")),
            "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"
        );
        assert_eq!(
            adopt::hex(&checksum(b"abc")),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
        );
    }

    #[test]
    fn the_original_bytes_are_hashed_crlf_and_bom_included() {
        let lf = b"CREATE TABLE t (id int);\n";
        let crlf = b"CREATE TABLE t (id int);\r\n";
        let stored = adopt::hex(&checksum(lf));
        assert_eq!(verify(&stored, lf, &[]), Verdict::Match("SHA-384"));
        assert!(matches!(
            verify(&stored, crlf, &[]),
            Verdict::Mismatch { .. }
        ));
        assert_eq!(
            verify(&stored.to_ascii_uppercase(), lf, &[]),
            Verdict::Match("SHA-384")
        );
        // With `ignored-chars = ["\r"]`, sqlx hashes the CRLF file as the LF one.
        assert_eq!(verify(&stored, crlf, &['\r']), Verdict::Match("SHA-384"));
    }

    #[test]
    fn ignored_chars_come_from_sqlx_toml() {
        assert_eq!(ignored_chars("").unwrap(), Vec::<char>::new());
        assert_eq!(
            ignored_chars("[migrate]\nignored-chars = [\"\\r\", \" \"]\n").unwrap(),
            ['\r', ' ']
        );
        assert!(ignored_chars("[migrate]\nignored-chars = [\"ab\"]\n")
            .unwrap_err()
            .contains("not one character"));
        assert!(ignored_chars("[migrate").is_err());
    }

    #[test]
    fn the_table_name_comes_from_sqlx_toml() {
        assert_eq!(table_name("").unwrap(), None);
        assert_eq!(
            table_name("[migrate]\ntable-name = \"app.history\"\n")
                .unwrap()
                .as_deref(),
            Some("app.history")
        );
        let error = table_name("[migrate]\ntable-name = 5\n").unwrap_err();
        assert!(error.contains("`[migrate] table-name` is 5"), "{error}");
    }

    #[test]
    fn rows_decode_with_failures_and_nanoseconds() {
        let rows = vec![
            vec![
                Some("1".into()),
                Some("create users".into()),
                Some("2026-12-01 10:00:00.5+00".into()),
                Some("t".into()),
                Some("AB".into()),
                Some("2500000".into()),
            ],
            vec![
                Some("2".into()),
                Some("add index".into()),
                Some("2026-12-01 10:00:01".into()),
                Some("0".into()),
                Some("cd".into()),
                Some("-1".into()),
            ],
        ];
        let history = decode(rows).unwrap();
        assert_eq!(history.rows[0].execution_ms, Some(2));
        assert_eq!(history.rows[0].checksum.as_deref(), Some("ab"));
        assert_eq!(
            history.rows[0].applied_at.as_deref(),
            Some("2026-12-01T10:00:00.500Z")
        );
        assert_eq!(history.rows[1].execution_ms, None);
        assert_eq!(
            history.rows[1].state,
            ForeignState::Failed("success = false".into())
        );
        let bad = decode(vec![vec![Some("x".into()), None, None, Some("t".into())]]).unwrap_err();
        assert_eq!(bad.column, "version");
    }
}

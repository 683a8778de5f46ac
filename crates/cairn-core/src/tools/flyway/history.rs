//! How `cairn adopt --from flyway` reads the history table this tool wrote.
//!
//! `flyway_schema_history (installed_rank INT PRIMARY KEY, version
//! VARCHAR(50), description, type, script, checksum INTEGER, installed_by,
//! installed_on, execution_time INTEGER (ms), success BOOLEAN)`: one row per
//! run, in `installed_rank` order. Rows are replayed in that order: `SQL`
//! rows apply their version (`success = false`: failed), `DELETE` and
//! successful `UNDO_*` rows take it back out, `BASELINE`/`SQL_BASELINE` and
//! Java (`JDBC`, `SPRING_JDBC`, `SCRIPT`, `CUSTOM`) rows become Cairn
//! baselines (Cairn cannot run them), `SCHEMA` markers are left out.
//!
//! Repeatable rows (`R__<description>.sql`: no version, one row per run) are
//! folded into the latest run of each script, adopted at the repeatable's
//! Cairn version. [`settle_repeatables`] then keeps only those whose stored
//! checksum matches the file as it is now, so `cairn up` re-runs none of
//! them; one that changed since (or whose last run failed, or whose file is
//! gone) is left out with the reason, and Cairn applies it on the next
//! `cairn up`, as Flyway would have.
//!
//! The checksum is CRC-32 over the UTF-8 bytes of each line as Java's
//! `BufferedReader.readLine` returns it — line terminators dropped, the BOM
//! removed — stored as a signed 32-bit integer. So line endings (and even
//! line breaks) do not change it; whitespace inside lines does.

use std::collections::BTreeMap;

use std::path::Path;

use crate::adopt::{
    self, BadValue, ForeignHistory, ForeignRow, ForeignState, RowKind, Skipped, Target, Verdict,
};
use crate::dialect::Dialect;
use crate::driver::Rows;
use crate::migration::{Migration, Version};

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
    // By description: the latest run of each repeatable.
    let mut repeatables: BTreeMap<String, ForeignRow> = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        let position = adopt::positional(index);
        let rank = adopt::required(row, 0, &position, "installed_rank", "an integer")?;
        let script = adopt::value(row, 4).unwrap_or_default().to_owned();
        let kind = adopt::required(row, 3, rank, "type", "a migration type")?.to_owned();
        let Some(version_text) = adopt::value(row, 1).map(str::trim) else {
            if let Some(description) = repeatable_description(&script).filter(|_| kind == "SQL") {
                let success = adopt::boolean(
                    adopt::required(row, 9, &script, "success", "a boolean")?,
                    &script,
                    "success",
                )?;
                let mut foreign =
                    ForeignRow::applied(script.clone(), Version::repeatable(description));
                foreign.name = Some(description.to_owned());
                foreign.checksum = adopt::value(row, 5).map(|s| s.trim().to_owned());
                foreign.applied_by = adopt::value(row, 6).map(str::to_owned);
                foreign.applied_at = adopt::value(row, 7).and_then(adopt::timestamp);
                foreign.execution_ms = adopt::value(row, 8).and_then(|ms| ms.trim().parse().ok());
                if !success {
                    foreign.state = ForeignState::Failed("success = false".to_owned());
                }
                // The latest run of each repeatable is the one that counts.
                repeatables.insert(description.to_owned(), foreign);
                continue;
            }
            history.skipped.push(Skipped {
                key: script,
                reason: match kind.as_str() {
                    "SCHEMA" => "Flyway's schema-creation marker".to_owned(),
                    _ => format!(
                        "a row of type {kind} without a version, which Cairn has no migration for"
                    ),
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
    history.rows.extend(repeatables.into_values());
    Ok(history)
}

/// The description of a repeatable script (`R__views.sql`, maybe in a
/// sub-folder of the location: `db/R__views.sql`), as Cairn names it.
fn repeatable_description(script: &str) -> Option<&str> {
    let file = script.rsplit(['/', '\\']).next()?;
    file.strip_prefix("R__")?
        .strip_suffix(".sql")
        .filter(|d| !d.is_empty())
}

/// Keeps the repeatable rows whose stored checksum matches the file as it
/// is now (so nothing re-runs) and moves the others to `skipped`, saying
/// why: Cairn applies those on the next `cairn up`. Versioned rows are left
/// for [`crate::adopt::plan`] to check (a mismatch there is refused).
///
/// # Errors
///
/// The error of `read_raw` for a repeatable's file, with its path.
pub fn settle_repeatables(
    history: &mut ForeignHistory,
    migrations: &[Migration],
    read_raw: &mut dyn FnMut(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<(), (std::path::PathBuf, std::io::Error)> {
    let mut kept = Vec::with_capacity(history.rows.len());
    for row in std::mem::take(&mut history.rows) {
        let Target::Version(version) = row.target else {
            kept.push(row);
            continue;
        };
        if !version.is_repeatable() {
            kept.push(row);
            continue;
        }
        let path = migrations
            .iter()
            .find(|m| m.version == version)
            .and_then(|m| m.up.plain.as_ref())
            .map(|script| script.path.clone());
        let reason = match (&path, &row.state) {
            (None, _) => Some("its file is gone: there is nothing to run again".to_owned()),
            (Some(_), ForeignState::Failed(_)) => Some(
                "its last Flyway run failed (success = false): Cairn applies it on the next `cairn up`".to_owned(),
            ),
            (Some(path), ForeignState::Applied) => {
                let raw = read_raw(path).map_err(|cause| (path.clone(), cause))?;
                match row.checksum.as_deref().map(|stored| verify(stored, &raw)) {
                    Some(Verdict::Match(_)) => None,
                    _ => Some(format!(
                        "changed since Flyway last ran it (checksum {} in the table, {} for the file): Cairn applies it on the next `cairn up`",
                        row.checksum.as_deref().unwrap_or("NULL"),
                        checksum(&raw)
                    )),
                }
            }
        };
        match reason {
            None => kept.push(row),
            Some(reason) => history.skipped.push(Skipped {
                key: row.key,
                reason,
            }),
        }
    }
    history.rows = kept;
    Ok(())
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

    fn repeatable(rank: &str, script: &str, checksum: i32, success: &str) -> Vec<Option<String>> {
        let mut row = row(rank, None, "SQL", success);
        row[4] = Some(script.into());
        row[5] = Some(checksum.to_string());
        row
    }

    #[test]
    fn repeatables_are_adopted_when_unchanged_and_left_to_run_when_changed() {
        const VIEW: &str = "CREATE VIEW v AS SELECT 1;\n";
        const PROC: &str = "CREATE VIEW p AS SELECT 2;\n";
        let dir = crate::tools::test_support::tree(&[
            ("V1__init.sql", "CREATE TABLE t (id int);\n"),
            ("R__views.sql", VIEW),
            ("R__procs.sql", PROC),
            ("R__failed.sql", PROC),
        ]);
        let migrations = crate::tools::test_support::read(&dir);
        let mut history = decode(vec![
            row("1", Some("1"), "SQL", "t"),
            // An earlier run of R__views with other text, then the current one.
            repeatable("2", "R__views.sql", checksum(b"old"), "t"),
            repeatable("3", "R__views.sql", checksum(VIEW.as_bytes()), "t"),
            repeatable("4", "sub/R__procs.sql", checksum(b"old"), "t"),
            repeatable("5", "R__failed.sql", checksum(PROC.as_bytes()), "f"),
            repeatable("6", "R__gone.sql", 1, "t"),
        ])
        .unwrap();
        assert_eq!(history.rows.len(), 5);
        settle_repeatables(&mut history, &migrations, &mut |path| std::fs::read(path)).unwrap();
        let kept: Vec<_> = history.rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(kept, ["1", "R__views.sql"]);
        assert_eq!(
            history.rows[1].target,
            Target::Version(Version::repeatable("views"))
        );
        let skipped: Vec<_> = history
            .skipped
            .iter()
            .map(|s| {
                (
                    s.key.as_str(),
                    s.reason.split(' ').take(3).collect::<Vec<_>>().join(" "),
                )
            })
            .collect();
        assert_eq!(
            skipped,
            [
                ("R__failed.sql", "its last Flyway".to_owned()),
                ("R__gone.sql", "its file is".to_owned()),
                ("sub/R__procs.sql", "changed since Flyway".to_owned()),
            ]
        );
    }
}

//! How `cairn adopt --from prisma` reads the history table this tool wrote.
//!
//! `_prisma_migrations (id, checksum VARCHAR(64), finished_at, migration_name,
//! logs, rolled_back_at, started_at, applied_steps_count)`: one row per
//! **attempt**, matched to its folder by `migration_name`
//! (`<timestamp>_<name>`, whose leading digits are the Cairn version).
//! Finished and not rolled back: applied. Neither finished nor rolled back:
//! failed (`prisma migrate deploy` refuses it with P3009). Rolled back
//! (`prisma migrate resolve --rolled-back`): left out; a later attempt of the
//! same migration is a row of its own.
//!
//! Folders sharing a timestamp have versions `<timestamp>`, `<timestamp>.1`,
//! … (`number_duplicates`): [`match_folders`] gives each row the
//! version of the folder its `migration_name` names.
//!
//! The checksum is SHA-256 of `migration.sql` as 64 lower-case hex digits;
//! Prisma also accepts the file with its line endings switched (LF ↔ CRLF),
//! and old rows written without zero-padding of each byte.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::adopt::{
    self, BadValue, ForeignHistory, ForeignRow, ForeignState, Skipped, Target, Verdict,
};
use crate::dialect::Dialect;
use crate::driver::Rows;
use crate::migration::{Migration, Version};

/// Prisma's table (not configurable).
pub const TABLE: &str = "_prisma_migrations";

const ALGORITHM: &str = "SHA-256";

/// The query, the columns it needs and a hint when they are missing.
pub(crate) fn select(dialect: &dyn Dialect, table: &str) -> (String, &'static str, &'static str) {
    (
        adopt::select(
            dialect,
            table,
            &[
                "migration_name",
                "checksum",
                "started_at",
                "finished_at",
                "rolled_back_at",
                "logs",
            ],
            Some("started_at"),
        ),
        "migration_name, checksum, started_at, finished_at, rolled_back_at, logs",
        "is it Prisma's?",
    )
}

/// One row per migration name: the finished attempt, else the failed one.
pub(crate) fn decode(rows: Rows) -> Result<ForeignHistory, BadValue> {
    let mut history = ForeignHistory::default();
    let mut by_name: BTreeMap<String, (usize, ForeignRow)> = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        let position = adopt::positional(index);
        let name = adopt::required(row, 0, &position, "migration_name", "<timestamp>_<name>")?;
        let key = name.trim().to_owned();
        if adopt::value(row, 4).is_some() {
            history.skipped.push(Skipped {
                key,
                reason: "an attempt rolled back with `prisma migrate resolve --rolled-back`"
                    .to_owned(),
            });
            continue;
        }
        let digits: String = key.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return Err(BadValue {
                row: key,
                column: "migration_name",
                value: name.to_owned(),
                expected: "<timestamp>_<name>",
            });
        }
        let version = adopt::version(&digits, &key, "migration_name")?;
        let mut foreign = ForeignRow::applied(key.clone(), version);
        foreign.name = key.split_once('_').map(|(_, rest)| rest.to_owned());
        foreign.checksum = adopt::value(row, 1).map(|s| s.trim().to_ascii_lowercase());
        match adopt::value(row, 3) {
            Some(finished) => foreign.applied_at = adopt::timestamp(finished),
            None => {
                foreign.applied_at = adopt::value(row, 2).and_then(adopt::timestamp);
                foreign.state = ForeignState::Failed(
                    "finished_at and rolled_back_at are NULL; `prisma migrate deploy` refuses it (P3009)"
                        .to_owned(),
                );
            }
        }
        let keep = match by_name.get(&key) {
            // A finished attempt wins over a failed one.
            Some((_, earlier)) => earlier.state != ForeignState::Applied,
            None => true,
        };
        if keep {
            let order = by_name.get(&key).map_or(index, |(order, _)| *order);
            by_name.insert(key, (order, foreign));
        }
    }
    let mut rows: Vec<(usize, ForeignRow)> = by_name.into_values().collect();
    rows.sort_by_key(|(order, _)| *order);
    history.rows = rows.into_iter().map(|(_, row)| row).collect();
    Ok(history)
}

/// Gives each row the version of the migration folder named
/// `migration_name` in `migrations`, where there is one: a timestamp shared
/// by several folders maps each row to its own folder. A row whose folder is
/// not there keeps its timestamp (and is refused for having no file).
pub fn match_folders(history: &mut ForeignHistory, migrations: &[Migration]) {
    let by_folder: BTreeMap<&str, Version> = migrations
        .iter()
        .filter_map(|m| Some((m.location.file_name()?.to_str()?, m.version)))
        .collect();
    for row in &mut history.rows {
        if let Some(version) = by_folder.get(row.key.as_str()) {
            row.target = Target::Version(*version);
        }
    }
}

/// SHA-256 of `bytes` as Prisma writes it: 64 lower-case hex digits.
pub fn checksum(bytes: &[u8]) -> String {
    adopt::hex(&Sha256::digest(bytes))
}

/// The same digest without zero-padding each byte (old Prisma rows).
fn unpadded(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:x}"))
        .collect()
}

/// The file with its line endings switched, both ways.
fn variants(raw: &[u8]) -> [Vec<u8>; 3] {
    let text = raw.to_vec();
    let mut lf = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\r' && raw.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        lf.push(raw[i]);
        i += 1;
    }
    let mut crlf = Vec::with_capacity(lf.len() * 2);
    for byte in &lf {
        if *byte == b'\n' {
            crlf.push(b'\r');
        }
        crlf.push(*byte);
    }
    [text, lf, crlf]
}

/// Checks the stored checksum as Prisma does.
pub(crate) fn verify(stored: &str, raw: &[u8]) -> Verdict {
    let stored = stored.to_ascii_lowercase();
    for bytes in variants(raw) {
        if checksum(&bytes) == stored || unpadded(&bytes) == stored {
            return Verdict::Match(ALGORITHM);
        }
    }
    Verdict::Mismatch {
        algorithm: ALGORITHM,
        stored,
        computed: checksum(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_value() {
        assert_eq!(
            checksum(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn line_endings_are_tolerated_both_ways_and_unpadded_rows_match() {
        let lf = b"CREATE TABLE t (id int);\nCREATE INDEX i ON t (id);\n";
        let crlf = b"CREATE TABLE t (id int);\r\nCREATE INDEX i ON t (id);\r\n";
        assert_eq!(verify(&checksum(lf), crlf), Verdict::Match("SHA-256"));
        assert_eq!(verify(&checksum(crlf), lf), Verdict::Match("SHA-256"));
        assert_eq!(verify(&unpadded(lf), lf), Verdict::Match("SHA-256"));
        assert!(matches!(
            verify(&checksum(lf), b"CREATE TABLE t (id bigint);\n"),
            Verdict::Mismatch { .. }
        ));
    }

    fn row(name: &str, finished: bool, rolled_back: bool) -> Vec<Option<String>> {
        vec![
            Some(name.into()),
            Some("ab".into()),
            Some("2026-01-01 00:00:00".into()),
            finished.then(|| "2026-01-01 00:00:01".into()),
            rolled_back.then(|| "2026-01-01 00:00:02".into()),
            None,
        ]
    }

    #[test]
    fn attempts_fold_into_one_row_per_migration() {
        let history = decode(vec![
            row("20210313140442_init", true, false),
            row("20210314000000_jobs", false, true),
            row("20210314000000_jobs", true, false),
            row("20210315000000_tags", false, false),
        ])
        .unwrap();
        assert_eq!(history.rows.len(), 3);
        assert_eq!(history.rows[1].state, ForeignState::Applied);
        assert!(matches!(history.rows[2].state, ForeignState::Failed(_)));
        assert_eq!(history.rows[0].name.as_deref(), Some("init"));
        assert_eq!(history.skipped.len(), 1);
    }

    #[test]
    fn rows_of_one_timestamp_map_to_their_own_folders() {
        let dir = crate::tools::test_support::tree(&[
            ("20210313140442_init/migration.sql", "SELECT 1;\n"),
            ("20210313140442_jobs/migration.sql", "SELECT 2;\n"),
        ]);
        let migrations = crate::tools::test_support::read(&dir);
        let mut history = decode(vec![
            row("20210313140442_init", true, false),
            row("20210313140442_jobs", true, false),
            row("20210313140442_gone", true, false),
        ])
        .unwrap();
        match_folders(&mut history, &migrations);
        let targets: Vec<String> = history
            .rows
            .iter()
            .map(|row| match row.target {
                Target::Version(v) | Target::UpTo(v) => v.to_string(),
            })
            .collect();
        assert_eq!(
            targets,
            ["20210313140442", "20210313140442.1", "20210313140442"]
        );
    }
}

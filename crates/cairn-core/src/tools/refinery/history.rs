//! How `cairn adopt --from refinery` reads the history table this tool wrote.
//!
//! `refinery_schema_history (version int4|int8 PRIMARY KEY, name
//! VARCHAR(255), applied_on VARCHAR(255), checksum VARCHAR(255))`: one row
//! per applied migration, `applied_on` as RFC 3339 text, `checksum` a decimal
//! `u64`. The checksum is SipHash-1-3 with keys (0, 0) fed through Rust's
//! `Hash` trait with the migration's name (`str`: its bytes, then `0xff`), its
//! version (`i32`, or `i64` with refinery's `int8-versions` feature: native
//! endian bytes) and its SQL as read (`str`). Both version widths are tried.
//! No failed state (each migration commits with its row).

use std::hash::{Hash, Hasher};

use siphasher::sip::SipHasher13;

use crate::adopt::{self, BadValue, ForeignHistory, ForeignRow, Verdict};
use crate::dialect::Dialect;
use crate::driver::Rows;
use crate::migration::Migration;

/// refinery's default table.
pub const TABLE: &str = "refinery_schema_history";

const ALGORITHM: &str = "SipHash-1-3";

/// The query, the columns it needs and a hint when they are missing.
pub(crate) fn select(dialect: &dyn Dialect, table: &str) -> (String, &'static str, &'static str) {
    (
        adopt::select(
            dialect,
            table,
            &["version", "name", "applied_on", "checksum"],
            Some("version"),
        ),
        "version, name, applied_on, checksum",
        "is it refinery's? pass --table with the name set through set_migration_table_name",
    )
}

/// One row per migration.
pub(crate) fn decode(rows: Rows) -> Result<ForeignHistory, BadValue> {
    let mut history = ForeignHistory::default();
    for (index, row) in rows.iter().enumerate() {
        let position = adopt::positional(index);
        let text = adopt::required(row, 0, &position, "version", "an integer version")?;
        let key = text.trim().to_owned();
        let version = adopt::version(&key, &key, "version")?;
        let mut foreign = ForeignRow::applied(key.clone(), version);
        foreign.name = adopt::value(row, 1).map(str::to_owned);
        foreign.applied_at = adopt::value(row, 2).and_then(adopt::timestamp);
        if let Some(sum) = adopt::value(row, 3) {
            if sum.trim().parse::<u64>().is_err() {
                return Err(BadValue {
                    row: key,
                    column: "checksum",
                    value: sum.to_owned(),
                    expected: "a decimal u64",
                });
            }
            foreign.checksum = Some(sum.trim().to_owned());
        }
        history.rows.push(foreign);
    }
    Ok(history)
}

/// refinery's checksum of a migration with a 32-bit version.
pub fn checksum_i32(name: &str, version: i32, sql: &str) -> u64 {
    let mut hasher = SipHasher13::new();
    name.hash(&mut hasher);
    version.hash(&mut hasher);
    sql.hash(&mut hasher);
    hasher.finish()
}

/// refinery's checksum with the `int8-versions` feature.
pub fn checksum_i64(name: &str, version: i64, sql: &str) -> u64 {
    let mut hasher = SipHasher13::new();
    name.hash(&mut hasher);
    version.hash(&mut hasher);
    sql.hash(&mut hasher);
    hasher.finish()
}

/// Checks the stored checksum with the name refinery stored (else the
/// migration's) and the version as refinery kept it.
pub(crate) fn verify(stored: &str, row: &ForeignRow, migration: &Migration, raw: &[u8]) -> Verdict {
    let name = row.name.as_deref().unwrap_or(&migration.name);
    let sql = String::from_utf8_lossy(raw);
    let wide: Option<i64> = row.key.parse().ok();
    let narrow = wide.and_then(|v| i32::try_from(v).ok());
    let candidates = [
        narrow.map(|v| checksum_i32(name, v, &sql)),
        wide.map(|v| checksum_i64(name, v, &sql)),
    ];
    let stored_value: Option<u64> = stored.parse().ok();
    if candidates
        .iter()
        .flatten()
        .any(|sum| Some(*sum) == stored_value)
    {
        return Verdict::Match(ALGORITHM);
    }
    Verdict::Mismatch {
        algorithm: ALGORITHM,
        stored: stored.to_owned(),
        computed: candidates
            .iter()
            .flatten()
            .next()
            .map_or_else(String::new, u64::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes `Hash` feeds, written out by hand: a `str` is its bytes
    /// then 0xff; an `i32` its four native-endian bytes.
    #[test]
    fn the_hash_is_fed_name_version_and_sql_as_rusts_hash_trait_does() {
        let mut by_hand = SipHasher13::new_with_keys(0, 0);
        by_hand.write(b"initial");
        by_hand.write_u8(0xff);
        by_hand.write(&1i32.to_ne_bytes());
        by_hand.write(b"CREATE TABLE t (id int);");
        by_hand.write_u8(0xff);
        assert_eq!(
            checksum_i32("initial", 1, "CREATE TABLE t (id int);"),
            by_hand.finish()
        );
        assert_ne!(
            checksum_i32("initial", 1, "x"),
            checksum_i64("initial", 1, "x")
        );
    }

    /// SipHash-1-3 of the empty input with keys (0, 0), the value other
    /// implementations publish (e.g. the siphasher crate's own tests).
    #[test]
    fn siphash13_of_nothing() {
        let hasher = SipHasher13::new_with_keys(0, 0);
        assert_eq!(hasher.finish(), 0xd1fb_a762_150c_532c);
    }
}

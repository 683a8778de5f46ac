//! Migration versions: an ordered sequence of integers, or a repeatable
//! migration's place after every versioned one.
//!
//! Almost every version is one integer (a timestamp or a sequence number),
//! and such a version is exactly what `i64` versions were before: the same
//! number in the history's `version` column, in JSON and in messages.
//! Flyway's dotted versions (`V1.1__x.sql`, `V2_1__x.sql` = 2.1) are
//! sequences compared part by part, as Flyway compares them: a missing part
//! counts as 0, so `1.0` *is* `1` (and is shown as `1`), `1 < 1.1 < 1.2 <
//! 1.10 < 2`. Repeatable migrations (`R__<name>.sql`) have no version; they
//! get one that sorts after every versioned migration, in the byte order of
//! their names, which is the order Flyway applies them in.
//!
//! The type is `Copy` and opaque: build one with [`From<i64>`],
//! [`FromStr`](std::str::FromStr), [`Version::from_parts`] or
//! [`Version::repeatable`]; it is `Ord`, `Hash`, `Display`, and serializes as
//! a JSON number when it is one integer, else as its text (`"1.1"`,
//! `"R__views"`).

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// The most parts a dotted version may have (Flyway's own documentation
/// shows nine: `1.2.3.4.5.6.7.8.9`).
pub const MAX_VERSION_PARTS: usize = 10;

/// How many bytes (63) of a repeatable migration's name its version keeps for
/// ordering; the last part holds a hash of the whole name.
const NAME_BYTES: usize = (MAX_VERSION_PARTS - 1) * 7;

/// The prefix of a repeatable version's text.
const REPEATABLE: &str = "R__";

/// A migration version (see the [module documentation](self)).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Repeatables sort after every versioned migration.
    repeatable: bool,
    /// The parts, trailing zeros insignificant (always stored padded with
    /// zeros, so derived equality and order are Flyway's). For a repeatable:
    /// the first bytes of its name, big-endian, then a hash of the name.
    parts: [i64; MAX_VERSION_PARTS],
}

impl Version {
    /// The version that is the one integer `integer` (as [`From<i64>`], in
    /// constants).
    pub const fn new(integer: i64) -> Version {
        let mut parts = [0; MAX_VERSION_PARTS];
        parts[0] = integer;
        Version {
            repeatable: false,
            parts,
        }
    }

    /// The version made of `parts` (`[1, 1]` is 1.1). Every part must be
    /// non-negative, and there must be between 1 and [`MAX_VERSION_PARTS`].
    ///
    /// # Errors
    ///
    /// [`ParseVersionError`] saying which rule the parts break.
    pub fn from_parts(parts: &[i64]) -> Result<Version, ParseVersionError> {
        if parts.is_empty() {
            return Err(ParseVersionError::Empty);
        }
        if parts.len() > MAX_VERSION_PARTS {
            return Err(ParseVersionError::TooManyParts(parts.len()));
        }
        if parts.iter().any(|part| *part < 0) {
            return Err(ParseVersionError::Negative);
        }
        let mut padded = [0; MAX_VERSION_PARTS];
        padded[..parts.len()].copy_from_slice(parts);
        Ok(Version {
            repeatable: false,
            parts: padded,
        })
    }

    /// The version of the repeatable migration `name`: after every versioned
    /// migration, ordered by name (byte order of the first 63 bytes, then a
    /// hash of the rest).
    pub fn repeatable(name: &str) -> Version {
        let mut parts = [0; MAX_VERSION_PARTS];
        let bytes = name.as_bytes();
        for (index, part) in parts.iter_mut().take(MAX_VERSION_PARTS - 1).enumerate() {
            // Seven bytes a part: big-endian, so the parts order as the bytes do.
            let mut chunk = [0u8; 8];
            for (offset, byte) in chunk[1..].iter_mut().enumerate() {
                *byte = bytes.get(index * 7 + offset).copied().unwrap_or(0);
            }
            *part = i64::from_be_bytes(chunk);
        }
        parts[MAX_VERSION_PARTS - 1] = (fnv1a(bytes) >> 2) as i64;
        Version {
            repeatable: true,
            parts,
        }
    }

    /// The version as one integer, if it is one (no dotted parts, not repeatable).
    pub fn as_i64(&self) -> Option<i64> {
        (!self.repeatable && self.parts[1..].iter().all(|part| *part == 0)).then_some(self.parts[0])
    }

    /// Whether this is a repeatable migration's version.
    pub fn is_repeatable(&self) -> bool {
        self.repeatable
    }

    /// The significant parts of a versioned migration (`[1, 1]` for 1.1,
    /// `[5]` for 5 and for 5.0); empty for a repeatable one.
    pub fn parts(&self) -> &[i64] {
        if self.repeatable {
            return &[];
        }
        let significant = self
            .parts
            .iter()
            .rposition(|part| *part != 0)
            .map_or(1, |last| last + 1);
        &self.parts[..significant]
    }

    /// The first part: the integer of an integral version, the leading
    /// number of a dotted one (1 for 1.1).
    pub fn major(&self) -> i64 {
        self.parts[0]
    }

    /// The value kept in the history's `BIGINT` `version` column: the
    /// integer itself for an integral version (what it always was), and for
    /// a dotted or repeatable version a negative number derived from it,
    /// which no integral version (never negative) can take; such rows keep
    /// their version's text in the `version_text` column.
    pub fn key(&self) -> i64 {
        match self.as_i64() {
            Some(integer) => integer,
            None => {
                let mut bytes = Vec::with_capacity(1 + MAX_VERSION_PARTS * 8);
                bytes.push(u8::from(self.repeatable));
                for part in self.parts {
                    bytes.extend_from_slice(&part.to_be_bytes());
                }
                -1 - (fnv1a(&bytes) >> 2) as i64
            }
        }
    }

    /// The first bytes of a repeatable migration's name, as kept in its
    /// version (the whole name when it is at most 63 bytes long).
    fn name_prefix(&self) -> String {
        let mut decoded = Vec::with_capacity(NAME_BYTES);
        for part in &self.parts[..MAX_VERSION_PARTS - 1] {
            decoded.extend_from_slice(&part.to_be_bytes()[1..]);
        }
        let end = decoded
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(decoded.len());
        String::from_utf8_lossy(&decoded[..end]).into_owned()
    }
}

/// FNV-1a, 64 bits: a stable hash (the same on every build and platform).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

impl From<i64> for Version {
    fn from(version: i64) -> Self {
        Version::new(version)
    }
}

impl PartialEq<i64> for Version {
    fn eq(&self, other: &i64) -> bool {
        self.as_i64() == Some(*other)
    }
}

/// So that a pattern's binding by reference compares too (`version == 1`).
impl PartialEq<i64> for &Version {
    fn eq(&self, other: &i64) -> bool {
        (*self).eq(other)
    }
}

impl PartialOrd<i64> for Version {
    fn partial_cmp(&self, other: &i64) -> Option<std::cmp::Ordering> {
        Some(self.cmp(&Version::from(*other)))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.repeatable {
            return write!(f, "{REPEATABLE}{}", self.name_prefix());
        }
        for (index, part) in self.parts().iter().enumerate() {
            if index > 0 {
                f.write_str(".")?;
            }
            write!(f, "{part}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.as_i64() {
            Some(integer) => serializer.serialize_i64(integer),
            None => serializer.collect_str(self),
        }
    }
}

/// Why a text is not a version.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseVersionError {
    /// Nothing, or an empty part (`1..2`, `1.`).
    #[error("a version is one or more integers separated by `.` (`5`, `1.1`); a part is empty")]
    Empty,
    /// A part that is not digits.
    #[error(
        "a version is one or more integers separated by `.` (`5`, `1.1`); `{0}` is not an integer"
    )]
    NotDigits(String),
    /// A part above `i64::MAX`.
    #[error("version part `{0}` is too large: each part is at most 9223372036854775807")]
    TooLarge(String),
    /// A negative part.
    #[error("a version part is negative: versions are made of non-negative integers")]
    Negative,
    /// More than [`MAX_VERSION_PARTS`] parts.
    #[error("a version has at most {MAX_VERSION_PARTS} parts; this one has {0}")]
    TooManyParts(usize),
}

impl FromStr for Version {
    type Err = ParseVersionError;

    /// `5`, `005` (= 5), `1.1`, `2.0.1`; `R__<name>` is the repeatable `name`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(name) = text.strip_prefix(REPEATABLE) {
            return Ok(Version::repeatable(name));
        }
        let mut parts = Vec::new();
        for part in text.split('.') {
            if part.is_empty() {
                return Err(ParseVersionError::Empty);
            }
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseVersionError::NotDigits(part.to_owned()));
            }
            parts.push(
                part.parse::<i64>()
                    .map_err(|_| ParseVersionError::TooLarge(part.to_owned()))?,
            );
        }
        Version::from_parts(&parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        text.parse().expect(text)
    }

    #[test]
    fn integral_versions_are_what_i64_versions_were() {
        let five = Version::from(5);
        assert_eq!(five.to_string(), "5");
        assert_eq!(five.as_i64(), Some(5));
        assert_eq!(five.key(), 5);
        assert_eq!(five, 5);
        assert_eq!(v("005"), five);
        assert_eq!(serde_json::to_string(&five).unwrap(), "5");
        let big = Version::from(i64::MAX);
        assert_eq!(big.to_string(), i64::MAX.to_string());
        assert_eq!(big.key(), i64::MAX);
        assert!(Version::from(3) < Version::from(20260101000000));
    }

    #[test]
    fn dotted_versions_order_as_flyway_orders_them() {
        let mut versions = ["2", "1.10", "1.2", "1", "13.1", "1.1", "1.1.1", "2.0.1"]
            .map(v)
            .to_vec();
        versions.sort();
        let shown: Vec<String> = versions.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["1", "1.1", "1.1.1", "1.2", "1.10", "2", "2.0.1", "13.1"]
        );
        // Trailing zeros do not count: 1.0 is 1.
        assert_eq!(v("1.0"), v("1"));
        assert_eq!(v("1.0").to_string(), "1");
        assert_eq!(v("1.0").as_i64(), Some(1));
        assert_eq!(v("1.1").as_i64(), None);
        assert_eq!(v("1.1").parts(), [1, 1]);
        assert_eq!(serde_json::to_string(&v("1.1")).unwrap(), "\"1.1\"");
    }

    #[test]
    fn dotted_keys_are_negative_and_distinct() {
        let versions = ["1.1", "1.2", "1.10", "2.1", "1.1.1", "13.1"].map(v);
        let mut keys: Vec<i64> = versions.iter().map(Version::key).collect();
        assert!(keys.iter().all(|key| *key < 0), "{keys:?}");
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), versions.len());
        // Stable across builds: pinned.
        assert_eq!(v("1.1").key(), v("1.1.0").key());
        assert_eq!(v("1.1").key(), -791_882_491_568_900_240);
    }

    #[test]
    fn repeatables_sort_after_every_version_by_name() {
        let mut versions = vec![
            Version::repeatable("views"),
            Version::from(i64::MAX),
            Version::repeatable("a_functions"),
            v("999.9"),
            Version::repeatable("a"),
        ];
        versions.sort();
        let shown: Vec<String> = versions.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "999.9",
                "9223372036854775807",
                "R__a",
                "R__a_functions",
                "R__views"
            ]
        );
        let long = "x".repeat(100);
        let other = format!("{}y", "x".repeat(99));
        assert_ne!(Version::repeatable(&long), Version::repeatable(&other));
        assert_eq!(v("R__views"), Version::repeatable("views"));
        assert!(Version::repeatable("views").key() < 0);
        assert!(Version::repeatable("views").is_repeatable());
        assert_eq!(Version::repeatable("views").as_i64(), None);
    }

    #[test]
    fn bad_texts_are_refused_with_the_rule() {
        for (text, error) in [
            ("", ParseVersionError::Empty),
            ("1.", ParseVersionError::Empty),
            ("1..2", ParseVersionError::Empty),
            ("-1", ParseVersionError::NotDigits("-1".into())),
            ("1.a", ParseVersionError::NotDigits("a".into())),
            (
                "9223372036854775808",
                ParseVersionError::TooLarge("9223372036854775808".into()),
            ),
            (
                "1.2.3.4.5.6.7.8.9.10.11",
                ParseVersionError::TooManyParts(11),
            ),
        ] {
            assert_eq!(text.parse::<Version>(), Err(error), "{text:?}");
        }
        assert_eq!(
            Version::from_parts(&[1, -1]),
            Err(ParseVersionError::Negative)
        );
        assert!(v("1.2.3.4.5.6.7.8.9.10") > v("1.2.3.4.5.6.7.8.9"));
    }
}

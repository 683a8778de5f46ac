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
//! [`FromStr`], [`Version::from_parts`] or
//! [`Version::repeatable`]; it is `Ord`, `Hash`, `Display`, and serializes as
//! a JSON number when it is one integer, else as its text (`"1.1"`,
//! `"R__views"`).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{OnceLock, PoisonError, RwLock};

use serde::{Serialize, Serializer};

/// The most parts a dotted version may have (Flyway's own documentation
/// shows nine: `1.2.3.4.5.6.7.8.9`).
pub const MAX_VERSION_PARTS: usize = 10;

/// The prefix of a repeatable version's text.
const REPEATABLE: &str = "R__";

/// A migration version (see the [module documentation](self)).
///
/// Eight bytes, like the `i64` it replaces: a version that is one
/// non-negative integer is that integer; any other (dotted, repeatable, a
/// negative integer) is a handle to its value, kept once per process in a
/// table of the versions made so far (a migrations directory has a few
/// hundred). Equal versions always get the same handle, so equality and
/// hashing compare handles; ordering compares values.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version(i64);

/// The value of a version that is not one non-negative integer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Value {
    /// A negative integer (never a migration's version; kept as given).
    Negative(i64),
    /// Two parts or more, the last one not 0.
    Dotted(Box<[i64]>),
    /// A repeatable migration, by name.
    Repeatable(Box<str>),
}

#[derive(Default)]
struct Table {
    values: Vec<Value>,
    handles: HashMap<Value, i64>,
}

fn table() -> &'static RwLock<Table> {
    static TABLE: OnceLock<RwLock<Table>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

fn intern(value: Value) -> Version {
    if let Some(handle) = table()
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .handles
        .get(&value)
    {
        return Version(*handle);
    }
    let mut table = table().write().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = table.handles.get(&value) {
        return Version(*handle);
    }
    let handle = -1 - i64::try_from(table.values.len()).unwrap_or(i64::MAX - 1);
    table.values.push(value.clone());
    table.handles.insert(value, handle);
    Version(handle)
}

/// What a version is, for comparing and showing it.
enum View<'a> {
    Parts(std::borrow::Cow<'a, [i64]>),
    Repeatable(&'a str),
}

impl Version {
    /// The version that is the one integer `integer` (as [`From<i64>`], in
    /// constants).
    ///
    /// # Panics
    ///
    /// When `integer` is negative (in a constant: a compile error); use
    /// [`From<i64>`] for any integer.
    pub const fn new(integer: i64) -> Version {
        assert!(integer >= 0, "a version constant is a non-negative integer");
        Version(integer)
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
        let significant = parts
            .iter()
            .rposition(|part| *part != 0)
            .map_or(1, |last| last + 1);
        Ok(match &parts[..significant] {
            [integer] => Version(*integer),
            parts => intern(Value::Dotted(parts.into())),
        })
    }

    /// The version of the repeatable migration `name`: after every versioned
    /// migration, ordered by name (byte order).
    pub fn repeatable(name: &str) -> Version {
        intern(Value::Repeatable(name.into()))
    }

    fn with_view<T>(&self, f: impl FnOnce(View<'_>) -> T) -> T {
        if self.0 >= 0 {
            return f(View::Parts(std::borrow::Cow::Owned(vec![self.0])));
        }
        let table = table().read().unwrap_or_else(PoisonError::into_inner);
        let index = usize::try_from(-1 - self.0).unwrap_or(usize::MAX);
        match table.values.get(index) {
            Some(Value::Negative(integer)) => {
                f(View::Parts(std::borrow::Cow::Owned(vec![*integer])))
            }
            Some(Value::Dotted(parts)) => f(View::Parts(std::borrow::Cow::Borrowed(parts))),
            Some(Value::Repeatable(name)) => f(View::Repeatable(name)),
            None => unreachable!("every handle comes from the table"),
        }
    }

    /// The version as one integer, if it is one (no dotted parts, not repeatable).
    pub fn as_i64(&self) -> Option<i64> {
        if self.0 >= 0 {
            return Some(self.0);
        }
        self.with_view(|view| match view {
            View::Parts(parts) if parts.len() == 1 => Some(parts[0]),
            _ => None,
        })
    }

    /// Whether this is a repeatable migration's version.
    pub fn is_repeatable(&self) -> bool {
        self.0 < 0 && self.with_view(|view| matches!(view, View::Repeatable(_)))
    }

    /// The significant parts of a versioned migration (`[1, 1]` for 1.1,
    /// `[5]` for 5 and for 5.0); empty for a repeatable one.
    pub fn parts(&self) -> Vec<i64> {
        self.with_view(|view| match view {
            View::Parts(parts) => parts.into_owned(),
            View::Repeatable(_) => Vec::new(),
        })
    }

    /// The first part: the integer of an integral version, the leading
    /// number of a dotted one (1 for 1.1); 0 for a repeatable one.
    pub fn major(&self) -> i64 {
        self.parts().first().copied().unwrap_or(0)
    }

    /// The value kept in the history's `BIGINT` `version` column: the
    /// integer itself for an integral version (what it always was), and for
    /// a dotted or repeatable version a negative number derived from its
    /// value (FNV-1a, the same in every process and build), which no
    /// integral version (never negative) can take; such rows keep their
    /// version's text in the `version_text` column.
    pub fn key(&self) -> i64 {
        if let Some(integer) = self.as_i64() {
            return integer;
        }
        let bytes = self.with_view(|view| match view {
            View::Parts(parts) => {
                let mut bytes = vec![0u8];
                for part in parts.iter() {
                    bytes.extend_from_slice(&part.to_be_bytes());
                }
                bytes
            }
            View::Repeatable(name) => {
                let mut bytes = vec![1u8];
                bytes.extend_from_slice(name.as_bytes());
                bytes
            }
        });
        -1 - (fnv1a(&bytes) >> 2) as i64
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

/// Part by part, a missing part counting as 0 (the parts of a dotted
/// version never end in 0, so no two versions compare equal unless they are).
fn compare_parts(a: &[i64], b: &[i64]) -> Ordering {
    let length = a.len().max(b.len());
    (0..length)
        .map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)))
        .find(|ordering| ordering.is_ne())
        .unwrap_or(Ordering::Equal)
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.0 >= 0 && other.0 >= 0 {
            return self.0.cmp(&other.0);
        }
        if self == other {
            return Ordering::Equal;
        }
        let a = self.with_view(|view| match view {
            View::Parts(parts) => Ok(parts.into_owned()),
            View::Repeatable(name) => Err(name.to_owned()),
        });
        let b = other.with_view(|view| match view {
            View::Parts(parts) => Ok(parts.into_owned()),
            View::Repeatable(name) => Err(name.to_owned()),
        });
        match (a, b) {
            (Ok(a), Ok(b)) => compare_parts(&a, &b),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(a), Err(b)) => a.as_bytes().cmp(b.as_bytes()),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl From<i64> for Version {
    fn from(version: i64) -> Self {
        if version >= 0 {
            Version(version)
        } else {
            intern(Value::Negative(version))
        }
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
    fn partial_cmp(&self, other: &i64) -> Option<Ordering> {
        Some(self.cmp(&Version::from(*other)))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_view(|view| match view {
            View::Repeatable(name) => write!(f, "{REPEATABLE}{name}"),
            View::Parts(parts) => {
                for (index, part) in parts.iter().enumerate() {
                    if index > 0 {
                        f.write_str(".")?;
                    }
                    write!(f, "{part}")?;
                }
                Ok(())
            }
        })
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
        assert_eq!(
            std::mem::size_of::<Version>(),
            8,
            "as small as the i64 it replaces"
        );
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
        assert_eq!(v("1.1").key(), -3_360_809_197_105_522_896);
    }

    #[test]
    fn repeatables_sort_after_every_version_by_name() {
        let mut versions = [
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
        assert!(Version::repeatable(&long) < Version::repeatable(&other));
        assert_eq!(Version::repeatable(&long).to_string(), format!("R__{long}"));
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

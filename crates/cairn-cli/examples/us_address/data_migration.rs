//! The documented example of a data migration in Rust (docs/backfills.md):
//! split US postal addresses as users typed them
//! (`"123 Main St, New York, NY 10001"`) into street, city, state and zip
//! code, keeping the original.
//!
//! Rows that do not parse are not guessed at: `UsAddress` rejects them with
//! a reason, the runner reports their keys, and the columns stay NULL for a
//! human to look at. Accepted forms, with any spacing around commas:
//!
//! - `street, city, ST 12345` and `street, city, ST 12345-6789`;
//! - `street, unit, city, ST 12345` (the unit stays with the street:
//!   `"1 Elm St, Apt 4"`);
//! - `street, city, ST, 12345` (state and zip code as separate parts).
//!
//! `ST` is one of the 50 states, DC or a territory, in either case.
//!
//! It is not part of Cairn's library: a program that runs Cairn registers the
//! data migrations it ships. The `cairn` binary includes this file and
//! registers it as `us_address` (crates/cairn-cli/src/backfill.rs), which the
//! example project's `migrations/20260101090400_split_addresses/migration.toml`
//! uses; `cargo run -p cairn-cli --example us_address -- "<address>"...` shows
//! what it makes of addresses.

use cairn::backfill::{DataMigration, Transform};

/// The parts of an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// `123 Main St` (with a unit: `1 Elm St, Apt 4`).
    pub street: String,
    /// `New York`.
    pub city: String,
    /// `NY`, uppercase.
    pub state: String,
    /// `10001` or `10001-1234`.
    pub zip_code: String,
}

const STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC", "PR", "GU", "VI", "AS", "MP",
];

fn is_zip(s: &str) -> bool {
    let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
    match s.split_once('-') {
        Some((five, four)) => digits(five, 5) && digits(four, 4),
        None => digits(s, 5),
    }
}

/// Parses one address, or says why it cannot.
pub fn parse(input: &str) -> Result<Address, String> {
    let parts: Vec<&str> = input.split(',').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err("an empty part between commas".to_owned());
    }
    // The last part is `ST 12345`, or the last two are `ST` and `12345`.
    let (state, zip, rest) = match parts.as_slice() {
        [rest @ .., state, zip] if is_zip(zip) && !state.contains(' ') => (*state, *zip, rest),
        [rest @ .., last] => match last.rsplit_once(char::is_whitespace) {
            Some((state, zip)) => (state.trim(), zip, rest),
            None => return Err(format!("no state and zip code at the end (found `{last}`)")),
        },
        [] => return Err("empty".to_owned()),
    };
    if !is_zip(zip) {
        return Err(format!("`{zip}` is not a zip code (12345 or 12345-6789)"));
    }
    let state = state.to_ascii_uppercase();
    if !STATES.contains(&state.as_str()) {
        return Err(format!("`{state}` is not a US state code"));
    }
    let (city, street) = match rest {
        [street, city] => (*city, street.to_string()),
        [street, unit, city] => (*city, format!("{street}, {unit}")),
        [] | [_] => return Err("no street and city before the state".to_owned()),
        _ => {
            return Err(format!(
                "{} parts before the state: expected street, [unit,] city",
                rest.len()
            ))
        }
    };
    if !street.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("the street `{street}` has no house number"));
    }
    Ok(Address {
        street,
        city: city.to_owned(),
        state,
        zip_code: zip.to_owned(),
    })
}

/// Splits the `address` column into `street`, `city`, `state` and `zip_code`.
#[derive(Clone, Debug)]
pub struct UsAddress {
    /// The column read (default `address`).
    pub source: String,
}

impl Default for UsAddress {
    fn default() -> Self {
        UsAddress {
            source: "address".to_owned(),
        }
    }
}

impl DataMigration for UsAddress {
    fn reads(&self) -> Vec<String> {
        vec![self.source.clone()]
    }

    fn transform(&self, row: &[Option<String>]) -> Transform {
        let Some(Some(text)) = row.first() else {
            return Transform::Reject(format!("`{}` is NULL", self.source));
        };
        match parse(text) {
            Ok(a) => Transform::Write(vec![
                ("street".to_owned(), Some(a.street)),
                ("city".to_owned(), Some(a.city)),
                ("state".to_owned(), Some(a.state)),
                ("zip_code".to_owned(), Some(a.zip_code)),
            ]),
            Err(reason) => Transform::Reject(format!("cannot parse {text:?}: {reason}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> (String, String, String, String) {
        let a = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        (a.street, a.city, a.state, a.zip_code)
    }

    #[test]
    fn addresses_that_parse() {
        let s = |a: &str, b: &str, c: &str, d: &str| {
            (a.to_owned(), b.to_owned(), c.to_owned(), d.to_owned())
        };
        assert_eq!(
            ok("123 Main St, New York, NY 10001"),
            s("123 Main St", "New York", "NY", "10001")
        );
        assert_eq!(
            ok(" 9 Oak Ave ,Springfield,  il   62704-1234 "),
            s("9 Oak Ave", "Springfield", "IL", "62704-1234")
        );
        assert_eq!(
            ok("1 Elm St, Apt 4, Boston, MA 02108"),
            s("1 Elm St, Apt 4", "Boston", "MA", "02108")
        );
        assert_eq!(
            ok("500 Pine Rd, Austin, TX, 73301"),
            s("500 Pine Rd", "Austin", "TX", "73301")
        );
    }

    #[test]
    fn addresses_that_do_not_parse_say_why() {
        let err = |input: &str| parse(input).unwrap_err();
        assert_eq!(
            err("123 Main St New York NY"),
            "`NY` is not a zip code (12345 or 12345-6789)"
        );
        assert_eq!(
            err("123 Main St, New York, ZZ 10001"),
            "`ZZ` is not a US state code"
        );
        assert_eq!(
            err("New York, NY 10001"),
            "no street and city before the state"
        );
        assert_eq!(
            err("Main St, New York, NY 10001"),
            "the street `Main St` has no house number"
        );
        assert_eq!(err("1 A St,, NY 10001"), "an empty part between commas");
        assert_eq!(
            err("PO Box"),
            "`Box` is not a zip code (12345 or 12345-6789)"
        );
        assert_eq!(
            err("1 a, b, c, d, NY 10001"),
            "4 parts before the state: expected street, [unit,] city"
        );
    }

    #[test]
    fn the_data_migration_writes_four_columns_or_rejects() {
        let m = UsAddress::default();
        assert_eq!(m.reads(), vec!["address".to_owned()]);
        assert!(
            matches!(m.transform(&[Some("1 A St, B, NY 10001".into())]), Transform::Write(v) if v.len() == 4)
        );
        assert!(matches!(m.transform(&[None]), Transform::Reject(r) if r == "`address` is NULL"));
        assert!(
            matches!(m.transform(&[Some("nowhere".into())]), Transform::Reject(r) if r.starts_with("cannot parse \"nowhere\""))
        );
    }
}

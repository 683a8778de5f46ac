//! diesel: `YYYY-MM-DD-HHMMSS[-XXXX]_<name>/up.sql`, `down.sql`, `metadata.toml`, the `00000000000000_diesel_initial_setup` folder; history table `__diesel_schema_migrations`.
//!
//! # The layout, as diesel runs it
//!
//! A diesel migration is a folder holding `up.sql` and `down.sql` (the file
//! names of Cairn's own folders, so the two layouts may share a directory).
//! diesel's version is the text before the first `_` with the `-` removed, and
//! diesel orders versions as strings. Cairn's versions are integers:
//!
//! | folder                                  | Cairn version           |
//! |-----------------------------------------|-------------------------|
//! | `2023-01-15-093000_x` (diesel < 2.2)    | `20230115093000`        |
//! | `2024-01-31-120000-000a_x` (diesel ≥ 2.2, a 4-hex-digit subversion so that two migrations made in one second differ) | `2024013112000000010`: the timestamp, then the subversion as 5 decimal digits |
//! | `00000000000000_diesel_initial_setup`   | `0`, so it runs first   |
//!
//! Both orders agree with diesel's for every folder diesel names itself (a
//! ≥ 2.2 folder is always later than the < 2.2 ones of a project that
//! upgraded). Version 0 is Cairn's only exception to positive versions, and
//! only for that exact folder name, which `diesel setup` writes in every
//! diesel project.
//!
//! `metadata.toml` with `run_in_transaction = false` runs the folder's scripts
//! outside a transaction (`no_transaction`).

pub mod history;

use std::path::Path;

use crate::error::{Error, Location};
use crate::migration::Version;
use crate::source::layout::parse_version;

/// The folder `diesel setup` creates in every diesel project.
pub(crate) const INITIAL_SETUP: &str = "00000000000000_diesel_initial_setup";

/// A folder name in diesel's form: `Some(Ok((version, name)))`, `Some(Err(hint))`
/// for a version Cairn cannot hold, `None` for a name that is not diesel's.
pub(crate) fn folder(name: &str) -> Option<Result<(Version, &str), String>> {
    if name == INITIAL_SETUP {
        return Some(Ok((Version::from(0_i64), &name[15..])));
    }
    let (digits, rest) = stamp_prefix(name)?;
    Some(parse_version(&digits, name).map(|version| (version, rest)))
}

/// The Cairn version of a version diesel wrote in its history table
/// (`__diesel_schema_migrations.version`: the folder's prefix without its
/// `-`): `20230115093000`, `20240131120000000a` (≥ 2.2) and `00000000000000`
/// map as the folders do (`folder`); `None` for anything else.
pub fn history_version(text: &str) -> Option<Version> {
    if text == &INITIAL_SETUP[..14] {
        return Some(Version::from(0_i64));
    }
    let (stamp, sub) = match text.len() {
        14 => (text, None),
        18 => (&text[..14], Some(&text[14..])),
        _ => return None,
    };
    if !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits = stamp.to_owned();
    if let Some(hex) = sub {
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        digits.push_str(&format!("{:05}", u32::from_str_radix(hex, 16).ok()?));
    }
    parse_version(&digits, text).ok()
}

/// `YYYY-MM-DD-HHMMSS_<rest>` → (`YYYYMMDDHHMMSS`, rest), and
/// `YYYY-MM-DD-HHMMSS-XXXX_<rest>` → (`YYYYMMDDHHMMSS` and the hex `XXXX` as
/// 5 decimal digits, rest).
fn stamp_prefix(name: &str) -> Option<(String, &str)> {
    const PATTERN: &[u8] = b"dddd-dd-dd-dddddd";
    let bytes = name.as_bytes();
    let fits = bytes.len() > PATTERN.len()
        && PATTERN
            .iter()
            .zip(bytes)
            .all(|(pattern, byte)| match pattern {
                b'd' => byte.is_ascii_digit(),
                other => other == byte,
            });
    if !fits {
        return None;
    }
    let mut digits: String = name[..PATTERN.len()]
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let rest = &name[PATTERN.len()..];
    if let Some(rest) = rest.strip_prefix('_') {
        return Some((digits, rest));
    }
    let sub = rest.strip_prefix('-')?;
    let (hex, rest) = sub.split_at_checked(4)?;
    let rest = rest.strip_prefix('_')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let sub = u32::from_str_radix(hex, 16).ok()?;
    digits.push_str(&format!("{sub:05}"));
    Some((digits, rest))
}

/// `20260131120000` → `2026-01-31-120000`, and `2026013112000000010` →
/// `2026-01-31-120000-000a`; `None` for any other number of digits.
pub(crate) fn stamp(version: Version) -> Option<String> {
    let digits = version.to_string();
    let date = |d: &str| format!("{}-{}-{}-{}", &d[..4], &d[4..6], &d[6..8], &d[8..14]);
    match digits.len() {
        14 => Some(date(&digits)),
        19 => {
            let sub: u32 = digits[14..].parse().ok()?;
            (sub <= 0xffff).then(|| format!("{}-{sub:04x}", date(&digits)))
        }
        _ => None,
    }
}

/// Reads diesel's `metadata.toml`: whether it says `run_in_transaction = false`.
///
/// Only that key matters to Cairn; the file is read line by line rather than
/// with a TOML parser, which the core does not depend on.
///
/// # Errors
///
/// [`Error::BadDirective`] with the line for a value other than `true` or `false`.
pub(crate) fn no_transaction(path: &Path, text: &str) -> Result<bool, Error> {
    for (index, line) in text.lines().enumerate() {
        let line = line.split_once('#').map_or(line, |(before, _)| before);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "run_in_transaction" {
            return match value.trim() {
                "false" => Ok(true),
                "true" => Ok(false),
                other => Err(Error::BadDirective {
                    location: Location::new(path, index + 1),
                    message: format!(
                        "`run_in_transaction` must be `true` or `false`, found `{other}`"
                    ),
                }),
            };
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::Layout;
    use crate::tools::test_support::{read, tree};

    const CREATE: &str = "CREATE TABLE t (id INT);\n";

    #[test]
    fn diesel_2_2_names_and_the_initial_setup_read_as_they_are() {
        let dir = tree(&[
            (
                "00000000000000_diesel_initial_setup/up.sql",
                "CREATE OR REPLACE FUNCTION diesel_set_updated_at() RETURNS trigger AS $$\n\
                 BEGIN NEW.updated_at := current_timestamp; RETURN NEW; END;\n$$ LANGUAGE plpgsql;\n",
            ),
            (
                "00000000000000_diesel_initial_setup/down.sql",
                "DROP FUNCTION IF EXISTS diesel_set_updated_at();\n",
            ),
            ("2023-01-15-093000_old/up.sql", CREATE),
            ("2024-01-31-120000-0000_first/up.sql", CREATE),
            ("2024-01-31-120000-000a_second/up.sql", CREATE),
            ("2024-01-31-120000-0009_ninth/up.sql", CREATE),
        ]);
        let summary: Vec<(Version, String, Layout)> = read(&dir)
            .into_iter()
            .map(|m| (m.version, m.name, m.layout))
            .collect();
        let row = |v: i64, n: &str| (Version::from(v), n.to_owned(), Layout::Diesel);
        assert_eq!(
            summary,
            [
                row(0, "diesel_initial_setup"),
                row(20230115093000, "old"),
                row(2024013112000000000, "first"),
                row(2024013112000000009, "ninth"),
                row(2024013112000000010, "second"),
            ]
        );
    }

    #[test]
    fn a_new_migration_beside_diesel_2_2_folders_gets_a_subversion() {
        use crate::source::NewShape;
        let dir = tree(&[
            ("00000000000000_diesel_initial_setup/up.sql", CREATE),
            ("2024-01-31-120000-0000_first/up.sql", CREATE),
        ]);
        let survey = crate::source::survey(dir.path()).unwrap();
        assert_eq!(survey.shape, NewShape::DieselSubversionFolder);
        assert_eq!(survey.shape.stamp_suffix(), "00000");
        let made = survey
            .shape
            .files(Version::from(2026013112000000000), "second");
        assert_eq!(
            made.folder.unwrap().display().to_string(),
            "2026-01-31-120000-0000_second"
        );
        let dir = tree(&[("2023-01-15-093000_old/up.sql", CREATE)]);
        let survey = crate::source::survey(dir.path()).unwrap();
        assert_eq!(survey.shape, NewShape::DieselFolder);
        assert_eq!(survey.shape.stamp_suffix(), "");
    }

    #[test]
    fn history_versions_map_as_their_folders() {
        for (row, folder_name) in [
            ("00000000000000", INITIAL_SETUP),
            ("20230115093000", "2023-01-15-093000_x"),
            ("20240131120000000a", "2024-01-31-120000-000a_x"),
        ] {
            let (version, _) = folder(folder_name).unwrap().unwrap();
            assert_eq!(history_version(row), Some(version), "{row}");
        }
        assert_eq!(history_version("2024013112000000g0"), None);
        assert_eq!(history_version("1"), None);
    }

    #[test]
    fn other_version_zero_folders_stay_refused() {
        let dir = tree(&[("00000000000000_setup/up.sql", CREATE)]);
        let error = crate::tools::test_support::fail(&dir);
        assert!(error.to_string().contains("version 0"), "{error}");
    }

    #[test]
    fn a_bad_subversion_is_no_diesel_name() {
        assert!(folder("2024-01-31-120000-00g0_x").is_none());
        assert!(folder("2024-01-31-120000-000_x").is_none());
        assert!(folder("2024-01-31-120000_").is_some());
    }

    #[test]
    fn stamps_name_new_folders_in_either_form() {
        assert_eq!(
            stamp(Version::from(20260131120000)).as_deref(),
            Some("2026-01-31-120000")
        );
        assert_eq!(
            stamp(Version::from(2026013112000000010)).as_deref(),
            Some("2026-01-31-120000-000a")
        );
        assert_eq!(stamp(Version::from(42)), None);
        for name in ["2026-01-31-120000_x", "2026-01-31-120000-ffff_x"] {
            let (version, _) = folder(name).unwrap().unwrap();
            assert_eq!(format!("{}_x", stamp(version).unwrap()), name);
        }
    }
}

//! Checksums of migration scripts: the contract.
//!
//! The checksum of a migration on an engine is the SHA-256 of its *effective up
//! script* for that engine (the `up.<engine>.sql` override if there is one, else
//! the plain up script), after normalisation:
//!
//! 1. a leading UTF-8 byte order mark (`EF BB BF`) is removed;
//! 2. every CRLF pair (`\r\n`) becomes LF (`\n`); a lone `\r` is kept.
//!
//! Nothing else is changed: tabs, trailing spaces, a missing final newline and
//! comments all count, because they are part of what was reviewed. The digest is
//! written as 64 lowercase hexadecimal digits. This is stable across platforms,
//! so a checkout with `core.autocrlf=true` on Windows gives the same checksums as
//! one on Linux. Changing this algorithm is a breaking change of the history format.

use sha2::{Digest, Sha256};

/// Normalises script text as the checksum contract says: BOM removed, CRLF to LF.
pub fn normalize(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.replace("\r\n", "\n")
}

/// [`normalize`] for owned text, without copying text that it leaves
/// unchanged (the usual case: no byte order mark and no CRLF).
pub fn normalize_owned(text: String) -> String {
    if text.starts_with('\u{feff}') || text.contains("\r\n") {
        normalize(&text)
    } else {
        text
    }
}

/// The checksum of already normalised script text.
pub fn checksum(normalized: &str) -> String {
    hex(&Sha256::digest(normalized.as_bytes()))
}

/// The checksum of a sequence of statements, used to prove that the statements a
/// half-applied migration already ran are unchanged.
pub fn statements_checksum<'a>(statements: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for statement in statements {
        hasher.update((statement.len() as u64).to_le_bytes());
        hasher.update(statement.as_bytes());
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = "CREATE TABLE t (\n\tid INTEGER PRIMARY KEY\n);\n";

    #[test]
    fn known_digest_of_the_empty_script() {
        assert_eq!(
            checksum(&normalize("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn crlf_and_bom_do_not_change_the_checksum() {
        let crlf = PLAIN.replace('\n', "\r\n");
        let bom = format!("\u{feff}{PLAIN}");
        let both = format!("\u{feff}{crlf}");
        let expected = checksum(&normalize(PLAIN));
        for variant in [crlf, bom, both] {
            assert_eq!(checksum(&normalize(&variant)), expected, "{variant:?}");
        }
    }

    #[test]
    fn tabs_spaces_and_lone_cr_do_change_it() {
        let expected = checksum(&normalize(PLAIN));
        for variant in [
            PLAIN.replace('\t', "    "),
            PLAIN.replace('\n', "\r"),
            PLAIN.trim_end().to_owned(),
        ] {
            assert_ne!(checksum(&normalize(&variant)), expected, "{variant:?}");
        }
    }

    #[test]
    fn statement_boundaries_count() {
        assert_ne!(
            statements_checksum(["ab", "c"]),
            statements_checksum(["a", "bc"])
        );
        assert_eq!(statements_checksum(["a"]), statements_checksum(["a"]));
    }
}

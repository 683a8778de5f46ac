//! Column names inside SQL text (an index key, a partial index's predicate,
//! a check): found and renamed token by token, so that string and blob
//! literals, other names that merely contain the column's name and quoted
//! spellings (`"Name"`, `[name]`, `` `name` ``) are each handled right.

use crate::engine::Engine;
use crate::schema::ident;

/// `sql` with every reference to column `from` (SQLite names are
/// case-insensitive) replaced by `to`, quoted where it must be.
pub(super) fn rename(sql: &str, from: &str, to: &str) -> String {
    walk(sql, |name| {
        name.eq_ignore_ascii_case(from)
            .then(|| ident(Engine::Sqlite, to))
    })
}

/// An index, unique or foreign key entry (a column name, or an expression,
/// either maybe followed by ` desc`) with column `from` renamed `to`: a
/// bare column stays a bare name, as the schema model keeps it.
pub(super) fn rename_key(key: &str, from: &str, to: &str) -> String {
    let (base, order) = match key.strip_suffix(" desc") {
        Some(base) => (base, " desc"),
        None => (key, ""),
    };
    if base.eq_ignore_ascii_case(from) {
        format!("{to}{order}")
    } else {
        rename(key, from, to)
    }
}

/// Whether `sql` refers to column `column`.
pub(super) fn mentions(sql: &str, column: &str) -> bool {
    let mut found = false;
    walk(sql, |name| {
        found |= name.eq_ignore_ascii_case(column);
        None
    });
    found
}

/// Copies `sql`, asking `replace` about each identifier (unquoted) and
/// writing its answer instead where it has one.
fn walk(sql: &str, mut replace: impl FnMut(&str) -> Option<String>) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' => {
                let end = closing(&chars, i, '\'');
                out.extend(&chars[i..end]);
                i = end;
            }
            '"' | '`' | '[' => {
                let close = if c == '[' { ']' } else { c };
                let end = closing(&chars, i, close);
                let inner: String = chars[i + 1..end.saturating_sub(1).max(i + 1)]
                    .iter()
                    .collect();
                let name = inner.replace(&format!("{close}{close}"), &close.to_string());
                match replace(&name) {
                    Some(to) => out.push_str(&to),
                    None => out.extend(&chars[i..end]),
                }
                i = end;
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || "_$".contains(chars[i]))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                // `x'0A'` is a blob literal, not a column named x.
                let blob = chars.get(i) == Some(&'\'');
                match (!blob).then(|| replace(&word)).flatten() {
                    Some(to) => out.push_str(&to),
                    None => out.push_str(&word),
                }
            }
            c if c.is_ascii_digit() => {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    out.push(chars[i]);
                    i += 1;
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The index just past the `close` that ends the quoted run opening at
/// `start` (a doubled `close` is an escaped one), or the end of the text.
fn closing(chars: &[char], start: usize, close: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == close {
            if close != ']' && chars.get(i + 1) == Some(&close) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_only_the_column() {
        assert_eq!(
            rename("lower(name) desc", "name", "full_name"),
            "lower(full_name) desc"
        );
        assert_eq!(
            rename("\"Name\" > 'name'", "name", "full_name"),
            "full_name > 'name'"
        );
        assert_eq!(
            rename("names || [name] || `name`", "name", "n"),
            "names || n || n"
        );
        assert_eq!(rename("x'0a' = x", "x", "y"), "x'0a' = y");
        assert_eq!(
            rename("'it''s name' || name", "name", "Full"),
            "'it''s name' || \"Full\""
        );
        assert_eq!(rename("1e5 + e5", "e5", "f"), "1e5 + f");
        assert!(mentions("length(Name) > 0", "name"));
        assert!(!mentions("'name' = surname", "name"));
    }
}

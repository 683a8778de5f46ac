//! Rewriting the column names in a piece of PostgreSQL SQL: an `up` or `down`
//! expression read by a trigger (`full_name` becomes `NEW."full_name"`), an
//! index key, predicate or check carried from the old column to the new one.
//!
//! The text is walked token by token, so that string literals (`'...'`,
//! `E'...'`, `$tag$...$tag$`), comments and quoted names are never mistaken
//! for a column. An unquoted word names a column when its lowercase spelling
//! is the column's name (PostgreSQL folds unquoted names to lowercase); a
//! quoted one when it is the name exactly. A word right after `.` (a
//! qualified name) or `::` (a type), or right before `(` (a function), is
//! left alone.

use crate::history::quote_ident;
use crate::Engine;

/// One token of the text: `Word` an unquoted identifier or keyword, `Quoted`
/// a `"..."` name (its text unescaped), `Other` anything else as written.
#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a str),
    Quoted(&'a str, String),
    Other(&'a str),
}

fn tokens(sql: &str) -> Vec<Token<'_>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let is_word_start = |c: u8| c.is_ascii_alphabetic() || c == b'_' || c >= 0x80;
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        if (c == b'E' || c == b'e') && bytes.get(i + 1) == Some(&b'\'') {
            i = skip_string(bytes, i + 1, true);
            out.push(Token::Other(&sql[start..i]));
        } else if c == b'\'' {
            i = skip_string(bytes, i, false);
            out.push(Token::Other(&sql[start..i]));
        } else if c == b'"' {
            i += 1;
            let mut name = String::new();
            while i < bytes.len() {
                if bytes[i] == b'"' {
                    if bytes.get(i + 1) == Some(&b'"') {
                        name.push('"');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                let ch = sql[i..].chars().next().unwrap_or(' ');
                name.push(ch);
                i += ch.len_utf8();
            }
            out.push(Token::Quoted(&sql[start..i], name));
        } else if c == b'$' {
            i = skip_dollar(sql, i);
            out.push(Token::Other(&sql[start..i]));
        } else if c == b'-' && bytes.get(i + 1) == Some(&b'-') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            out.push(Token::Other(&sql[start..i]));
        } else if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i = sql[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |end| i + 2 + end + 2);
            out.push(Token::Other(&sql[start..i]));
        } else if is_word_start(c) {
            while i < bytes.len() && is_word(bytes[i]) {
                i += 1;
            }
            out.push(Token::Word(&sql[start..i]));
        } else {
            i += sql[i..].chars().next().map_or(1, char::len_utf8);
            out.push(Token::Other(&sql[start..i]));
        }
    }
    out
}

/// The end of the string literal whose opening quote is at `at`.
fn skip_string(bytes: &[u8], at: usize, backslashes: bool) -> usize {
    let mut i = at + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslashes => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The end of a `$tag$ ... $tag$` string (or of a lone `$1` parameter).
fn skip_dollar(sql: &str, at: usize) -> usize {
    let rest = &sql[at + 1..];
    let tag_len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if !rest[tag_len..].starts_with('$')
        || rest[..tag_len].starts_with(|c: char| c.is_ascii_digit())
    {
        return at + 1 + tag_len;
    }
    let tag = &sql[at..at + tag_len + 2];
    let body = at + tag.len();
    sql[body..]
        .find(tag)
        .map_or(sql.len(), |end| body + end + tag.len())
}

/// Rewrites every column name of `sql` for which `rename` gives a
/// replacement (the replacement is written as is).
fn rewrite(sql: &str, rename: impl Fn(&str) -> Option<String>) -> String {
    let tokens = tokens(sql);
    let mut out = String::with_capacity(sql.len() + 16);
    for (at, token) in tokens.iter().enumerate() {
        let previous = tokens[..at]
            .iter()
            .rev()
            .find(|t| !matches!(t, Token::Other(s) if s.trim().is_empty()));
        let next = tokens[at + 1..]
            .iter()
            .find(|t| !matches!(t, Token::Other(s) if s.trim().is_empty()));
        let qualified = matches!(previous, Some(Token::Other(".")) | Some(Token::Other(":")));
        let called = matches!(next, Some(Token::Other("(")));
        let name = match token {
            Token::Word(word) => Some(word.to_lowercase()),
            Token::Quoted(_, name) => Some(name.clone()),
            Token::Other(_) => None,
        };
        let replacement = name
            .filter(|_| !qualified && !called)
            .and_then(|name| rename(&name));
        match (replacement, token) {
            (Some(replacement), _) => out.push_str(&replacement),
            (None, Token::Word(text) | Token::Quoted(text, _) | Token::Other(text)) => {
                out.push_str(text)
            }
        }
    }
    out
}

/// `sql` with column `from` renamed `to` (quoted).
pub(super) fn rename_column(sql: &str, from: &str, to: &str) -> String {
    rewrite(sql, |name| {
        (name == from).then(|| quote_ident(Engine::Postgres, to))
    })
}

/// `sql` with each of `columns` read from the trigger's `row` (`NEW`, `OLD`).
pub(super) fn of_row<'a>(
    sql: &str,
    row: &str,
    columns: impl IntoIterator<Item = &'a String> + Clone,
) -> String {
    rewrite(sql, |name| {
        columns
            .clone()
            .into_iter()
            .any(|c| c == name)
            .then(|| format!("{row}.{}", quote_ident(Engine::Postgres, name)))
    })
}

/// Whether `sql` names column `column`.
pub(super) fn mentions(sql: &str, column: &str) -> bool {
    rename_column(sql, column, "\u{0}") != sql
}

/// Whether `sql` is one column name and nothing else (an index key that
/// needs no parentheses).
pub(super) fn is_one_name(sql: &str) -> bool {
    let tokens = tokens(sql.trim());
    tokens.len() == 1 && !matches!(tokens[0], Token::Other(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_words_and_quoted_names_but_not_literals() {
        assert_eq!(
            rename_column("lower(name)", "name", "full_name"),
            "lower(\"full_name\")"
        );
        assert_eq!(
            rename_column("(\"name\" IS NOT NULL AND Name <> 'name')", "name", "n"),
            "(\"n\" IS NOT NULL AND \"n\" <> 'name')"
        );
        assert_eq!(
            rename_column("E'it''s name' || name", "name", "n"),
            "E'it''s name' || \"n\""
        );
        assert_eq!(
            rename_column("$x$ name $x$ || name", "name", "n"),
            "$x$ name $x$ || \"n\""
        );
        assert_eq!(
            rename_column("t.name, name::name", "name", "n"),
            "t.name, \"n\"::name"
        );
        assert_eq!(
            rename_column("\"Name\" -- name\n", "name", "n"),
            "\"Name\" -- name\n"
        );
        assert_eq!(
            rename_column("name(1) /* name */", "name", "n"),
            "name(1) /* name */"
        );
    }

    #[test]
    fn reads_columns_from_the_trigger_row() {
        let columns = ["first".to_owned(), "last name".to_owned()];
        assert_eq!(
            of_row("first || ' ' || \"last name\"", "NEW", &columns),
            "NEW.\"first\" || ' ' || NEW.\"last name\""
        );
        assert_eq!(
            of_row("upper(first)", "OLD", &columns),
            "upper(OLD.\"first\")"
        );
    }

    #[test]
    fn mentions_and_single_names() {
        assert!(mentions("(a + b)", "b"));
        assert!(!mentions("'b'", "b"));
        assert!(is_one_name("\"Email\""));
        assert!(is_one_name("email"));
        assert!(!is_one_name("lower(email)"));
    }
}

//! String literals that mean the same text whatever the session settings, and
//! the session preconditions the rest of Cairn's SQL relies on.
//!
//! Cairn sends values — names of migration folders, error messages, keys and
//! columns read back from user tables during a backfill, values a Rust data
//! migration computed — as literals inside SQL text (see [`crate::history`]
//! for why not bound parameters). A literal whose meaning depends on a
//! session setting is an injection waiting for that setting: on PostgreSQL
//! with `standard_conforming_strings = off` a backslash in `'...'` escapes the
//! closing quote, and on MySQL with `NO_BACKSLASH_ESCAPES` a backslash Cairn
//! doubled is stored doubled. Either setting can be a database's or role's
//! default on a legacy server, and a migration can switch it on the very
//! session Cairn writes its bookkeeping on. So [`string_literal`] renders
//! every value in a form that both settings read alike:
//!
//! - **PostgreSQL**: `'...'` (quotes doubled) when the value holds no
//!   backslash; otherwise an escape string `E'...'` with `\` and `'` doubled,
//!   which the server reads the same under either `standard_conforming_strings`.
//! - **MySQL/MariaDB**: `'...'` (quotes doubled) when the value is ASCII
//!   without a backslash or NUL; otherwise the UTF-8 bytes as a hexadecimal
//!   literal with a character-set introducer, `_utf8mb4 X'...'`, which neither
//!   `NO_BACKSLASH_ESCAPES` nor the connection's character set can change. Like
//!   a quoted literal it is *coercible*: compared with a column it takes the
//!   column's collation, so keyset bounds compare as the table orders its rows.
//! - **SQLite**: standard `'...'`; backslashes are never special.
//!
//! **NUL characters** are never dropped or changed: a value that holds one
//! is rendered exactly or the statement fails. MySQL stores NUL in text (the
//! hexadecimal form carries it) and SQLite too (`('a' || char(0) || 'b')`).
//! PostgreSQL text cannot hold NUL, so no value read from a PostgreSQL table
//! has one; one that comes from elsewhere (a configuration file) is rendered
//! as `E'\000'`, which the server refuses (`invalid byte sequence for
//! encoding "UTF8": 0x00`) rather than store or compare something else.
//!
//! Each rendering lives with its family, in
//! `dialect/<family>/bookkeeping.rs`
//! ([`Bookkeeping::string_literal`](crate::dialect::Bookkeeping::string_literal),
//! [`Bookkeeping::session_preconditions`](crate::dialect::Bookkeeping::session_preconditions));
//! this module keeps what they share and the functions for work without a
//! connection.
//!
//! Independently, every driver establishes [`session_preconditions`] once per
//! connection and checks that they took effect, and again before each
//! migration: the statement splitter and users' migrations then see the
//! settings Cairn was written against (standard strings on PostgreSQL,
//! backslash escapes on MySQL). Literals do not rely on that; it is defence in
//! depth and consistency, stated here in one place so that a dialect can carry
//! both.

use crate::dialect::for_engine;
use crate::engine::Engine;

/// Renders `value` as a string literal for `engine` that reads back as
/// exactly `value` under any session setting (see the module docs); the
/// family's [`Bookkeeping::string_literal`](crate::dialect::Bookkeeping::string_literal)
/// for work without a connection.
pub fn string_literal(engine: Engine, value: &str) -> String {
    for_engine(engine).string_literal(value)
}

/// `'...'` with quotes doubled: the standard SQL string literal, which the
/// dialects use for values that need nothing more.
pub fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// One session setting Cairn's SQL relies on.
#[derive(Clone, Copy, Debug)]
pub struct SessionSetting {
    /// The variable, as the engine names it.
    pub name: &'static str,
    /// An assignment that establishes it, as the engine's `SET` takes it.
    pub assignment: &'static str,
    /// A SQL expression that reads the variable back.
    pub read: &'static str,
    /// The value the variable must have (in words, for messages).
    pub required: &'static str,
    /// Whether a value read back by [`SessionSetting::read`] meets the requirement.
    pub holds: fn(&str) -> bool,
}

/// How a product's `SET` establishes several settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetStatement {
    /// One `SET <assignment>` per setting, joined by `; ` (PostgreSQL).
    Each,
    /// One `SET SESSION <a>, SESSION <b>` statement (MySQL, MariaDB).
    Session,
}

/// What Cairn's SQL assumes of a session on one product, and how a driver
/// establishes and checks it (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct SessionPreconditions {
    settings: &'static [SessionSetting],
    set: SetStatement,
}

/// Whether a setting reads back as `on`.
pub fn is_on(value: &str) -> bool {
    value.eq_ignore_ascii_case("on")
}

/// The session preconditions of `engine`'s family, for work without a connection.
pub fn session_preconditions(engine: Engine) -> SessionPreconditions {
    for_engine(engine).session_preconditions()
}

impl SessionPreconditions {
    /// The preconditions `settings`, established with `set`.
    pub const fn new(settings: &'static [SessionSetting], set: SetStatement) -> Self {
        SessionPreconditions { settings, set }
    }

    /// A product whose sessions need nothing.
    pub const NONE: SessionPreconditions = SessionPreconditions::new(&[], SetStatement::Each);

    /// The settings, in the order [`SessionPreconditions::check`] reads them.
    pub fn settings(&self) -> &'static [SessionSetting] {
        self.settings
    }

    /// The statement(s) that establish every setting for the session
    /// (`None`: the engine has none).
    pub fn establish(&self) -> Option<String> {
        if self.settings.is_empty() {
            return None;
        }
        Some(match self.set {
            // PostgreSQL's SET takes one variable per statement.
            SetStatement::Each => self
                .settings
                .iter()
                .map(|s| format!("SET {}", s.assignment))
                .collect::<Vec<_>>()
                .join("; "),
            SetStatement::Session => format!(
                "SET {}",
                self.settings
                    .iter()
                    .map(|s| format!("SESSION {}", s.assignment))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    /// A query returning one row, one column per setting, to read them back
    /// (`None`: the engine has none).
    pub fn check(&self) -> Option<String> {
        if self.settings.is_empty() {
            return None;
        }
        Some(format!(
            "SELECT {}",
            self.settings
                .iter()
                .map(|s| s.read)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// Compares the rows of [`SessionPreconditions::check`] with the
    /// requirements; the error names each setting that is wrong, its value
    /// and the value needed.
    pub fn verify(&self, rows: &[Vec<Option<String>>]) -> Result<(), String> {
        if self.settings.is_empty() {
            return Ok(());
        }
        let Some(row) = rows.first() else {
            return Err(
                "the server returned no row for the check of the session settings".to_owned(),
            );
        };
        let wrong: Vec<String> = self
            .settings
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let value = row.get(i).cloned().flatten();
                match value {
                    Some(v) if (s.holds)(&v) => None,
                    Some(v) => Some(format!(
                        "{} is `{v}`, Cairn needs it {}",
                        s.name, s.required
                    )),
                    None => Some(format!(
                        "{} is unknown (NULL), Cairn needs it {}",
                        s.name, s.required
                    )),
                }
            })
            .collect();
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} after `{}`",
                wrong.join("; "),
                self.establish().unwrap_or_default()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn postgres_uses_escape_strings_only_for_backslashes() {
        assert_eq!(string_literal(Engine::Postgres, "it's"), "'it''s'");
        assert_eq!(string_literal(Engine::Postgres, "a'b\\c"), "E'a''b\\\\c'");
        assert_eq!(
            string_literal(Engine::Postgres, "1 Main St\\"),
            "E'1 Main St\\\\'"
        );
        assert_eq!(string_literal(Engine::Postgres, "a\0b"), "E'a\\000b'");
        assert_eq!(string_literal(Engine::Postgres, ""), "''");
    }

    #[test]
    fn mysql_uses_hexadecimal_for_backslashes_nul_and_non_ascii() {
        assert_eq!(string_literal(Engine::Mysql, "it's"), "'it''s'");
        assert_eq!(
            string_literal(Engine::Mysql, "a'b\\c"),
            "_utf8mb4 X'6127625c63'"
        );
        assert_eq!(string_literal(Engine::Mysql, "a\0"), "_utf8mb4 X'6100'");
        assert_eq!(string_literal(Engine::Mysql, "é"), "_utf8mb4 X'c3a9'");
        assert_eq!(string_literal(Engine::Mysql, ""), "''");
    }

    #[test]
    fn sqlite_keeps_backslashes_and_nul() {
        assert_eq!(string_literal(Engine::Sqlite, "a'b\\c"), "'a''b\\c'");
        assert_eq!(
            string_literal(Engine::Sqlite, "a\0b"),
            "('a' || char(0) || 'b')"
        );
        assert_eq!(
            string_literal(Engine::Sqlite, "\0"),
            "('' || char(0) || '')"
        );
    }

    #[test]
    fn preconditions_are_stated_per_engine() {
        let pg = session_preconditions(Engine::Postgres);
        assert_eq!(
            pg.establish().as_deref(),
            Some("SET standard_conforming_strings = on; SET client_encoding = 'UTF8'")
        );
        assert_eq!(
            pg.check().as_deref(),
            Some("SELECT current_setting('standard_conforming_strings'), current_setting('client_encoding')")
        );
        let my = session_preconditions(Engine::Mysql);
        assert!(my
            .establish()
            .is_some_and(|s| s.starts_with("SET SESSION sql_mode = ")));
        assert_eq!(my.check().as_deref(), Some("SELECT @@SESSION.sql_mode"));
        let lite = session_preconditions(Engine::Sqlite);
        assert_eq!((lite.establish(), lite.check()), (None, None));
        assert_eq!(lite.verify(&[]), Ok(()));
    }

    fn row(values: &[Option<&str>]) -> Vec<Vec<Option<String>>> {
        vec![values.iter().map(|v| v.map(str::to_owned)).collect()]
    }

    #[test]
    fn verify_accepts_what_the_settings_require() {
        let pg = session_preconditions(Engine::Postgres);
        assert_eq!(pg.verify(&row(&[Some("on"), Some("UTF8")])), Ok(()));
        let my = session_preconditions(Engine::Mysql);
        assert_eq!(
            my.verify(&row(&[Some("STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION")])),
            Ok(())
        );
        assert_eq!(my.verify(&row(&[Some("")])), Ok(()));
    }

    #[test]
    fn verify_names_each_setting_that_did_not_stick() {
        let pg = session_preconditions(Engine::Postgres);
        let err = pg.verify(&row(&[Some("off"), Some("SJIS")])).unwrap_err();
        assert!(
            err.starts_with("standard_conforming_strings is `off`, Cairn needs it on; client_encoding is `SJIS`, Cairn needs it UTF8 after `SET standard_conforming_strings = on"),
            "{err}"
        );
        let my = session_preconditions(Engine::Mysql);
        let err = my
            .verify(&row(&[Some("STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES")]))
            .unwrap_err();
        assert!(
            err.starts_with("sql_mode is `STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES`, Cairn needs it without NO_BACKSLASH_ESCAPES after `SET SESSION sql_mode = "),
            "{err}"
        );
        assert!(my
            .verify(&row(&[None]))
            .unwrap_err()
            .contains("sql_mode is unknown (NULL)"));
        assert_eq!(
            my.verify(&[]).unwrap_err(),
            "the server returned no row for the check of the session settings"
        );
    }

    /// Reads a PostgreSQL string literal as the server would, under one
    /// `standard_conforming_strings` setting; `None` if it is not one whole literal.
    fn read_postgres(sql: &str, standard: bool) -> Option<String> {
        let (escapes, body) = match sql.strip_prefix("E'") {
            Some(body) => (true, body),
            None => (!standard, sql.strip_prefix('\'')?),
        };
        read_quoted(body, escapes)
    }

    /// Reads the rest of a `'...'` literal after its opening quote.
    fn read_quoted(body: &str, escapes: bool) -> Option<String> {
        let mut out = String::new();
        let mut chars = body.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    out.push('\'');
                }
                '\'' => return chars.next().is_none().then_some(out),
                '\\' if escapes => match chars.next()? {
                    '0' if chars.peek() == Some(&'0') => {
                        chars.next();
                        chars.next();
                        out.push('\0');
                    }
                    c => out.push(c),
                },
                c => out.push(c),
            }
        }
        None
    }

    /// Reads a MySQL string literal under one `NO_BACKSLASH_ESCAPES` setting.
    fn read_mysql(sql: &str, no_backslash_escapes: bool) -> Option<String> {
        if let Some(hex) = sql
            .strip_prefix("_utf8mb4 X'")
            .and_then(|s| s.strip_suffix('\''))
        {
            let bytes: Option<Vec<u8>> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect();
            return String::from_utf8(bytes?).ok();
        }
        read_quoted(sql.strip_prefix('\'')?, !no_backslash_escapes)
    }

    fn any_text() -> impl Strategy<Value = String> {
        let special = prop_oneof![
            Just('\''),
            Just('\\'),
            Just('"'),
            Just('\0'),
            Just('\n'),
            Just('%'),
            Just('é'),
            Just('😀'),
        ];
        prop::collection::vec(prop_oneof![any::<char>(), special], 0..24)
            .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        /// Every string reads back exactly under both settings of each engine
        /// (a model of the servers' lexers; the driver crates test the real ones).
        #[test]
        fn literals_read_back_alike_under_every_setting(value in any_text()) {
            let pg = string_literal(Engine::Postgres, &value);
            for standard in [true, false] {
                prop_assert_eq!(read_postgres(&pg, standard), Some(value.clone()), "{}", pg);
            }
            let my = string_literal(Engine::Mysql, &value);
            for no_backslash_escapes in [true, false] {
                prop_assert_eq!(read_mysql(&my, no_backslash_escapes), Some(value.clone()), "{}", my);
            }
        }
    }
}

//! Database URLs: which engine a URL names, and how to print one safely.
//!
//! A [`DatabaseUrl`] keeps the URL as given (drivers need the password) but its
//! `Display` and `Debug` show the password as `***`, so logging or printing one
//! by mistake cannot leak it. Every error that mentions a URL uses [`redact`].

use std::fmt;

use crate::engine::Engine;

/// A database URL whose scheme Cairn knows.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    engine: Engine,
}

/// A URL that names no engine Cairn knows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown database URL scheme `{scheme}` in `{redacted}`: use postgres://, postgresql://, mysql://, mariadb:// or sqlite://")]
pub struct UnknownScheme {
    /// The scheme found (empty when there was none).
    pub scheme: String,
    /// The URL with its password hidden.
    pub redacted: String,
}

impl DatabaseUrl {
    /// Parses the scheme of `url`.
    pub fn parse(url: &str) -> Result<Self, UnknownScheme> {
        let url = url.trim();
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        let Some(engine) = Engine::from_scheme(scheme) else {
            return Err(UnknownScheme {
                scheme: scheme.to_owned(),
                redacted: redact(url),
            });
        };
        Ok(DatabaseUrl {
            raw: url.to_owned(),
            engine,
        })
    }

    /// The engine the scheme names.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The URL as given, password included: hand it to a driver, never print it.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The URL with its password hidden.
    pub fn redacted(&self) -> String {
        redact(&self.raw)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

/// Hides the password of a URL (`user:***@host`), and the value of any
/// `password=` / `sslpassword=` query parameter. Text that is not a URL is
/// returned with any `:secret@` userinfo hidden all the same.
pub fn redact(url: &str) -> String {
    let (prefix, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    // The password may itself hold `/`, `?`, `#` or `@`: the userinfo ends at
    // the last `@`. If a query holds an `@` too, more is hidden, never less.
    let (rest, tail) = match rest.rfind('@') {
        Some(at) => {
            let (userinfo, host_and_rest) = rest.split_at(at);
            let userinfo = match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***"),
                None => userinfo.to_owned(),
            };
            (userinfo, host_and_rest)
        }
        None => (String::new(), rest),
    };
    format!("{prefix}{rest}{}", redact_query(tail))
}

/// The advice for a URL whose password holds a character that ends the
/// userinfo (`@`, `#`, `/`, `?`) or a `%` that starts no escape.
pub const PASSWORD_ENCODING_HINT: &str = "if your password contains @ # / ? or %, percent-encode it (e.g. @ → %40, # → %23, / → %2F, ? → %3F, % → %25)";

/// [`PASSWORD_ENCODING_HINT`] when `url` looks as if its password was not
/// percent-encoded: between `://` and the last `@` there is a `:` (so a
/// password) and one of `@ # / ?` or a `%` not followed by two hex digits.
/// Parsers split such a URL early, which shows up as an odd host, port or
/// database, or a failed host lookup; drivers add the hint to those errors.
/// Never returns the password itself.
pub fn password_hint(url: &str) -> Option<&'static str> {
    let rest = &url[url.find("://")? + 3..];
    let userinfo = &rest[..rest.rfind('@')?];
    let (_, password) = userinfo.split_once(':')?;
    let bytes = password.as_bytes();
    let bad_percent = bytes.iter().enumerate().any(|(i, b)| {
        *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    (bad_percent || userinfo.contains(['@', '#', '/', '?'])).then_some(PASSWORD_ENCODING_HINT)
}

fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.to_ascii_lowercase().contains("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_name_engines() {
        for (url, engine) in [
            ("postgres://u@h/db", Engine::Postgres),
            ("postgresql://u@h/db", Engine::Postgres),
            ("mysql://root@127.0.0.1/test", Engine::Mysql),
            ("mariadb://root@127.0.0.1/test", Engine::Mysql),
            ("sqlite://cairn.db", Engine::Sqlite),
            ("sqlite::memory:", Engine::Sqlite),
        ] {
            assert_eq!(
                DatabaseUrl::parse(url).map(|u| u.engine()),
                Ok(engine),
                "{url}"
            );
        }
    }

    #[test]
    fn unknown_scheme_is_an_error_without_the_password() {
        let err = DatabaseUrl::parse("oracle://scott:tiger@db/orcl").unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("unknown database URL scheme `oracle`"),
            "{message}"
        );
        assert!(message.contains("scott:***@db"), "{message}");
        assert!(!message.contains("tiger"), "{message}");
    }

    #[test]
    fn conn_unencoded_passwords_get_a_hint() {
        for url in [
            "postgres://app:p@ss@db/app",
            "postgres://u:abc#123@h/db",
            "postgres://app:p@ss/word@db/app",
            "mysql://root:a?b@h:3306/test",
            "mysql://root:100%@h/test",
        ] {
            assert_eq!(password_hint(url), Some(PASSWORD_ENCODING_HINT), "{url}");
        }
        for url in [
            "postgres://app:p%40ss@db/app",
            "postgres://app@db/app?x=a@b",
            "mysql://root@h/test",
            "sqlite://cairn.db",
            "postgres:///db?host=/var/run/postgresql",
        ] {
            assert_eq!(password_hint(url), None, "{url}");
        }
    }

    #[test]
    fn passwords_are_hidden_everywhere() {
        let url = DatabaseUrl::parse(
            "postgres://app:s3cr%40t@db:5432/app?sslmode=require&password=other",
        )
        .unwrap();
        for shown in [url.to_string(), format!("{url:?}"), url.redacted()] {
            assert!(!shown.contains("s3cr"), "{shown}");
            assert!(!shown.contains("other"), "{shown}");
            assert!(shown.contains("app:***@db:5432/app"), "{shown}");
        }
        assert_eq!(
            redact("mysql://root@localhost/test"),
            "mysql://root@localhost/test"
        );
        assert_eq!(redact("sqlite://cairn.db"), "sqlite://cairn.db");
        assert_eq!(redact("user:pw@host"), "user:***@host");
        // Passwords holding URL delimiters.
        for (url, secret) in [
            ("postgres://u:abc#123@h/db", "abc#123"),
            ("postgres://app:p@ss/word@db/app", "ss/word"),
            ("mysql://root:a?b@h:3306/test", "a?b"),
        ] {
            let shown = redact(url);
            assert!(!shown.contains(secret), "{url} shown as {shown}");
            assert!(shown.contains(":***@"), "{shown}");
        }
    }
}

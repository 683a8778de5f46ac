//! Turning tokio-postgres errors into [`DriverError`]s.
//!
//! A server error keeps the server's words: its message, then `DETAIL:` and
//! `HINT:` lines when present, with the SQLSTATE as the code. The kind tells
//! the migrator what to do: `55P03` (`lock_not_available`, raised when
//! `lock_timeout` expires) is [`DriverErrorKind::LockTimeout`], which the
//! migrator retries with backoff; `57014` (`query_canceled`, e.g.
//! `statement_timeout`) is an ordinary statement failure; a missing database
//! (`3D000`), failed authentication (`28P01`, `28000`) and connection-class
//! errors (`08xxx`, shutdowns) are [`DriverErrorKind::Connection`]. Errors
//! that are not the server's (I/O, a closed connection, TLS) are connection
//! errors too.
//!
//! The tokio-postgres error is kept as the [`DriverError`]'s source, so a
//! caller can walk to it (and to the server's `DbError` beneath it).
//!
//! No message built here contains the password: tokio-postgres's own messages
//! never include it, URLs are shown through [`DatabaseUrl::redacted`], and as a
//! last line of defence connection errors are scrubbed of the URL's secrets; a
//! connection error whose source would show a secret keeps no source.

use cairn_core::url::DatabaseUrl;
use cairn_core::{DriverError, DriverErrorKind};
use tokio_postgres::error::{DbError, SqlState};

use crate::options::{ConnectOptions, Roots, SslMode};

/// Secrets shorter than this are not scrubbed from messages: replacing every
/// `a` in a message because the password is `a` would only garble it.
pub(crate) const MIN_SCRUBBED_LEN: usize = 4;

/// An error and its sources, joined with `: ` (tokio-postgres's `Display`
/// shows only the outermost layer, "error connecting to server").
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

/// The server's message with its DETAIL and HINT, as psql shows them.
fn server_message(db: &DbError) -> String {
    let mut text = db.message().to_owned();
    if let Some(detail) = db.detail() {
        text.push_str("\nDETAIL: ");
        text.push_str(detail);
    }
    if let Some(hint) = db.hint() {
        text.push_str("\nHINT: ");
        text.push_str(hint);
    }
    text
}

fn kind_of(code: &SqlState) -> DriverErrorKind {
    let code = code.code();
    match code {
        "55P03" => DriverErrorKind::LockTimeout,
        "3D000" | "28P01" | "28000" | "57P01" | "57P02" | "57P03" => DriverErrorKind::Connection,
        _ if code.starts_with("08") => DriverErrorKind::Connection,
        _ => DriverErrorKind::Statement,
    }
}

/// Maps an error from a statement on an open connection.
pub(crate) fn map_error(error: tokio_postgres::Error) -> DriverError {
    let mapped = match error.as_db_error() {
        Some(db) => {
            DriverError::new(kind_of(db.code()), server_message(db)).with_code(db.code().code())
        }
        None if error.is_closed() => DriverError::new(
            DriverErrorKind::Connection,
            "the connection to the PostgreSQL server was closed",
        ),
        None => DriverError::new(DriverErrorKind::Connection, chain(&error)),
    };
    mapped.with_source(error)
}

/// Maps an error from connecting: every failure is a connection error that
/// names the (redacted) URL, with advice where the cause is a known one.
pub(crate) fn connect_error(
    url: &DatabaseUrl,
    options: &ConnectOptions,
    error: tokio_postgres::Error,
) -> DriverError {
    let target = url.redacted();
    let mut out = match error.as_db_error() {
        Some(db) => DriverError::new(
            DriverErrorKind::Connection,
            format!("cannot connect to {target}: {}", server_message(db)),
        )
        .with_code(db.code().code()),
        None => {
            let cause = chain(&error);
            let advice = if cause.contains("server does not support TLS") {
                format!(
                    "; sslmode={} needs TLS but the server does not offer it: enable ssl on the server, or use sslmode=prefer or sslmode=disable",
                    options.ssl_mode.as_str()
                )
            } else if cause.contains("TLS handshake") {
                match (options.ssl_mode, &options.roots) {
                    (SslMode::VerifyCa | SslMode::VerifyFull, Some(Roots::File(path))) => {
                        format!("; the server's certificate was checked against the CA certificates in `{path}`")
                    }
                    (SslMode::VerifyCa | SslMode::VerifyFull, _) => {
                        "; the server's certificate was checked against the built-in Mozilla roots: name your CA with sslrootcert=/path/ca.pem".to_owned()
                    }
                    _ => String::new(),
                }
            } else {
                String::new()
            };
            DriverError::new(
                DriverErrorKind::Connection,
                format!("cannot connect to {target}: {cause}{advice}"),
            )
        }
    };
    if let Some(hint) = cairn_core::url::password_hint(url.expose()) {
        out.message.push_str("; ");
        out.message.push_str(hint);
    }
    out.message = scrub(&out.message, &options.secrets);
    if shows_a_secret(&error, &options.secrets) {
        out
    } else {
        out.with_source(error)
    }
}

/// Whether `error` or any of its sources shows one of `secrets` (those long
/// enough to be scrubbed) in its text.
pub(crate) fn shows_a_secret(
    error: &(dyn std::error::Error + 'static),
    secrets: &[String],
) -> bool {
    let text = chain(error);
    secrets
        .iter()
        .filter(|s| s.len() >= MIN_SCRUBBED_LEN)
        .any(|secret| text.contains(secret.as_str()))
}

/// Replaces every secret in `text` with `***`.
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= MIN_SCRUBBED_LEN) {
        text = text.replace(secret.as_str(), "***");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_choose_the_kind() {
        for (code, kind) in [
            ("55P03", DriverErrorKind::LockTimeout),
            ("57014", DriverErrorKind::Statement),
            ("3D000", DriverErrorKind::Connection),
            ("28P01", DriverErrorKind::Connection),
            ("28000", DriverErrorKind::Connection),
            ("08006", DriverErrorKind::Connection),
            ("42P01", DriverErrorKind::Statement),
            ("23505", DriverErrorKind::Statement),
        ] {
            assert_eq!(kind_of(&SqlState::from_code(code)), kind, "{code}");
        }
    }

    #[test]
    fn a_source_that_shows_a_secret_is_detected_through_the_chain() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error connecting to server")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let secrets = vec!["hunter2".to_owned(), "x".to_owned()];
        let leaky = Outer(std::io::Error::other("bad password hunter2"));
        assert!(shows_a_secret(&leaky, &secrets));
        let clean = Outer(std::io::Error::other("connection refused, x"));
        assert!(!shows_a_secret(&clean, &secrets));
    }

    #[test]
    fn scrubbing_hides_long_secrets_only() {
        let secrets = vec!["hunter2".to_owned(), "x".to_owned()];
        assert_eq!(scrub("x said hunter2", &secrets), "x said ***");
    }
}

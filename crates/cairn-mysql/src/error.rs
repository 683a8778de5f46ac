//! mysql_async errors as Cairn's [`DriverError`]s.
//!
//! The kind decides what the migrator does: a lock wait timeout, a deadlock
//! or a snapshot conflict (MariaDB 11.6+) is [`DriverErrorKind::LockTimeout`]
//! (retried with backoff), a refused login
//! or a missing database is [`DriverErrorKind::Connection`], any other server
//! error is [`DriverErrorKind::Statement`] with the error number and SQLSTATE
//! as its code. I/O and protocol errors mean the connection is gone.
//!
//! Messages are built here from the parts of the error, never from a URL, and
//! connection errors are scrubbed of the password as a last line of defence.
//! The mysql_async error is kept as the [`DriverError`]'s source, except for
//! a connection error whose text shows the password.

use cairn_core::{DriverError, DriverErrorKind};
use mysql_async::{Error, IoError, ServerError, UrlError};

use crate::options::SslMode;

/// `ER_LOCK_WAIT_TIMEOUT`: a row or metadata lock wait exceeded
/// `innodb_lock_wait_timeout` / `lock_wait_timeout`.
const LOCK_WAIT_TIMEOUT: u16 = 1205;
/// `ER_LOCK_DEADLOCK`: InnoDB chose this statement as a deadlock victim; the
/// statement did nothing and can be retried.
const DEADLOCK: u16 = 1213;
/// `ER_CHECKREAD`, "Record has changed since last read; try restarting
/// transaction": MariaDB 11.6+ (`innodb_snapshot_isolation`, on by default)
/// refuses to update a row that another session changed after this
/// transaction's snapshot. The transaction was rolled back and, like a
/// deadlock victim, is retried (a backfill batch under concurrent writers).
const SNAPSHOT_CONFLICT: u16 = 1020;

/// Server errors that mean "you cannot use this connection", not "this SQL is wrong".
const CONNECTION_ERRORS: &[u16] = &[
    1040, // ER_CON_COUNT_ERROR: too many connections
    1044, // ER_DBACCESS_DENIED_ERROR
    1045, // ER_ACCESS_DENIED_ERROR
    1049, // ER_BAD_DB_ERROR: unknown database
    1053, // ER_SERVER_SHUTDOWN
    1129, // ER_HOST_IS_BLOCKED
    1130, // ER_HOST_NOT_PRIVILEGED
    1927, // ER_CONNECTION_KILLED (MariaDB)
    3159, // ER_SECURE_TRANSPORT_REQUIRED (MySQL)
    4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL)
];

/// Errors that, from running a DDL statement again, can only mean that its
/// effect is already there: what it creates exists, what it drops is gone.
/// DDL is atomic on MariaDB 10.6+ and MySQL 8, so a statement whose first
/// clause is done is done. `ER_DUP_ENTRY` (1062) is not here: a duplicate
/// row says that a row with that key exists, not that this statement wrote it.
const ALREADY_DONE: &[u16] = &[
    1007, // ER_DB_CREATE_EXISTS
    1008, // ER_DB_DROP_EXISTS
    1050, // ER_TABLE_EXISTS_ERROR (tables and views)
    1051, // ER_BAD_TABLE_ERROR: DROP TABLE of an unknown table
    1060, // ER_DUP_FIELDNAME: the column exists
    1061, // ER_DUP_KEYNAME: the index exists
    1091, // ER_CANT_DROP_FIELD_OR_KEY: the column or index to drop is gone
    1304, // ER_SP_ALREADY_EXISTS
    1305, // ER_SP_DOES_NOT_EXIST
    1359, // ER_TRG_ALREADY_EXISTS
    1360, // ER_TRG_DOES_NOT_EXIST
    1826, // ER_FK_DUP_NAME: the foreign key exists
];

/// Whether `error` (as [`statement_error`] made it) is one of [`ALREADY_DONE`].
pub(crate) fn means_already_done(error: &DriverError) -> bool {
    error
        .code
        .as_deref()
        .and_then(|code| code.split(',').next())
        .and_then(|number| number.parse::<u16>().ok())
        .is_some_and(|number| ALREADY_DONE.contains(&number))
}

/// The code Cairn shows for a server error: `1146, SQLSTATE 42S02`.
fn code(error: &ServerError) -> String {
    format!("{}, SQLSTATE {}", error.code, error.state)
}

/// An error of a statement on an open connection.
pub(crate) fn statement_error(error: Error) -> DriverError {
    let mapped = match &error {
        Error::Server(server) => {
            let kind = if matches!(
                server.code,
                LOCK_WAIT_TIMEOUT | DEADLOCK | SNAPSHOT_CONFLICT
            ) {
                DriverErrorKind::LockTimeout
            } else if CONNECTION_ERRORS.contains(&server.code) {
                DriverErrorKind::Connection
            } else {
                DriverErrorKind::Statement
            };
            DriverError::new(kind, server.message.clone()).with_code(code(server))
        }
        Error::Io(io) => DriverError::new(
            DriverErrorKind::Connection,
            format!("connection to the server lost: {}", io_message(io)),
        ),
        Error::Driver(driver) => DriverError::new(
            DriverErrorKind::Connection,
            format!("MySQL protocol error: {driver}"),
        ),
        Error::Other(other) => DriverError::new(
            DriverErrorKind::Connection,
            format!("MySQL client error: {other}"),
        ),
        Error::Url(url) => DriverError::new(DriverErrorKind::Other, url_message(url)),
    };
    mapped.with_source(error)
}

/// An error while connecting to `shown` (a redacted URL). Every such error is
/// [`DriverErrorKind::Connection`]; `password` is scrubbed from the message.
pub(crate) fn connect_error(
    error: Error,
    shown: &str,
    mode: SslMode,
    tls: bool,
    password: Option<&str>,
) -> DriverError {
    let (why, code) = match &error {
        Error::Server(server) => (server.message.clone(), Some(code(server))),
        Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => (
            format!(
                "the server does not offer TLS, but ssl-mode={mode} requires it: enable TLS on the server, \
                 or use ssl-mode=preferred (TLS when offered) or ssl-mode=disabled"
            ),
            None,
        ),
        Error::Io(IoError::Tls(e)) => {
            (format!("TLS handshake failed with ssl-mode={mode}: {e}{}", verify_hint(mode)), None)
        }
        // tokio-rustls reports a rejected certificate as invalid data.
        Error::Io(IoError::Io(io)) if tls && io.kind() == std::io::ErrorKind::InvalidData => {
            (format!("TLS handshake failed with ssl-mode={mode}: {io}{}", verify_hint(mode)), None)
        }
        Error::Io(io) => (io_message(io), None),
        Error::Driver(driver) => (format!("MySQL protocol error: {driver}"), None),
        Error::Other(other) => (format!("MySQL client error: {other}"), None),
        Error::Url(url) => (url_message(url), None),
    };
    let message = scrub(format!("cannot connect to `{shown}`: {why}"), password);
    let mut mapped = DriverError::new(DriverErrorKind::Connection, message);
    if let Some(code) = code {
        mapped = mapped.with_code(code);
    }
    if shows(&error, password) {
        mapped
    } else {
        mapped.with_source(error)
    }
}

/// Whether `error` or one of its sources shows `password` in its text.
fn shows(error: &(dyn std::error::Error + 'static), password: Option<&str>) -> bool {
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return false;
    };
    let mut next = Some(error);
    while let Some(cause) = next {
        if cause.to_string().contains(password) {
            return true;
        }
        next = cause.source();
    }
    false
}

fn verify_hint(mode: SslMode) -> &'static str {
    match mode {
        SslMode::VerifyCa | SslMode::VerifyIdentity => {
            ": check that ssl-ca names the CA that signed the server's certificate \
             (without ssl-ca only public CAs are trusted), and for verify_identity that the certificate names the host in the URL"
        }
        _ => "",
    }
}

fn io_message(io: &IoError) -> String {
    match io {
        IoError::Io(e) => e.to_string(),
        IoError::Tls(e) => format!("TLS error: {e}"),
    }
}

/// What is wrong with a URL mysql_async refused, without the URL.
pub(crate) fn url_message(error: &UrlError) -> String {
    match error {
        UrlError::UnknownParameter { param } => format!(
            "unknown URL parameter `{param}`: Cairn reads ssl-mode and ssl-ca, and mysql_async the parameters its documentation lists"
        ),
        UrlError::InvalidParamValue { param, value } => format!("invalid value `{value}` for URL parameter `{param}`"),
        UrlError::Invalid => "the URL has no host: expected mysql://user:password@host:port/database".to_owned(),
        other => other.to_string(),
    }
}

/// `message` with every occurrence of `password` replaced by `***`.
pub(crate) fn scrub(message: String, password: Option<&str>) -> String {
    match password {
        Some(password) if !password.is_empty() && message.contains(password) => {
            message.replace(password, "***")
        }
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16, state: &str, message: &str) -> Error {
        Error::Server(ServerError {
            code,
            message: message.to_owned(),
            state: state.to_owned(),
        })
    }

    #[test]
    fn server_errors_map_to_kinds_with_codes() {
        for (code, kind) in [
            (1205, DriverErrorKind::LockTimeout),
            (1213, DriverErrorKind::LockTimeout),
            (1020, DriverErrorKind::LockTimeout),
            (1045, DriverErrorKind::Connection),
            (1049, DriverErrorKind::Connection),
            (1146, DriverErrorKind::Statement),
            (1064, DriverErrorKind::Statement),
        ] {
            let error = statement_error(server(code, "HY000", "boom"));
            assert_eq!(error.kind, kind, "{code}");
            assert_eq!(error.code, Some(format!("{code}, SQLSTATE HY000")));
            assert_eq!(error.message, "boom");
        }
    }

    #[test]
    fn only_errors_that_mean_already_done_confirm_a_statement() {
        for (code, done) in [
            (1050, true),
            (1061, true),
            (1091, true),
            (1062, false),
            (1146, false),
        ] {
            let error = statement_error(server(code, "42000", "boom"));
            assert_eq!(means_already_done(&error), done, "{code}");
        }
        let lost = DriverError::new(DriverErrorKind::Connection, "gone");
        assert!(!means_already_done(&lost));
    }

    #[test]
    fn connect_errors_name_the_redacted_url_and_never_the_password() {
        let error = connect_error(
            server(
                1045,
                "28000",
                "Access denied for user 'app' (password hunter2?)",
            ),
            "mysql://app:***@db/app",
            SslMode::Preferred,
            false,
            Some("hunter2"),
        );
        assert_eq!(error.kind, DriverErrorKind::Connection);
        assert!(
            error
                .message
                .starts_with("cannot connect to `mysql://app:***@db/app`: Access denied"),
            "{error}"
        );
        assert!(!error.to_string().contains("hunter2"), "{error}");
        // The server's error showed the password: it is not kept as the source.
        assert!(std::error::Error::source(&error).is_none());
    }

    #[test]
    fn errors_keep_the_client_error_as_their_source() {
        let error = statement_error(server(1146, "42S02", "Table 't' doesn't exist"));
        let source = std::error::Error::source(&error).expect("the client's error");
        assert!(
            source.to_string().contains("Table 't' doesn't exist"),
            "{source}"
        );
        let refused = connect_error(
            server(1045, "28000", "Access denied for user 'app'"),
            "mysql://app:***@db/app",
            SslMode::Preferred,
            false,
            Some("hunter2"),
        );
        assert!(std::error::Error::source(&refused).is_some());
    }
}

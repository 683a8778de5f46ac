//! sqlx errors as Cairn's [`DriverError`]s: the engine decides the kind and
//! code of a database error ([`crate::Backend::classify`]); an I/O, TLS or
//! protocol error, or a closed pool, means the connection is gone.
//!
//! sqlx's errors on an open connection carry no URL, so no password; the
//! sqlx error is kept as the [`DriverError`]'s source.

use cairn::{DriverError, DriverErrorKind};

use crate::Backend;

/// `error` as Cairn's error, for engine `DB`.
pub(crate) fn map<DB: Backend>(error: sqlx::Error) -> DriverError {
    let mapped = match &error {
        sqlx::Error::Database(database) => {
            let (kind, code) = DB::classify(database.as_ref());
            DriverError::new(kind, database.message()).with_code(code)
        }
        sqlx::Error::Io(io) => DriverError::new(
            DriverErrorKind::Connection,
            format!("connection to the {} server lost: {io}", DB::SERVER),
        ),
        sqlx::Error::Tls(tls) => DriverError::new(
            DriverErrorKind::Connection,
            format!("TLS error on the {} connection: {tls}", DB::SERVER),
        ),
        sqlx::Error::Protocol(why) => DriverError::new(
            DriverErrorKind::Connection,
            format!("{} protocol error: {why}", DB::SERVER),
        ),
        sqlx::Error::PoolTimedOut => DriverError::new(
            DriverErrorKind::Connection,
            "the sqlx pool gave no connection within its acquire timeout: every connection is in use (raise max_connections or acquire_timeout), or the server does not answer",
        ),
        sqlx::Error::PoolClosed => DriverError::new(
            DriverErrorKind::Connection,
            "the sqlx pool is closed: migrate before closing it",
        ),
        sqlx::Error::WorkerCrashed => DriverError::new(
            DriverErrorKind::Connection,
            format!("the sqlx {} connection's worker stopped", DB::SERVER),
        ),
        other => DriverError::new(DriverErrorKind::Other, format!("sqlx: {other}")),
    };
    mapped.with_source(error)
}

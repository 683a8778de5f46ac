//! `cairn drift`: applies every migration to an empty scratch database and
//! compares its schema with a live database's, so a change made by hand
//! (an index added in a console, a column dropped) shows as a difference.
//!
//! Both schemas are read with the same
//! [`IntrospectOptions`](crate::schema::IntrospectOptions) (Cairn's own
//! tables left out) and compared with [`schema::diff`]: the differences are
//! what the live database has that the migrations do not say, and back.

use crate::dialect::for_engine;
use crate::driver::Driver;
use crate::error::Error;
use crate::migrator::Migrator;
use crate::schema::{self, Difference};
use crate::url::DatabaseUrl;

use super::{ensure_empty, introspect_options};

/// Why [`drift`] could not compare.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriftError {
    /// The migrations did not apply to the scratch database.
    #[error("cannot apply the migrations to the scratch database: {source}")]
    Apply {
        /// The migration's error.
        #[source]
        source: Error,
    },
    /// Anything else: the scratch database is not empty, introspection failed.
    #[error(transparent)]
    Other(#[from] Error),
}

/// The scratch database `cairn drift` compares `live` with: `given` (which
/// must be of the live database's engine) or, where the dialect's databases
/// are files, `None` for a temporary one (see [`super::scratch`]).
pub fn scratch_for(
    live: &DatabaseUrl,
    given: Option<DatabaseUrl>,
) -> Result<Option<DatabaseUrl>, Error> {
    let engine = live.engine();
    let Some(given) = given else {
        let dialect = for_engine(engine);
        if dialect.databases_are_files() {
            return Ok(None);
        }
        let scheme = live.to_string();
        let scheme = scheme.split("://").next().unwrap_or(engine.as_str());
        return Err(Error::DriftNeedsScratch {
            engine,
            scheme: scheme.to_owned(),
        });
    };
    if given.engine() != engine {
        return Err(Error::ScratchEngine {
            scratch: given.to_string(),
            scratch_engine: given.engine(),
            live: live.to_string(),
            engine,
        });
    }
    Ok(Some(given))
}

/// Applies the migrations to the empty database behind `scratch` and
/// returns the differences from its schema to the one behind `live`.
///
/// Refuses, changing nothing, when the scratch database is not empty.
pub async fn drift(
    migrator: &Migrator,
    live: &mut dyn Driver,
    scratch: &mut dyn Driver,
) -> Result<Vec<Difference>, DriftError> {
    ensure_empty(migrator, scratch, "scratch database").await?;
    migrator
        .up(scratch, None)
        .await
        .map_err(|failure| DriftError::Apply {
            source: failure.error,
        })?;
    let options = introspect_options(migrator);
    let expected = schema::introspect(scratch, &options).await?;
    let found = schema::introspect(live, &options).await?;
    Ok(schema::diff(&expected, &found))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(raw: &str) -> DatabaseUrl {
        DatabaseUrl::parse(raw).expect("a URL")
    }

    #[test]
    fn a_scratch_database_is_needed_on_a_server() {
        let live = url("postgres://u:secret@h/app");
        let err = scratch_for(&live, None).unwrap_err().to_string();
        assert!(err.contains("pass --scratch-url postgres://"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        assert!(scratch_for(&url("sqlite://app.db"), None)
            .expect("a temporary file")
            .is_none());
        let given = url("postgres://u@h/scratch");
        assert_eq!(
            scratch_for(&live, Some(given.clone())).expect("given"),
            Some(given)
        );
        let err = scratch_for(&live, Some(url("sqlite://s.db")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("use a scratch database of the same engine"),
            "{err}"
        );
    }
}

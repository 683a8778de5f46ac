//! Scratch databases: created empty for one run, removed after it, whatever
//! the run's outcome (`cairn verify --engines`, `cairn drift` on SQLite).
//!
//! - Where the dialect's databases are files (SQLite): a file in a new
//!   temporary directory, deleted with it.
//! - Elsewhere: a database named `cairn_verify_<pid>_<n>`, created with the
//!   dialect's `CREATE DATABASE` on the server an admin URL names
//!   (`CAIRN_VERIFY_POSTGRES_URL`, `CAIRN_VERIFY_MYSQL_URL`: a server on which
//!   Cairn may create and drop databases), and dropped after the run.
//!
//! The core has no database client: the caller hands [`with_scratch`] a
//! [`Connect`] function that opens a driver for a URL. Nothing here starts a
//! server or a container; a developer or CI job points the variables at a
//! server it has.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use crate::dialect::for_engine;
use crate::driver::{Driver, DriverError};
use crate::engine::Engine;
use crate::error::Error;
use crate::history::quote_ident;
use crate::url::DatabaseUrl;

/// A driver being opened: what a [`Connect`] function returns.
pub type Connecting = Pin<Box<dyn Future<Output = Result<Box<dyn Driver>, DriverError>> + Send>>;

/// Opens a driver for a URL: how the caller (which links the drivers) lets
/// the core connect.
pub type Connect = dyn Fn(DatabaseUrl) -> Connecting + Sync;

/// The environment variable that names a server for scratch databases of
/// `engine`: `CAIRN_VERIFY_<ENGINE>_URL`.
pub fn server_variable(engine: Engine) -> String {
    format!("CAIRN_VERIFY_{}_URL", engine.as_str().to_ascii_uppercase())
}

/// Where scratch databases of one engine come from.
#[derive(Debug)]
pub enum Source {
    /// A temporary file (an engine whose databases are files).
    TemporaryFile,
    /// A server on which Cairn may create and drop databases.
    Server(DatabaseUrl),
}

/// Finds a source for every engine of `engines`, reading the server
/// variables through `var`, or says, for the first engine without one, how
/// to provide it. Nothing is created or connected to yet.
pub fn sources(
    engines: &[Engine],
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(Engine, Source)>, Error> {
    let mut out = Vec::new();
    for &engine in engines {
        let dialect = for_engine(engine);
        if dialect.databases_are_files() {
            out.push((engine, Source::TemporaryFile));
            continue;
        }
        let variable = server_variable(engine);
        let example = dialect.example_server_url();
        let Some(raw) = var(&variable).filter(|raw| !raw.is_empty()) else {
            return Err(Error::NoScratchServer {
                engine,
                variable: variable.to_string(),
                example,
            });
        };
        let url = DatabaseUrl::parse(&raw).map_err(|e| Error::BadScratchServer {
            variable: variable.to_string(),
            engine,
            problem: e.to_string(),
            example,
        })?;
        if url.engine() != engine {
            return Err(Error::ScratchServerEngine {
                variable: variable.to_string(),
                found: url.engine(),
                url: url.to_string(),
                engine,
                example,
            });
        }
        out.push((engine, Source::Server(url)));
    }
    Ok(out)
}

/// A database created for one run; [`Scratch::remove`] deletes it.
#[derive(Debug)]
pub struct Scratch {
    /// Where to connect to it.
    pub url: DatabaseUrl,
    /// For a server database: the admin URL and the database's name.
    server: Option<(DatabaseUrl, String)>,
    /// For a file: the temporary directory holding it.
    dir: Option<PathBuf>,
}

/// A name no other run uses: `<prefix>_<pid>_<nanoseconds>`.
fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000_000)
        .unwrap_or(0);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// `url` with its path (the database) replaced by `database`, the query kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{database}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

impl Scratch {
    /// Creates an empty database of `engine` from `source`; `what` names its
    /// use in file names (`verify`, `drift`).
    pub async fn create(
        engine: Engine,
        source: &Source,
        what: &str,
        connect: &Connect,
    ) -> Result<Scratch, Error> {
        match source {
            Source::TemporaryFile => {
                let dir = std::env::temp_dir().join(unique_name(&format!("cairn-{what}")));
                std::fs::create_dir(&dir).map_err(|cause| Error::Io {
                    path: dir.clone(),
                    cause,
                })?;
                let raw = format!("{engine}://{}", dir.join(format!("{what}.db")).display());
                let url = DatabaseUrl::parse(&raw).map_err(|e| Error::ScratchUrl {
                    url: raw.clone(),
                    problem: e.to_string(),
                    fix: "set TMPDIR to a plain directory".to_owned(),
                })?;
                Ok(Scratch {
                    url,
                    server: None,
                    dir: Some(dir),
                })
            }
            Source::Server(admin) => {
                let dialect = for_engine(engine);
                let variable = server_variable(engine);
                let name = unique_name(&format!("cairn_{what}"));
                let mut driver = connect(admin.clone()).await.map_err(|cause| {
                    Error::driver(
                        engine,
                        format!(
                            "cannot reach the {engine} server of {variable}: check that it runs and accepts this user"
                        ),
                        cause,
                    )
                })?;
                driver
                    .execute(&dialect.create_database(&quote_ident(engine, &name)))
                    .await
                    .map_err(|cause| {
                        Error::driver(
                            engine,
                            format!(
                                "cannot create the disposable database `{name}` on {admin}: the user of {variable} needs the right to create databases"
                            ),
                            cause,
                        )
                    })?;
                let raw = with_database(admin.expose(), &name);
                let url = DatabaseUrl::parse(&raw).map_err(|e| Error::ScratchUrl {
                    url: admin.to_string(),
                    problem: e.to_string(),
                    fix: format!("drop `{name}` by hand"),
                })?;
                Ok(Scratch {
                    url,
                    server: Some((admin.clone(), name)),
                    dir: None,
                })
            }
        }
    }

    /// Drops the database (a server database) or deletes the file's directory.
    pub async fn remove(self, connect: &Connect) -> Result<(), Error> {
        if let Some(dir) = &self.dir {
            return std::fs::remove_dir_all(dir).map_err(|cause| Error::Io {
                path: dir.clone(),
                cause,
            });
        }
        let Some((admin, name)) = self.server else {
            return Ok(());
        };
        let engine = admin.engine();
        let dialect = for_engine(engine);
        let sql = dialect.drop_database(&quote_ident(engine, &name));
        let hint =
            format!("cannot drop the disposable database `{name}` on {admin}: drop it by hand");
        let mut driver = connect(admin.clone())
            .await
            .map_err(|cause| Error::driver(engine, hint.clone(), cause))?;
        driver
            .execute(&sql)
            .await
            .map_err(|cause| Error::driver(engine, hint, cause))?;
        Ok(())
    }
}

/// What one run on a scratch database gave.
#[derive(Debug)]
pub struct ScratchRun<T, E = Error> {
    /// The scratch database (none when it could not be created).
    pub database: Option<DatabaseUrl>,
    /// What the run gave, or why the database could not be created or
    /// connected to.
    pub outcome: Result<T, E>,
    /// Why the database could not be removed afterwards, if it could not.
    pub removal: Option<Error>,
}

/// Creates a scratch database of `engine` from `source`, connects to it,
/// hands the connection to `run`, and removes the database afterwards, also
/// when `run` failed.
pub async fn with_scratch<T, E: From<Error>>(
    engine: Engine,
    source: &Source,
    what: &str,
    connect: &Connect,
    run: impl AsyncFnOnce(&mut dyn Driver) -> Result<T, E>,
) -> ScratchRun<T, E> {
    let scratch = match Scratch::create(engine, source, what, connect).await {
        Ok(scratch) => scratch,
        Err(error) => {
            return ScratchRun {
                database: None,
                outcome: Err(error.into()),
                removal: None,
            }
        }
    };
    let database = scratch.url.clone();
    let outcome = match connect(database.clone()).await {
        Ok(mut driver) => {
            let outcome = run(driver.as_mut()).await;
            // Closed before the drop, which would otherwise wait for it.
            drop(driver);
            outcome
        }
        Err(cause) => Err(Error::driver(
            engine,
            format!("cannot connect to the disposable database {database}"),
            cause,
        )
        .into()),
    };
    let removal = scratch.remove(connect).await.err();
    ScratchRun {
        database: Some(database),
        outcome,
        removal,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::driver::DriverErrorKind;

    #[test]
    fn the_database_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5/x?sslmode=disable"
        );
        assert_eq!(with_database("mysql://root@h", "x"), "mysql://root@h/x");
    }

    #[test]
    fn a_missing_server_names_the_variable_to_set() {
        let env = HashMap::from([(
            "CAIRN_VERIFY_POSTGRES_URL",
            "postgres://postgres@127.0.0.1/postgres",
        )]);
        let var = |key: &str| env.get(key).map(|v| (*v).to_owned());
        let found = sources(&[Engine::Sqlite, Engine::Postgres], &var).expect("sources");
        assert_eq!(found.len(), 2);
        assert!(matches!(found[0].1, Source::TemporaryFile));
        let err = sources(&[Engine::Postgres, Engine::Mysql], &var)
            .unwrap_err()
            .to_string();
        assert!(err.contains("set CAIRN_VERIFY_MYSQL_URL"), "{err}");
        assert!(err.contains("mysql://root@127.0.0.1:3306/mysql"), "{err}");
        let wrong = |_: &str| Some("sqlite://x.db".to_owned());
        let err = sources(&[Engine::Mysql], &wrong).unwrap_err().to_string();
        assert!(err.contains("must name a mysql server"), "{err}");
        let garbage = |_: &str| Some("oracle://x".to_owned());
        let err = sources(&[Engine::Postgres], &garbage)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CAIRN_VERIFY_POSTGRES_URL is not a usable database URL"),
            "{err}"
        );
    }

    #[test]
    fn server_variables_are_named_after_the_engine() {
        assert_eq!(
            server_variable(Engine::Postgres),
            "CAIRN_VERIFY_POSTGRES_URL"
        );
        assert_eq!(server_variable(Engine::Mysql), "CAIRN_VERIFY_MYSQL_URL");
    }

    fn refuse() -> Box<Connect> {
        Box::new(|url: DatabaseUrl| {
            Box::pin(async move {
                Err(DriverError::new(
                    DriverErrorKind::Connection,
                    format!("nothing listens at {url}"),
                ))
            })
        })
    }

    #[tokio::test]
    async fn an_unreachable_server_is_an_error_naming_the_variable() {
        let admin =
            DatabaseUrl::parse("postgres://admin:hunter2@127.0.0.1:1/postgres").expect("a URL");
        let run = with_scratch(
            Engine::Postgres,
            &Source::Server(admin),
            "verify",
            refuse().as_ref(),
            async |_driver: &mut dyn Driver| Ok::<(), Error>(()),
        )
        .await;
        assert!(run.database.is_none());
        assert!(run.removal.is_none());
        let err = run.outcome.unwrap_err().to_string();
        assert!(
            err.contains("cannot reach the postgres server of CAIRN_VERIFY_POSTGRES_URL"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn a_temporary_file_is_removed_even_when_the_run_fails() {
        let run = with_scratch(
            Engine::Sqlite,
            &Source::TemporaryFile,
            "verify",
            refuse().as_ref(),
            async |_driver: &mut dyn Driver| Ok::<(), Error>(()),
        )
        .await;
        let database = run.database.expect("a database was made");
        let path = database
            .expose()
            .strip_prefix("sqlite://")
            .expect("a file URL")
            .to_owned();
        let dir = std::path::Path::new(&path).parent().expect("its directory");
        assert!(!dir.exists(), "{} was left behind", dir.display());
        let err = run.outcome.unwrap_err().to_string();
        assert!(
            err.contains("cannot connect to the disposable database"),
            "{err}"
        );
        assert!(run.removal.is_none());
    }
}

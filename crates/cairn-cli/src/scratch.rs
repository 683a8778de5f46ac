//! Disposable databases for `cairn verify --engines`: one per engine, created
//! empty for the run and removed after it.
//!
//! - SQLite: a file in a temporary directory, deleted with it.
//! - PostgreSQL, MySQL/MariaDB: a database named `cairn_verify_<pid>_<n>`,
//!   created with `CREATE DATABASE` on the server that
//!   `CAIRN_VERIFY_POSTGRES_URL` / `CAIRN_VERIFY_MYSQL_URL` names (an admin
//!   URL on which Cairn may create and drop databases), and dropped after the
//!   run, whatever its outcome.
//!
//! The CLI starts no containers: a developer or CI job points the variables
//! at a server it has. (The test kit, `cairn_testkit::TestDatabase`, also
//! starts one through testcontainers; that is for tests.)

use anyhow::{bail, Context as _};
use cairn::history::quote_ident;
use cairn::url::DatabaseUrl;
use cairn::Engine;

use crate::config::Env;

/// The environment variable that names a server for disposable databases of `engine`.
pub fn server_variable(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "CAIRN_VERIFY_POSTGRES_URL",
        Engine::Mysql => "CAIRN_VERIFY_MYSQL_URL",
        Engine::Sqlite => "CAIRN_VERIFY_SQLITE_URL",
    }
}

/// Where disposable databases of one engine come from.
#[derive(Debug)]
pub enum Source {
    /// A temporary SQLite file.
    TemporaryFile,
    /// A server on which Cairn may create and drop databases.
    Server(DatabaseUrl),
}

/// Finds a source for every engine of `engines`, or says, for the first one
/// without, how to provide it. Nothing is created or connected to yet.
pub fn sources(engines: &[Engine], env: &dyn Env) -> anyhow::Result<Vec<(Engine, Source)>> {
    let mut out = Vec::new();
    for &engine in engines {
        if engine == Engine::Sqlite {
            out.push((engine, Source::TemporaryFile));
            continue;
        }
        let variable = server_variable(engine);
        let Some(raw) = env.var(variable) else {
            bail!(
                "cannot verify on {engine}: no {engine} server to create a disposable database on: \
                 set {variable} to a server URL on which Cairn may create and drop databases, e.g. {}, \
                 or leave {engine} out of --engines",
                example_url(engine)
            );
        };
        let url = DatabaseUrl::parse(&raw)
            .with_context(|| format!("{variable} is not a usable database URL"))?;
        if url.engine() != engine {
            bail!(
                "{variable} is a {} URL ({url}); it must name a {engine} server, e.g. {}",
                url.engine(),
                example_url(engine)
            );
        }
        out.push((engine, Source::Server(url)));
    }
    Ok(out)
}

fn example_url(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "postgres://postgres@127.0.0.1:5432/postgres",
        Engine::Mysql => "mysql://root@127.0.0.1:3306/mysql",
        Engine::Sqlite => "sqlite://scratch.db",
    }
}

/// A database created for one run; [`Disposable::remove`] deletes it.
#[derive(Debug)]
pub struct Disposable {
    /// Where to connect to it.
    pub url: DatabaseUrl,
    /// For a server database: the admin URL and the database's name.
    server: Option<(DatabaseUrl, String)>,
    /// For SQLite: the directory holding the file.
    _dir: Option<tempfile::TempDir>,
}

/// A database name no other run uses: `cairn_verify_<pid>_<nanoseconds>`.
fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000_000)
        .unwrap_or(0);
    format!("cairn_verify_{}_{nanos}", std::process::id())
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

impl Disposable {
    /// Creates an empty database of `engine` from `source`.
    pub async fn create(engine: Engine, source: &Source) -> anyhow::Result<Disposable> {
        match source {
            Source::TemporaryFile => {
                let dir = tempfile::Builder::new()
                    .prefix("cairn-verify-")
                    .tempdir()
                    .context("cannot create a temporary directory for the SQLite database")?;
                let raw = format!("sqlite://{}", dir.path().join("verify.db").display());
                Ok(Disposable {
                    url: DatabaseUrl::parse(&raw).context("the temporary SQLite URL")?,
                    server: None,
                    _dir: Some(dir),
                })
            }
            Source::Server(admin) => {
                let name = unique_name();
                let mut driver = crate::commands::connect(admin).await.with_context(|| {
                    format!(
                        "cannot reach the {engine} server of {}: check that it runs and accepts this user",
                        server_variable(engine)
                    )
                })?;
                driver
                    .execute(&format!("CREATE DATABASE {}", quote_ident(engine, &name)))
                    .await
                    .with_context(|| {
                        format!(
                            "cannot create the disposable database `{name}` on {admin}: the user of {} needs the right to create databases",
                            server_variable(engine)
                        )
                    })?;
                let url = DatabaseUrl::parse(&with_database(admin.expose(), &name))
                    .context("the disposable database's URL")?;
                Ok(Disposable {
                    url,
                    server: Some((admin.clone(), name)),
                    _dir: None,
                })
            }
        }
    }

    /// Drops the database (a server database) or deletes the file.
    pub async fn remove(self) -> anyhow::Result<()> {
        let Some((admin, name)) = self.server else {
            return Ok(());
        };
        let engine = admin.engine();
        let sql = match engine {
            // FORCE: a connection the driver has not quite closed yet must not block the drop.
            Engine::Postgres => format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(engine, &name)
            ),
            _ => format!("DROP DATABASE IF EXISTS {}", quote_ident(engine, &name)),
        };
        let mut driver = crate::commands::connect(&admin).await?;
        driver.execute(&sql).await.with_context(|| {
            format!("cannot drop the disposable database `{name}` on {admin}: drop it by hand")
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct FakeEnv(HashMap<&'static str, &'static str>);

    impl Env for FakeEnv {
        fn var(&self, key: &str) -> Option<String> {
            self.0.get(key).map(|v| (*v).to_owned())
        }
    }

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
        let env = FakeEnv(HashMap::from([(
            "CAIRN_VERIFY_POSTGRES_URL",
            "postgres://postgres@127.0.0.1/postgres",
        )]));
        let found = sources(&[Engine::Sqlite, Engine::Postgres], &env).expect("sources");
        assert_eq!(found.len(), 2);
        let err = sources(&[Engine::Postgres, Engine::Mysql], &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("CAIRN_VERIFY_MYSQL_URL"), "{err}");
        let wrong = FakeEnv(HashMap::from([("CAIRN_VERIFY_MYSQL_URL", "sqlite://x.db")]));
        let err = sources(&[Engine::Mysql], &wrong).unwrap_err().to_string();
        assert!(err.contains("must name a mysql server"), "{err}");
    }
}

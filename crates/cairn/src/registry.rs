//! `connect(url)`: which driver opens a URL, decided once, by its scheme.
//!
//! A [`Registry`] maps URL schemes (`postgres`, `sqlite`...) to [`Connector`]s.
//! [`Registry::default`] holds the drivers compiled into this build (features
//! `sqlite`, `postgres`, `mysql`); an outside crate adds its own scheme with
//! [`Registry::register`] (a `cockroach://` connector that opens the
//! PostgreSQL driver with its own defaults, say) without an edit here or in
//! core. A scheme whose driver this build leaves out is an error that names
//! the feature to enable, never a panic.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use cairn_core::url::redact;
use cairn_core::{Driver, DriverError};

/// Opens a connection for the URLs of the schemes it is registered for.
///
/// Object safe, so a [`Registry`] can hold connectors of any crate.
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    /// Connects to `url` (whose scheme is one this connector was registered
    /// for). The error must not contain a password: use
    /// [`cairn_core::url::redact`] when quoting the URL.
    async fn connect(&self, url: &str) -> Result<Box<dyn Driver>, DriverError>;
}

/// Why [`connect`] could not hand back a driver.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// No connector is registered for the URL's scheme.
    #[error("unknown database URL scheme `{scheme}` in `{url}`: use {known}")]
    UnknownScheme {
        /// The scheme found (empty when there was none).
        scheme: String,
        /// The URL, password removed.
        url: String,
        /// The schemes that are registered, as a list for people.
        known: String,
    },
    /// The scheme is one of Cairn's own drivers, left out of this build.
    #[error("`{url}` needs Cairn's {engine} driver, which this build leaves out: enable the `{feature}` feature of the `cairn` crate (cargo add cairn --features {feature})")]
    DriverNotCompiled {
        /// The scheme found.
        scheme: String,
        /// The URL, password removed.
        url: String,
        /// The engine the scheme names, for people.
        engine: &'static str,
        /// The feature of the `cairn` crate that adds the driver.
        feature: &'static str,
    },
    /// The driver was found and could not connect (its message names the URL).
    #[error(transparent)]
    Driver(#[from] DriverError),
}

/// Cairn's own schemes, the feature that compiles each one's driver, and
/// the engine's name.
const BUILT_IN: [(&str, &str, &str); 6] = [
    ("postgres", "postgres", "PostgreSQL"),
    ("postgresql", "postgres", "PostgreSQL"),
    ("mysql", "mysql", "MySQL/MariaDB"),
    ("mariadb", "mysql", "MySQL/MariaDB"),
    ("sqlite", "sqlite", "SQLite"),
    ("sqlite3", "sqlite", "SQLite"),
];

/// URL schemes and the connectors that open them.
#[derive(Clone)]
pub struct Registry {
    connectors: BTreeMap<String, Arc<dyn Connector>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("schemes", &self.connectors.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for Registry {
    /// The drivers compiled into this build, under all their schemes.
    fn default() -> Self {
        // Without a driver feature (cairn-sqlx links the facade so) nothing is registered.
        #[cfg_attr(
            not(any(feature = "postgres", feature = "mysql", feature = "sqlite")),
            allow(unused_mut)
        )]
        let mut registry = Registry::empty();
        #[cfg(feature = "postgres")]
        registry
            .register("postgres", builtin::Postgres)
            .register("postgresql", builtin::Postgres);
        #[cfg(feature = "mysql")]
        registry
            .register("mysql", builtin::Mysql)
            .register("mariadb", builtin::Mysql);
        #[cfg(feature = "sqlite")]
        registry
            .register("sqlite", builtin::Sqlite)
            .register("sqlite3", builtin::Sqlite);
        registry
    }
}

impl Registry {
    /// A registry that knows no scheme.
    pub fn empty() -> Self {
        Registry {
            connectors: BTreeMap::new(),
        }
    }

    /// Makes `connector` open URLs of `scheme` (without `://`, any case),
    /// replacing the connector registered for it before, if any.
    pub fn register(&mut self, scheme: &str, connector: impl Connector + 'static) -> &mut Registry {
        self.connectors
            .insert(scheme.to_ascii_lowercase(), Arc::new(connector));
        self
    }

    /// The registered schemes, sorted.
    pub fn schemes(&self) -> impl Iterator<Item = &str> {
        self.connectors.keys().map(String::as_str)
    }

    /// Connects to `url` with the connector of its scheme.
    pub async fn connect(&self, url: &str) -> Result<Box<dyn Driver>, ConnectError> {
        let url = url.trim();
        let scheme = url
            .split_once(':')
            .map_or("", |(scheme, _)| scheme)
            .to_ascii_lowercase();
        match self.connectors.get(&scheme) {
            Some(connector) => Ok(connector.connect(url).await?),
            None => Err(self.unknown(scheme, url)),
        }
    }

    fn unknown(&self, scheme: String, url: &str) -> ConnectError {
        let url = redact(url);
        if let Some((_, feature, engine)) = BUILT_IN.iter().find(|(s, ..)| *s == scheme) {
            return ConnectError::DriverNotCompiled {
                scheme,
                url,
                engine,
                feature,
            };
        }
        let known = if self.connectors.is_empty() {
            "a scheme with a registered connector (none is registered)".to_owned()
        } else {
            let schemes: Vec<String> = self.schemes().map(|s| format!("{s}://")).collect();
            format!("one of {}", schemes.join(", "))
        };
        ConnectError::UnknownScheme { scheme, url, known }
    }
}

/// Connects to `url` with the drivers compiled into this build
/// ([`Registry::default`]).
pub async fn connect(url: &str) -> Result<Box<dyn Driver>, ConnectError> {
    Registry::default().connect(url).await
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod builtin {
    //! Cairn's own drivers as connectors.

    use cairn_core::url::DatabaseUrl;
    use cairn_core::{Driver, DriverError, DriverErrorKind};

    /// The URL as core parses it; the registry only sends built-in schemes here.
    #[cfg_attr(
        not(all(feature = "sqlite", feature = "postgres", feature = "mysql")),
        allow(dead_code, reason = "used by the drivers compiled in")
    )]
    fn parse(url: &str) -> Result<DatabaseUrl, DriverError> {
        DatabaseUrl::parse(url).map_err(|e| DriverError::new(DriverErrorKind::Other, e.to_string()))
    }

    #[cfg(feature = "postgres")]
    #[derive(Debug)]
    pub(super) struct Postgres;

    #[cfg(feature = "postgres")]
    #[async_trait::async_trait]
    impl super::Connector for Postgres {
        async fn connect(&self, url: &str) -> Result<Box<dyn Driver>, DriverError> {
            Ok(Box::new(
                cairn_postgres::PgDriver::connect(&parse(url)?).await?,
            ))
        }
    }

    #[cfg(feature = "mysql")]
    #[derive(Debug)]
    pub(super) struct Mysql;

    #[cfg(feature = "mysql")]
    #[async_trait::async_trait]
    impl super::Connector for Mysql {
        async fn connect(&self, url: &str) -> Result<Box<dyn Driver>, DriverError> {
            Ok(Box::new(
                cairn_mysql::MySqlDriver::connect(&parse(url)?).await?,
            ))
        }
    }

    #[cfg(feature = "sqlite")]
    #[derive(Debug)]
    pub(super) struct Sqlite;

    #[cfg(feature = "sqlite")]
    #[async_trait::async_trait]
    impl super::Connector for Sqlite {
        async fn connect(&self, url: &str) -> Result<Box<dyn Driver>, DriverError> {
            Ok(Box::new(
                cairn_sqlite::SqliteDriver::connect(&parse(url)?).await?,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An outside driver's connector: `memo://<path>` opens a SQLite file.
    #[cfg(feature = "sqlite")]
    struct Memo;

    #[cfg(feature = "sqlite")]
    #[async_trait::async_trait]
    impl Connector for Memo {
        async fn connect(&self, url: &str) -> Result<Box<dyn Driver>, DriverError> {
            let path = url.trim_start_matches("memo://");
            Registry::default()
                .connect(&format!("sqlite://{path}"))
                .await
                .map_err(|e| DriverError::new(cairn_core::DriverErrorKind::Other, e.to_string()))
        }
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn an_outside_crate_adds_a_scheme() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("memo://{}", dir.path().join("m.db").display());
        let mut registry = Registry::default();
        assert!(matches!(
            registry.connect(&url).await,
            Err(ConnectError::UnknownScheme { .. })
        ));
        registry.register("MEMO", Memo);
        let mut driver = registry.connect(&url).await.expect("memo connects");
        assert_eq!(driver.dialect().engine(), cairn_core::Engine::Sqlite);
        driver.execute("CREATE TABLE t (id INTEGER)").await.unwrap();
        assert!(dir.path().join("m.db").exists());
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn the_default_registry_opens_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        for scheme in ["sqlite", "SQLite3"] {
            let url = format!("{scheme}://{}", dir.path().join("a.db").display());
            let driver = connect(&url).await.expect("sqlite opens");
            assert_eq!(driver.dialect().engine(), cairn_core::Engine::Sqlite);
        }
    }

    #[tokio::test]
    async fn an_unknown_scheme_lists_the_known_ones_without_the_password() {
        let err = Registry::default()
            .connect("oracle://scott:tiger@db/x")
            .await
            .map(|_| ())
            .expect_err("oracle is unknown");
        let message = err.to_string();
        assert!(
            message.starts_with("unknown database URL scheme `oracle`"),
            "{message}"
        );
        assert!(!message.contains("tiger"), "{message}");
        #[cfg(feature = "sqlite")]
        assert!(message.contains("sqlite://"), "{message}");

        let err = Registry::empty()
            .connect("x")
            .await
            .map(|_| ())
            .expect_err("empty");
        assert!(err.to_string().contains("none is registered"), "{err}");
    }

    #[tokio::test]
    async fn a_driver_left_out_names_the_feature_to_enable() {
        // An empty registry stands for a build without any driver feature.
        let err = Registry::empty()
            .connect("postgresql://app:secret@db/app")
            .await
            .map(|_| ())
            .expect_err("no postgres connector");
        let message = err.to_string();
        assert!(
            matches!(
                err,
                ConnectError::DriverNotCompiled {
                    feature: "postgres",
                    ..
                }
            ),
            "{message}"
        );
        assert!(
            message.contains("enable the `postgres` feature of the `cairn` crate"),
            "{message}"
        );
        assert!(!message.contains("secret"), "{message}");
        let err = Registry::empty()
            .connect("mariadb://root@db/x")
            .await
            .map(|_| ())
            .expect_err("no mysql connector");
        assert!(err.to_string().contains("`mysql` feature"), "{err}");
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_failed_connection_keeps_the_drivers_error() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=ro",
            dir.path().join("missing.db").display()
        );
        let err = connect(&url)
            .await
            .map(|_| ())
            .expect_err("a missing file in ro mode");
        assert!(matches!(err, ConnectError::Driver(_)), "{err}");
    }
}

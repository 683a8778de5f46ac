//! The Mysql family's dialect.

use std::sync::Arc;

use super::{Dialect, Flavour, ServerVersion};
use crate::engine::Engine;

mod bookkeeping;
pub mod lock;
mod online;
mod schema;

/// The dialect of a Mysql-family server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MysqlDialect {
    flavour: Flavour,
    version: Option<ServerVersion>,
}

impl MysqlDialect {
    /// The family's main product, version unknown.
    pub const DEFAULT: MysqlDialect = MysqlDialect {
        flavour: Flavour::Mysql,
        version: None,
    };

    /// The dialect of a server of `flavour` at `version`.
    pub fn new(flavour: Flavour, version: Option<ServerVersion>) -> Self {
        MysqlDialect { flavour, version }
    }

    /// The dialect of the server whose `SELECT VERSION()` says `text`:
    /// MariaDB's version contains `MariaDB` (`10.11.6-MariaDB-0+deb12u1`),
    /// anything else is MySQL. Drivers call it once, at connect.
    pub fn from_version(text: &str) -> Self {
        let flavour = if text.contains("MariaDB") {
            Flavour::MariaDb
        } else {
            Flavour::Mysql
        };
        MysqlDialect::new(flavour, Some(ServerVersion::parse(text)))
    }
}

impl Dialect for MysqlDialect {
    fn engine(&self) -> Engine {
        Engine::Mysql
    }

    fn flavour(&self) -> Flavour {
        self.flavour
    }

    fn server_version(&self) -> Option<&ServerVersion> {
        self.version.as_ref()
    }

    fn shared(&self) -> Arc<dyn Dialect> {
        Arc::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flavour_is_read_from_the_version_text() {
        let maria = MysqlDialect::from_version("10.11.6-MariaDB-0+deb12u1");
        assert_eq!(maria.flavour(), Flavour::MariaDb);
        assert_eq!(maria.server_version().map(|v| v.numbers), Some((10, 11, 6)));
        let mysql = MysqlDialect::from_version("8.0.36");
        assert_eq!(mysql.flavour(), Flavour::Mysql);
        assert_eq!(mysql.engine(), Engine::Mysql);
    }
}

//! The Mysql family's dialect.

use super::{Dialect, Flavour, ServerVersion};
use crate::engine::Engine;

mod bookkeeping;
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
}

//! The Sqlite family's dialect.

use std::sync::Arc;

use super::{Dialect, Flavour, ServerVersion};
use crate::engine::Engine;

mod bookkeeping;
mod online;
mod schema;

/// The dialect of a Sqlite-family server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteDialect {
    flavour: Flavour,
    version: Option<ServerVersion>,
}

impl SqliteDialect {
    /// The family's main product, version unknown.
    pub const DEFAULT: SqliteDialect = SqliteDialect {
        flavour: Flavour::Sqlite,
        version: None,
    };

    /// The dialect of a server of `flavour` at `version`.
    pub fn new(flavour: Flavour, version: Option<ServerVersion>) -> Self {
        SqliteDialect { flavour, version }
    }
}

impl Dialect for SqliteDialect {
    fn engine(&self) -> Engine {
        Engine::Sqlite
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

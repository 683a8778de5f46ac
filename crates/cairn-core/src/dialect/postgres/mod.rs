//! The Postgres family's dialect.

use std::sync::Arc;

use super::{Dialect, Flavour, ServerVersion};
use crate::engine::Engine;

mod bookkeeping;
mod online;
mod schema;

/// The dialect of a Postgres-family server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresDialect {
    flavour: Flavour,
    version: Option<ServerVersion>,
}

impl PostgresDialect {
    /// The family's main product, version unknown.
    pub const DEFAULT: PostgresDialect = PostgresDialect {
        flavour: Flavour::Postgres,
        version: None,
    };

    /// The dialect of a server of `flavour` at `version`.
    pub fn new(flavour: Flavour, version: Option<ServerVersion>) -> Self {
        PostgresDialect { flavour, version }
    }
}

impl Dialect for PostgresDialect {
    fn engine(&self) -> Engine {
        Engine::Postgres
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

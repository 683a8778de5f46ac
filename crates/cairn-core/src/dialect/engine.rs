//! The SQL engines Cairn knows, as dialect families.
//!
//! An [`Engine`] names a *dialect family*, not a product: it decides which
//! `up.<engine>.sql` override applies, how statements are split and how the
//! history table is written. A driver for another product that speaks one of
//! these dialects (CockroachDB speaks PostgreSQL, MySQL 8 and MariaDB both speak
//! MySQL) reports the family it speaks.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A SQL dialect family.
///
/// Non-exhaustive: a family may be added, so code outside this crate that
/// needs an engine's facts asks its [`Dialect`](crate::Dialect) rather than
/// matching on the family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Engine {
    /// PostgreSQL and the products that speak its dialect.
    Postgres,
    /// MySQL 8 and MariaDB 10.11+.
    Mysql,
    /// SQLite 3.
    Sqlite,
}

impl Engine {
    /// Every engine, in the order reports list them.
    pub const ALL: [Engine; 3] = [Engine::Postgres, Engine::Mysql, Engine::Sqlite];

    /// The name used in file names (`up.postgres.sql`) and directives.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
            Engine::Sqlite => "sqlite",
        }
    }

    /// The family a database URL's scheme names (`postgres`, `postgresql`,
    /// `mysql`, `mariadb`, `sqlite`, `sqlite3`; case-insensitive), or `None`.
    pub fn from_scheme(scheme: &str) -> Option<Engine> {
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(Engine::Postgres),
            "mysql" | "mariadb" => Some(Engine::Mysql),
            "sqlite" | "sqlite3" => Some(Engine::Sqlite),
            _ => None,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a name that is no engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown engine `{0}`: expected one of postgres, mysql, sqlite")]
pub struct UnknownEngine(pub String);

impl FromStr for Engine {
    type Err = UnknownEngine;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Ok(Engine::Postgres),
            "mysql" | "mariadb" => Ok(Engine::Mysql),
            "sqlite" | "sqlite3" => Ok(Engine::Sqlite),
            _ => Err(UnknownEngine(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for engine in Engine::ALL {
            assert_eq!(engine.as_str().parse::<Engine>(), Ok(engine));
        }
        assert_eq!("MariaDB".parse::<Engine>(), Ok(Engine::Mysql));
        assert!("oracle".parse::<Engine>().is_err());
    }

    #[test]
    fn schemes_name_their_family() {
        assert_eq!(Engine::from_scheme("PostgreSQL"), Some(Engine::Postgres));
        assert_eq!(Engine::from_scheme("mariadb"), Some(Engine::Mysql));
        assert_eq!(Engine::from_scheme("sqlite3"), Some(Engine::Sqlite));
        assert_eq!(Engine::from_scheme("pg"), None);
        assert_eq!(Engine::from_scheme(""), None);
    }
}

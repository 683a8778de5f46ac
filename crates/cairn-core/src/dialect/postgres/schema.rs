//! Reading and rebuilding a schema on the Postgres family.

use super::PostgresDialect;
use crate::dialect::Schema;

impl Schema for PostgresDialect {}

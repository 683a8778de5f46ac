//! Reading and rebuilding a schema on the Sqlite family.

use super::SqliteDialect;
use crate::dialect::Schema;

impl Schema for SqliteDialect {}

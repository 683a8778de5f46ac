//! Reading and rebuilding a schema on the Mysql family.

use super::MysqlDialect;
use crate::dialect::Schema;

impl Schema for MysqlDialect {}

//! Cairn's bookkeeping SQL on the Mysql family.

use super::MysqlDialect;
use crate::dialect::Bookkeeping;

impl Bookkeeping for MysqlDialect {}

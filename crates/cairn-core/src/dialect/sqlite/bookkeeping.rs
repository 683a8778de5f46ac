//! Cairn's bookkeeping SQL on the Sqlite family.

use super::SqliteDialect;
use crate::dialect::Bookkeeping;

impl Bookkeeping for SqliteDialect {}

//! Cairn's bookkeeping SQL on the Postgres family.

use super::PostgresDialect;
use crate::dialect::Bookkeeping;

impl Bookkeeping for PostgresDialect {}

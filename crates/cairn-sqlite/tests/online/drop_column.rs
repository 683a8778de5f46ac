//! `drop_column` on SQLite.

use super::*;

//! `add_column` on SQLite.

use super::*;

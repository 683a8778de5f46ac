//! cairn-sqlx's integration tests: the conformance suite through sqlx on
//! SQLite (always), PostgreSQL and MySQL/MariaDB (feature `servers`), and
//! the start-up example on each.

#[allow(dead_code)] // its `main` is the example's, not the tests'
#[path = "../examples/startup/main.rs"]
mod startup;

mod common;
#[cfg(feature = "servers")]
mod postgres;
mod sqlite;

#[cfg(feature = "servers")]
mod mysql;

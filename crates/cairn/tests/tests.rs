//! The facade's integration tests: one binary, one module per area.
//!
//! - `testing`: the test kit for users (`cairn::testing`) on every engine —
//!   SQLite always, PostgreSQL and MySQL/MariaDB with `--features servers`.
//! - `embed`: `cairn::embed_migrations!` on the example project.

mod embed;
mod testing;

//! Knex: migrations are code Cairn cannot run; its `knex_migrations` history table is adopted as the baseline.

pub mod history;

//! TypeORM: migrations are code Cairn cannot run; its `migrations` history table is adopted as the baseline.

pub mod history;

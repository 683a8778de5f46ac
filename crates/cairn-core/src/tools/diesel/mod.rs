//! diesel: `YYYY-MM-DD-HHMMSS[-XXXX]_<name>/up.sql`, `down.sql`, `metadata.toml`, the `00000000000000_diesel_initial_setup` folder; history table `__diesel_schema_migrations`.

pub mod history;

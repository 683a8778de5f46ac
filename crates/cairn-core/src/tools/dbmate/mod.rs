//! dbmate: one `<version>_<name>.sql` with `-- migrate:up` / `-- migrate:down` sections; history table `schema_migrations` (version).

pub mod history;

//! golang-migrate: `<version>_<name>.up.sql`/`.down.sql`, files with their own `BEGIN;`/`COMMIT;`; history table `schema_migrations` (version, dirty).

pub mod history;

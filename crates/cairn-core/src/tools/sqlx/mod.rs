//! sqlx: `<version>_<name>.up.sql`/`.down.sql` or an up-only `<version>_<name>.sql`, `-- no-transaction`; history table `_sqlx_migrations` (SHA-384 checksums).

pub mod history;

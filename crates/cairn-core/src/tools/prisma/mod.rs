//! Prisma Migrate: `prisma/migrations/<timestamp>_<name>/migration.sql`, `migration_lock.toml`; history table `_prisma_migrations` (SHA-256 checksums).

pub mod history;

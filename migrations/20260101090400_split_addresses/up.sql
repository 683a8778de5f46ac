-- Expand: the parts of an address, filled by the backfill in migration.toml
-- (the `us_address` data migration). Nullable, so the application keeps
-- writing `address` alone while the backfill runs; rows it cannot parse stay NULL.
ALTER TABLE addresses ADD COLUMN street VARCHAR(255);
ALTER TABLE addresses ADD COLUMN city VARCHAR(100);
ALTER TABLE addresses ADD COLUMN state CHAR(2);
ALTER TABLE addresses ADD COLUMN zip_code VARCHAR(10);

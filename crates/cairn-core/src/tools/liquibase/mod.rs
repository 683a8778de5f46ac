//! Liquibase formatted SQL: `--liquibase formatted sql` files of `--changeset author:id` with `--rollback`; history table `databasechangelog` (MD5 checksums).

pub mod history;

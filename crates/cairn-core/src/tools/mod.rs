//! The migration tools teams switch from, one module each: how the tool
//! lays out and runs its files (read in place by [`crate::source`]) and, in
//! its `history` submodule, how `cairn adopt --from <tool>` imports the
//! history table the tool wrote (see docs/adopting.md).

pub mod dbmate;
pub mod diesel;
pub mod flyway;
pub mod golang_migrate;
pub mod knex;
pub mod liquibase;
pub mod prisma;
pub mod rails;
pub mod refinery;
pub mod sqlx;
pub mod typeorm;

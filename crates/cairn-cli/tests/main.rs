//! The one integration test binary of the CLI: the built `cairn` binary run
//! end to end, one module per suite, sharing [`support`].
//!
//! Every suite runs on SQLite. The PostgreSQL and MySQL/MariaDB modules of
//! each suite (`mod postgres`, `mod mysql`, and the suites that need a server
//! of each engine) are compiled only with the `servers` feature
//! (`just test` sets it); once compiled, a missing server fails them with
//! instructions, nothing is skipped. See docs/testing.md.
//!
//! The suites live here, in cairn-cli, because only an integration test of
//! the package that builds the binary gets its path (`CARGO_BIN_EXE_cairn`)
//! and a guarantee that it is built first.
#![cfg_attr(
    not(feature = "servers"),
    allow(
        dead_code,
        unused_imports,
        unused_macros,
        reason = "helpers used only by the PostgreSQL and MySQL modules"
    )
)]

mod support;

mod adopt;
mod backfill;
mod cli;
mod conveniences;
mod crash;
mod e2e;
mod flyway;
mod json;
mod layouts;
mod lockq;
mod online;
mod online_crash;
mod recovery;

//! Cairn's dialect-neutral core.
#![forbid(unsafe_code)]

pub mod engine;
pub mod split;

pub use engine::Engine;

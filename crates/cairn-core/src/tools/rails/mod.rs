//! Rails (Active Record migrations): Ruby code in `db/migrate/<version>_<name>.rb`,
//! which Cairn cannot run; only its history is adopted, in the `history` submodule.

pub mod history;

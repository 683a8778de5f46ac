//! What Cairn reads of and writes to the user's schema: catalog queries
//! (introspection into a `Snapshot`), the snapshot written back as DDL, seed
//! literals, scratch databases (create, drop, relaxed durability).

/// The SQL Cairn uses to read and rebuild a schema on one product.
pub trait Schema {}

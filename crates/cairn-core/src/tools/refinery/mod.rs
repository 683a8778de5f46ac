//! refinery: Flyway's `V<version>__<name>.sql` names (versions are integers); history table `refinery_schema_history` with SipHash checksums.
//!
//! The layout side is Flyway's grammar, read by [`crate::tools::flyway`]:
//! refinery's integer versions are a subset of Flyway's. refinery's `U`
//! prefix means an *unversioned* migration (applied out of order), not an
//! undo script; Cairn reads `U` files as Flyway undo scripts, and a `U` file
//! without a `V` file of its version is refused with a hint saying so.

pub mod history;

//! refinery: Flyway's `V<version>__<name>.sql` names (versions are integers); history table `refinery_schema_history` with SipHash checksums.

pub mod history;

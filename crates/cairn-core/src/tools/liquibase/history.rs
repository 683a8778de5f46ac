//! How `cairn adopt --from liquibase` reads the history table this tool wrote.

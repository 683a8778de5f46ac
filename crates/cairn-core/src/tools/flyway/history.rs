//! How `cairn adopt --from flyway` reads the history table this tool wrote.

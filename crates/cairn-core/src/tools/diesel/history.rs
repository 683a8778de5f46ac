//! How `cairn adopt --from diesel` reads the history table this tool wrote.

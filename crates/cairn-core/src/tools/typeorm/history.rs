//! How `cairn adopt --from typeorm` reads the history table this tool wrote.

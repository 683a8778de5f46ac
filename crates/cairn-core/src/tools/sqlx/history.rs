//! How `cairn adopt --from sqlx` reads the history table this tool wrote.

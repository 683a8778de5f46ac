//! How `cairn adopt --from golang-migrate` reads the history table this tool wrote.

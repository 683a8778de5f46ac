//! How `cairn adopt --from refinery` reads the history table this tool wrote.

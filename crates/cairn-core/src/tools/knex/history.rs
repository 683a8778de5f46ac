//! How `cairn adopt --from knex` reads the history table this tool wrote.

//! How `cairn adopt --from dbmate` reads the history table this tool wrote.

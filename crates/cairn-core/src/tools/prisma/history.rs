//! How `cairn adopt --from prisma` reads the history table this tool wrote.

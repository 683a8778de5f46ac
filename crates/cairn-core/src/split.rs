//! Splitting SQL scripts into statements (placeholder; being written).

-- SQLite builds the index in a short write transaction.
CREATE INDEX orders_status_idx ON orders (status);

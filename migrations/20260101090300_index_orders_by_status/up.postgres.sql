-- cairn:no-transaction
-- cairn:lock-timeout 5s
-- On PostgreSQL, build the index without blocking writes to orders.
-- CONCURRENTLY cannot run inside a transaction, hence the directive.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_status_idx ON orders (status);

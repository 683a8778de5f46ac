-- On MySQL/MariaDB, online DDL: writes to orders continue during the build.
CREATE INDEX orders_status_idx ON orders (status) ALGORITHM=INPLACE LOCK=NONE;

//! Flyway (and refinery's shared `V<version>__<name>.sql` grammar): dotted versions, repeatable `R__` files, `U` undo files, statements Flyway runs outside a transaction; history table `flyway_schema_history`.

pub mod history;

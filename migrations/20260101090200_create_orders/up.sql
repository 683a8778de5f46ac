CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    shipping_address_id INTEGER,
    total_cents BIGINT NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'pending',
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT orders_shipping_address_id_fkey FOREIGN KEY (shipping_address_id) REFERENCES addresses (id) ON DELETE SET NULL,
    CONSTRAINT orders_total_cents_check CHECK (total_cents >= 0)
);

CREATE INDEX orders_user_id_created_at_idx ON orders (user_id, created_at);

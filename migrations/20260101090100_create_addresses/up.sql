-- Postal addresses as users typed them ("123 Main St, New York, NY 10001");
-- a later data migration splits them into street, city, state and zip code.
CREATE TABLE addresses (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    address VARCHAR(500) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT addresses_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE INDEX addresses_user_id_idx ON addresses (user_id);

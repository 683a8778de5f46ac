ALTER TABLE addresses DROP COLUMN zip_code;
ALTER TABLE addresses DROP COLUMN state;
ALTER TABLE addresses DROP COLUMN city;
ALTER TABLE addresses DROP COLUMN street;

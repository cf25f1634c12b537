-- 0002, PostgreSQL part: samples gets an explicit ordering column (existing rows are
-- numbered as the column is added).

ALTER TABLE samples ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY;

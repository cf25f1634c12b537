-- 0002, SQLite part: samples gets an explicit ordering column. An INTEGER PRIMARY KEY
-- is SQLite's row id under a name, so the table is rebuilt with the old row ids kept.

CREATE TABLE samples_with_seq (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    series TEXT NOT NULL,
    entity TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    ts DOUBLE PRECISION NOT NULL,
    value DOUBLE PRECISION NOT NULL
);
INSERT INTO samples_with_seq (seq, key, series, entity, labels, ts, value)
SELECT rowid, key, series, entity, labels, ts, value FROM samples;
DROP TABLE samples;
ALTER TABLE samples_with_seq RENAME TO samples;
CREATE INDEX samples_key_ts ON samples (key, ts);
CREATE INDEX samples_entity_ts ON samples (entity, ts);
CREATE INDEX samples_ts ON samples (ts);

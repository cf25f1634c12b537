-- 0009, SQLite: a series is (entity, key): two services each have a service.rss_bytes,
-- so their hourly roll-ups need the entity in the key. SQLite cannot change a primary
-- key in place: the table is rebuilt with its rows.

CREATE TABLE samples_hourly_by_entity (
    key TEXT NOT NULL,
    series TEXT NOT NULL,
    entity TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    hour DOUBLE PRECISION NOT NULL,
    min_value DOUBLE PRECISION NOT NULL,
    max_value DOUBLE PRECISION NOT NULL,
    sum_value DOUBLE PRECISION NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key, entity, hour)
);
INSERT INTO samples_hourly_by_entity SELECT
    key, series, entity, labels, hour, min_value, max_value, sum_value, count
FROM samples_hourly;
DROP TABLE samples_hourly;
ALTER TABLE samples_hourly_by_entity RENAME TO samples_hourly;
CREATE INDEX samples_hourly_hour ON samples_hourly (hour);

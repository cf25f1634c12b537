-- 0002 hourly roll-ups of samples, and indexes for the decision analytics. Portable
-- part; 0002_rollups.<dialect>.sql gives samples its ordering column.

-- One row per series per clock hour; "hour" is the start of the hour in epoch seconds.
-- The mean is sum_value / count, so roll-ups could be merged exactly.
CREATE TABLE samples_hourly (
    key TEXT NOT NULL,
    series TEXT NOT NULL,
    entity TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    hour DOUBLE PRECISION NOT NULL,
    min_value DOUBLE PRECISION NOT NULL,
    max_value DOUBLE PRECISION NOT NULL,
    sum_value DOUBLE PRECISION NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key, hour)
);
CREATE INDEX samples_hourly_hour ON samples_hourly (hour);

-- How far each roll-up has got: every hour before rolled_until is done (no row: none).
CREATE TABLE rollup_marks (
    name TEXT PRIMARY KEY,
    rolled_until DOUBLE PRECISION NOT NULL
);

-- Newest-first listing breaks ties by id; filters by entity and time are common.
DROP INDEX decisions_ts;
CREATE INDEX decisions_ts_id ON decisions (ts, id);
CREATE INDEX decisions_entity_ts ON decisions (entity, ts);

-- 0008 learned detector state, SQLite part (0008_detector_state.postgresql.sql says the
-- same with BYTEA). One row per detector name: the newest snapshot of what it learned,
-- as opaque bytes in the detector's own format, with that format's version, so an agent
-- starts where the last one stopped instead of warming up again.

CREATE TABLE detector_state (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    state BLOB NOT NULL,
    saved_at DOUBLE PRECISION NOT NULL
);

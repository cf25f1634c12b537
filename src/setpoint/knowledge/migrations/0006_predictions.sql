-- 0006 predictions, portable: SQLite and PostgreSQL run this file as is.
-- Every OOM prediction and how it turned out (pending until settled once), and the
-- predictor's settings (the confidence threshold `setpoint crash tune` sets).

CREATE TABLE predictions (
    id TEXT PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    entity TEXT NOT NULL,
    domain TEXT NOT NULL,
    risk TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    eta DOUBLE PRECISION NOT NULL,
    eta_low DOUBLE PRECISION NOT NULL,
    eta_high DOUBLE PRECISION,
    deadline DOUBLE PRECISION NOT NULL,
    outcome TEXT NOT NULL CHECK (
        outcome IN ('pending', 'confirmed', 'averted', 'false_alarm', 'unpredicted')
    ),
    outcome_ts DOUBLE PRECISION,
    evidence TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX predictions_ts ON predictions (ts);
CREATE INDEX predictions_outcome ON predictions (outcome);

CREATE TABLE predictor_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL
);

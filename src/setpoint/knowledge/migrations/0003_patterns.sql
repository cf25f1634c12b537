-- 0003 patterns, portable: SQLite and PostgreSQL run this file as is.
-- A pattern is one remediation's track record for one incident signature; context,
-- metric_conditions and actions are JSON text. successes and failures are verified
-- outcome counts (a PARTIAL outcome adds half to each), confidence the mean of
-- Beta(successes + 1, failures + 1), kept as a column so listings need no arithmetic.

CREATE TABLE patterns (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    signature TEXT NOT NULL DEFAULT '',
    context TEXT NOT NULL DEFAULT '{}',
    metric_conditions TEXT NOT NULL DEFAULT '{}',
    actions TEXT NOT NULL DEFAULT '[]',
    successes DOUBLE PRECISION NOT NULL DEFAULT 0,
    failures DOUBLE PRECISION NOT NULL DEFAULT 0,
    confidence DOUBLE PRECISION NOT NULL,
    last_seen DOUBLE PRECISION NOT NULL
);
CREATE INDEX patterns_signature ON patterns (signature);
CREATE INDEX patterns_last_seen ON patterns (last_seen);

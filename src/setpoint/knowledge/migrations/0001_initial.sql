-- 0001 initial schema, portable part: SQLite and PostgreSQL run this file as is.
-- Times are seconds since the epoch (DOUBLE PRECISION: PostgreSQL's REAL is too short
-- for them; SQLite gives the name REAL affinity). JSON columns are TEXT holding JSON.
-- The dialect file 0001_initial.<dialect>.sql runs after this one, in the same
-- transaction, and holds what each engine spells differently.

CREATE TABLE samples (
    key TEXT NOT NULL,
    series TEXT NOT NULL,
    entity TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    ts DOUBLE PRECISION NOT NULL,
    value DOUBLE PRECISION NOT NULL
);
CREATE INDEX samples_key_ts ON samples (key, ts);
CREATE INDEX samples_entity_ts ON samples (entity, ts);
CREATE INDEX samples_ts ON samples (ts);

CREATE TABLE symptoms (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    entity TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    evidence TEXT NOT NULL DEFAULT '{}',
    incident_id TEXT,
    clears TEXT
);
CREATE INDEX symptoms_incident ON symptoms (incident_id);

CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    entity TEXT NOT NULL,
    opened_at DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    kinds TEXT NOT NULL DEFAULT '[]',
    resolved_at DOUBLE PRECISION,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX incidents_status ON incidents (status);
CREATE INDEX incidents_entity ON incidents (entity);

CREATE TABLE decisions (
    id TEXT PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    "trigger" TEXT NOT NULL,
    entity TEXT NOT NULL,
    incident_id TEXT,
    symptom_id TEXT,
    playbook TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    gate_mode TEXT NOT NULL,
    verdict TEXT NOT NULL,
    verdict_reason TEXT NOT NULL DEFAULT '',
    operational_mode TEXT NOT NULL,
    preview TEXT NOT NULL DEFAULT '',
    state_before TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX decisions_ts ON decisions (ts);
CREATE INDEX decisions_incident ON decisions (incident_id);

CREATE TABLE outcomes (
    decision_id TEXT PRIMARY KEY REFERENCES decisions (id),
    ts DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('SUCCESS', 'PARTIAL', 'FAILED')),
    state_after TEXT NOT NULL DEFAULT '{}',
    reward DOUBLE PRECISION NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outcomes_ts ON outcomes (ts);

CREATE TABLE feedback (
    decision_id TEXT PRIMARY KEY REFERENCES decisions (id),
    ts DOUBLE PRECISION NOT NULL,
    body TEXT NOT NULL
);

-- 0005 approvals, portable: SQLite and PostgreSQL run this file as is.
-- One row per decision taken in approve mode: pending until a human approves or
-- denies it, or until expires_at passes (then expired, and never carried out).

CREATE TABLE approvals (
    decision_id TEXT PRIMARY KEY REFERENCES decisions (id),
    requested_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    preview TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
    decided_at DOUBLE PRECISION,
    decided_by TEXT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX approvals_status_expires ON approvals (status, expires_at);

-- 0001 initial schema, SQLite part: runs right after 0001_initial.sql in the same
-- transaction. Everything here is spelled the SQLite way.

-- The audit log. AUTOINCREMENT keeps sequence numbers from being reused after a
-- retention purge removes the newest rows.
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts DOUBLE PRECISION NOT NULL,
    actor TEXT NOT NULL,
    event TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    decision_id TEXT
);
CREATE INDEX audit_ts ON audit (ts);
CREATE INDEX audit_decision ON audit (decision_id);

-- Append-only: an entry is never changed. DELETE stays possible for retention.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;

-- The seed's decision log, field for field, built with SQLite's JSON functions.
CREATE VIEW hcl_decisions AS
SELECT
    d.id AS id,
    d.ts AS "timestamp",
    d."trigger" AS "trigger",
    d.operational_mode AS operational_mode,
    json_array(
        json_object(
            'action', d.action,
            'target', d.target,
            'params', json(d.params),
            'verdict', d.verdict
        )
    ) AS actions_taken,
    d.state_before AS state_before,
    o.state_after AS state_after,
    o.status AS outcome,
    o.reward AS reward_signal,
    f.body AS human_feedback
FROM decisions AS d
LEFT JOIN outcomes AS o ON o.decision_id = d.id
LEFT JOIN feedback AS f ON f.decision_id = d.id;

-- 0001 initial schema, PostgreSQL part: runs right after 0001_initial.sql in the same
-- transaction. Everything here is spelled the PostgreSQL way.

-- The audit log. An identity column numbers entries; it is never reused.
CREATE TABLE audit (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit is append-only';
END;
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

-- The seed's decision log, field for field, built with PostgreSQL's JSON functions.
-- json (not jsonb) keeps the keys in the order given, as SQLite's json_object does.
CREATE VIEW hcl_decisions AS
SELECT
    d.id AS id,
    d.ts AS "timestamp",
    d."trigger" AS "trigger",
    d.operational_mode AS operational_mode,
    json_build_array(
        json_build_object(
            'action', d.action,
            'target', d.target,
            'params', d.params::json,
            'verdict', d.verdict
        )
    )::text AS actions_taken,
    d.state_before AS state_before,
    o.state_after AS state_after,
    o.status AS outcome,
    o.reward AS reward_signal,
    f.body AS human_feedback
FROM decisions AS d
LEFT JOIN outcomes AS o ON o.decision_id = d.id
LEFT JOIN feedback AS f ON f.decision_id = d.id;

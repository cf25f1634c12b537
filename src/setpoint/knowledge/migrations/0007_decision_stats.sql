-- 0007 hourly counters for the decision analytics, portable: SQLite and PostgreSQL run
-- this file as is. "hour" is floor(ts / 3600.0) * 3600, the start of a clock hour in
-- epoch seconds. Both tables are derived from decisions and outcomes: every outcome
-- write adds to them in its own transaction, and a restore rebuilds them
-- (knowledge/repositories/decision_stats.py holds the statements that do both).

-- Outcomes per hour of the decision's time, action and status (for success_rate).
CREATE TABLE decision_stats (
    hour DOUBLE PRECISION NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (hour, action, status)
);

-- Outcomes and the sum of their rewards per hour of the outcome's time (for reward_trend).
CREATE TABLE reward_stats (
    hour DOUBLE PRECISION NOT NULL PRIMARY KEY,
    n BIGINT NOT NULL,
    reward_sum DOUBLE PRECISION NOT NULL
);

-- Back-fill from the outcomes already stored.
INSERT INTO decision_stats (hour, action, status, n)
SELECT floor(d.ts / 3600.0) * 3600, d.action, o.status, count(*)
FROM decisions AS d JOIN outcomes AS o ON o.decision_id = d.id
GROUP BY 1, 2, 3;

INSERT INTO reward_stats (hour, n, reward_sum)
SELECT floor(ts / 3600.0) * 3600, count(*), sum(reward)
FROM outcomes
GROUP BY 1;

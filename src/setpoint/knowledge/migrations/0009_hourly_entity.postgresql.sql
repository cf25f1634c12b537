-- 0009, PostgreSQL: a series is (entity, key): two services each have a service.rss_bytes,
-- so their hourly roll-ups need the entity in the key.

ALTER TABLE samples_hourly DROP CONSTRAINT samples_hourly_pkey;
ALTER TABLE samples_hourly ADD PRIMARY KEY (key, entity, hour);

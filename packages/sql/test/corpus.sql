-- Statements of every kind the parser accepts, written for our tests (format round trip, mutation fuzzing).
-- A factory floor: machines publish events; lines group machines.

SET 'auto.offset.reset' = 'earliest';
UNSET 'auto.offset.reset';

-- A stream over a topic, with a map of attributes.
CREATE STREAM machine_events (
    machine VARCHAR KEY,
    id VARCHAR,
    value VARCHAR,
    tag VARCHAR,
    type VARCHAR,
    attributes MAP<VARCHAR, VARCHAR>
) WITH (KAFKA_TOPIC = 'machine_events', VALUE_FORMAT = 'JSON', PARTITIONS = 3);

CREATE STREAM keyed_events (
    key VARCHAR KEY, machine VARCHAR, id VARCHAR, value VARCHAR, timestamp VARCHAR
) WITH (KAFKA_TOPIC = 'keyed_events', VALUE_FORMAT = 'JSON');

-- Re-keyed by machine and id.
INSERT INTO keyed_events
SELECT concat(CAST(machine AS STRING), '/', CAST(id AS STRING)) AS key, machine, id, value,
       COALESCE(attributes['ts'], 'n/a') AS timestamp
FROM machine_events
PARTITION BY concat(CAST(machine AS STRING), '/', CAST(id AS STRING));

CREATE TABLE machine_state AS
  SELECT key, LATEST_BY_OFFSET(machine) AS machine, LATEST_BY_OFFSET(value) AS value
  FROM keyed_events GROUP BY key;

CREATE TABLE readings_by_machine AS
  SELECT machine, COLLECT_LIST(STRUCT(id := id, value := value, `when` := timestamp)) AS readings
  FROM machine_state GROUP BY machine;

CREATE STREAM lifecycle_tombstones WITH (KAFKA_TOPIC = 'lifecycle', VALUE_FORMAT = 'KAFKA') AS
  SELECT machine, CAST(NULL AS VARCHAR) AS state FROM machine_events
  WHERE (id IN ('power', 'link_power') AND value = 'gone');

CREATE STREAM lifecycle_stream WITH (KAFKA_TOPIC = 'lifecycle', VALUE_FORMAT = 'JSON') AS
  SELECT machine, value AS state FROM machine_events
  WHERE (id IN ('power', 'link_power') AND value != 'gone');

CREATE SOURCE TABLE lifecycle (machine VARCHAR PRIMARY KEY, state VARCHAR)
  WITH (KAFKA_TOPIC = 'lifecycle', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON');

CREATE TABLE IF NOT EXISTS line_members (machine STRING PRIMARY KEY, line STRING, levels MAP<STRING, STRING>,
  since TIMESTAMP) WITH (KAFKA_TOPIC = 'line_members', VALUE_FORMAT = 'JSON', PARTITIONS = 1);

CREATE TABLE IF NOT EXISTS line_members_view AS SELECT * FROM line_members EMIT CHANGES;

INSERT INTO events_by_line
SELECT m.line AS line, e.machine AS machine, e.id, e.value
FROM machine_events e
LEFT JOIN line_members m ON e.machine = m.machine
WHERE m.line IS NOT NULL
PARTITION BY m.line;

CREATE OR REPLACE STREAM alarms WITH (KAFKA_TOPIC = 'alarms', PARTITIONS = 2, REPLICAS = 1) AS
  SELECT e.machine, a.code, e.value FROM machine_events AS e
  INNER JOIN alarm_codes a WITHIN (5 SECONDS, 1 MINUTE) GRACE PERIOD 2 SECONDS ON e.value = a.code
  FULL OUTER JOIN notes n WITHIN 1 HOUR ON a.code = n.code
  WHERE e.type = 'Condition' AND NOT e.value LIKE 'OK%' EMIT CHANGES;

CREATE TABLE counts_per_minute AS
  SELECT machine, COUNT(*) AS n, WINDOWSTART AS ws, WINDOWEND AS we
  FROM machine_events WINDOW TUMBLING (SIZE 1 MINUTE, RETENTION 7 DAYS, GRACE PERIOD 10 SECONDS)
  GROUP BY machine HAVING COUNT(*) > 1 EMIT FINAL;

CREATE TABLE hopping_avg AS
  SELECT machine, AVG(CAST(value AS DOUBLE)) AS avg_value
  FROM machine_events WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS)
  WHERE value BETWEEN '0' AND '9' GROUP BY machine;

CREATE TABLE sessions AS
  SELECT machine, COUNT(*) AS events FROM machine_events WINDOW SESSION (90 SECONDS) GROUP BY machine;

CREATE STREAM with_headers (payload BYTES, hs ARRAY<STRUCT<key STRING, value BYTES>> HEADERS,
  trace BYTES HEADER('trace-id'), amount DECIMAL(10, 2), flags ARRAY<BOOLEAN>, big BIGINT, ratio DOUBLE,
  day DATE, at TIME, nested STRUCT<a INT, `b c` MAP<STRING, ARRAY<INT>>>)
  WITH (KAFKA_TOPIC = 'with_headers', VALUE_FORMAT = 'JSON');

INSERT INTO lifecycle (machine, state) VALUES ('m1', 'AVAILABLE');
INSERT INTO sessions VALUES ('m2', 3, -1.5, 2.5E-3, TRUE, NULL);
INSERT INTO alarms WITH (QUERY_ID = 'alarm_feed') SELECT * FROM machine_events;

SELECT * FROM lifecycle;
SELECT machine FROM lifecycle WHERE state = 'AVAILABLE';
SELECT id, value, type, tag, timestamp FROM machine_state WHERE machine = 'm1' AND type != 'Method';
SELECT value FROM machine_state WHERE key = 'm1/power';
SELECT * FROM machine_events EMIT CHANGES LIMIT 10;
SELECT e.*, TRANSFORM(ARRAY[1, 2, 3], x => x * 2) AS doubled,
       REDUCE(ARRAY[1, 2], 0, (s, x) => s + x) AS total,
       FILTER(MAP('a' := 1, 'b' := -2), (k, v) => v > 0) AS positive,
       CASE WHEN e.value IS NULL THEN 'none' WHEN e.value = '' THEN 'empty' ELSE e.value END AS shown,
       CASE e.type WHEN 'Sample' THEN 1 END AS is_sample,
       e.attributes['ts'] AS ts, nested->a AS a, -(1) AS minus_one, e.value || '!' AS loud,
       (1 + 2) * 3 % 4 / 5 - -6 AS maths, ROWTIME, ROWPARTITION, ROWOFFSET,
       e.id IS DISTINCT FROM 'x' AS d1, e.id IS NOT DISTINCT FROM 'y' AS d2,
       e.id NOT IN ('a') AS n1, e.id NOT LIKE 'a!%' ESCAPE '!' AS n2, e.id NOT BETWEEN 'a' AND 'b' AS n3
FROM machine_events AS e WHERE NOT (e.id = 'a' OR e.id <> 'b') EMIT CHANGES;

SHOW STREAMS;
LIST TABLES EXTENDED;
SHOW QUERIES;
SHOW TOPICS;
SHOW PROPERTIES;
SHOW FUNCTIONS;
DESCRIBE machine_events;
DESCRIBE EXTENDED machine_state;
DESCRIBE STREAMS EXTENDED;
DESCRIBE FUNCTION LATEST_BY_OFFSET;
EXPLAIN CSAS_ALARMS_3;
EXPLAIN SELECT * FROM lifecycle;
TERMINATE CTAS_SESSIONS_7;
TERMINATE ALL;
DROP TABLE IF EXISTS sessions DELETE TOPIC;
DROP STREAM with_headers;

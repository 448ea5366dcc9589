-- The asset topology, in the shape the reference OpenFactory's apps read (names, keys, columns and topics kept so
-- that a pull query written for it answers here): every observation of every asset as a stream, its latest value
-- per item as a table, the items of each asset together, and the registries of asset types and availability.
SET 'auto.offset.reset' = 'earliest';

-- Every record of ofa_assets, keyed by the asset's uuid. VALUE is read as text (numbers keep their digits).
CREATE STREAM assets_stream (
  asset_uuid VARCHAR KEY,
  id VARCHAR,
  value VARCHAR,
  tag VARCHAR,
  type VARCHAR,
  attributes MAP<VARCHAR, VARCHAR>
) WITH (KAFKA_TOPIC = 'ofa_assets', VALUE_FORMAT = 'JSON');

-- The same records keyed by '<asset uuid>|<item id>', the observation's own time taken out of its attributes.
CREATE STREAM enriched_assets_stream (
  key VARCHAR KEY,
  asset_uuid VARCHAR,
  id VARCHAR,
  value VARCHAR,
  type VARCHAR,
  tag VARCHAR,
  timestamp VARCHAR
) WITH (KAFKA_TOPIC = 'enriched_assets_stream_topic', VALUE_FORMAT = 'JSON', PARTITIONS = 6);

INSERT INTO enriched_assets_stream
  SELECT concat(asset_uuid, '|', id) AS key, asset_uuid, id, value, type, tag,
         COALESCE(attributes['timestamp'], 'UNAVAILABLE') AS timestamp
  FROM assets_stream
  PARTITION BY concat(asset_uuid, '|', id);

-- The current value of every item of every asset: SELECT * FROM assets WHERE key = 'DEMO-CNC-SIM-001|spindle_load';
CREATE TABLE assets AS
  SELECT key,
         LATEST_BY_OFFSET(asset_uuid) AS asset_uuid,
         LATEST_BY_OFFSET(id) AS id,
         LATEST_BY_OFFSET(value) AS value,
         LATEST_BY_OFFSET(type) AS type,
         LATEST_BY_OFFSET(tag) AS tag,
         LATEST_BY_OFFSET(timestamp) AS timestamp
  FROM enriched_assets_stream
  GROUP BY key;

-- Every item's current reading of an asset in one row.
CREATE TABLE assets_aggregated_by_asset_uuid AS
  SELECT asset_uuid,
         COLLECT_LIST(STRUCT(id := id, value := value, type := type, tag := tag, timestamp := timestamp)) AS readings
  FROM assets
  GROUP BY asset_uuid;

-- Asset types and availability: a stream writes each new value, another a tombstone when the value is 'delete'.
CREATE STREAM assets_type_tombstones WITH (KAFKA_TOPIC = 'assets_types_topic', VALUE_FORMAT = 'KAFKA') AS
  SELECT asset_uuid, CAST(NULL AS VARCHAR) AS type FROM assets_stream
  WHERE id = 'AssetType' AND type = 'OpenFactory' AND value = 'delete';

CREATE STREAM assets_type_stream WITH (KAFKA_TOPIC = 'assets_types_topic', VALUE_FORMAT = 'JSON') AS
  SELECT asset_uuid, value AS type FROM assets_stream
  WHERE id = 'AssetType' AND type = 'OpenFactory';

CREATE SOURCE TABLE assets_type (asset_uuid VARCHAR PRIMARY KEY, type VARCHAR)
  WITH (KAFKA_TOPIC = 'assets_types_topic', VALUE_FORMAT = 'JSON');

CREATE STREAM assets_avail_tombstones WITH (KAFKA_TOPIC = 'assets_avail_topic', VALUE_FORMAT = 'KAFKA') AS
  SELECT asset_uuid, CAST(NULL AS VARCHAR) AS value FROM assets_stream
  WHERE id IN ('avail', 'agent_avail') AND value = 'delete';

CREATE STREAM assets_avail_stream WITH (KAFKA_TOPIC = 'assets_avail_topic', VALUE_FORMAT = 'JSON') AS
  SELECT asset_uuid, value AS availability FROM assets_stream
  WHERE id IN ('avail', 'agent_avail') AND value != 'delete';

CREATE SOURCE TABLE assets_avail (asset_uuid VARCHAR PRIMARY KEY, availability VARCHAR)
  WITH (KAFKA_TOPIC = 'assets_avail_topic', VALUE_FORMAT = 'JSON');

-- Ours: spindle load per minute per machine, from the samples of every spindle_load item.
CREATE TABLE spindle_load_per_minute AS
  SELECT asset_uuid,
         COUNT(*) AS samples,
         AVG(CAST(value AS DOUBLE)) AS avg_load,
         MAX(CAST(value AS DOUBLE)) AS max_load
  FROM assets_stream
  WINDOW TUMBLING (SIZE 1 MINUTE)
  WHERE id = 'spindle_load' AND value != 'UNAVAILABLE'
  GROUP BY asset_uuid
  EMIT CHANGES;

-- Where each asset sits in the UNS: ofa up writes a record per placed asset to asset_to_uns_map_topic.
CREATE TABLE asset_to_uns_map_raw (
  asset_uuid VARCHAR PRIMARY KEY,
  uns_id VARCHAR,
  uns_levels MAP<VARCHAR, VARCHAR>,
  updated_at TIMESTAMP
) WITH (KAFKA_TOPIC = 'asset_to_uns_map_topic', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON');

CREATE TABLE asset_to_uns_map AS SELECT * FROM asset_to_uns_map_raw EMIT CHANGES;

-- Every observation of a placed asset, keyed by its UNS path (a stream-table join, re-keyed).
CREATE STREAM assets_stream_uns (
  uns_id VARCHAR KEY,
  asset_uuid VARCHAR,
  id VARCHAR,
  value VARCHAR,
  tag VARCHAR,
  type VARCHAR,
  attributes MAP<VARCHAR, VARCHAR>
) WITH (KAFKA_TOPIC = 'ofa_assets_uns', VALUE_FORMAT = 'JSON');

INSERT INTO assets_stream_uns
  SELECT m.uns_id AS uns_id, a.asset_uuid AS asset_uuid, a.id, a.value, a.tag, a.type, a.attributes
  FROM assets_stream a
  LEFT JOIN asset_to_uns_map m ON a.asset_uuid = m.asset_uuid
  WHERE m.uns_id IS NOT NULL
  PARTITION BY m.uns_id;

-- The current value of every item of every placed asset, with its UNS path: a foreign-key join of the assets
-- table (keyed '<asset uuid>|<item id>') with the map (keyed by asset uuid); keyed like the assets table.
-- SELECT * FROM assets_uns WHERE uns_id = 'Demofactory/Machining/WC001/cnc-1';
CREATE TABLE assets_uns AS
  SELECT concat(m.uns_id, '|', a.id) AS key,
         a.key AS asset_uuid_key,
         m.uns_id AS uns_id,
         a.asset_uuid AS asset_uuid,
         a.id AS id,
         a.value AS value,
         a.type AS type,
         a.tag AS tag,
         a.timestamp AS timestamp
  FROM assets a
  LEFT JOIN asset_to_uns_map m ON a.asset_uuid = m.asset_uuid
  WHERE m.uns_id IS NOT NULL;

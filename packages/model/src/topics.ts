/**
 * The topics every OpenFactory backbone carries.
 *
 * - `ofa_assets` — everything about assets: observations, availability, method contracts, commands and their
 *   results, keyed by asset UUID. The reference OpenFactory's topic and format. Never compacted.
 * - `ofa_registry` — the declared model of each asset (data items with units and constraints, methods, UNS,
 *   references), keyed by asset UUID, value the `Asset` as JSON; compacted (latest declaration wins, a
 *   tombstone removes the asset).
 * - `ofa_asset_documents` — documents devices send about physical assets (MTConnect `@ASSET@`: cutting
 *   tools, parts), keyed by document asset id; compacted.
 * - `ofa_connector_state` — where each connector resumes (an MTConnect agent client: the agent's instanceId and
 *   the next sequence to read), keyed by connector name, value the connector's own text (opaque to everyone else;
 *   the connector that wrote it reads it back); compacted. Written after the records it covers.
 * - `asset_to_uns_map_topic` — where each asset sits in the UNS, keyed by asset UUID, value JSON `{ASSET_UUID,
 *   UNS_ID, UNS_LEVELS, UPDATED_AT}` (epoch ms), written when an asset with a UNS placement is declared; the
 *   reference's map topic, which its SQL joins observations with (`ofa_assets_uns`, `assets_uns`); compacted.
 */
export const TOPICS = {
  assets: 'ofa_assets',
  registry: 'ofa_registry',
  documents: 'ofa_asset_documents',
  connectorState: 'ofa_connector_state',
  unsMap: 'asset_to_uns_map_topic',
} as const

export const DEFAULT_ASSETS_PARTITIONS = 6

/** Attribute ids of availability: `avail` for the asset itself, `agent_avail` for the agent serving it. */
export const AVAIL_ID = 'avail'
export const AVAILABLE = 'AVAILABLE'
/** Heartbeat interval and TTL of `avail` (DESIGN §3): re-published every 5 s, expires after 15 s. */
export const DEFAULT_HEARTBEAT_MS = 5000
export const DEFAULT_AVAIL_TTL_MS = 15000

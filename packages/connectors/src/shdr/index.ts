// SHDR — the MTConnect adapter line protocol — from bytes to observations, and our own adapter.

// Our SHDR adapter (test and demo server, log replay).
export * from './adapter-server.ts'
// TCP client: lines, PING/PONG heartbeat, reconnect with backoff.
export * from './client.ts'
// Parsed entries → observations per asset, given a key → data item map.
export * from './mapper.ts'
// Line parser and stream (multi-line assets, malformed lines as values).
export * from './parser.ts'
// Connectors: the SHDR engine and `connector.type: shdr`.
export * from './shdr-connector.ts'
export * from './shdr-spec.ts'

// The retry rule lives in @openfactory/model (retry.ts); re-exported here for the connectors' callers.
export { Backoff, type BackoffOptions, sleep } from '@openfactory/model'

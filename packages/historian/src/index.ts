// @openfactory/historian: the PostgreSQL historian, a built-in app of the factory (an app with a `historian:` block,
// run by `ofa up` in its process and by `ofa run <uuid>` alone). Loading this module registers its kind
// (connectors' app-kind.ts); the CLI imports it in app-kinds.ts.
import { registerAppKind } from '@openfactory/connectors'
import { PostgresHistorian } from './historian.ts'
import { type HistorianConfig, parseHistorian } from './historian-config.ts'

export {
  HISTORIAN_DATA_ITEMS,
  type HistorianStats,
  type HistorianTestHooks,
  PostgresHistorian,
} from './historian.ts'
export { DEFAULTS, type HistorianConfig, parseHistorian, STORE_KINDS, type StoreKind } from './historian-config.ts'
export { partitionRange, SCHEMA_VERSION } from './schema.ts'

registerAppKind<HistorianConfig>({
  block: 'historian',
  summary: 'observations, conditions and commands into PostgreSQL, exactly once',
  parse: parseHistorian,
  create: (app, config, deps) => new PostgresHistorian(app, config, deps),
})

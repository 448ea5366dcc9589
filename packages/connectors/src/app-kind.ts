/**
 * The registry of built-in app kinds. An app of an apps file whose spec holds one of the registered blocks
 * (`historian:`, `alerts:`, `webhooks:`, `mqtt_publish:`...) is ours to run: `ofa up` runs it in its process and
 * `ofa run <uuid>` runs it alone (a stack service of our image), supervised like a device connector — its asset
 * (type `OpenFactoryApp`) declared, its `avail` kept, restarted with backoff after `ctx.fail`. Unlike a connector
 * it reads the log itself (`deps.eventLog`: a consumer group, or its own offsets kept where it writes).
 *
 * Where each rule lives, as for connectors (connector-spec.ts): the block's shape is a TypeBox schema of model's
 * app-schema.ts, checked with file, line and column when the factory is loaded; `parse` adds what model cannot know
 * and throws `OFA_CONFIG_VALUE` with the app's `where`; `create` trusts what `parse` returned. `ofa validate` calls
 * `parse` too (`checkAppKinds`), so a file is judged alike by both.
 *
 * Kinds register when their module loads (packages of their own, imported by the CLI's app-kinds.ts); a block
 * registers once.
 */

import type { EventLog } from '@openfactory/log'
import {
  type AppConfig,
  type Asset,
  type DataItem,
  type DebugLogger,
  type Env,
  type Factory,
  isOpenFactoryError,
  OpenFactoryError,
} from '@openfactory/model'
import type { Connector } from './connector.ts'

/** What a runtime gives an app kind's `create`. */
export interface AppKindDeps {
  /** The factory's log (embedded or Kafka). */
  readonly eventLog: EventLog
  /** The whole factory (its devices, UNS, folder), for kinds that look at other assets. */
  readonly factory: Factory
  /** The process environment (secrets named by variable: `password_env`...). */
  readonly env: Env
  readonly logger: DebugLogger
  /** The serving app's URL when one runs in this process (`ofa up`), for links in what an app sends. */
  readonly apiUrl?: string
  /** The clock (tests). */
  readonly now?: () => number
}

export interface AppKind<Config = unknown> {
  /** The key of the app's spec that selects this kind (`historian`). */
  readonly block: string
  /** One line for `ofa help` and the docs. */
  readonly summary: string
  /** Checks what model's schema cannot (a URL's parts, rule references) and types the block. */
  parse(app: AppConfig): Config
  /** The app's runner, supervised like a connector; its `name` is the app's uuid. */
  create(app: AppConfig, config: Config, deps: AppKindDeps): Connector
}

const kinds = new Map<string, AppKind>()

/** Registers a kind; a block registers once. */
export function registerAppKind<C>(kind: AppKind<C>): void {
  if (kinds.has(kind.block)) throw new Error(`app kind ${kind.block} is registered twice`)
  kinds.set(kind.block, kind as AppKind)
}

/** The blocks of every registered kind, in registration order. */
export function appKindBlocks(): string[] {
  return [...kinds.keys()]
}

/** The kind of a built-in app (the registered block its spec holds), else undefined: an image or a command. */
export function appKindOf(app: AppConfig): AppKind | undefined {
  const spec = app.spec as unknown as Record<string, unknown>
  for (const [block, kind] of kinds) if (spec[block] !== undefined) return kind
  return undefined
}

/** The app's runner: parse, then create. Throws parse's error for an app that cannot run. */
export function planApp(app: AppConfig, deps: AppKindDeps): Connector | undefined {
  const kind = appKindOf(app)
  return kind?.create(app, kind.parse(app), deps)
}

/** Every problem the registered kinds find in the factory's built-in apps (what `ofa validate` reports). */
export function checkAppKinds(apps: readonly AppConfig[]): OpenFactoryError[] {
  const problems: OpenFactoryError[] = []
  for (const app of apps) {
    const kind = appKindOf(app)
    if (!kind) continue
    try {
      kind.parse(app)
    } catch (err) {
      if (!isOpenFactoryError(err)) throw err
      problems.push(...(err.problems.length > 0 ? err.problems : [err]))
    }
  }
  return problems
}

/**
 * The asset of an app (type `OpenFactoryApp`, placed by its `uns`), as every app declares it; `dataItems`: what the
 * app reports about itself beside `avail` (rows written, alerts active...).
 */
export function appAsset(app: AppConfig, dataItems: readonly DataItem[] = []): Asset {
  return {
    uuid: app.uuid,
    type: 'OpenFactoryApp',
    ...(app.uns ? { uns: app.uns } : {}),
    referencesAbove: [],
    referencesBelow: [],
    dataItems,
    methods: [],
  }
}

/** `OFA_CONFIG_VALUE` at the app's file and line, its field path under the app (`historian.url`). */
export function appConfigError(app: AppConfig, path: string, message: string): OpenFactoryError {
  return new OpenFactoryError('OFA_CONFIG_VALUE', `app ${app.uuid}: ${path}: ${message}`, {
    where: { ...app.where, path: `${app.where.path}.${path}` },
  })
}

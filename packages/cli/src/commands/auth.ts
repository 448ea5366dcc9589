/**
 * `ofa auth key create|ls|revoke FACTORY-DIR` and `ofa audit FACTORY-DIR`: the API keys and the audit trail on the
 * factory's log (packages/serve/src/auth). `--data`, `--backbone`, `--bootstrap`, `--uns` choose the log as for
 * `ofa up`.
 *
 * - `create --role viewer|operator|admin [--name N] [--scope PATTERN]...`: prints the key once (it is kept only as
 *   its SHA-256); the first admin key of a factory is made this way, before `ofa up` (the embedded log belongs to the
 *   running `ofa up` after that: then use `POST /api/auth/keys`, or a Kafka backbone).
 * - `ls [--json]`: every key, revoked ones too, without secrets.
 * - `revoke ID`: the key stops working on every replica within a poll.
 * - `ofa audit [--since ISO] [--limit N] [--json]`: the trail, oldest first.
 *
 * Each key change is recorded on the audit trail as `cli:<user>@<host>`.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { type EventLog, openEmbeddedLog } from '@openfactory/log'
import { isOpenFactoryError, OpenFactoryError, silentLogger } from '@openfactory/model'
import {
  type AuditRecord,
  createApiKey,
  openAuditLog,
  publicKey,
  readApiKeys,
  readAudit,
  revokeApiKey,
} from '@openfactory/serve'
import { cliActor } from '../actor.ts'
import { type CliIo, EXIT, writeOut } from '../io.ts'
import { openBackbone } from '../runtime/backbone.ts'
import { KAFKA_SECURITY_FLAGS } from '../runtime/kafka-security.ts'
import { prepare } from '../runtime/prepare.ts'
import { usageError } from '../usage.ts'
import { runtimeOptions } from './backbone-flags.ts'

const LOG_FLAGS = {
  ...KAFKA_SECURITY_FLAGS,
  backbone: { type: 'string' },
  bootstrap: { type: 'string' },
  data: { type: 'string' },
  uns: { type: 'string' },
  json: { type: 'boolean' },
} as const

/** The factory's log; `read`: an embedded log read-only (beside the `ofa up` that owns it). */
async function withFactoryLog<T>(
  paths: readonly string[],
  values: { backbone?: string; bootstrap?: string; data?: string; uns?: string },
  io: CliIo,
  use: (log: EventLog) => Promise<T>,
  read = false,
): Promise<T> {
  const { factory, backbone } = await prepare({
    paths,
    ...runtimeOptions(values),
    env: io.env,
    cwd: io.cwd,
    logger: silentLogger,
  })
  let opened: { log: EventLog }
  try {
    opened =
      read && backbone.type === 'embedded'
        ? { log: await openEmbeddedLog({ dir: backbone.dataDir ?? resolve(io.cwd, '.ofa-data'), readOnly: true }) }
        : await openBackbone(factory.manifest, backbone)
  } catch (err) {
    if (isOpenFactoryError(err, 'OFA_LOG_LOCKED')) {
      throw new OpenFactoryError(
        'OFA_LOG_LOCKED',
        `${err.message}: while ofa up runs, manage keys through its API (POST /api/auth/keys, admin)`,
      )
    }
    throw err
  }
  try {
    return await use(opened.log)
  } finally {
    await opened.log.close()
  }
}

export async function authCommand(args: readonly string[], io: CliIo): Promise<number> {
  const [what, sub, ...rest] = args
  if (what !== 'key' || (sub !== 'create' && sub !== 'ls' && sub !== 'revoke')) {
    throw usageError('ofa auth key create|ls|revoke FACTORY-DIR ...')
  }
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      ...LOG_FLAGS,
      role: { type: 'string' },
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
    },
    allowPositionals: true,
  })
  const by = cliActor()
  if (sub === 'create') {
    if (positionals.length === 0) throw usageError('ofa auth key create needs a factory folder')
    if (!values.role) throw usageError('ofa auth key create needs --role viewer|operator|admin')
    return withFactoryLog(positionals, values, io, async (log) => {
      const { record, key } = await createApiKey(log, {
        name: values.name ?? `${values.role} key`,
        role: values.role as string,
        scopes: values.scope ?? [],
        by,
      })
      await openAuditLog(log).record({
        who: by,
        kind: 'key',
        action: 'create key',
        target: record.id,
        outcome: `ok: ${record.role}`,
      })
      if (values.json) {
        await writeOut(io.stdout, `${JSON.stringify({ key, ...publicKey(record) })}\n`)
      } else {
        await writeOut(
          io.stdout,
          `${key}\n` +
            `API key ${record.id} (${record.name}): role ${record.role}${record.scopes.length ? `, scopes ${record.scopes.join(' ')}` : ''}. ` +
            'It is shown this once: keep it now. Use it as "Authorization: Bearer <key>".\n',
        )
      }
      return EXIT.ok
    })
  }
  if (sub === 'revoke') {
    const [id, ...paths] = positionals
    if (!id || paths.length === 0) throw usageError('ofa auth key revoke ID FACTORY-DIR')
    return withFactoryLog(paths, values, io, async (log) => {
      const record = await revokeApiKey(log, id, by)
      await openAuditLog(log).record({ who: by, kind: 'key', action: 'revoke key', target: record.id, outcome: 'ok' })
      await writeOut(io.stdout, `API key ${record.id} (${record.name}) revoked\n`)
      return EXIT.ok
    })
  }
  if (positionals.length === 0) throw usageError('ofa auth key ls needs a factory folder')
  return withFactoryLog(
    positionals,
    values,
    io,
    async (log) => {
      const keys = (await readApiKeys(log)).map(publicKey)
      if (values.json) {
        await writeOut(io.stdout, `${JSON.stringify({ items: keys })}\n`)
        return EXIT.ok
      }
      const lines = keys.map(
        (k) =>
          `${k.id}  ${k.role.padEnd(8)}  ${k.revokedAt ? `revoked ${k.revokedAt}` : 'active'.padEnd(32)}  ${k.name}${k.scopes.length ? `  scopes ${k.scopes.join(' ')}` : ''}`,
      )
      await writeOut(io.stdout, keys.length ? `${lines.join('\n')}\n` : 'no API key\n')
      return EXIT.ok
    },
    true,
  )
}

function auditLine(r: AuditRecord): string {
  return `${r.at}  ${r.kind.padEnd(10)}  ${r.who}  ${r.action}${r.target ? ` ${r.target}` : ''}  ${r.outcome}${r.from ? `  from ${r.from}` : ''}${r.suppressed ? `  (+${r.suppressed} not recorded)` : ''}`
}

export async function auditCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { ...LOG_FLAGS, since: { type: 'string' }, limit: { type: 'string' } },
    allowPositionals: true,
  })
  if (positionals.length === 0) throw usageError('ofa audit needs a factory folder')
  if (values.since !== undefined && Number.isNaN(Date.parse(values.since)))
    throw usageError(`--since must be an ISO-8601 time, got "${values.since}"`)
  const limit = values.limit === undefined ? undefined : Number(values.limit)
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    throw usageError(`--limit must be a positive integer, got "${values.limit}"`)
  return withFactoryLog(
    positionals,
    values,
    io,
    async (log) => {
      const records = await readAudit(log, {
        ...(values.since ? { since: new Date(values.since).toISOString() } : {}),
        ...(limit !== undefined ? { limit } : {}),
      })
      await writeOut(
        io.stdout,
        values.json ? `${JSON.stringify({ items: records })}\n` : records.map((r) => `${auditLine(r)}\n`).join(''),
      )
      return EXIT.ok
    },
    true,
  )
}

/**
 * API keys: made by `ofa auth key create` (or `POST /api/auth/keys`, admin), shown once, kept only as their SHA-256.
 *
 * A key is `ofa_<id>_<secret>`: a 12-hex-digit id (public: it names the key in lists, the audit trail, revocation)
 * and 32 random bytes in base64url. The secret has 256 bits of entropy, so a plain SHA-256 of it is enough at rest
 * (a slow hash protects guessable passwords; nothing here is guessable), and the comparison is constant-time.
 *
 * Keys live on the compacted topic `ofa_auth_keys` of the factory's log, keyed by id, so that every replica of the
 * serving app knows the same keys and a revocation reaches them all within a poll: a KeyStore follows the topic.
 * A key's record: id, name, role, scopes, sha256, createdAt/By, and revokedAt/By once revoked (the record stays:
 * who had which key is part of the audit).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { type EventLog, readTopic } from '@openfactory/log'
import { OpenFactoryError } from '@openfactory/model'
import { validateScope } from './policy.ts'
import { type Principal, ROLES, type Role } from './types.ts'

export const KEYS_TOPIC = 'ofa_auth_keys'
/** At most this many keys are kept in memory (a runaway creator cannot exhaust it). */
export const MAX_KEYS = 10_000
/** At most this many scopes per key. */
export const MAX_SCOPES = 64

export interface ApiKeyRecord {
  readonly id: string
  readonly name: string
  readonly role: Role
  readonly scopes: readonly string[]
  /** SHA-256 (hex) of the whole key text. */
  readonly sha256: string
  readonly createdAt: string
  readonly createdBy: string
  readonly revokedAt?: string
  readonly revokedBy?: string
}

const KEY_TEXT = /^ofa_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/

const sha256 = (text: string) => createHash('sha256').update(text).digest()

/** Parses a stored record; undefined for one that is not ours. */
function parseRecord(value: Buffer | null): ApiKeyRecord | undefined {
  if (!value) return undefined
  try {
    const r = JSON.parse(value.toString('utf8')) as ApiKeyRecord
    if (typeof r.id !== 'string' || typeof r.sha256 !== 'string' || !ROLES.includes(r.role)) return undefined
    if (!Array.isArray(r.scopes)) return undefined
    return r
  } catch {
    return undefined
  }
}

async function ensureTopic(log: EventLog): Promise<void> {
  if (!(await log.listTopics()).includes(KEYS_TOPIC)) {
    await log.createTopic({ name: KEYS_TOPIC, partitions: 1, cleanupPolicy: 'compact' })
  }
}

/** Every key recorded (revoked ones included), latest record of each id. */
export async function readApiKeys(log: EventLog): Promise<ApiKeyRecord[]> {
  const byId = new Map<string, ApiKeyRecord>()
  for (const r of await readTopic(log, KEYS_TOPIC)) {
    const rec = parseRecord(r.value)
    if (rec) byId.set(rec.id, rec)
  }
  return [...byId.values()].sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0))
}

export interface NewKey {
  readonly name: string
  readonly role: string
  readonly scopes?: readonly string[]
  /** Who creates it (a principal id, or `cli:<user>@<host>`). */
  readonly by: string
}

/** Creates a key: the record on the log, and the key text (shown once, never stored). */
export async function createApiKey(log: EventLog, k: NewKey): Promise<{ record: ApiKeyRecord; key: string }> {
  if (!(ROLES as readonly string[]).includes(k.role)) {
    throw new OpenFactoryError('OFA_AUTH_CONFIG', `role must be one of ${ROLES.join(', ')}, got "${k.role}"`)
  }
  if (!/^[\p{L}\p{N} ._:@/-]{1,100}$/u.test(k.name)) {
    throw new OpenFactoryError('OFA_AUTH_CONFIG', 'a key name is 1 to 100 letters, digits, spaces and ._:@/-')
  }
  const scopes = [...(k.scopes ?? [])]
  if (scopes.length > MAX_SCOPES) throw new OpenFactoryError('OFA_AUTH_CONFIG', `at most ${MAX_SCOPES} scopes`)
  for (const [i, s] of scopes.entries()) validateScope(s, `scope ${i + 1}`)
  const id = randomBytes(6).toString('hex')
  const key = `ofa_${id}_${randomBytes(32).toString('base64url')}`
  const record: ApiKeyRecord = {
    id,
    name: k.name,
    role: k.role as Role,
    scopes,
    sha256: sha256(key).toString('hex'),
    createdAt: new Date().toISOString(),
    createdBy: k.by,
  }
  await ensureTopic(log)
  await log.append(KEYS_TOPIC, [{ key: id, value: JSON.stringify(record) }])
  return { record, key }
}

/** Revokes a key by id (its record kept, marked revoked); refused for an unknown or already revoked id. */
export async function revokeApiKey(log: EventLog, id: string, by: string): Promise<ApiKeyRecord> {
  const current = (await readApiKeys(log)).find((k) => k.id === id)
  if (!current) throw new OpenFactoryError('OFA_AUTH_CONFIG', `no API key ${JSON.stringify(id)}`)
  if (current.revokedAt)
    throw new OpenFactoryError('OFA_AUTH_CONFIG', `API key ${id} was revoked at ${current.revokedAt}`)
  const record: ApiKeyRecord = { ...current, revokedAt: new Date().toISOString(), revokedBy: by }
  await log.append(KEYS_TOPIC, [{ key: id, value: JSON.stringify(record) }])
  return record
}

/** The keys of a log, followed: what the serving app checks each request's key against. */
export interface KeyStore {
  /** Resolves once the topic has been read up to its end at start. */
  ready(): Promise<void>
  /** The principal of a key text; undefined when it is not a valid, unrevoked key. */
  verify(text: string): Principal | undefined
  list(): ApiKeyRecord[]
  close(): Promise<void>
}

export function openKeyStore(log: EventLog): KeyStore {
  const keys = new Map<string, ApiKeyRecord>()
  const stop = new AbortController()
  let markReady: () => void = () => {}
  let markFailed: (err: Error) => void = () => {}
  const readyPromise = new Promise<void>((resolve, reject) => {
    markReady = resolve
    markFailed = reject
  })
  readyPromise.catch(() => {}) // a failure is reported to ready()'s callers, never unhandled
  const apply = (value: Buffer | null) => {
    const rec = parseRecord(value)
    if (!rec) return
    if (!keys.has(rec.id) && keys.size >= MAX_KEYS) return
    keys.set(rec.id, rec)
  }
  const run = (async () => {
    await ensureTopic(log)
    const d = await log.describeTopic(KEYS_TOPIC)
    const end = new Map(d.partitionStates.map((p) => [p.partition, p.endOffset]))
    const caughtUp = () => [...end.values()].every((e) => e <= 0)
    if (caughtUp()) markReady()
    for await (const batch of log.follow(KEYS_TOPIC, { from: 'earliest', signal: stop.signal })) {
      for (const r of batch) {
        apply(r.value)
        if ((end.get(r.partition) ?? 0) <= r.offset + 1) end.set(r.partition, 0)
      }
      if (caughtUp()) markReady()
    }
  })().catch((err: Error) => {
    // Keys already read stay valid; a store that stopped following says so to whoever waits for it.
    if (!stop.signal.aborted) markFailed(err)
  })
  return {
    ready: () => readyPromise,
    verify(text) {
      const m = KEY_TEXT.exec(text)
      if (!m) return undefined
      const rec = keys.get(m[1] as string)
      if (!rec || rec.revokedAt) return undefined
      const expected = Buffer.from(rec.sha256, 'hex')
      const actual = sha256(text)
      if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined
      return { id: `key:${rec.id}`, kind: 'key', name: rec.name, role: rec.role, scopes: rec.scopes }
    },
    list: () => [...keys.values()],
    async close() {
      stop.abort()
      await run
    },
  }
}

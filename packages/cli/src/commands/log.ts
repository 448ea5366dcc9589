/**
 * `ofa log topics|tail|produce|verify|repair`: inspect and repair an embedded log's data directory.
 * Inspection opens the directory read-only, so it works beside the process that owns it; `produce` and
 * `repair` need the directory for themselves and fail with OFA_LOG_LOCKED while an owner runs.
 * `topics`, `tail` and `produce` also work on Kafka with `--bootstrap HOST:PORT`, secured by the `--kafka-*` flags
 * and `OFA_KAFKA_*` variables (runtime/kafka-security.ts).
 */
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { Readable } from 'node:stream'
import { parseArgs } from 'node:util'
import {
  type EventLog,
  type LogRecord,
  type LostRange,
  openEmbeddedLog,
  REPAIRS_FILE,
  repairLog,
  verifyLog,
} from '@openfactory/log'
import { openKafkaLog } from '@openfactory/log-kafka'
import { type CliIo, EXIT, writeOut } from '../io.ts'
import { bootstrapFlag } from '../runtime/backbone.ts'
import {
  KAFKA_SECURITY_FLAGS,
  type KafkaSecurityFlags,
  kafkaSecurity,
  refuseKafkaSecurityFlags,
} from '../runtime/kafka-security.ts'
import { usageError } from '../usage.ts'

export const DEFAULT_DATA_DIR = '.ofa-data'

function dataDir(io: CliIo, value: string | undefined): string {
  return resolve(io.cwd, value ?? DEFAULT_DATA_DIR)
}

/** The flags naming the log: an embedded data directory, or Kafka and the connection's security. */
export const LOG_FLAGS = { data: { type: 'string' }, bootstrap: { type: 'string' }, ...KAFKA_SECURITY_FLAGS } as const

/** The log a command works on: Kafka with `--bootstrap`, else the embedded log in `--data`. */
export async function openLog(
  io: CliIo,
  values: { data?: string; bootstrap?: string } & KafkaSecurityFlags,
  readOnly: boolean,
): Promise<EventLog> {
  if (values.bootstrap === undefined) {
    refuseKafkaSecurityFlags(values, 'they go with --bootstrap')
    return openEmbeddedLog({ dir: dataDir(io, values.data), readOnly })
  }
  if (values.data !== undefined) throw usageError('--data and --bootstrap name two different logs: give one')
  const bootstrapServers = bootstrapFlag(values.bootstrap)
  const security = kafkaSecurity({ flags: values, env: io.env, cwd: io.cwd })
  return openKafkaLog({ bootstrapServers, clientId: 'ofa-cli', security })
}

function intOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < min) throw usageError(`--${name} must be an integer ≥ ${min}, got "${value}"`)
  return n
}

/** One record as a JSON line: keys and values as UTF-8 text, the timestamp in ISO-8601. */
/** Records as JSON lines, one string (one write per batch). */
function jsonLines(records: readonly LogRecord[]): string {
  let out = ''
  for (const r of records) out += `${recordToJson(r)}\n`
  return out
}

export function recordToJson(r: LogRecord): string {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(r.headers)) headers[k] = v.toString('utf8')
  return JSON.stringify({
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: new Date(r.timestamp).toISOString(),
    key: r.key === null ? null : r.key.toString('utf8'),
    value: r.value === null ? null : r.value.toString('utf8'),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
  })
}

export async function logCommand(args: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args
  switch (sub) {
    case 'topics':
      return topics(rest, io)
    case 'tail':
      return tail(rest, io)
    case 'produce':
      return produce(rest, io)
    case 'verify':
      return verify(rest, io)
    case 'repair':
      return repair(rest, io)
    default:
      throw usageError(
        sub === undefined
          ? 'ofa log needs a subcommand: topics, tail, produce, verify, repair'
          : `unknown subcommand "log ${sub}"`,
      )
  }
}

async function topics(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: LOG_FLAGS,
    allowPositionals: true,
  })
  if (positionals.length > 0) throw usageError(`ofa log topics takes no arguments, got "${positionals[0]}"`)
  const log = await openLog(io, values, true)
  let failed = false
  try {
    for (const name of await log.listTopics()) {
      let d: Awaited<ReturnType<typeof log.describeTopic>>
      try {
        d = await log.describeTopic(name)
      } catch (err) {
        // One damaged topic must not hide the others.
        io.stdout.write(`${name}\tUNREADABLE\n`)
        io.stderr.write(`${(err as { format?: () => string }).format?.() ?? String(err)}\n`)
        failed = true
        continue
      }
      const records = d.partitionStates.reduce((n, p) => n + (p.error ? 0 : p.endOffset - p.startOffset), 0)
      io.stdout.write(`${name}\tpartitions=${d.partitions}\tpolicy=${d.cleanupPolicy}\trecords=${records}\n`)
      for (const p of d.partitionStates) {
        if (p.error) {
          // One damaged partition is shown as such; the others are listed as usual.
          io.stdout.write(`  ${p.partition}\tDAMAGED\n`)
          io.stderr.write(`${p.error.format()}\n`)
          failed = true
        } else io.stdout.write(`  ${p.partition}\tstart=${p.startOffset}\tend=${p.endOffset}\n`)
      }
    }
  } finally {
    await log.close()
  }
  return failed ? EXIT.failed : EXIT.ok
}

async function tail(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      ...LOG_FLAGS,
      partition: { type: 'string' },
      from: { type: 'string' },
      limit: { type: 'string' },
      follow: { type: 'boolean', short: 'f' },
    },
    allowPositionals: true,
  })
  if (positionals.length !== 1) throw usageError('ofa log tail needs exactly one TOPIC')
  const topic = positionals[0] as string
  const partition = intOption('partition', values.partition, 0)
  const limit = intOption('limit', values.limit, 1) ?? Number.POSITIVE_INFINITY
  const fromText = values.from ?? 'earliest'
  const from = fromText === 'earliest' || fromText === 'latest' ? fromText : (intOption('from', fromText, 0) as number)
  const log = await openLog(io, values, true)
  let printed = 0
  let damaged = false
  try {
    const d = await log.describeTopic(topic)
    if (partition !== undefined && partition >= d.partitions) {
      throw usageError(`--partition ${partition} is out of range: ${topic} has ${d.partitions} partitions`)
    }
    const partitions = partition === undefined ? d.partitionStates.map((p) => p.partition) : [partition]
    if (values.follow) {
      for await (const batch of log.follow(topic, { partitions, from, signal: io.signal })) {
        const shown = batch.slice(0, limit - printed)
        await writeOut(io.stdout, jsonLines(shown), io.signal)
        printed += shown.length
        if (printed >= limit) return EXIT.ok
      }
      return EXIT.ok
    }
    for (const p of partitions) {
      const state = d.partitionStates[p]
      if (!state) continue
      if (state.error) {
        // A damaged partition is named; the others are printed.
        io.stderr.write(`${state.error.format()}\n`)
        damaged = true
        continue
      }
      let offset = from === 'earliest' ? state.startOffset : from === 'latest' ? state.endOffset : from
      while (printed < limit) {
        const batch = await log.read(topic, p, offset, { maxRecords: Math.min(10_000, limit - printed) })
        if (batch.length === 0) break
        await writeOut(io.stdout, jsonLines(batch), io.signal)
        if (io.signal.aborted) return EXIT.ok
        printed += batch.length
        offset = (batch.at(-1) as LogRecord).offset + 1
      }
    }
  } finally {
    await log.close()
  }
  return damaged ? EXIT.failed : EXIT.ok
}

async function produce(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      ...LOG_FLAGS,
      key: { type: 'string' },
      partitions: { type: 'string' },
    },
    allowPositionals: true,
  })
  const [topic, ...given] = positionals
  if (topic === undefined) throw usageError('ofa log produce needs a TOPIC')
  const partitions = intOption('partitions', values.partitions, 1) ?? 6
  let lines = given
  if (lines.length === 0) {
    lines = []
    const rl = createInterface({ input: Readable.from(io.stdin), crlfDelay: Number.POSITIVE_INFINITY })
    for await (const line of rl) if (line !== '') lines.push(line)
  }
  const log = await openLog(io, values, false)
  try {
    if (!(await log.listTopics()).includes(topic)) await log.createTopic({ name: topic, partitions })
    const key = values.key ?? null
    const meta = await log.append(
      topic,
      lines.map((value) => ({ key, value })),
    )
    for (const m of meta) io.stdout.write(`${m.topic}\t${m.partition}\t${m.offset}\n`)
  } finally {
    await log.close()
  }
  return EXIT.ok
}

async function verify(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { data: { type: 'string' } },
    allowPositionals: true,
  })
  if (positionals.length > 0) throw usageError(`ofa log verify takes no arguments, got "${positionals[0]}"`)
  const report = await verifyLog(dataDir(io, values.data))
  for (const p of report.partitions) {
    const state = p.problems.length > 0 ? 'DAMAGED' : p.tornTail ? 'torn tail (cut on next open)' : 'ok'
    const end = p.endOffset === null ? '' : `\tend=${p.endOffset}`
    const hw = p.highWaterMark === null ? '' : `\tacknowledged=${p.highWaterMark}`
    io.stdout.write(
      `${p.topic}/${p.partition}\tsegments=${p.segments.length}\trecords=${p.records}${end}${hw}\t${state}\n`,
    )
  }
  if (report.wal) {
    // The write-ahead file (an owner with `wal: true`, or one that stopped without closing).
    const w = report.wal
    const records = w.files.reduce((n, f) => n + f.records, 0)
    const torn = w.files.some((f) => f.tornAt !== null) ? '\ttorn tail (cut on next open)' : ''
    io.stdout.write(
      `write-ahead file\tfiles=${w.files.length}\trecords=${records}\tpending batches=${w.pendingBatches}${torn}\n`,
    )
  }
  for (const n of [...report.notes, ...report.partitions.flatMap((p) => p.notes)]) io.stdout.write(`note: ${n}\n`)
  for (const e of report.problems) io.stderr.write(`${e.format()}\n`)
  if (!report.ok) {
    const n = report.problems.length
    io.stderr.write(
      `${n} problem${n === 1 ? '' : 's'}; "ofa log repair" fixes them: it moves damaged files aside, rebuilds what can be rebuilt and records what was lost\n`,
    )
    return EXIT.failed
  }
  io.stdout.write('log verified: no damage\n')
  return EXIT.ok
}

function describeLost(lost: readonly LostRange[]): string {
  if (lost.length === 0) return 'nothing lost'
  return lost
    .map((l) => {
      const offsets = l.fromOffset === null ? 'offsets unknown' : `offsets ${l.fromOffset}..${l.toOffset ?? '?'}`
      const bytes = l.bytes > 0 ? `, ${l.bytes} bytes at ${l.position}` : ''
      return `lost ${offsets}${bytes}: ${l.reason}`
    })
    .join('; ')
}

async function repair(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { data: { type: 'string' } },
    allowPositionals: true,
  })
  if (positionals.length > 0) throw usageError(`ofa log repair takes no arguments, got "${positionals[0]}"`)
  const report = await repairLog(dataDir(io, values.data))
  for (const a of report.actions) {
    const where = a.topic === undefined ? '-' : a.partition === undefined ? a.topic : `${a.topic}/${a.partition}`
    const moved = a.movedTo ? ` -> ${a.movedTo}` : ''
    const note = a.note ? `\t${a.note}` : ''
    const what =
      a.action === 'cut-torn-tail'
        ? `\t${a.lost.map((l) => `cut ${l.bytes} bytes at ${l.position}: ${l.reason}`).join('; ')}`
        : a.lost.length > 0 || !a.note
          ? `\t${describeLost(a.lost)}`
          : ''
    io.stdout.write(`${a.action}\t${where}\t${a.file}${moved}${what}${note}\n`)
  }
  for (const e of report.unrepaired) io.stderr.write(`${e.format()}\n`)
  if (report.actions.length === 0 && report.unrepaired.length === 0) io.stdout.write('nothing to repair\n')
  else if (report.actions.length > 0) {
    io.stdout.write(`${report.actions.length} repairs, recorded in ${join(report.dir, REPAIRS_FILE)}\n`)
  }
  return report.unrepaired.length > 0 ? EXIT.failed : EXIT.ok
}

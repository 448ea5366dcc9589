/**
 * `ofa export [ASSET...] [--uns PATTERN]... [--items A,B] [--from T] [--to T] [--format csv|jsonl|parquet]
 * [--output FILE] [--data DIR | --bootstrap H:P]`: the history of assets from the log, as a file.
 *
 * It reads like serve's history export (`/api/assets/{uuid}/history/export`) and with its pieces (`ObservationFilter`:
 * an asset's key, item ids, source time in [from, to]; `readNaming`): every record of the assets' `ofa_assets`
 * partitions up to their end when the export began, in log order, one read batch at a time, each written before
 * the next is read. Assets sharing a partition are read in one pass. `--uns` selects the assets whose UNS path
 * matches (from their declarations on `ofa_registry`; serve's pattern rules). The log is opened read-only: it works
 * beside a running `ofa up`. The formats are @openfactory/integrations' (history-export.ts).
 */

import { once } from 'node:events'
import { createWriteStream, type WriteStream } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { createExportWriter, EXPORT_FORMATS, type ExportFileFormat, type ExportRow } from '@openfactory/integrations'
import { type EventLog, partitionFor } from '@openfactory/log'
import { decodeAssetDeclaration, parseTime, TOPICS, type UnsPlacement } from '@openfactory/model'
import {
  inferUnsSeparator,
  matchUnsLevels,
  ObservationFilter,
  readNaming,
  splitUns,
  validateUnsPattern,
} from '@openfactory/serve'
import { type CliIo, EXIT, writeOut } from '../io.ts'
import { usageError } from '../usage.ts'
import { LOG_FLAGS, openLog } from './log.ts'

const READ_BATCH = 2000

function time(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const t = parseTime(text)
  if (t === undefined) throw usageError(`--${name} must be an ISO-8601 time or epoch milliseconds, got "${text}"`)
  return t
}

function formatOf(format: string | undefined, output: string | undefined): ExportFileFormat {
  const f = format ?? (output?.endsWith('.parquet') ? 'parquet' : output?.endsWith('.jsonl') ? 'jsonl' : 'csv')
  if (!(EXPORT_FORMATS as readonly string[]).includes(f)) {
    throw usageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got "${f}"`)
  }
  return f as ExportFileFormat
}

export async function exportCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      ...LOG_FLAGS,
      uns: { type: 'string', multiple: true },
      items: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      format: { type: 'string' },
      output: { type: 'string', short: 'o' },
    },
    allowPositionals: true,
  })
  const patterns = (values.uns ?? []).map((p) => validateUnsPattern(p, 'OFA_CLI_USAGE', '--uns'))
  if (positionals.length === 0 && patterns.length === 0) {
    throw usageError('ofa export needs assets: give their uuids, or --uns PATTERN')
  }
  const from = time('from', values.from, Number.NEGATIVE_INFINITY)
  const to = time('to', values.to, Number.POSITIVE_INFINITY)
  if (from > to) throw usageError('--from is after --to')
  const items = values.items === undefined ? null : values.items.split(',').filter((s) => s !== '')
  if (items !== null && items.length === 0) throw usageError('--items names no item')
  const format = formatOf(values.format, values.output)
  if (format === 'parquet' && values.output === undefined && (io.stdout as { isTTY?: boolean }).isTTY) {
    throw usageError('Parquet is binary: give --output FILE, or redirect stdout')
  }

  const log = await openLog(io, values, true)
  let file: WriteStream | null = null
  try {
    // Which items of which assets: those named (all their items, or --items), and those a UNS pattern matches.
    const selected = new Map<string, ReadonlySet<string> | null>()
    for (const a of positionals) selected.set(a, items ? new Set(items) : null)
    if (patterns.length > 0) {
      for (const [uuid, uns] of await placements(log)) {
        const separator = inferUnsSeparator(Object.values(uns.levels), uns.unsId, '/')
        const path = splitUns(uns.unsId, separator)
        const ids = new Set<string>()
        let all = false
        for (const p of patterns) {
          const m = matchUnsLevels(splitUns(p, separator), path)
          if (m === true) all = true
          else if (typeof m === 'string') ids.add(m)
        }
        if (!all && ids.size === 0) continue
        let take: Set<string> | null = all ? null : ids
        if (items) take = new Set((take ? [...take] : items).filter((i) => items.includes(i)))
        if (take?.size === 0) continue
        const before = selected.get(uuid)
        if (before === null) continue
        selected.set(uuid, take === null || before === undefined ? take : new Set([...before, ...take]))
      }
      if (selected.size === 0) throw usageError(`no asset on the log matches ${patterns.join(', ')}`)
    }

    const sink = async (chunk: string | Uint8Array): Promise<void> => {
      if (file) {
        if (!file.write(chunk)) await once(file, 'drain', { signal: io.signal }).catch(() => {})
      } else if (typeof chunk === 'string') await writeOut(io.stdout, chunk, io.signal)
      else await writeOut(io.stdout as unknown as CliIo['stdout'], chunk as unknown as string, io.signal)
    }
    if (values.output !== undefined) {
      file = createWriteStream(resolve(io.cwd, values.output))
      await once(file, 'open')
    }
    const writer = createExportWriter(format, sink)
    let rows = 0
    const desc = await log.describeTopic(TOPICS.assets)
    // Assets by partition: one pass over each partition for all of its assets.
    const byPartition = new Map<number, Map<string, ObservationFilter>>()
    for (const [uuid, ids] of selected) {
      const p = partitionFor(uuid, desc.partitions)
      const filters = byPartition.get(p) ?? new Map<string, ObservationFilter>()
      byPartition.set(p, filters)
      filters.set(uuid, new ObservationFilter(uuid, ids, from, to))
    }
    for (const [partition, filters] of [...byPartition].sort((a, b) => a[0] - b[0])) {
      const state = desc.partitionStates[partition]
      if (!state) continue
      if (state.error) throw state.error
      const end = state.endOffset
      const [first] = filters.keys()
      let offset = state.startOffset
      while (offset < end && !io.signal.aborted) {
        const batch = await readNaming(
          log,
          TOPICS.assets,
          partition,
          offset,
          Math.min(READ_BATCH, end - offset),
          filters.size === 1 ? (first as string) : `${filters.size} assets`,
        )
        if (batch.length === 0) break
        const out: ExportRow[] = []
        for (const r of batch) {
          if (r.offset >= end || r.key === null) continue
          const uuid = r.key.toString('utf8')
          const f = filters.get(uuid)
          const o = f?.accept(r)
          if (!f || !o) continue
          out.push({
            asset: uuid,
            time: f.time,
            timestamp: typeof o.attributes.timestamp === 'string' ? o.attributes.timestamp : '',
            id: o.id,
            tag: o.tag,
            type: o.type,
            value: o.value,
            attributes: o.attributes,
            partition,
            offset: r.offset,
          })
        }
        if (out.length > 0) await writer.write(out)
        rows += out.length
        offset = (batch.at(-1)?.offset ?? end) + 1
      }
    }
    await writer.end()
    if (file) {
      const f = file
      file = null
      await new Promise<void>((ok, fail) => f.end((err?: Error | null) => (err ? fail(err) : ok())))
    }
    io.stderr.write(
      `exported ${rows} observation${rows === 1 ? '' : 's'} of ${selected.size} asset${selected.size === 1 ? '' : 's'} as ${format}${
        values.output !== undefined ? ` to ${values.output}` : ''
      }\n`,
    )
    return EXIT.ok
  } finally {
    file?.destroy()
    await log.close()
  }
}

/** Every asset's UNS placement, from its latest declaration on `ofa_registry` (compacted, keyed by uuid). */
async function placements(log: EventLog): Promise<Map<string, UnsPlacement>> {
  const out = new Map<string, UnsPlacement>()
  if (!(await log.listTopics()).includes(TOPICS.registry)) return out
  const d = await log.describeTopic(TOPICS.registry)
  for (const p of d.partitionStates) {
    let offset = p.startOffset
    while (offset < p.endOffset) {
      const batch = await log.read(TOPICS.registry, p.partition, offset, { maxRecords: 10_000 })
      if (batch.length === 0) break
      for (const r of batch) {
        if (r.key === null) continue
        const uuid = r.key.toString('utf8')
        if (r.value === null) {
          out.delete(uuid)
          continue
        }
        try {
          const a = decodeAssetDeclaration(uuid, r.value)
          if (a.uns) out.set(uuid, a.uns)
          else out.delete(uuid)
        } catch {
          // A declaration we cannot read places nothing.
        }
      }
      offset = (batch.at(-1)?.offset ?? p.endOffset) + 1
    }
  }
  return out
}

/**
 * Committed consumer-group offsets: one small JSON file per group in `<dir>/groups/`, replaced atomically
 * (write a temporary file, fdatasync, rename, fsync the directory) so that a crash leaves the old or the new
 * file, never a mix. Commits of one group that arrive while a write is in flight are coalesced into the next
 * write. A commit resolves once its offsets are on disk.
 *
 * Why files rather than SQLite: node:sqlite is synchronous, so a durable SQLite commit (synchronous=FULL) would
 * block the event loop for an fsync (~1 ms here) on every commit; these writes run on the thread pool.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { TopicPartitionOffset } from '../backbone.ts'
import { corrupt, ioError } from './errors.ts'
import { mkdirp, writeFileAtomic } from './fs-util.ts'

interface GroupState {
  readonly name: string
  readonly offsets: Map<string, Map<number, number>>
  version: number
  durable: number
  writing: Promise<void> | null
}

export class OffsetStore {
  readonly #dir: string
  readonly #readOnly: boolean
  readonly #groups = new Map<string, GroupState>()

  private constructor(dir: string, readOnly: boolean) {
    this.#dir = dir
    this.#readOnly = readOnly
  }

  static async open(dataDir: string, readOnly: boolean): Promise<OffsetStore> {
    const dir = path.join(dataDir, 'groups')
    if (!readOnly) await mkdirp(dir)
    const store = new OffsetStore(dir, readOnly)
    if (!readOnly) {
      for (const name of await fs.promises.readdir(dir)) {
        if (name.endsWith('.tmp')) await fs.promises.rm(path.join(dir, name), { force: true })
      }
    }
    return store
  }

  /**
   * Every group with committed offsets, read from its file. Files that cannot be read are left out here: the
   * group's consumers meet the error (`OFA_LOG_CORRUPT` naming the file) when they start.
   */
  async loadAll(): Promise<{ group: string; offsets: Map<string, Map<number, number>> }[]> {
    let names: string[]
    try {
      names = await fs.promises.readdir(this.#dir)
    } catch {
      return []
    }
    const out: { group: string; offsets: Map<string, Map<number, number>> }[] = []
    for (const name of names.sort()) {
      if (!name.endsWith('.json')) continue
      let group: unknown
      try {
        group = (JSON.parse(await fs.promises.readFile(path.join(this.#dir, name), 'utf8')) as { group?: unknown })
          .group
      } catch {
        continue
      }
      if (typeof group !== 'string' || this.#file(group) !== path.join(this.#dir, name)) continue
      try {
        const g = await this.#state(group, this.#readOnly)
        out.push({ group, offsets: g.offsets })
      } catch {
        // Reported to the group's consumers.
      }
    }
    return out
  }

  /** The file that holds a group's committed offsets. */
  fileOf(group: string): string {
    return this.#file(group)
  }

  /** Committed offsets of a group for one topic. Read-only mode reads the file again every time. */
  async get(group: string, topic: string): Promise<Map<number, number>> {
    const g = await this.#state(group, this.#readOnly)
    return new Map(g.offsets.get(topic) ?? [])
  }

  /** Records offsets and resolves once they are durable. */
  async commit(group: string, entries: readonly TopicPartitionOffset[]): Promise<void> {
    const g = await this.#state(group, false)
    for (const e of entries) {
      let t = g.offsets.get(e.topic)
      if (!t) {
        t = new Map()
        g.offsets.set(e.topic, t)
      }
      t.set(e.partition, e.offset)
    }
    const want = ++g.version
    while (g.durable < want) {
      if (g.writing) {
        await g.writing.catch(() => {})
        continue
      }
      const v = g.version
      g.writing = this.#write(g)
        .then(() => {
          g.durable = Math.max(g.durable, v)
        })
        .finally(() => {
          g.writing = null
        })
      await g.writing
    }
  }

  async #write(g: GroupState): Promise<void> {
    const offsets: Record<string, Record<string, number>> = {}
    for (const [topic, parts] of g.offsets) offsets[topic] = Object.fromEntries([...parts].sort((a, b) => a[0] - b[0]))
    const text = `${JSON.stringify({ group: g.name, offsets })}\n`
    try {
      await writeFileAtomic(this.#file(g.name), text)
    } catch (err) {
      throw ioError(`cannot commit offsets of group ${g.name}`, err, this.#file(g.name))
    }
  }

  async #state(group: string, reload: boolean): Promise<GroupState> {
    let g = this.#groups.get(group)
    if (g && !reload) return g
    const loaded = await this.#load(group)
    if (!g) {
      g = { name: group, offsets: loaded, version: 0, durable: 0, writing: null }
      this.#groups.set(group, g)
    } else {
      g.offsets.clear()
      for (const [k, v] of loaded) g.offsets.set(k, v)
    }
    return g
  }

  async #load(group: string): Promise<Map<string, Map<number, number>>> {
    const file = this.#file(group)
    let text: string
    try {
      text = await fs.promises.readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
      throw ioError(`cannot read ${file}`, err)
    }
    const out = new Map<string, Map<number, number>>()
    try {
      const raw = JSON.parse(text) as { group?: unknown; offsets?: Record<string, Record<string, unknown>> }
      if (raw.group !== group || raw.offsets === null || typeof raw.offsets !== 'object')
        throw new Error('unexpected content')
      for (const [topic, parts] of Object.entries(raw.offsets)) {
        const m = new Map<number, number>()
        for (const [p, o] of Object.entries(parts)) {
          if (!Number.isSafeInteger(o) || (o as number) < 0 || !/^\d+$/.test(p)) throw new Error('unexpected content')
          m.set(Number(p), o as number)
        }
        out.set(topic, m)
      }
    } catch (err) {
      throw corrupt(
        file,
        0,
        `committed offsets of group ${group} are unreadable; "ofa log repair" moves the file aside (the group then starts from its resetTo position)`,
        err,
      )
    }
    return out
  }

  #file(group: string): string {
    return path.join(this.#dir, `${groupFileStem(group)}.json`)
  }
}

/** A file name for a group: the name itself where it is safe, escaped otherwise, hashed when too long. */
function groupFileStem(group: string): string {
  let s = ''
  for (const byte of Buffer.from(group, 'utf8')) {
    const c = String.fromCharCode(byte)
    s += /[A-Za-z0-9_-]/.test(c) ? c : `%${byte.toString(16).padStart(2, '0')}`
  }
  if (s.length > 180) s = `h-${createHash('sha256').update(group).digest('hex')}`
  return s
}

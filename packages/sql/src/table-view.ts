/**
 * The current state of a table, for pull queries: key → row, kept by following the table's topic (the changelog a
 * table is: the last record of a key is its row, a tombstone removes it). A pull query first waits until the view
 * has read the topic up to the end offsets it had when the query came (`catchUp`), so the answer includes every
 * change written before the query — whichever process wrote it.
 */
import type { EventLog } from '@openfactory/log'
import { tail } from '@openfactory/log'
import { type DebugLogger, isOpenFactoryError, silentLogger } from '@openfactory/model'
import type { DataSource } from './catalog.ts'
import { createRowCodec, type Row } from './row-codec.ts'

export class TableView {
  readonly source: DataSource
  readonly #log: EventLog
  readonly #rows = new Map<string, Row>()
  readonly #positions = new Map<number, number>()
  readonly #abort = new AbortController()
  readonly #waiters = new Set<() => void>()
  readonly #logger: DebugLogger
  #done: Promise<void>
  #failure: unknown
  #skipped = 0

  constructor(eventLog: EventLog, source: DataSource, logger: DebugLogger = silentLogger) {
    this.source = source
    this.#log = eventLog
    this.#logger = logger
    this.#done = this.#follow()
  }

  /** Rows in key order when `ordered`, else in the order keys were first seen. */
  rows(): IterableIterator<Row> {
    return this.#rows.values()
  }

  get size(): number {
    return this.#rows.size
  }

  /** The row of a key (the text `keyText` makes of its key values). */
  get(key: string): Row | undefined {
    return this.#rows.get(key)
  }

  /** Resolves once the view has read every record the topic held when called. */
  async catchUp(signal?: AbortSignal): Promise<void> {
    const d = await this.#log.describeTopic(this.source.topic)
    const behind = () =>
      d.partitionStates.some((s) => (this.#positions.get(s.partition) ?? s.startOffset) < s.endOffset)
    while (behind()) {
      if (this.#failure) throw this.#failure
      signal?.throwIfAborted()
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#waiters.delete(done)
          resolve()
        }
        this.#waiters.add(done)
        setTimeout(done, 50)
      })
    }
  }

  async close(): Promise<void> {
    this.#abort.abort()
    await this.#done
  }

  async #follow(): Promise<void> {
    const codec = createRowCodec(this.source)
    const keyCount = this.source.schema.keys.length
    try {
      for await (const b of tail(this.#log, this.source.topic, { signal: this.#abort.signal, logger: this.#logger })) {
        for (const r of b.records) {
          this.#positions.set(r.partition, r.offset + 1)
          let decoded: ReturnType<typeof codec.decode>
          try {
            decoded = codec.decode(r)
          } catch (err) {
            if (!isOpenFactoryError(err, 'OFA_SQL_VALUE')) throw err
            if (this.#skipped++ < 100) {
              this.#logger.warn('table view: a record that does not decode is skipped', {
                table: this.source.name,
                partition: r.partition,
                offset: r.offset,
                error: err.message,
              })
            }
            continue
          }
          const key = keyText(decoded.row.slice(0, keyCount), decoded.row, this.source)
          if (decoded.tombstone) this.#rows.delete(key)
          else this.#rows.set(key, decoded.row)
        }
        for (const w of [...this.#waiters]) w()
      }
    } catch (err) {
      this.#failure = err
      for (const w of [...this.#waiters]) w()
    }
  }
}

/** The text a table row is kept under: its key values (and window start for a windowed table). */
export function keyText(keys: readonly unknown[], row: Row, source: DataSource): string {
  const base = source.windowed ? `\u0000${row[source.schema.rowtimeIndex + 3]}` : ''
  return JSON.stringify(keys) + base
}

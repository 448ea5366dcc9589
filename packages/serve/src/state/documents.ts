/**
 * Asset documents — what devices send about physical assets (MTConnect `@ASSET@` from an adapter, an agent's
 * `/assets`: cutting tools, parts, files) — as the API serves them: the last body of each document, read from the
 * compacted `ofa_asset_documents` topic (key = document id, value = model's `encodeAssetDocument` JSON; a tombstone
 * removes the document) from its earliest offset, then followed.
 *
 * Memory is bounded: at most `maxDocuments` documents (default 10 000) and `maxBytes` bytes of bodies (default
 * 64 MiB, UTF-8). Past either bound the documents updated longest ago are dropped from memory (counted in
 * `stats().evicted`; they stay on the log) — the store keeps the newest. One document larger than `maxBytes` is
 * not kept at all (counted too). A record that is not a document is skipped, counted and logged once per kind.
 */
import { type EventLog, tail } from '@openfactory/log'
import {
  type AssetDocument,
  decodeAssetDocument,
  isOpenFactoryError,
  type Logger,
  OpenFactoryError,
  TOPICS,
} from '@openfactory/model'

export const DEFAULT_MAX_DOCUMENTS = 10_000
export const DEFAULT_MAX_DOCUMENT_BYTES = 64 * 1024 * 1024

export interface DocumentStoreOptions {
  readonly eventLog: EventLog
  /** Default `ofa_asset_documents`. */
  readonly topic?: string
  readonly maxDocuments?: number
  readonly maxBytes?: number
  readonly logger?: Logger
}

/** A document as the list shows it (no body). */
export interface DocumentSummary {
  readonly assetId: string
  readonly type: string
  readonly deviceUuid: string
  readonly timestamp: string
  readonly removed: boolean
  /** The body's size in bytes (UTF-8). */
  readonly bytes: number
}

export interface DocumentStoreStats {
  readonly documents: number
  readonly bytes: number
  /** Documents dropped from memory to stay within the bounds. */
  readonly evicted: number
  /** Records of the topic that were not documents. */
  readonly invalid: number
}

export interface DocumentStore {
  /** Newest first; `asset` keeps those of one device; removed ones only with `removed`. */
  list(filter?: { readonly asset?: string; readonly removed?: boolean }): DocumentSummary[]
  get(assetId: string): (DocumentSummary & { readonly body: string }) | undefined
  stats(): DocumentStoreStats
  close(): void
}

interface Kept {
  readonly doc: AssetDocument
  readonly bytes: number
}

export function createDocumentStore(opts: DocumentStoreOptions): DocumentStore {
  const topic = opts.topic ?? TOPICS.documents
  const maxDocuments = opts.maxDocuments ?? DEFAULT_MAX_DOCUMENTS
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_DOCUMENT_BYTES
  /** In update order: a Map keeps insertion order, and an update re-inserts. */
  const docs = new Map<string, Kept>()
  let bytes = 0
  let evicted = 0
  let invalid = 0
  const stop = new AbortController()

  const remove = (id: string): void => {
    const k = docs.get(id)
    if (!k) return
    docs.delete(id)
    bytes -= k.bytes
  }
  const put = (id: string, doc: AssetDocument): void => {
    remove(id)
    const size = Buffer.byteLength(doc.body)
    if (size > maxBytes) {
      evicted++
      return
    }
    docs.set(id, { doc, bytes: size })
    bytes += size
    for (const [oldest] of docs) {
      if (docs.size <= maxDocuments && bytes <= maxBytes) break
      remove(oldest)
      evicted++
    }
  }

  const run = async (): Promise<void> => {
    try {
      await opts.eventLog.createTopic({ name: topic, partitions: 1, cleanupPolicy: 'compact' })
    } catch (err) {
      if (!isOpenFactoryError(err, 'OFA_LOG_TOPIC_CONFLICT')) throw err
    }
    for await (const batch of tail(opts.eventLog, topic, {
      signal: stop.signal,
      ...(opts.logger ? { logger: opts.logger } : {}),
    })) {
      for (const r of batch.records) {
        const id = r.key?.toString('utf8')
        if (!id) {
          invalid++
          continue
        }
        if (r.value === null) {
          remove(id)
          continue
        }
        try {
          put(id, decodeAssetDocument(r.value))
        } catch (err) {
          if (invalid++ === 0) {
            opts.logger?.warn('a record of the asset documents topic is not a document; skipping it (logged once)', {
              topic,
              partition: r.partition,
              offset: r.offset,
              reason: (err as Error).message,
            })
          }
        }
      }
    }
  }
  run().catch((err) => {
    if (stop.signal.aborted) return
    opts.logger?.error('asset documents are no longer read from the log', {
      code: isOpenFactoryError(err) ? err.code : undefined,
      reason: (err as Error).message,
    })
  })

  const summary = (k: Kept): DocumentSummary => ({
    assetId: k.doc.assetId,
    type: k.doc.type,
    deviceUuid: k.doc.deviceUuid,
    timestamp: k.doc.timestamp,
    removed: k.doc.removed === true,
    bytes: k.bytes,
  })

  return {
    list(filter = {}) {
      const out: DocumentSummary[] = []
      for (const k of docs.values()) {
        if (filter.asset !== undefined && k.doc.deviceUuid !== filter.asset) continue
        if (k.doc.removed && !filter.removed) continue
        out.push(summary(k))
      }
      return out.reverse()
    },
    get(assetId) {
      const k = docs.get(assetId)
      return k ? { ...summary(k), body: k.doc.body } : undefined
    },
    stats: () => ({ documents: docs.size, bytes, evicted, invalid }),
    close() {
      stop.abort()
    },
  }
}

/** The 404 of an unknown document id. */
export function documentNotFound(assetId: string): OpenFactoryError {
  return new OpenFactoryError('OFA_SERVE_DOCUMENT_NOT_FOUND', `no asset document ${JSON.stringify(assetId)}`, {
    where: { path: 'params.id' },
  })
}

/**
 * Command history of an asset from its `<Method>_CMD` / `<Method>_RESULT` items (the wire format of DESIGN §3:
 * a command's envelope `{"header": {"correlation_id", "sender_uuid", "timestamp", "signature"}, "arguments"}`, a
 * result `{"correlation_id", "status", "result"?, "error"?}`), read from the asset's history and then live. Pure:
 * no DOM.
 */
import type { ItemState } from './types.ts'

export interface CommandRow {
  readonly correlationId: string
  method: string
  arguments?: unknown
  sender?: string
  signature?: string | null
  sentAt?: string
  status: string
  result?: unknown
  error?: { code?: string; message?: string }
  answeredAt?: string
}

const FINAL = new Set(['completed', 'failed', 'rejected', 'timeout'])

function parse(v: unknown): Record<string, unknown> | null {
  if (typeof v !== 'string') return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null
  try {
    const o = JSON.parse(v) as unknown
    return typeof o === 'object' && o !== null ? (o as Record<string, unknown>) : null
  } catch {
    return null
  }
}

/** Folds one `_CMD` or `_RESULT` entry into the rows (by correlation id); false when it is neither. */
export function foldCommand(
  rows: Map<string, CommandRow>,
  item: Pick<ItemState, 'id' | 'value' | 'timestamp'>,
): boolean {
  const m = /^(.*)_(CMD|RESULT)$/.exec(item.id)
  if (!m) return false
  const method = m[1] as string
  const body = parse(item.value)
  if (!body) return false
  if (m[2] === 'CMD') {
    const header = (body.header ?? {}) as Record<string, unknown>
    const id = header.correlation_id
    if (typeof id !== 'string') return false
    const row = rows.get(id) ?? { correlationId: id, method, status: 'pending' }
    row.method = method
    row.arguments = body.arguments
    row.sender = typeof header.sender_uuid === 'string' ? header.sender_uuid : undefined
    row.signature = typeof header.signature === 'string' ? header.signature : null
    row.sentAt = typeof header.timestamp === 'string' ? header.timestamp : item.timestamp
    rows.set(id, row)
    return true
  }
  const id = body.correlation_id
  if (typeof id !== 'string') return false
  const row = rows.get(id) ?? { correlationId: id, method, status: 'pending' }
  // The first final result is the command's outcome; a later one changes nothing (as the server tracks it).
  if (!FINAL.has(row.status)) {
    row.status = typeof body.status === 'string' ? body.status : row.status
    if ('result' in body) row.result = body.result
    if (body.error && typeof body.error === 'object') row.error = body.error as CommandRow['error']
    row.answeredAt = item.timestamp
  }
  rows.set(id, row)
  return true
}

/** Newest first (by send time; answers without their command last), at most `limit`. */
export function newestCommands(rows: Map<string, CommandRow>, limit = 50): CommandRow[] {
  return [...rows.values()]
    .sort((a, b) => (b.sentAt ?? b.answeredAt ?? '').localeCompare(a.sentAt ?? a.answeredAt ?? ''))
    .slice(0, limit)
}

/** Opaque page cursors: base64url of a small JSON object tagged with the route it belongs to. */
import { OpenFactoryError } from '@openfactory/model'

export function encodeCursor(kind: string, data: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify({ k: kind, ...data }), 'utf8').toString('base64url')
}

export function decodeCursor(kind: string, cursor: string): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    v = undefined
  }
  if (v === null || typeof v !== 'object' || (v as { k?: unknown }).k !== kind) {
    throw new OpenFactoryError('OFA_SERVE_CURSOR_INVALID', 'cursor was not produced by this route', {
      where: { path: 'query.cursor' },
    })
  }
  return v as Record<string, unknown>
}

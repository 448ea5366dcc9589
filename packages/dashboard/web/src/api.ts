/**
 * Requests to the serving layer: same origin, JSON, the user's credential as `Authorization: Bearer` (kept in
 * sessionStorage: it lasts as long as the tab, and no other site can read it). A 401 signs the user out (the
 * credential was revoked or expired); every error answer is turned into an `ApiError` with the server's code and
 * message (`{"error": {"code", "message", "where"?}}`).
 */
import { signal } from '@preact/signals'

const TOKEN_KEY = 'ofa.credential'

function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY)
  } catch {
    return null
  }
}

/** The API key or access token the user signed in with (null: none). */
export const credential = signal<string | null>(storedToken())

/** Set when the server answered 401: the sign-in page shows instead of the app. */
export const signInNeeded = signal(false)

export function setCredential(value: string | null): void {
  try {
    if (value === null) sessionStorage.removeItem(TOKEN_KEY)
    else sessionStorage.setItem(TOKEN_KEY, value)
  } catch {
    // Storage refused (a private mode): the credential lives in memory for this page only.
  }
  credential.value = value
}

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly where?: string
  constructor(status: number, code: string, message: string, where?: string) {
    super(message)
    this.status = status
    this.code = code
    this.where = where
  }
  /** `OFA_CODE: message (at where)`, what the pages show. */
  describe(): string {
    return `${this.code}: ${this.message}${this.where ? ` (at ${this.where})` : ''}`
  }
}

export interface RequestOptions {
  readonly method?: 'GET' | 'POST' | 'DELETE'
  /** A JSON body (sent as application/json); POSTs without one still say application/json, as the server asks. */
  readonly body?: unknown
  readonly signal?: AbortSignal
  readonly accept?: string
  /** Answer 401 without signing the user out (the sign-in form checks a credential with it). */
  readonly quiet401?: boolean
}

export function authHeaders(): Record<string, string> {
  const c = credential.value
  return c ? { authorization: `Bearer ${c}` } : {}
}

/** Reads an error answer (ours, or ksqlDB's `{"message", "error_code"}`) into an ApiError. */
export async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '')
  try {
    const body = JSON.parse(text) as {
      error?: { code?: string; message?: string; where?: { path?: string } }
      message?: string
      error_code?: number
    }
    if (body.error?.code)
      return new ApiError(res.status, body.error.code, body.error.message ?? '', body.error.where?.path)
    if (typeof body.message === 'string')
      return new ApiError(res.status, `ksqlDB ${body.error_code ?? res.status}`, body.message)
  } catch {
    // not JSON
  }
  return new ApiError(res.status, `HTTP ${res.status}`, text.slice(0, 300) || res.statusText)
}

/** A request whose answer is returned as it is (streams, text); errors are thrown as ApiError. */
export async function request(path: string, opts: RequestOptions = {}): Promise<Response> {
  const method = opts.method ?? (opts.body === undefined ? 'GET' : 'POST')
  const headers: Record<string, string> = { accept: opts.accept ?? 'application/json', ...authHeaders() }
  if (method === 'POST') headers['content-type'] = 'application/json'
  const res = await fetch(path, {
    method,
    headers,
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    ...(opts.signal ? { signal: opts.signal } : {}),
    credentials: 'omit',
  })
  if (!res.ok) {
    if (res.status === 401 && !opts.quiet401) signInNeeded.value = true
    throw await errorOf(res)
  }
  return res
}

/** A JSON request. */
export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await request(path, opts)
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}

/** `?a=1&b=2` from the defined entries. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}

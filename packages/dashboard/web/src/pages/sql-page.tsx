/**
 * SQL, when the serving app has the ksqlDB-compatible API (`GET /info` answers): pull queries and push queries
 * (`EMIT CHANGES`: rows stream in until Stop, the `LIMIT`, or leaving the page) over `POST /query-stream`, read as
 * they arrive, and statements (`CREATE ...`, `SHOW ...`) over `POST /ksql` (admins only). Errors are ksqlDB's,
 * shown as the server wrote them.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, api, request } from '../api.ts'
import { value as show } from '../format.ts'

const MAX_ROWS = 1000
const EXAMPLES = [
  'SHOW TABLES;',
  'SHOW STREAMS;',
  'SELECT * FROM assets_avail;',
  'SELECT asset_uuid, id, value FROM assets_stream EMIT CHANGES;',
]

interface Info {
  readonly KsqlServerInfo: { readonly version: string; readonly serverStatus: string }
}

interface Result {
  queryId?: string
  columns: string[]
  types: string[]
  rows: unknown[][]
  /** Rows received past MAX_ROWS (not kept). */
  dropped: number
  done: boolean
}

function describe(err: unknown): string {
  return err instanceof ApiError ? err.describe() : err instanceof Error ? err.message : String(err)
}

export function SqlPage() {
  const [info, setInfo] = useState<Info | null | 'none'>(null)
  const [text, setText] = useState(EXAMPLES[2] as string)
  const [result, setResult] = useState<Result | null>(null)
  const [statement, setStatement] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const running = useRef<{ controller: AbortController; queryId?: string } | null>(null)

  useEffect(() => {
    api<Info>('/info').then(setInfo, (err) => {
      if (err instanceof ApiError && err.status === 404) setInfo('none')
      else setError(describe(err))
    })
    return () => running.current?.controller.abort()
  }, [])

  const stop = async () => {
    const r = running.current
    if (!r) return
    running.current = null
    if (r.queryId) await api('/close-query', { method: 'POST', body: { queryId: r.queryId } }).catch(() => {})
    r.controller.abort()
    setResult((x) => (x ? { ...x, done: true } : x))
  }

  const runQuery = async () => {
    await stop()
    setError(null)
    setStatement(null)
    const controller = new AbortController()
    running.current = { controller }
    const res: Result = { columns: [], types: [], rows: [], dropped: 0, done: false }
    setResult({ ...res })
    try {
      const r = await request('/query-stream', {
        method: 'POST',
        body: { sql: text },
        accept: 'application/vnd.ksqlapi.delimited.v1',
        signal: controller.signal,
      })
      const reader = (r.body as ReadableStream<Uint8Array>).getReader()
      const decoder = new TextDecoder()
      let pending = ''
      let lastDraw = 0
      for (;;) {
        const { done, value } = await reader.read()
        pending += decoder.decode(value ?? new Uint8Array(), { stream: !done })
        const lines = pending.split('\n')
        pending = done ? '' : (lines.pop() ?? '')
        for (const line of lines) {
          if (line.trim() === '') continue
          const parsed = JSON.parse(line) as unknown
          if (Array.isArray(parsed)) {
            if (res.rows.length < MAX_ROWS) res.rows.push(parsed)
            else res.dropped++
          } else if (parsed && typeof parsed === 'object' && 'columnNames' in parsed) {
            const h = parsed as { queryId?: string; columnNames: string[]; columnTypes: string[] }
            res.queryId = h.queryId
            res.columns = h.columnNames
            res.types = h.columnTypes
            if (running.current) running.current.queryId = h.queryId
          } else if (parsed && typeof parsed === 'object' && 'message' in parsed) {
            setError(
              `ksqlDB ${(parsed as { error_code?: number }).error_code ?? ''}: ${(parsed as { message: string }).message}`,
            )
          }
        }
        if (done || Date.now() - lastDraw > 100) {
          lastDraw = Date.now()
          setResult({ ...res, rows: [...res.rows], done })
        }
        if (done) break
      }
    } catch (err) {
      if (!controller.signal.aborted) setError(describe(err))
    } finally {
      if (running.current?.controller === controller) running.current = null
      setResult((x) => (x ? { ...x, done: true } : x))
    }
  }

  const runStatement = async () => {
    await stop()
    setError(null)
    setResult(null)
    try {
      const answer = await api<unknown>('/ksql', { method: 'POST', body: { ksql: text } })
      setStatement(JSON.stringify(answer, null, 2))
    } catch (err) {
      setError(describe(err))
    }
  }

  if (info === 'none') {
    return (
      <section aria-labelledby="sql-heading">
        <h1 id="sql-heading">SQL</h1>
        <p>
          This serving app has no SQL engine (<code>/info</code> answers 404). <code>ofa up</code> serves one; a serving
          app run alone (<code>ofa run</code>) does not.
        </p>
      </section>
    )
  }
  return (
    <section aria-labelledby="sql-heading">
      <h1 id="sql-heading">SQL</h1>
      {info && (
        <p class="muted">
          ksqlDB-compatible API {info.KsqlServerInfo.version}, engine {info.KsqlServerInfo.serverStatus}.
        </p>
      )}
      <form
        class="sql"
        onSubmit={(e) => {
          e.preventDefault()
          void runQuery()
        }}
      >
        <label for="sql-text">Statement or query</label>
        <textarea
          id="sql-text"
          rows={5}
          spellcheck={false}
          value={text}
          onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
        />
        <div class="sql-tools">
          <button type="submit">Run query</button>
          <button type="button" onClick={() => void runStatement()}>
            Run statement
          </button>
          <button type="button" onClick={() => void stop()} disabled={!result || result.done}>
            Stop
          </button>
          <label>
            <span>Examples</span>
            <select
              value=""
              onChange={(e) => {
                const v = (e.currentTarget as HTMLSelectElement).value
                if (v) setText(v)
              }}
            >
              <option value="">choose…</option>
              {EXAMPLES.map((x) => (
                <option key={x} value={x}>
                  {x}
                </option>
              ))}
            </select>
          </label>
        </div>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {result && (
        <section aria-labelledby="sql-result-heading">
          <h2 id="sql-result-heading">Rows</h2>
          <p class="muted" aria-live="polite">
            {result.done ? 'Done' : 'Running'}: {result.rows.length} row{result.rows.length === 1 ? '' : 's'}
            {result.dropped > 0 ? ` (and ${result.dropped} more not kept)` : ''}
            {result.queryId ? `, query ${result.queryId}` : ''}
          </p>
          <div class="table-scroll">
            <table class="sql-rows">
              <thead>
                <tr>
                  {result.columns.map((c, i) => (
                    <th key={c} scope="col" title={result.types[i]}>
                      {c}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {result.rows.map((row, i) => (
                  <tr key={i}>
                    {row.map((v, k) => (
                      <td key={result.columns[k] ?? k}>{show(v)}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      {statement && (
        <section aria-labelledby="sql-statement-heading">
          <h2 id="sql-statement-heading">Answer</h2>
          <pre class="sql-answer">{statement}</pre>
        </section>
      )}
    </section>
  )
}

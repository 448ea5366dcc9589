/**
 * `ofa sql`: a SQL shell on a running OpenFactory (`ofa up`, `ofa run OFA-SERVE`), over its ksqlDB-compatible API
 * (`POST /ksql` for statements, `POST /query-stream` for SELECTs), as ksqlDB's CLI works against a ksqlDB server.
 *
 *   ofa sql [--url URL] [--property NAME=VALUE]...          interactive: history, multi-line statements (they end
 *                                                          with `;`), results printed as tables; Ctrl-C stops a
 *                                                          push query, Ctrl-D leaves
 *   ofa sql [--url URL] -f FILE                            runs every statement of FILE in order, stops at the first
 *                                                          that fails (exit 1)
 *
 * The URL defaults to `$OFA_API_URL`, else http://127.0.0.1:8080. Statements are split locally with our parser
 * (so that each SELECT goes to /query-stream and the others to /ksql); the server parses and checks them again.
 */
import { readFileSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { isOpenFactoryError, OpenFactoryError } from '@openfactory/model'
import { parseStatements } from '@openfactory/sql'
import { type CliIo, EXIT, writeOut } from '../io.ts'
import { usageError } from '../usage.ts'

/** The most lines of history kept. */
const HISTORY_LINES = 1000

export async function sqlCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      url: { type: 'string' },
      file: { type: 'string', short: 'f' },
      property: { type: 'string', multiple: true },
    },
    allowPositionals: false,
  })
  if (positionals.length > 0) throw usageError(`ofa sql takes no arguments (got ${positionals.join(' ')})`)
  const url = (values.url ?? io.env.OFA_API_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '')
  const properties: Record<string, string> = {}
  for (const p of values.property ?? []) {
    const eq = p.indexOf('=')
    if (eq <= 0) throw usageError(`--property ${p}: expected NAME=VALUE`)
    properties[p.slice(0, eq)] = p.slice(eq + 1)
  }
  const shell = new SqlShell(url, properties, io)
  if (values.file !== undefined) {
    const file = resolve(io.cwd, values.file)
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      throw new OpenFactoryError('OFA_CLI_USAGE', `cannot read ${values.file}: ${(err as Error).message}`)
    }
    return (await shell.run(text, file)) ? EXIT.ok : EXIT.failed
  }
  return shell.interactive()
}

interface KsqlErrorBody {
  readonly message?: string
  readonly error_code?: number
  readonly code?: string
  readonly where?: { line?: number; column?: number }
}

class SqlShell {
  readonly #url: string
  readonly #properties: Record<string, string>
  readonly #io: CliIo

  constructor(url: string, properties: Record<string, string>, io: CliIo) {
    this.#url = url
    this.#properties = properties
    this.#io = io
  }

  /** Runs every statement of a text; false at the first that fails (its error printed). */
  async run(text: string, file?: string, signal?: AbortSignal): Promise<boolean> {
    let statements: ReturnType<typeof parseStatements>
    try {
      statements = parseStatements(text, file ? { file } : {})
    } catch (err) {
      this.#error(err)
      return false
    }
    for (const s of statements) {
      const ok = await this.#one(s.text, s.kind === 'QueryStatementNode', signal)
      if (!ok) return false
    }
    return true
  }

  async #one(text: string, isQuery: boolean, signal?: AbortSignal): Promise<boolean> {
    const set = /^\s*SET\s+'([^']+)'\s*=\s*'([^']*)'\s*;?\s*$/i.exec(text)
    if (set) {
      this.#properties[set[1] as string] = set[2] as string
      await this.#out(`Property '${set[1]}' set to '${set[2]}'\n`)
      return true
    }
    const unset = /^\s*UNSET\s+'([^']+)'\s*;?\s*$/i.exec(text)
    if (unset) {
      delete this.#properties[unset[1] as string]
      await this.#out(`Property '${unset[1]}' unset\n`)
      return true
    }
    try {
      if (isQuery) await this.#query(text, signal)
      else await this.#statement(text)
      return true
    } catch (err) {
      if (signal?.aborted) return true
      this.#error(err)
      return false
    }
  }

  async #statement(text: string): Promise<void> {
    const res = await fetch(`${this.#url}/ksql`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.ksql.v1+json', accept: 'application/vnd.ksql.v1+json' },
      body: JSON.stringify({ ksql: text, streamsProperties: this.#properties }),
    })
    const body = (await res.json()) as unknown
    if (!res.ok) throw fromBody(body as KsqlErrorBody, res.status)
    for (const entity of body as Record<string, unknown>[]) await this.#out(renderEntity(entity))
  }

  async #query(text: string, signal?: AbortSignal): Promise<void> {
    const res = await fetch(`${this.#url}/query-stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/vnd.ksqlapi.delimited.v1' },
      body: JSON.stringify({ sql: text, properties: this.#properties }),
      ...(signal ? { signal } : {}),
    })
    if (!res.ok || !res.body) throw fromBody((await res.json().catch(() => ({}))) as KsqlErrorBody, res.status)
    let columns: string[] | undefined
    let widths: number[] = []
    let rows = 0
    let pending = ''
    const decoder = new TextDecoder()
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true })
      let nl = pending.indexOf('\n')
      while (nl >= 0) {
        const line = pending.slice(0, nl).trim()
        pending = pending.slice(nl + 1)
        nl = pending.indexOf('\n')
        if (line === '') continue
        const parsed = JSON.parse(line) as unknown
        if (!columns) {
          columns = ((parsed as { columnNames?: string[] }).columnNames ?? []).map(String)
          widths = columns.map((c) => Math.max(c.length, 12))
          await this.#out(`${rule(widths)}\n${line_(columns, widths)}\n${rule(widths)}\n`)
          continue
        }
        if (!Array.isArray(parsed)) {
          const e = parsed as KsqlErrorBody
          if (e.message) throw fromBody(e, 500)
          continue
        }
        rows++
        await this.#out(`${line_(parsed.map(cell), widths)}\n`)
      }
    }
    if (columns) await this.#out(`${rule(widths)}\n${rows} row${rows === 1 ? '' : 's'}\n`)
  }

  async interactive(): Promise<number> {
    const historyFile = join(homedir(), '.ofa', 'sql_history')
    const history = await readFile(historyFile, 'utf8')
      .then((t) =>
        t
          .split('\n')
          .filter((l) => l !== '')
          .reverse(),
      )
      .catch(() => [] as string[])
    const rl = createInterface({
      input: this.#io.stdin as NodeJS.ReadableStream,
      output: this.#io.stdout as NodeJS.WritableStream,
      terminal: (this.#io.stdin as { isTTY?: boolean }).isTTY === true,
      history,
      historySize: HISTORY_LINES,
      prompt: 'ofa> ',
    })
    await this.#out(`OpenFactory SQL on ${this.#url} — statements end with ';', Ctrl-D leaves\n`)
    let buffer = ''
    let running: AbortController | undefined
    rl.on('SIGINT', () => {
      if (running) running.abort()
      else {
        buffer = ''
        rl.setPrompt('ofa> ')
        rl.prompt()
      }
    })
    rl.prompt()
    for await (const line of rl) {
      buffer += `${line}\n`
      if (!endsStatement(buffer)) {
        rl.setPrompt('  -> ')
        rl.prompt()
        continue
      }
      const text = buffer
      buffer = ''
      running = new AbortController()
      const stop = () => running?.abort()
      this.#io.signal.addEventListener('abort', stop, { once: true })
      await this.run(text, undefined, running.signal)
      this.#io.signal.removeEventListener('abort', stop)
      running = undefined
      rl.setPrompt('ofa> ')
      rl.prompt()
    }
    const kept = ((rl as unknown as { history?: string[] }).history ?? []).slice(0, HISTORY_LINES).reverse()
    await mkdir(dirname(historyFile), { recursive: true }).catch(() => {})
    await writeFile(historyFile, `${kept.join('\n')}\n`).catch(() => {})
    return EXIT.ok
  }

  #error(err: unknown): void {
    if (isOpenFactoryError(err)) this.#io.stderr.write(`${err.format()}\n`)
    else this.#io.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
  }

  #out(text: string): Promise<void> {
    return writeOut(this.#io.stdout, text)
  }
}

/** Whether the text typed so far ends a statement: a `;` outside quotes and comments, then only blanks. */
export function endsStatement(text: string): boolean {
  let quote: string | undefined
  let last = ''
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string
    if (quote) {
      if (ch === quote) quote = undefined
      continue
    }
    if (ch === "'" || ch === '`' || ch === '"') {
      quote = ch
      last = ch
      continue
    }
    if (ch === '-' && text[i + 1] === '-') {
      const nl = text.indexOf('\n', i)
      i = nl < 0 ? text.length : nl
      continue
    }
    if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2)
      if (end < 0) return false
      i = end + 1
      continue
    }
    if (!/\s/.test(ch)) last = ch
  }
  return !quote && last === ';'
}

function fromBody(body: KsqlErrorBody, status: number): Error {
  const message = body.message ?? `HTTP ${status}`
  return new Error(
    body.where?.line !== undefined ? `line ${body.where.line}:${body.where.column}: ${message}` : message,
  )
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return 'null'
  return typeof v === 'string' ? v : JSON.stringify(v)
}

function rule(widths: readonly number[]): string {
  return `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`
}

function line_(cells: readonly string[], widths: readonly number[]): string {
  return `|${cells.map((c, i) => ` ${c.padEnd(widths[i] ?? c.length)} `).join('|')}|`
}

/** A table of rows, widths fitted to the cells. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  return `${rule(widths)}\n${line_(header, widths)}\n${rule(widths)}\n${rows.map((r) => `${line_(r, widths)}\n`).join('')}${rule(widths)}\n`
}

/** One `/ksql` entity, printed as ksqlDB's CLI prints it (a message, or a table). */
function renderEntity(e: Record<string, unknown>): string {
  switch (e['@type']) {
    case 'currentStatus':
      return `${(e.commandStatus as { message: string }).message}\n`
    case 'streams':
    case 'tables': {
      const list = (e.streams ?? e.tables) as {
        name: string
        topic: string
        keyFormat: string
        valueFormat: string
        isWindowed: boolean
      }[]
      const name = e['@type'] === 'streams' ? 'Stream Name' : 'Table Name'
      return table(
        [name, 'Kafka Topic', 'Key Format', 'Value Format', 'Windowed'],
        list.map((s) => [s.name, s.topic, s.keyFormat, s.valueFormat, String(s.isWindowed)]),
      )
    }
    case 'queries': {
      const list = e.queries as { id: string; state: string; sinks: string[]; queryString: string }[]
      return table(
        ['Query ID', 'Status', 'Sink Name', 'Query String'],
        list.map((q) => [q.id, q.state, q.sinks.join(','), q.queryString.replace(/\s+/g, ' ').trim()]),
      )
    }
    case 'sourceDescription': {
      const d = e.sourceDescription as {
        name: string
        type: string
        topic: string
        fields: { name: string; schema: { type: string }; type?: string }[]
      }
      return `Name: ${d.name} (${d.type.toLowerCase()}, topic ${d.topic})\n${table(
        ['Field', 'Type'],
        d.fields.map((f) => [f.name, `${f.schema.type}${f.type ? ` (${f.type === 'KEY' ? 'key' : 'header'})` : ''}`]),
      )}`
    }
    case 'kafka_topics': {
      const list = e.topics as { name: string; replicaInfo: number[] }[]
      return table(
        ['Kafka Topic', 'Partitions', 'Partition Replicas'],
        list.map((t) => [t.name, String(t.replicaInfo.length), t.replicaInfo.join(',')]),
      )
    }
    case 'properties': {
      const list = e.properties as { name: string; scope: string; value: string }[]
      return table(
        ['Property', 'Scope', 'Value'],
        list.map((p) => [p.name, p.scope, p.value]),
      )
    }
    case 'function_names': {
      const list = e.functions as { name: string; category: string; type: string }[]
      return table(
        ['Function Name', 'Category'],
        list.map((f) => [f.name, f.category]),
      )
    }
    default:
      return `${JSON.stringify(e)}\n`
  }
}

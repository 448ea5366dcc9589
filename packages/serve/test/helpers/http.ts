/**
 * HTTP test helpers: every answer a test sees is checked against the response schema the app's OpenAPI
 * document gives for its route and status (and every WebSocket/SSE message against `LiveMessage`), so the
 * document cannot drift from the answers — also where the app sends JSON text it built itself.
 */
import assert from 'node:assert/strict'
import { Ajv, type ValidateFunction } from 'ajv'
import type { FastifyInstance, InjectOptions } from 'fastify'

interface OpenApiOperation {
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>
}
interface OpenApiDoc {
  paths: Record<string, Record<string, OpenApiOperation>>
  components?: { schemas?: Record<string, unknown> }
}

/** Routes that are not in the document on purpose: the document itself and Swagger UI's files. */
const UNDOCUMENTED = [/^\/api\/openapi\.json$/, /^\/api\/docs(\/|$)/]

/** `#/components/schemas/X` → `X`: each component is added to ajv under its name. */
function localRefs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(localRefs)
  if (schema === null || typeof schema !== 'object') return schema
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(schema)) {
    if (k === '$id') continue
    out[k] = k === '$ref' && typeof v === 'string' ? v.replace(/^#\/components\/schemas\//, '') : localRefs(v)
  }
  return out
}

export interface ResponseChecker {
  /** Fails the test unless `body` is what the document promises for this route and status. */
  check(method: string, url: string, status: number, contentType: string | undefined, body: string): void
  /** Fails the test unless `message` is a `LiveMessage`. */
  checkLive(message: unknown): void
  /** Fails the test unless `data` matches the document's component schema `name` (an element of a stream). */
  checkComponent(name: string, data: unknown): void
}

const checkers = new WeakMap<FastifyInstance, Promise<ResponseChecker>>()

/** The checker of an app's OpenAPI document (read once per app). */
export function responseChecker(app: FastifyInstance): Promise<ResponseChecker> {
  let c = checkers.get(app)
  if (!c) {
    c = app.inject('/api/openapi.json').then((r) => buildChecker(r.json() as OpenApiDoc))
    checkers.set(app, c)
  }
  return c
}

function buildChecker(doc: OpenApiDoc): ResponseChecker {
  const ajv = new Ajv({ strict: false, allErrors: true })
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {}))
    ajv.addSchema(localRefs(schema) as object, name)
  const routes = Object.entries(doc.paths).map(([path, ops]) => ({
    path,
    ops,
    re: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }))
  const compiled = new Map<string, ValidateFunction>()
  const validator = (key: string, schema: unknown) => {
    let v = compiled.get(key)
    if (!v) {
      v = ajv.compile(localRefs(schema) as object)
      compiled.set(key, v)
    }
    return v
  }
  const validate = (v: ValidateFunction, data: unknown, what: string) => {
    assert.ok(v(data), `${what} breaks its schema: ${ajv.errorsText(v.errors)}\n${JSON.stringify(data).slice(0, 600)}`)
  }
  const errorSchema = ajv.getSchema('Error')
  const liveSchema = ajv.getSchema('LiveMessage')
  assert.ok(errorSchema && liveSchema, 'the document has the Error and LiveMessage schemas')

  return {
    check(method, url, status, contentType, body) {
      // The path as the request carried it: clients (and inject) resolve dot segments (`/../metrics` is `/metrics`).
      const path = new URL(`http://localhost${url.split('?')[0]}`).pathname
      const what = `${method} ${path} → ${status}`
      const route = routes.find((r) => r.re.test(path))
      const op = route?.ops[method.toLowerCase()]
      if (!route || !op) {
        if (status >= 400) return validate(errorSchema, JSON.parse(body), what)
        assert.ok(
          UNDOCUMENTED.some((re) => re.test(path)),
          `${what}: no route of the OpenAPI document answers this`,
        )
        return
      }
      const response = op.responses?.[String(status)]
      assert.ok(response, `${what}: status ${status} is not in the OpenAPI document`)
      if (response.content === undefined && body === '') return // documented without a body, and none came
      const content = response.content ?? {}
      const mediaType = (contentType ?? '').split(';')[0]?.trim() ?? ''
      const key = Object.keys(content).find((k) => k.split(';')[0]?.trim() === mediaType)
      assert.ok(key, `${what}: content type ${contentType} is not in the OpenAPI document (${Object.keys(content)})`)
      const schema = content[key]?.schema
      if (schema === undefined) return
      // JSON: `application/json` and the `+json` types (ksqlDB's `application/vnd.ksql.v1+json`).
      const data = /^application\/(?:[\w.-]+\+)?json$/.test(mediaType) ? JSON.parse(body) : body
      validate(validator(`${route.path} ${method} ${status} ${key}`, schema), data, what)
    },
    checkLive(message) {
      validate(liveSchema, message, 'live message')
    },
    checkComponent(name, data) {
      const schema = ajv.getSchema(name)
      assert.ok(schema, `the document has the ${name} schema`)
      validate(schema, data, name)
    },
  }
}

export interface CheckedResponse {
  readonly status: number
  readonly headers: Record<string, string | string[] | number | undefined>
  readonly body: string
  json(): any
}

/** `app.inject`, with the answer checked against the route's response schema. */
export async function inject(app: FastifyInstance, opts: string | InjectOptions): Promise<CheckedResponse> {
  const o: InjectOptions = typeof opts === 'string' ? { url: opts } : opts
  const checker = await responseChecker(app) // before: the request may be the app's last
  const r = await app.inject(o)
  const url = typeof o.url === 'string' ? o.url : String(o.path ?? '')
  checker.check(o.method ?? 'GET', url, r.statusCode, r.headers['content-type'] as string | undefined, r.body)
  return { status: r.statusCode, headers: r.headers, body: r.body, json: () => r.json() }
}

/** `fetch` over a real socket (JSON and text answers, not streams), with the answer checked like `inject`'s. */
export async function checkedFetch(
  app: FastifyInstance,
  base: string,
  path: string,
  init: RequestInit = {},
): Promise<CheckedResponse> {
  const checker = await responseChecker(app)
  const r = await fetch(`${base}${path}`, init)
  const body = await r.text()
  checker.check(init.method ?? 'GET', path, r.status, r.headers.get('content-type') ?? undefined, body)
  return { status: r.status, headers: Object.fromEntries(r.headers), body, json: () => JSON.parse(body) }
}

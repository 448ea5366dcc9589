// docs/reference/http-api.md documents every route of the OpenAPI document, and only those.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { ERROR_CODES } from '@openfactory/model'
import { createServeApp } from '../../src/index.ts'
import { createFakeSql } from '../helpers/fake-sql.ts'
import { createTestLog, createTestServing } from '../helpers/log.ts'

const page = readFileSync(new URL('../../../../docs/reference/http-api.md', import.meta.url), 'utf8')

test('http-api.md has a section for every route, and every code it names exists', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  // With an SQL engine, so that the ksqlDB-compatible routes are in the document too.
  const app = await createServeApp({ eventLog: log, serving, sql: createFakeSql() })
  t.after(() => app.close())
  const doc = (await app.inject('/api/openapi.json')).json() as { paths: Record<string, Record<string, unknown>> }
  const routes = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
  const headings = [...page.matchAll(/^### (.+)$/gm)].map((m) => m[1] as string)
  const documented = headings.map((h) => {
    const route = /`(GET|POST|DELETE) ([^`]+)`/.exec(h)
    if (route) return `${route[1]} ${route[2]}`
    const live = /`(\/api\/[a-z]+)`/.exec(h)
    return live ? `GET ${live[1]}` : h
  })
  assert.deepEqual([...documented].sort(), [...routes].sort())
  for (const [, code] of page.matchAll(/`(OFA_[A-Z_]+)`/g)) {
    assert.ok((ERROR_CODES as readonly string[]).includes(code as string), `${code} is not in ERROR_CODES`)
  }
})

// Asset documents served by the API (state/documents.ts, http/document-routes.ts): the last body of each
// document on ofa_asset_documents, listed newest first, one answered as sent; bounded in count and bytes.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import type { EventLog } from '@openfactory/log'
import { type AssetDocument, encodeAssetDocument, TOPICS } from '@openfactory/model'
import { createServeApp, type ServingStateOptions } from '../../src/index.ts'
import { inject } from '../helpers/http.ts'
import { createTestLog, createTestServing, waitFor } from '../helpers/log.ts'

function tool(id: string, life: number, device = 'MILL-1'): AssetDocument {
  return {
    assetId: id,
    type: 'CuttingTool',
    deviceUuid: device,
    timestamp: `2026-01-02T03:04:0${life % 10}Z`,
    body: `<CuttingTool assetId="${id}"><ToolLife>${life}</ToolLife></CuttingTool>`,
  }
}

async function put(log: EventLog, ...docs: AssetDocument[]): Promise<void> {
  await log.append(
    TOPICS.documents,
    docs.map((d) => ({ key: d.assetId, value: encodeAssetDocument(d) })),
  )
}

async function start(t: TestContext, opts: Omit<ServingStateOptions, 'eventLog'> = {}) {
  const log = await createTestLog(t)
  await log.createTopic({ name: TOPICS.documents, partitions: 1, cleanupPolicy: 'compact' })
  const serving = await createTestServing(t, log, opts)
  const app = await createServeApp({ eventLog: log, serving })
  t.after(() => app.close())
  return { log, serving, app }
}

test('documents: listed newest first without bodies, one answered as sent, the last body of each', async (t) => {
  const { log, serving, app } = await start(t)
  await put(log, tool('T1', 1), tool('T2', 2, 'LATHE-2'), tool('T1', 3))
  await put(log, {
    assetId: 'P1',
    type: 'Part',
    deviceUuid: 'MILL-1',
    timestamp: '2026-01-02T03:05:00Z',
    body: '{"Part": {"assetId": "P1"}}',
  })
  await waitFor('three documents', () => (serving.documents.stats().documents === 3 ? true : undefined))

  const list = await inject(app, '/api/documents')
  assert.equal(list.status, 200)
  assert.deepEqual(
    list.json().items.map((d: { assetId: string; bytes: number }) => [d.assetId, d.bytes]),
    [
      ['P1', 27],
      ['T1', 62],
      ['T2', 62],
    ],
  )
  const mill = await inject(app, '/api/documents?asset=MILL-1')
  assert.deepEqual(
    mill.json().items.map((d: { assetId: string }) => d.assetId),
    ['P1', 'T1'],
  )

  const t1 = await inject(app, '/api/documents/T1')
  assert.equal(t1.status, 200)
  assert.equal(t1.headers['content-type'], 'application/xml; charset=utf-8')
  assert.equal(t1.headers['x-ofa-asset-type'], 'CuttingTool')
  assert.equal(t1.headers['x-ofa-device-uuid'], 'MILL-1')
  assert.equal(t1.body, '<CuttingTool assetId="T1"><ToolLife>3</ToolLife></CuttingTool>')
  const p1 = await inject(app, '/api/documents/P1')
  assert.equal(p1.headers['content-type'], 'application/json; charset=utf-8')

  const missing = await inject(app, '/api/documents/NOPE')
  assert.equal(missing.status, 404)
  assert.equal(missing.json().error.code, 'OFA_SERVE_DOCUMENT_NOT_FOUND')
  const bad = await inject(app, '/api/documents?color=red')
  assert.equal(bad.status, 400)
})

test('documents: removed ones listed only when asked, a tombstone forgets one, a record that is no document is skipped', async (t) => {
  const { log, serving, app } = await start(t)
  await put(log, tool('T1', 1), { ...tool('T2', 2), removed: true })
  await log.append(TOPICS.documents, [{ key: 'JUNK', value: 'not a document' }])
  await waitFor('the junk seen', () => (serving.documents.stats().invalid === 1 ? true : undefined))
  const ids = async (q = '') =>
    (await inject(app, `/api/documents${q}`)).json().items.map((d: { assetId: string }) => d.assetId)
  assert.deepEqual(await ids(), ['T1'])
  assert.deepEqual(await ids('?removed=true'), ['T2', 'T1'])
  assert.equal((await inject(app, '/api/documents/T2')).headers['x-ofa-removed'], 'true')
  await log.append(TOPICS.documents, [{ key: 'T1', value: null }])
  await waitFor('T1 forgotten', () => (serving.documents.stats().documents === 1 ? true : undefined))
  assert.equal((await inject(app, '/api/documents/T1')).status, 404)
})

test('documents: bounded in count and in bytes — the oldest updated go first, one too large is not kept', async (t) => {
  // Bodies of 62 bytes: 3 documents fit in 186 bytes, not in 185.
  const { log, serving } = await start(t, { maxDocuments: 3, maxDocumentBytes: 186 })
  await put(log, tool('T1', 1), tool('T2', 2), tool('T3', 3))
  await waitFor('three kept', () => (serving.documents.stats().documents === 3 ? true : undefined))
  assert.deepEqual(serving.documents.stats(), { documents: 3, bytes: 186, evicted: 0, invalid: 0 })
  await put(log, tool('T1', 4)) // an update: T1 is the newest now, nothing to evict
  await put(log, tool('T4', 5)) // one past the count: T2, updated longest ago, goes
  await waitFor('T4 kept', () => (serving.documents.get('T4') ? true : undefined))
  assert.deepEqual(
    serving.documents.list().map((d) => d.assetId),
    ['T4', 'T1', 'T3'],
  )
  assert.equal(serving.documents.stats().evicted, 1)
  // One byte more than the bound in one body: not kept, counted; the others stay.
  await put(log, { ...tool('BIG', 6), body: 'x'.repeat(187) })
  await waitFor('BIG refused', () => (serving.documents.stats().evicted === 2 ? true : undefined))
  assert.equal(serving.documents.get('BIG'), undefined)
  assert.equal(serving.documents.stats().documents, 3)
  // A larger body that fits pushes out by bytes: 63 + 62 + 62 > 186 → the oldest goes.
  await put(log, { ...tool('T5', 7), body: `${tool('T5', 7).body} ` })
  await waitFor('T5 kept', () => (serving.documents.get('T5') ? true : undefined))
  assert.deepEqual(
    serving.documents.list().map((d) => d.assetId),
    ['T5', 'T4'],
  )
  assert.ok(serving.documents.stats().bytes <= 186)
})

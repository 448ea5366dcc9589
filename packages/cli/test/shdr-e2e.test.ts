/**
 * End to end over a real SHDR socket: a test adapter writing lines we made up (malformed ones, an unknown key,
 * conditions raised and cleared, an @ASSET@ document) → the shdr connector under the supervisor → the embedded
 * log → the asset state and the documents → the HTTP API. Killing the adapter turns the asset and its items UNAVAILABLE; a restarted adapter is
 * reconnected and its values come back.
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { createShdrAdapterServer, type ShdrAdapterServer } from '@openfactory/connectors'
import { silentLogger } from '@openfactory/model'
import { startLocalRuntime } from '../src/runtime/local-runtime.ts'
import { eventually, getJson, tempDir } from './helpers.ts'

test('SHDR adapter → connector → log → state → API, through a disconnect and a restart', {
  timeout: 90_000,
}, async (t) => {
  const root = await tempDir(t, 'ofa-shdr-e2e-')
  let adapter: ShdrAdapterServer = await createShdrAdapterServer({ port: 0 })
  t.after(() => adapter.close())
  const port = adapter.port
  const dir = join(root, 'factory')
  await mkdir(dir)
  await writeFile(
    join(dir, 'lathe.yml'),
    `devices:
  lathe:
    uuid: E2E-LATHE-1
    connector:
      type: shdr
      host: 127.0.0.1
      port: ${port}
      data:
        exec: {tag: Execution, type: Events}
        spindle: {tag: RotaryVelocity, type: Samples}
        system: {tag: System, type: Condition}
`,
  )
  const rt = await startLocalRuntime({ paths: [dir], dataDir: join(root, 'data'), port: 0, logger: silentLogger })
  try {
    const api = `${rt.url}/api/assets/E2E-LATHE-1`
    const item = async (id: string) => (await getJson(api)).state.find((s: { id: string }) => s.id === id)
    await adapter.waitForClients(1, 15_000)
    for (const line of [
      '2026-01-01T00:00:00.000Z|exec|ACTIVE|spindle|1200',
      'this line is not SHDR at all',
      '2026-01-01T00:00:01.000Z|no_such_key|5|spindle|1300',
      '2026-01-01T00:00:02.000Z|system|FAULT|E1|1|HIGH|spindle overheating',
      '2026-01-01T00:00:03.000Z|system|FAULT|E2|2||coolant pressure low',
      '2026-01-01T00:00:04.000Z|system|NORMAL|E1|||',
    ]) {
      adapter.send(line)
    }
    const system = await eventually(async () => {
      const s = await item('system')
      // The declaration's UNAVAILABLE is one condition too: wait for the adapter's FAULT.
      return s?.value === 'FAULT' && s.conditions?.length === 1 ? s : undefined
    }, 'one active condition')
    assert.equal(system.value, 'FAULT')
    assert.equal(system.conditions[0].nativeCode, 'E2')
    assert.equal(system.conditions[0].message, 'coolant pressure low')
    assert.equal((await item('spindle')).value, 1300, 'the rest of a line with an unknown key is kept')
    assert.equal((await item('exec')).value, 'ACTIVE')
    const history = (await getJson(`${api}/history?id=spindle&limit=100`)).items
    assert.deepEqual(
      history.filter((o: { value: unknown }) => typeof o.value === 'number').map((o: { value: number }) => o.value),
      [1200, 1300],
    )
    assert.equal(history.at(-1).attributes.timestamp, '2026-01-01T00:00:01.000Z')

    // an asset document (@ASSET@, multiline) → ofa_asset_documents → GET /api/documents and /api/documents/{id}
    const body = '<CuttingTool assetId="E2E-TOOL-1" toolId="T1"><CuttingToolLifeCycle/></CuttingTool>'
    for (const line of [
      '2026-01-01T00:00:05.000Z|@ASSET@|E2E-TOOL-1|CuttingTool|--multiline--E2E',
      body,
      '--multiline--E2E',
    ]) {
      adapter.send(line)
    }
    const listed = await eventually(async () => {
      const { items } = await getJson(`${rt.url}/api/documents?asset=E2E-LATHE-1`)
      return items.find((d: { assetId: string }) => d.assetId === 'E2E-TOOL-1')
    }, 'the asset document listed')
    assert.equal(listed.type, 'CuttingTool')
    assert.equal(listed.deviceUuid, 'E2E-LATHE-1')
    assert.equal(listed.bytes, Buffer.byteLength(body))
    const doc = await fetch(`${rt.url}/api/documents/E2E-TOOL-1`)
    assert.equal(doc.status, 200)
    assert.match(doc.headers.get('content-type') ?? '', /xml/)
    assert.equal((await doc.text()).trim(), body)
    assert.equal((await fetch(`${rt.url}/api/documents/NO-SUCH-TOOL`)).status, 404)

    // the adapter dies: the asset and its items become UNAVAILABLE
    await adapter.close()
    await eventually(
      async () => ((await getJson(api)).availability === 'UNAVAILABLE' ? true : undefined),
      'asset UNAVAILABLE',
    )
    assert.equal((await item('spindle')).value, 'UNAVAILABLE')
    assert.equal((await item('system')).value, 'UNAVAILABLE')

    // it comes back on the same port: reconnected, values flow again
    adapter = await createShdrAdapterServer({ port })
    await adapter.waitForClients(1, 30_000)
    adapter.send('2026-01-01T00:00:10.000Z|spindle|1400|exec|READY')
    await eventually(
      async () => ((await item('spindle'))?.value === 1400 ? true : undefined),
      'spindle 1400 after reconnect',
    )
    assert.equal((await getJson(api)).availability, 'AVAILABLE')
  } finally {
    await rt.stop()
    await adapter.close()
  }
})

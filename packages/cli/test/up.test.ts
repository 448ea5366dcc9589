import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { silentLogger } from '@openfactory/model'
import WebSocket from 'ws'
import { type LocalRuntime, startLocalRuntime } from '../src/runtime/local-runtime.ts'
import { demoCopy, eventually, getJson, ofa, tempDir } from './helpers.ts'

const BIN = fileURLToPath(new URL('../bin/ofa.js', import.meta.url))

/** A copy of the demo factory and a data dir beside it. */
async function demoWithData(t: TestContext): Promise<{ dir: string; data: string }> {
  const dir = await demoCopy(t)
  return { dir, data: join(dir, '..', 'data') }
}

test('ofa up runs the demo factory: state changes, live streams, methods, restart keeps everything', {
  timeout: 120_000,
}, async (t) => {
  const { dir, data } = await demoWithData(t)
  let rt = await startLocalRuntime({ paths: [dir], dataDir: data, port: 0, logger: silentLogger })
  // Stopped in the body, not in t.after: the temp dir's removal (an after hook) must come after it.
  try {
    await demoScenario(t, rt, async () => {
      await rt.stop()
      rt = await startLocalRuntime({ paths: [dir], dataDir: data, port: 0, logger: silentLogger })
      return rt
    })
  } finally {
    await rt.stop()
  }
})

async function demoScenario(
  t: TestContext,
  initial: LocalRuntime,
  restart: () => Promise<LocalRuntime>,
): Promise<void> {
  const rt = initial
  const api = `${rt.url}/api`

  // every device is running and AVAILABLE; the MTConnect mill came in over a real SHDR socket
  const assets = await eventually(async () => {
    const body = await getJson(`${api}/assets`)
    const avail = body.items.filter((a: { availability: string }) => a.availability === 'AVAILABLE')
    return avail.length === 3 ? body.items : undefined
  }, 'three AVAILABLE assets')
  assert.deepEqual(assets.map((a: { uuid: string }) => a.uuid).sort(), [
    'DEMO-CNC-SIM-001',
    'DEMO-DHT-001',
    'OFA-MILL-001',
  ])
  const mill = await eventually(async () => {
    const m = await getJson(`${api}/assets/OFA-MILL-001`)
    return m.state.some((s: { id: string; value: unknown }) => s.id === 'execution' && s.value !== 'UNAVAILABLE')
      ? m
      : undefined
  }, 'mill execution from the SHDR adapter')
  assert.ok(mill.dataItems.length > 20, 'the Devices.xml data items are the model')

  // values change
  const speed = async () =>
    (await getJson(`${api}/assets/DEMO-CNC-SIM-001`)).state.find((s: { id: string }) => s.id === 'spindle_speed').value
  const first = await speed()
  await eventually(async () => ((await speed()) !== first ? true : undefined), 'spindle speed to change')

  // a WebSocket client and an SSE client get a snapshot then live updates, by UNS wildcard
  const ws = new WebSocket(`${rt.url.replace('http', 'ws')}/api/ws`)
  t.after(() => ws.close())
  const wsMessages: any[] = []
  ws.on('message', (m) => wsMessages.push(JSON.parse(m.toString())))
  await new Promise((r) => ws.once('open', r))
  ws.send(JSON.stringify({ op: 'subscribe', id: 's1', uns: 'Demofactory/Machining/+/+/cnc-sim/#' }))
  const sse = new AbortController()
  t.after(() => sse.abort())
  const sseRes = await fetch(`${api}/events?assets=DEMO-DHT-001`, { signal: sse.signal })
  const reader = (sseRes.body as ReadableStream<Uint8Array>).getReader()
  let sseText = ''
  const sseDone = (async () => {
    const decoder = new TextDecoder()
    while (!sseText.includes('update')) {
      const { value, done } = await reader.read()
      if (done) break
      sseText += decoder.decode(value)
    }
  })()
  await eventually(async () => (wsMessages.some((m) => m.kind === 'update') ? true : undefined), 'a WebSocket update')
  assert.equal(wsMessages[0].kind, 'snapshot')
  assert.ok(wsMessages[0].data.length > 0)
  assert.ok(wsMessages.every((m) => m.id === 's1'))
  await Promise.race([sseDone, new Promise((_, rej) => setTimeout(() => rej(new Error('no SSE update')), 15_000))])
  assert.match(sseText, /snapshot/)
  assert.match(sseText, /DEMO-DHT-001/)

  // calling the method changes the simulation and returns its result
  const res = await fetch(`${api}/assets/DEMO-CNC-SIM-001/methods/SetSpeed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rpm: 1500 }),
  })
  assert.equal(res.status, 200)
  const answer = (await res.json()) as { status: string; result: unknown }
  assert.equal(answer.status, 'completed')
  assert.deepEqual(answer.result, { spindle_speed: 1500 })
  await eventually(async () => (Math.abs((await speed()) - 1500) < 500 ? true : undefined), 'the new spindle speed')

  // stop cleanly and start again on the same data: history and state are there
  const before = (await getJson(`${api}/assets/DEMO-CNC-SIM-001/history?id=spindle_speed&limit=1000`)).items.length
  ws.close()
  sse.abort()
  const rt2 = await restart()
  const api2 = `${rt2.url}/api`
  const history = (await getJson(`${api2}/assets/DEMO-CNC-SIM-001/history?id=spindle_speed&limit=1000`)).items
  assert.ok(history.length >= before, `history kept: ${history.length} >= ${before}`)
  const avail = (await getJson(`${api2}/assets/DEMO-CNC-SIM-001/history?id=avail&limit=1000`)).items
  assert.ok(
    avail.some(
      (o: { value: string; attributes: { reason?: string } }) =>
        o.value === 'UNAVAILABLE' && o.attributes.reason === 'connector stopped',
    ),
  )
}

function startOfa(args: string[]): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr?.on('data', (d) => {
    err = (err + d).slice(-4000)
  })
  const url = new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`ofa up printed no URL within 30 s; stderr:\n${err}`)), 30_000)
    child.stdout?.on('data', (d) => {
      out += d
      const m = /API\s+(http:\/\/\S+)\/api\/assets/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1] as string)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`ofa up exited with ${code}; stderr:\n${err}`))
    })
  })
  return { child, url }
}

test('after kill -9 and a restart, history and state are all there', { timeout: 120_000 }, async (t) => {
  const { dir, data } = await demoWithData(t)
  const first = startOfa(['up', dir, '--port', '0', '--data', data])
  t.after(() => first.child.kill('SIGKILL'))
  const url1 = await first.url
  const count = async (url: string) =>
    (await getJson(`${url}/api/assets/DEMO-DHT-001/history?id=temperature&limit=1000`)).items.filter(
      (o: { value: unknown }) => typeof o.value === 'number',
    ).length
  const seen = await eventually(async () => {
    const n = await count(url1)
    return n >= 3 ? n : undefined
  }, 'a few temperatures')
  first.child.kill('SIGKILL')
  await new Promise((r) => first.child.once('exit', r))

  const second = startOfa(['up', dir, '--port', '0', '--data', data])
  t.after(() => second.child.kill('SIGKILL'))
  const url2 = await second.url
  assert.ok((await count(url2)) >= seen, 'every temperature served before the kill is still in the history')
  const state = await getJson(`${url2}/api/assets/DEMO-DHT-001`)
  assert.ok(
    state.state.some((s: { id: string; value: unknown }) => s.id === 'temperature' && typeof s.value === 'number'),
  )
  second.child.kill('SIGINT')
  const code = await new Promise((r) => second.child.once('exit', r))
  assert.equal(code, 0, 'Ctrl-C stops cleanly')
})

test('a Devices.xml that cannot be read stops only its device: not run, with the problem; the others run', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'broken.xml'), '<MTConnectDevices><Devices><Device id="d" name="cnc" uuid="u">\n')
  await writeFile(
    join(dir, 'devices.yml'),
    [
      'devices:',
      '  cnc:',
      '    uuid: CNC-BROKEN',
      '    connector:',
      '      type: mtconnect',
      '      agent: {port: 5000, device_xml: broken.xml, adapter: {ip: 127.0.0.1, port: 7878}}',
      '  robot:',
      '    uuid: ROBOT-1',
      '    connector: {type: simulator}',
      '',
    ].join('\n'),
  )
  const rt = await startLocalRuntime({ paths: [dir], dataDir: join(dir, 'data'), port: 0, logger: silentLogger })
  try {
    assert.deepEqual(rt.skipped, [
      {
        uuid: 'CNC-BROKEN',
        reason: `${join(dir, 'broken.xml')}:1:28: OFA_MTCONNECT_XML XML: element <Device> is not closed before the end of the document`,
      },
    ])
    const robot = await eventually(async () => {
      const a = await getJson(`${rt.url}/api/assets/ROBOT-1`)
      return a.availability === 'AVAILABLE' ? a : undefined
    }, 'the simulator running')
    assert.equal(robot.uuid, 'ROBOT-1')
    // ofa validate refuses the same file, as an error.
    const validated = await ofa(['validate', dir], { cwd: dir })
    assert.equal(validated.code, 1)
    assert.match(validated.stderr, /broken\.xml:1:28: OFA_MTCONNECT_XML /)
  } finally {
    await rt.stop()
  }
})

test('a Devices.xml with a duplicate component id runs its device and logs the warning', async (t) => {
  const dir = await tempDir(t)
  await writeFile(
    join(dir, 'Devices.xml'),
    [
      '<MTConnectDevices><Devices><Device id="d" name="cnc" uuid="CNC-DUP">',
      '  <Components><Axes id="c"/><Controller id="c"/></Components>',
      '  <DataItems><DataItem id="exec" category="EVENT" type="EXECUTION"/></DataItems>',
      '</Device></Devices></MTConnectDevices>',
      '',
    ].join('\n'),
  )
  await writeFile(
    join(dir, 'devices.yml'),
    [
      'devices:',
      '  cnc:',
      '    uuid: CNC-DUP',
      '    connector: {type: mtconnect, agent: {port: 5000, device_xml: Devices.xml, adapter: {ip: 127.0.0.1, port: 1}}}',
      '',
    ].join('\n'),
  )
  const warned: Record<string, unknown>[] = []
  const logger = {
    ...silentLogger,
    warn: (message: string, fields?: Record<string, unknown>) => warned.push({ message, ...fields }),
  }
  const rt = await startLocalRuntime({ paths: [dir], dataDir: join(dir, 'data'), port: 0, logger })
  try {
    assert.deepEqual(rt.skipped, [])
    const w = warned.find((e) => e.uuid === 'CNC-DUP')
    assert.ok(w, JSON.stringify(warned))
    assert.match(
      String(w.warning),
      /Devices\.xml:2:29: warning component id 'c' is already used at line 2; read anyway$/,
    )
  } finally {
    await rt.stop()
  }
})

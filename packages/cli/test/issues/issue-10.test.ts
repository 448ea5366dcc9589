// Issue 10 (faults and bad input): regressions, each failing before its fix.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { connect, createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { openEmbeddedLog } from '@openfactory/log'
import { AssetEvents, encodeAssetEvent, silentLogger, TOPICS } from '@openfactory/model'
import { main } from '../../src/main.ts'
import { startLocalRuntime } from '../../src/runtime/local-runtime.ts'
import { demoCopy, eventually, freePort, getJson, ofa, tempDir } from '../helpers.ts'

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url))
const BIN = join(ROOT, 'packages/cli/bin/ofa.js')
/** The machine's own Node (older than 24): `ofa` started by it hands over to the project's Node 24. */
const MACHINE_NODE = '/usr/bin/node'

/** Whether any process of the group led by `pgid` is still alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

async function startInOwnGroup(t: import('node:test').TestContext, cmd: string, args: string[]) {
  const child = spawn(cmd, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const pgid = child.pid as number
  t.after(() => {
    if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL')
  })
  return { child, pgid, output: () => output }
}

async function upAndStopWithSigterm(
  t: import('node:test').TestContext,
  launch: (args: string[]) => [string, string[]],
) {
  const factory = await demoCopy(t)
  const port = await freePort()
  const data = join(await tempDir(t), 'data')
  const [cmd, args] = launch(['up', factory, '--port', String(port), '--data', data])
  const p = await startInOwnGroup(t, cmd, args)
  await eventually(
    async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok || undefined,
    'ofa up serving',
    60_000,
  )
  const exited = new Promise<number | null>((resolve) => p.child.on('exit', (code) => resolve(code)))
  process.kill(p.child.pid as number, 'SIGTERM') // to the launcher only, not to its group
  await exited
  await eventually(() => !groupAlive(p.pgid) || undefined, 'every process of ofa up to stop', 20_000)
  assert.match(p.output(), /stopped/, p.output())
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'nothing listens on the port any more')
}

test('item 9: SIGTERM to ofa started by an older Node reaches the Node 24 process, which stops cleanly', {
  timeout: 120_000,
}, async (t) => {
  assert.ok(existsSync(MACHINE_NODE), `${MACHINE_NODE} (the machine's Node) is there`)
  await upAndStopWithSigterm(t, (args) => [MACHINE_NODE, [BIN, ...args]])
})

test('item 9: SIGTERM to `npx ofa up` (npm does not pass it on) stops ofa cleanly', { timeout: 120_000 }, async (t) => {
  await upAndStopWithSigterm(t, (args) => ['npx', ['ofa', ...args]])
})

test('item 14: `ofa log tail` into a slow reader waits for it instead of buffering the whole topic', async (t) => {
  const dir = join(await tempDir(t), 'data')
  const log = await openEmbeddedLog({ dir })
  await log.createTopic({ name: 'big', partitions: 1 })
  const total = 50_000
  for (let i = 0; i < total; i += 10_000) {
    await log.append(
      'big',
      Array.from({ length: 10_000 }, (_, j) => ({ key: 'k', value: `record ${i + j} ${'x'.repeat(100)}` })),
    )
  }
  await log.close()
  // A reader that takes nothing until it is released.
  let release: (() => void) | null = null
  const released = new Promise<void>((r) => {
    release = r
  })
  let writes = 0
  let lines = 0
  const stdout = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _enc, done) {
      writes++
      lines += chunk.toString().split('\n').length - 1
      released.then(() => done())
    },
  })
  const running = main(['log', 'tail', 'big', '--data', dir], {
    stdout,
    stderr: { write: () => true },
    stdin: Readable.from([]),
    env: {},
    cwd: process.cwd(),
    signal: new AbortController().signal,
  })
  await new Promise((r) => setTimeout(r, 500))
  assert.equal(writes, 1)
  const waiting = stdout.writableLength
  assert.ok(
    waiting < 3 * 1024 * 1024,
    `one batch (of 10 000 records, ~2 MB) handed over, then it waits for the reader (${waiting} bytes waiting)`,
  )
  ;(release as unknown as () => void)()
  assert.equal(await running, 0)
  assert.equal(lines, total)
})

// --- configuration loading (items 9, 17) ---------------------------------------------------------------

/** A device file with a replay adapter whose environment is `env` (line 14 is its second entry). */
async function replayFactory(t: import('node:test').TestContext, env: string[]): Promise<string> {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'cnc.xml'), '<MTConnectDevices/>')
  await writeFile(join(dir, 'cnc.shdr'), '')
  await writeFile(
    join(dir, 'cnc.yml'),
    [
      'devices:',
      '  cnc:',
      '    uuid: CNC-1',
      '    connector:',
      '      type: mtconnect',
      '      agent:',
      '        port: 5000',
      '        device_xml: cnc.xml',
      '        adapter:',
      '          image: openfactory/shdr-replay',
      '          port: 7878',
      '          environment:',
      ...env.map((e) => `            - ${e}`),
      '',
    ].join('\n'),
  )
  return dir
}

const REPLAY_PROBLEMS = [
  'cnc.yml:14:15: OFA_CONFIG_VALUE devices.cnc.connector.agent.adapter.environment[1]: SHDR_SPEED: expected a positive number (1 plays the log at its own pace, 10 ten times faster), got "abc"',
  'cnc.yml:15:15: OFA_CONFIG_VALUE devices.cnc.connector.agent.adapter.environment[2]: SHDR_LOOP: expected true or false, got "maybe"',
]

test('item 17: ofa validate refuses SHDR_SPEED=abc and SHDR_LOOP=maybe where ofa up refuses them, at their line', async (t) => {
  const dir = await replayFactory(t, ['SHDR_FILE=cnc.shdr', 'SHDR_SPEED=abc', 'SHDR_LOOP=maybe'])
  const validate = await ofa(['validate', '.'], { cwd: dir })
  assert.equal(validate.code, 1)
  assert.deepEqual(validate.stderr.trim().split('\n'), [...REPLAY_PROBLEMS, '2 problems in 1 file'])
  const up = await ofa(['up', '.', '--port', '0', '--data', join(dir, 'data')], { cwd: dir })
  assert.equal(up.code, 1)
  assert.deepEqual(up.stderr.trim().split('\n').slice(1), REPLAY_PROBLEMS)
})

test('item 17: ofa up prints every configuration problem once, after a one-line summary', async (t) => {
  const dir = await replayFactory(t, ['SHDR_FILE=cnc.shdr', 'SHDR_SPEED=abc', 'SHDR_LOOP=maybe'])
  const up = await ofa(['up', '.', '--port', '0', '--data', join(dir, 'data')], { cwd: dir })
  assert.equal(up.code, 1)
  assert.deepEqual(up.stderr.trim().split('\n'), [
    'OFA_CONFIG_INVALID 2 problems in the factory configuration',
    ...REPLAY_PROBLEMS,
  ])
})

test('item 9: Ctrl-C stops ofa validate on a large factory: a clear message, exit 1', async (t) => {
  const dir = await tempDir(t)
  await mkdir(join(dir, 'devices'))
  for (let f = 0; f < 100; f++) {
    let text = 'devices:\n'
    for (let i = f * 200; i < (f + 1) * 200; i++) {
      text += `  d${i}:\n    uuid: D-${i}\n    connector:\n      type: opcua\n      server: {uri: "opc.tcp://10.0.0.1:4840"}\n      variables:\n        t: {node_id: "ns=2;i=${i}", tag: Temperature}\n`
    }
    await writeFile(join(dir, `devices/d${f}.yml`), text)
  }
  const ctrlC = new AbortController()
  setTimeout(() => ctrlC.abort(), 50)
  const r = await ofa(['validate', '.'], { cwd: dir, signal: ctrlC.signal })
  assert.equal(r.code, 1, r.stdout)
  assert.equal(r.stdout, '')
  assert.equal(r.stderr, 'ofa validate: interrupted before the end; the factory was not fully checked\n')
})

// --- listen errors at start-up (item 7) ------------------------------------------------------------------

/** Holds a TCP port on 127.0.0.1 for the test, as another program would. */
async function holdPort(t: import('node:test').TestContext, port = 0): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  t.after(() => new Promise<void>((r) => server.close(() => r())))
  return (server.address() as { port: number }).port
}

/** Whether something listens on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })
}

/** The demo's SHDR replay adapter port (demoCopy gives it a free one): the last `port:` of its device file. */
async function adapterPort(factory: string): Promise<number> {
  const text = await readFile(join(factory, 'devices', 'cnc-mtconnect.yml'), 'utf8')
  return Number([...text.matchAll(/port: (\d+)/g)].at(-1)?.[1])
}

/** After a failed start: the data directory's lock is free (nothing holds the log) and the ports are free. */
async function assertNothingLeft(data: string, ports: number[]): Promise<void> {
  const log = await openEmbeddedLog({ dir: data })
  await log.close()
  for (const port of ports) assert.equal(await listening(port), false, `nothing listens on ${port}`)
}

test('item 7: the API port taken: a coded error naming the port and its owner, exit 1, nothing left running', {
  timeout: 60_000,
}, async (t) => {
  const factory = await demoCopy(t)
  const data = join(await tempDir(t), 'data')
  const port = await holdPort(t)
  const adapter = await adapterPort(factory)
  assert.ok(adapter > 0)
  const r = await ofa(['up', factory, '--port', String(port), '--data', data])
  assert.equal(r.code, 1, r.stderr)
  const line = r.stderr.trim().split('\n').at(-1) as string
  assert.match(
    line,
    new RegExp(`^OFA_CLI_LISTEN the API cannot listen on 127\\.0\\.0\\.1:${port}: port ${port} is in use by `),
  )
  assert.match(line, new RegExp(`pid ${process.pid}\\b`), 'the owner found by ss is this test process')
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
  await assertNothingLeft(data, [adapter])
})

test('item 7: the SHDR replay adapter port taken: a coded error naming the device and the port, exit 1', {
  timeout: 60_000,
}, async (t) => {
  const factory = await demoCopy(t)
  const data = join(await tempDir(t), 'data')
  const adapter = await holdPort(t, await adapterPort(factory))
  const api = await freePort()
  const r = await ofa(['up', factory, '--port', String(api), '--data', data])
  assert.equal(r.code, 1, r.stderr)
  assert.match(
    r.stderr,
    new RegExp(
      `^OFA_CLI_LISTEN the SHDR replay adapter of device OFA-MILL-001 cannot listen on 127\\.0\\.0\\.1:${adapter}: port ${adapter} is in use by pid ${process.pid}\\b`,
      'm',
    ),
  )
  await assertNothingLeft(data, [api])
})

test('item 7: --host that is not an address of this machine, or does not resolve: coded errors, exit 1', {
  timeout: 60_000,
}, async (t) => {
  const factory = await demoCopy(t)
  const data = join(await tempDir(t), 'data')
  const adapter = await adapterPort(factory)
  const notLocal = await ofa(['up', factory, '--port', '0', '--host', '192.0.2.1', '--data', data])
  assert.equal(notLocal.code, 1, notLocal.stderr)
  assert.match(
    notLocal.stderr,
    /^OFA_CLI_LISTEN the API cannot listen on 192\.0\.2\.1:0: 192\.0\.2\.1 is not an address of this machine/m,
  )
  const unknown = await ofa(['up', factory, '--port', '0', '--host', 'no-such-host.invalid', '--data', data])
  assert.equal(unknown.code, 1, unknown.stderr)
  assert.match(
    unknown.stderr,
    /^OFA_CLI_LISTEN the API cannot listen on no-such-host\.invalid:0: the host name no-such-host\.invalid does not resolve/m,
  )
  await assertNothingLeft(data, [adapter])
})

test('item 1: a command put on the log while ofa up was stopped is run at the next start', {
  timeout: 120_000,
}, async (t) => {
  const factory = await demoCopy(t)
  const data = join(await tempDir(t), 'data')
  const start = () => startLocalRuntime({ paths: [factory], dataDir: data, port: 0, logger: silentLogger })
  const call = async (api: string, rpm: number) => {
    const res = await fetch(`${api}/assets/DEMO-CNC-SIM-001/methods/SetSpeed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rpm }),
    })
    return (await res.json()) as { status: string }
  }
  // The demo ran (its command reader has committed its position), then stopped.
  const first = await start()
  try {
    // once the simulated CNC is up, a method call completes
    await eventually(
      async () => ((await call(`${first.url}/api`, 900)).status === 'completed' ? true : undefined),
      'a first SetSpeed completed',
      30_000,
    )
  } finally {
    await first.stop()
  }

  const command = AssetEvents.command({ method: 'SetSpeed', senderUuid: 'operator', arguments: { rpm: 1234 } })
  const produced = await ofa([
    'log',
    'produce',
    TOPICS.assets,
    '--data',
    data,
    '--key',
    'DEMO-CNC-SIM-001',
    encodeAssetEvent(command).toString(),
  ])
  assert.equal(produced.code, 0, produced.stderr)

  const second = await start()
  try {
    const id = command.envelope.header.correlation_id
    const answer = await eventually(
      async () => {
        const c = await getJson(`${second.url}/api/commands/${id}`)
        return c.status === 'completed' ? c : undefined
      },
      `the command ${id} completed`,
      30_000,
    )
    assert.deepEqual(answer.result, { spindle_speed: 1234 })
  } finally {
    await second.stop()
  }
})

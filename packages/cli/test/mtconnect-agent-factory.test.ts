// The example MTConnect agent factory (examples/mtconnect-agent-factory) end to end, as its README runs it: the
// simulated agent (simulator.ts, in a process group of its own) and `ofa up` on the example; everything is checked
// through the HTTP API — both devices of the one agent bound by their files' uuids, values flowing, the agent
// stopped (UNAVAILABLE with the coded reason) and started again (a new agent run, read again), and `ofa up` stopped
// and started again, resuming from its checkpoint: every part the machine made while OpenFactory was down is in
// the history once, and no observation is there twice except the restatements right after an UNAVAILABLE.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { canBind, eventually, getJson, groupAlive, ofa, startOfa, tempDir } from './helpers.ts'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const FACTORY = 'examples/mtconnect-agent-factory'
const SIMULATOR = join(ROOT, FACTORY, 'simulator.ts')
/** The agent's port in the example's device files. */
const PORT = 5000
const LONG = 60_000

interface ItemState {
  id: string
  value: unknown
  timestamp: string
  attributes: Record<string, string | number | undefined>
}

/** The simulated agent (a change every 100 ms: a part every 2 s), in its own process group; stopped by group. */
async function startAgent(t: TestContext): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [SIMULATOR, '--port', String(PORT), '--period', '100'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const pgid = child.pid as number
  t.after(() => {
    if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL')
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let out = ''
  child.stdout?.on('data', (d) => (out += d))
  await eventually(
    () => {
      if (child.exitCode !== null) throw new Error(`the agent exited: ${out}`)
      return /^ready http:/m.test(out) ? true : undefined
    },
    'the agent to serve',
    LONG,
  )
  return {
    child,
    async stop() {
      if (groupAlive(pgid)) process.kill(-pgid, 'SIGTERM')
      await exited
    },
  }
}

test('the example MTConnect agent factory: read, an agent restart, and ofa up resuming from its checkpoint', {
  timeout: 300_000,
}, async (t) => {
  assert.ok(await canBind(PORT), `port ${PORT} is taken: is the example's agent running?`)
  let agent = await startAgent(t)
  const tmp = await tempDir(t, 'ofa-mtconnect-agent-factory-')
  const args = ['up', FACTORY, '--port', '0', '--data', join(tmp, 'data')]
  let up = startOfa(t, args, { HOST_IP: '127.0.0.1' })
  let api = `${await up.url}/api`
  const state = async (uuid: string): Promise<ItemState[]> => (await getJson(`${api}/assets/${uuid}`)).state
  const item = async (uuid: string, id: string): Promise<ItemState | undefined> =>
    (await state(uuid)).find((s) => s.id === id)
  const availability = (what: string, want: string) =>
    eventually(
      async () => {
        const body = await getJson(`${api}/assets`)
        return body.items.length === 2 && body.items.every((a: { availability: string }) => a.availability === want)
          ? body.items
          : undefined
      },
      what,
      LONG,
    )
  const partsAtLeast = (uuid: string, id: string, n: number) =>
    eventually(
      async () => {
        const v = Number((await item(uuid, id))?.value)
        return v >= n ? v : undefined
      },
      `${uuid} ${id} ≥ ${n}`,
      LONG,
    )
  const stopUp = async () => {
    if (up.child.exitCode === null && up.child.pid) process.kill(-up.child.pid, 'SIGTERM')
    assert.equal(await up.exited, 0, `ofa up stopped cleanly; output:\n${up.output().slice(-4000)}`)
  }

  try {
    // Two devices of one agent, each bound by its file's uuid, placed in the UNS as the files say.
    const assets = await availability('two AVAILABLE assets', 'AVAILABLE')
    assert.deepEqual(assets.map((a: { uuid: string; uns: { unsId: string } }) => [a.uuid, a.uns.unsId]).sort(), [
      ['LATHE-002', 'Demofactory/Turning/WC020/lathe-2'],
      ['MILL-001', 'Demofactory/Machining/WC010/vmc-1'],
    ])
    // The model is the agent's probe: the mill's items are the mill's, the lathe's the lathe's, with units and the
    // MTConnect type as the probe writes it (the façade at /mtconnect serves it back).
    const mill = await getJson(`${api}/assets/MILL-001`)
    const lathe = await getJson(`${api}/assets/LATHE-002`)
    assert.ok(mill.dataItems.every((d: { id: string }) => d.id.startsWith('m_')))
    assert.ok(lathe.dataItems.every((d: { id: string }) => d.id.startsWith('l_')))
    assert.deepEqual(
      mill.dataItems.find((d: { id: string }) => d.id === 'm_xpos'),
      { id: 'm_xpos', category: 'Samples', tag: 'Position', type: 'POSITION', subType: 'ACTUAL', units: 'MILLIMETER' },
    )
    // Values flow: parts are made, samples are numbers, the tool's asset document is announced.
    await partsAtLeast('MILL-001', 'm_parts', 2)
    await partsAtLeast('LATHE-002', 'l_parts', 2)
    assert.equal(typeof (await item('MILL-001', 'm_sspeed'))?.value, 'number')
    assert.equal((await item('MILL-001', 'm_asset_chg'))?.value, 'T1')
    // The agent's asset document, served by the API with its last body.
    const docs = await eventually(
      async () => {
        const body = await getJson(`${api}/documents?asset=MILL-001`)
        return body.items.length > 0 ? body.items : undefined
      },
      'the cutting tool document',
      LONG,
    )
    assert.deepEqual(
      docs.map((d: { assetId: string; type: string }) => [d.assetId, d.type]),
      [['T1', 'CuttingTool']],
    )
    const toolDoc = await fetch(`${api}/documents/T1`)
    assert.equal(toolDoc.headers.get('content-type'), 'application/xml; charset=utf-8')
    assert.match(await toolDoc.text(), /^<CuttingTool assetId="T1"[^>]*><CuttingToolLifeCycle><ToolLife /)

    // The agent gone: both assets and their items UNAVAILABLE, with the coded reason.
    await agent.stop()
    await availability('both UNAVAILABLE', 'UNAVAILABLE')
    const xpos = await item('MILL-001', 'm_xpos')
    assert.equal(xpos?.value, 'UNAVAILABLE')
    assert.match(String(xpos?.attributes.reason), /^OFA_MTCONNECT_AGENT /)

    // Back (a new run of the agent: its part counts start again): read again by itself.
    agent = await startAgent(t)
    await availability('both AVAILABLE again', 'AVAILABLE')
    await eventually(
      async () => ((await item('MILL-001', 'm_parts'))?.value === '1' ? true : undefined),
      'the new run’s first part',
      LONG,
    )

    // ofa up stopped while the machines go on making parts, then started again on its log.
    await stopUp()
    await new Promise((r) => setTimeout(r, 3000)) // a part or two made meanwhile
    up = startOfa(t, args, { HOST_IP: '127.0.0.1' })
    api = `${await up.url}/api`
    await availability('both AVAILABLE after the restart', 'AVAILABLE')
    const reached = await partsAtLeast('MILL-001', 'm_parts', 1)
    await partsAtLeast('MILL-001', 'm_parts', reached + 2)

    // The history of this agent run: every part once, in order, none missing across the restart of ofa up.
    const history: (ItemState & { offset: number })[] = (
      await getJson(`${api}/assets/MILL-001/history?id=m_parts&limit=10000`)
    ).items
    const lastRun = history.slice(history.map((h) => h.value).lastIndexOf('0'))
    const counts = lastRun.filter((h) => h.value !== 'UNAVAILABLE').map((h) => Number(h.value))
    const distinct = [...new Set(counts)]
    t.diagnostic(`m_parts of the last agent run, as the log holds them: ${lastRun.map((h) => h.value).join(' ')}`)
    assert.deepEqual(
      distinct,
      Array.from({ length: distinct.length }, (_, i) => i),
      `parts of the last agent run, in order, none missing: ${counts.join(' ')}`,
    )
    // A value seen twice is a restatement: right after an UNAVAILABLE of ours (the restart), never otherwise.
    for (let i = 1; i < lastRun.length; i++) {
      const h = lastRun[i] as ItemState
      if (h.value === 'UNAVAILABLE') continue
      const again = lastRun.slice(0, i).some((p) => p.value === h.value && p.timestamp === h.timestamp)
      if (again) assert.equal(lastRun[i - 1]?.value, 'UNAVAILABLE', `part ${h.value} twice, not as a restatement`)
    }
    // The positions too: no observation of the agent twice, except restated after an UNAVAILABLE.
    const positions: ItemState[] = (await getJson(`${api}/assets/MILL-001/history?id=m_xpos&limit=10000`)).items
    const seen = new Set<string>()
    positions.forEach((p, i) => {
      if (p.value === 'UNAVAILABLE') return
      const key = `${p.timestamp}|${p.value}`
      if (seen.has(key)) assert.equal(positions[i - 1]?.value, 'UNAVAILABLE', `m_xpos ${key} twice`)
      seen.add(key)
    })

    // And its files are valid as they are.
    const validated = await ofa(['validate', FACTORY], { cwd: ROOT, env: {} })
    assert.equal(validated.code, 0, validated.stderr)
  } finally {
    if (up.child.exitCode === null) await stopUp()
    await agent.stop()
  }
})

// The agent client against the example factory's simulated agent (examples/mtconnect-agent-factory/simulator.ts) as
// a user runs it, through scripts/mtconnect-agent (its own process group, stopped by group), in each format it can
// answer in: the asset model from probe, current, values changing through the stream, the cutting tool document;
// the agent stopped (UNAVAILABLE with the coded reason) and started again (a new agent run, values again).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import net from 'node:net'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createMTConnectAgentConnector } from '../../src/mtconnect/index.ts'
import { PEER_FORMATS } from '../../src/testing/agent-peer.ts'
import { AGENT_FAST, published, startOn, until } from './agent-helpers.ts'

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url))
const SCRIPT = join(ROOT, 'scripts', 'mtconnect-agent')
const run = promisify(execFile)

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

function agentScript(...args: string[]): Promise<{ stdout: string }> {
  return run(SCRIPT, args, { cwd: ROOT })
}

describe('the example factory simulated agent, read by the agent client', () => {
  for (const format of PEER_FORMATS) {
    test(`${format}: probe, current, the stream, the tool; stopped and started again`, {
      timeout: 120_000,
    }, async (t) => {
      const name = `test-${process.pid}-${format}`
      const port = await freePort()
      t.after(() => agentScript('stop', '--name', name, '--clean'))
      const url = (
        await agentScript('start', '--name', name, '--port', String(port), '--period', '50', '--format', format)
      ).stdout.trim()
      assert.equal(url, `http://127.0.0.1:${port}`)

      const connector = createMTConnectAgentConnector({
        agent: { host: '127.0.0.1', port },
        uuid: 'MILL-001',
        timings: AGENT_FAST,
        intervalMs: 10,
      })
      const ctx = await startOn(t, connector)
      const up = (): boolean => ctx.availability.findLast((a) => a.uuid === 'MILL-001')?.available === true
      await until(up, 'MILL-001 available', 20_000)

      // The asset model comes from the probe: the mill's items with their tags and units.
      const mill = ctx.declared.findLast((a) => a.uuid === 'MILL-001')
      assert.ok(mill, 'MILL-001 declared')
      const byId = new Map(mill.dataItems.map((d) => [d.id, d]))
      for (const id of ['m_xpos', 'm_sspeed', 'm_stemp_cond', 'm_exec', 'm_parts', 'm_vars']) {
        assert.ok(byId.has(id), `${id} in the asset model`)
      }
      assert.equal(byId.get('m_xpos')?.units, 'MILLIMETER')

      // Values change through the stream: positions move, parts are counted, the data set follows.
      const values = (id: string) =>
        published(ctx, 'MILL-001')
          .filter((o) => o.id === id && o.value !== 'UNAVAILABLE')
          .map((o) => o.value)
      await until(() => new Set(values('m_xpos')).size >= 3, 'm_xpos moving', 20_000)
      assert.ok(values('m_xpos').every((v) => typeof v === 'number'))
      await until(() => values('m_parts').length >= 2, 'a part made', 20_000)
      const vars = values('m_vars').at(-1)
      assert.equal(typeof vars, 'string')
      assert.ok('#100' in JSON.parse(vars as string), 'the data set as the JSON text of its entries')
      assert.ok(
        published(ctx, 'MILL-001').some((o) => o.id === 'm_stemp_cond' && o.type === 'Condition'),
        'the condition',
      )
      // The cutting tool, as the agent wrote it (XML, or the JSON of that asset).
      await until(() => ctx.documents.some((d) => d.assetId === 'T1'), 'the cutting tool T1', 20_000)
      const tool = ctx.documents.findLast((d) => d.assetId === 'T1')?.body ?? ''
      if (format === 'xml') assert.match(tool, /^<CuttingTool assetId="T1"[^>]*><CuttingToolLifeCycle><ToolLife/)
      else assert.equal(JSON.parse(tool).CuttingTool.CuttingToolLifeCycle.ToolLife.type, 'PART_COUNT')

      // The agent stopped: MILL-001 down with the coded reason; started again: values again.
      await agentScript('stop', '--name', name)
      await until(() => !up(), 'MILL-001 unavailable', 20_000)
      assert.match(ctx.availability.findLast((a) => !a.available)?.reason ?? '', /^OFA_MTCONNECT_AGENT /)
      const before = values('m_xpos').length
      await agentScript('start', '--name', name)
      await until(up, 'MILL-001 available again', 20_000)
      await until(() => values('m_xpos').length > before + 2, 'm_xpos moving again', 20_000)
    })
  }
})

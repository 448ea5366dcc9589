// Test helpers for the MTConnect façade: the app listening on 127.0.0.1, the MTConnect client we did not write
// (pymtconnect from PyPI, with Python's xml.etree for the XML documents: scripts/peers/mtconnect_client.py), a
// synthetic mill described by a Devices.xml and fed by our SHDR connector, and a bounded wait.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import { createMTConnectConnector, createShdrAdapterServer, createSupervisor } from '@openfactory/connectors'
import type { EventLog } from '@openfactory/log'
import { silentLogger } from '@openfactory/model'
import type { FastifyInstance } from 'fastify'
import { SaxesParser } from 'saxes'
import { install, MTCONNECT_CLIENT } from '../../../../scripts/mtconnect-client.ts'
import { createServeApp, type MTConnectOptions, type ServingState } from '../../src/index.ts'

/** The app with the façade, listening on a free loopback port; closed after the test. */
export async function startApp(
  t: TestContext,
  eventLog: EventLog,
  serving: ServingState,
  mtconnect: MTConnectOptions = {},
): Promise<{ app: FastifyInstance; url: string }> {
  const app = await createServeApp({ eventLog, serving, mtconnect: { latenessMs: 0, ...mtconnect } })
  t.after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/mtconnect` }
}

/** Runs one command of the Python driver (installing pymtconnect from PyPI on first use); its JSON answer. */
export async function client<T = Record<string, unknown>>(args: readonly string[]): Promise<T> {
  const python = await install()
  return new Promise((resolve, reject) => {
    const child = spawn(python, [MTCONNECT_CLIENT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (code !== 0) reject(new Error(`mtconnect_client.py ${args.join(' ')} exited ${code}:\n${err}`))
      else resolve(JSON.parse(out) as T)
    })
  })
}

/** Checks that a document is well-formed XML (saxes, not our writer) and returns its root element's name. */
export function wellFormed(xml: string): string {
  const parser = new SaxesParser()
  let root = ''
  parser.on('opentag', (tag) => {
    root ||= tag.name
  })
  parser.on('error', (e) => {
    throw e
  })
  parser.write(xml).close()
  return root
}

/** The first match of a regex's group in a text, or fails. */
export function grab(text: string, re: RegExp): string {
  const m = re.exec(text)
  assert.ok(m, `${re} not in ${text.slice(0, 400)}`)
  return m[1] as string
}

/** Polls `check` until it returns a value other than undefined (at most `ms`). */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * A synthetic vertical mill (written for these tests): the Device's availability and asset events, Axes with
 * Linear X, Y, Z (actual and commanded positions, load with nativeUnits, an overtravel condition) and Rotary C
 * (speed, temperature, a vibration time series, a temperature condition), a Controller (emergency stop, mode, a
 * system condition) with its Path (execution, program, part count, macro variables as a data set).
 */
export const MILL_XML = `<?xml version="1.0" encoding="UTF-8"?>
<MTConnectDevices xmlns="urn:mtconnect.org:MTConnectDevices:2.2">
  <Devices>
    <Device id="vmc" name="vmc-7" uuid="SERIAL-7">
      <DataItems>
        <DataItem category="EVENT" id="vmc_avail" type="AVAILABILITY"/>
        <DataItem category="EVENT" id="vmc_asset_chg" type="ASSET_CHANGED"/>
      </DataItems>
      <Components>
        <Axes id="ax" name="base">
          <Components>
            <Linear id="lx" name="X"><DataItems>
              <DataItem category="SAMPLE" id="xpos" name="Xact" type="POSITION" subType="ACTUAL" units="MILLIMETER"/>
              <DataItem category="SAMPLE" id="xcmd" name="Xcom" type="POSITION" subType="COMMANDED" units="MILLIMETER"/>
              <DataItem category="SAMPLE" id="xload" name="Xload" type="LOAD" units="PERCENT" nativeUnits="PERCENT"/>
              <DataItem category="CONDITION" id="xtravel" name="Xtravel" type="POSITION"/>
            </DataItems></Linear>
            <Linear id="ly" name="Y"><DataItems>
              <DataItem category="SAMPLE" id="ypos" name="Yact" type="POSITION" subType="ACTUAL" units="MILLIMETER"/>
              <DataItem category="CONDITION" id="ytravel" name="Ytravel" type="POSITION"/>
            </DataItems></Linear>
            <Linear id="lz" name="Z"><DataItems>
              <DataItem category="SAMPLE" id="zpos" name="Zact" type="POSITION" subType="ACTUAL" units="MILLIMETER"/>
            </DataItems></Linear>
            <Rotary id="rc" name="C"><DataItems>
              <DataItem category="SAMPLE" id="cspeed" name="Srpm" type="ROTARY_VELOCITY" subType="ACTUAL" units="REVOLUTION/MINUTE"/>
              <DataItem category="SAMPLE" id="ctemp" name="Stemp" type="TEMPERATURE" units="CELSIUS"/>
              <DataItem category="SAMPLE" id="cvib" name="Svib" type="DISPLACEMENT" units="MILLIMETER" representation="TIME_SERIES"/>
              <DataItem category="CONDITION" id="ctemp_cond" name="Stemp_cond" type="TEMPERATURE"/>
            </DataItems></Rotary>
          </Components>
        </Axes>
        <Controller id="ctl" name="controller">
          <DataItems>
            <DataItem category="EVENT" id="estop" name="estop" type="EMERGENCY_STOP"/>
            <DataItem category="EVENT" id="mode" name="mode" type="CONTROLLER_MODE"/>
            <DataItem category="CONDITION" id="system" name="system" type="SYSTEM"/>
          </DataItems>
          <Components>
            <Path id="pth" name="path"><DataItems>
              <DataItem category="EVENT" id="exec" name="exec" type="EXECUTION"/>
              <DataItem category="EVENT" id="program" name="program" type="PROGRAM"/>
              <DataItem category="EVENT" id="parts" name="parts" type="PART_COUNT"/>
              <DataItem category="EVENT" id="vars" name="vars" type="VARIABLE" representation="DATA_SET"/>
            </DataItems></Path>
          </Components>
        </Controller>
      </Components>
    </Device>
  </Devices>
</MTConnectDevices>
`

/**
 * Feeds the mill from an SHDR adapter (ours, on 127.0.0.1) through our SHDR connector under a supervisor that writes
 * to the log, as `ofa up` runs `connector.type: mtconnect` with `device_xml` and `adapter`. Returns `send` for lines.
 */
export async function feedMill(
  t: TestContext,
  eventLog: EventLog,
  uuid: string,
): Promise<{ send: (line: string) => void }> {
  const server = await createShdrAdapterServer({ port: 0, heartbeatMs: 1000 })
  t.after(() => server.close())
  const connector = createMTConnectConnector({
    deviceXml: MILL_XML,
    deviceXmlFile: 'vmc-7.xml',
    adapter: { host: '127.0.0.1', port: server.port },
    uuid,
    timings: { connectTimeoutMs: 1000, legacyTimeoutMs: 2000, backoff: { initialMs: 20, maxMs: 100, jitter: 0.1 } },
  })
  const supervisor = createSupervisor({ eventLog, logger: silentLogger, heartbeatMs: 200, ttlMs: 5000 })
  supervisor.add(connector)
  await supervisor.start()
  t.after(() => supervisor.stop())
  await server.waitForClients(1)
  return { send: (line) => server.send(line) }
}

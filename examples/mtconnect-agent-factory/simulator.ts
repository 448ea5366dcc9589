// The simulated MTConnect agent of the example factory: one agent serving two synthetic machines over HTTP, as an
// MTConnect agent in front of a shop's machines does — probe, current, sample (streamed as multipart), assets — in
// the standard's XML (2.2). Built on our synthetic agent (@openfactory/connectors/testing, agent-peer.ts).
//
//   npx node examples/mtconnect-agent-factory/simulator.ts [--port 5000] [--host 127.0.0.1] [--period 500]
//                                                          [--format xml|json1|json2]
// (scripts/mtconnect-agent start/stop runs it in the background.) --format: the documents in the standard's XML
// (default), or in JSON as an agent configured to answer JSON writes them (layout version 1 or 2).
//
// MILL-001, a 3-axis mill: axes positions and load, spindle speed, load and temperature (a temperature condition
// that turns WARNING when the spindle runs hot), controller mode, emergency stop, execution, program, part count,
// the macro variables as a data set, a system condition; its cutting tool T1 is an asset whose tool life counts
// the parts. LATHE-002, a lathe: spindle speed and temperature, execution, program, part count, a system
// condition. Every run is a new agent instance (its instanceId is the start time). Values are made up.
// Ctrl-C (SIGINT) or SIGTERM stops it.
import { parseArgs } from 'node:util'
import {
  AgentPeer,
  PEER_FORMATS,
  type PeerDevice,
  type PeerFormat,
  type PeerValue,
} from '@openfactory/connectors/testing'

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '5000' },
    host: { type: 'string', default: '127.0.0.1' },
    period: { type: 'string', default: '500' },
    format: { type: 'string', default: 'xml' },
  },
})
const port = Number(args.port)
const periodMs = Number(args.period)
const format = args.format as PeerFormat
if (!Number.isInteger(port) || port < 1 || port > 65535 || !(periodMs >= 10) || !PEER_FORMATS.includes(format)) {
  console.error('usage: simulator.ts [--port 1-65535] [--host ADDRESS] [--period ms ≥ 10] [--format xml|json1|json2]')
  process.exit(2)
}

const MILL: PeerDevice = {
  id: 'mill',
  name: 'vmc-1',
  uuid: 'MILL-001',
  items: [
    { id: 'm_avail', category: 'EVENT', type: 'AVAILABILITY' },
    { id: 'm_asset_chg', category: 'EVENT', type: 'ASSET_CHANGED' },
    { id: 'm_asset_rem', category: 'EVENT', type: 'ASSET_REMOVED' },
  ],
  components: [
    {
      type: 'Axes',
      id: 'm_axes',
      name: 'base',
      components: ['X', 'Y', 'Z'].map((axis) => ({
        type: 'Linear',
        id: `m_${axis.toLowerCase()}`,
        name: axis,
        items: [
          {
            id: `m_${axis.toLowerCase()}pos`,
            category: 'SAMPLE' as const,
            type: 'POSITION',
            subType: 'ACTUAL',
            units: 'MILLIMETER',
          },
          { id: `m_${axis.toLowerCase()}load`, category: 'SAMPLE' as const, type: 'LOAD', units: 'PERCENT' },
        ],
      })),
    },
    {
      type: 'Rotary',
      id: 'm_spindle',
      name: 'C',
      items: [
        { id: 'm_sspeed', category: 'SAMPLE', type: 'ROTARY_VELOCITY', subType: 'ACTUAL', units: 'REVOLUTION/MINUTE' },
        { id: 'm_sload', category: 'SAMPLE', type: 'LOAD', units: 'PERCENT' },
        { id: 'm_stemp', category: 'SAMPLE', type: 'TEMPERATURE', units: 'CELSIUS' },
        { id: 'm_stemp_cond', category: 'CONDITION', type: 'TEMPERATURE' },
      ],
    },
    {
      type: 'Controller',
      id: 'm_cont',
      name: 'controller',
      items: [
        { id: 'm_mode', category: 'EVENT', type: 'CONTROLLER_MODE' },
        { id: 'm_estop', category: 'EVENT', type: 'EMERGENCY_STOP' },
        { id: 'm_system', category: 'CONDITION', type: 'SYSTEM' },
      ],
      components: [
        {
          type: 'Path',
          id: 'm_path',
          name: 'path',
          items: [
            { id: 'm_exec', category: 'EVENT', type: 'EXECUTION' },
            { id: 'm_program', category: 'EVENT', type: 'PROGRAM' },
            { id: 'm_parts', category: 'EVENT', type: 'PART_COUNT' },
            { id: 'm_vars', category: 'EVENT', type: 'VARIABLE', representation: 'DATA_SET' },
          ],
        },
      ],
    },
  ],
}

const LATHE: PeerDevice = {
  id: 'lathe',
  name: 'lathe-2',
  uuid: 'LATHE-002',
  items: [{ id: 'l_avail', category: 'EVENT', type: 'AVAILABILITY' }],
  components: [
    {
      type: 'Rotary',
      id: 'l_spindle',
      name: 'C',
      items: [
        { id: 'l_sspeed', category: 'SAMPLE', type: 'ROTARY_VELOCITY', subType: 'ACTUAL', units: 'REVOLUTION/MINUTE' },
        { id: 'l_stemp', category: 'SAMPLE', type: 'TEMPERATURE', units: 'CELSIUS' },
      ],
    },
    {
      type: 'Controller',
      id: 'l_cont',
      name: 'controller',
      items: [{ id: 'l_system', category: 'CONDITION', type: 'SYSTEM' }],
      components: [
        {
          type: 'Path',
          id: 'l_path',
          name: 'path',
          items: [
            { id: 'l_exec', category: 'EVENT', type: 'EXECUTION' },
            { id: 'l_program', category: 'EVENT', type: 'PROGRAM' },
            { id: 'l_parts', category: 'EVENT', type: 'PART_COUNT' },
          ],
        },
      ],
    },
  ],
}

const agent = new AgentPeer({
  devices: [MILL, LATHE],
  wallClock: true,
  keepEmitted: false,
  firstInstanceId: Math.floor(Date.now() / 1000),
  bufferSize: 10_000,
  host: args.host,
  port,
  format,
})

/** The cutting tool of the mill, its life counted in parts. */
function putTool(parts: number): void {
  agent.putAsset(
    {
      assetId: 'T1',
      type: 'CuttingTool',
      deviceUuid: MILL.uuid,
      inner: `<CuttingToolLifeCycle><ToolLife type="PART_COUNT" countDirection="UP" initial="0" limit="500">${parts}</ToolLife><ProgramToolNumber>1</ProgramToolNumber></CuttingToolLifeCycle>`,
      json: {
        CuttingToolLifeCycle: {
          ToolLife: { type: 'PART_COUNT', countDirection: 'UP', initial: 0, limit: 500, value: parts },
          ProgramToolNumber: 1,
        },
      },
    },
    'm_asset_chg',
  )
}

// What each machine does: a cycle of CYCLE ticks (ACTIVE, then a short READY between parts); a part at its end.
const CYCLE = 20
let tick = 0
let millParts = 0
let latheParts = 0
let hot = false
agent.emit([
  { id: 'm_mode', value: 'AUTOMATIC' },
  { id: 'm_estop', value: 'ARMED' },
  { id: 'm_program', value: 'O1001 BRACKET' },
  { id: 'm_parts', value: '0' },
  { id: 'm_system', level: 'NORMAL' },
  { id: 'm_stemp_cond', level: 'NORMAL' },
  { id: 'l_program', value: 'O2002 SHAFT' },
  { id: 'l_parts', value: '0' },
  { id: 'l_system', level: 'NORMAL' },
])
putTool(0)

function step(): void {
  tick++
  const phase = tick % CYCLE
  const cutting = phase < CYCLE - 3
  const t = tick / 10
  const values: PeerValue[] = [
    { id: 'm_xpos', value: (cutting ? 120 * Math.sin(t) : 0).toFixed(3) },
    { id: 'm_ypos', value: (cutting ? 80 * Math.cos(t) : 0).toFixed(3) },
    { id: 'm_zpos', value: (cutting ? -5 - 2 * Math.sin(t / 3) : 50).toFixed(3) },
    { id: 'm_xload', value: (cutting ? 20 + 5 * Math.sin(t * 3) : 2).toFixed(1) },
    { id: 'm_yload', value: (cutting ? 18 + 4 * Math.cos(t * 3) : 2).toFixed(1) },
    { id: 'm_zload', value: (cutting ? 30 + 6 * Math.sin(t * 2) : 3).toFixed(1) },
    { id: 'm_sspeed', value: String(cutting ? 8000 + Math.round(50 * Math.sin(t)) : 0) },
    { id: 'm_sload', value: (cutting ? 35 + 10 * Math.sin(t / 2) : 0).toFixed(1) },
    { id: 'l_sspeed', value: String(cutting ? 1500 + Math.round(20 * Math.cos(t)) : 0) },
    { id: 'l_stemp', value: (38 + 3 * Math.sin(t / 7)).toFixed(2) },
  ]
  // The mill's spindle warms up over ten minutes of cutting at 500 ms a tick, then cools: WARNING above 60 °C.
  const temp = 40 + 25 * Math.abs(Math.sin(tick / 1200))
  values.push({ id: 'm_stemp', value: temp.toFixed(2) })
  if (temp > 60 !== hot) {
    hot = temp > 60
    values.push(
      hot
        ? { id: 'm_stemp_cond', level: 'WARNING', nativeCode: 'SP-TEMP', text: 'Spindle temperature high' }
        : { id: 'm_stemp_cond', level: 'NORMAL' },
    )
  }
  if (phase === 0) values.push({ id: 'm_exec', value: 'ACTIVE' }, { id: 'l_exec', value: 'ACTIVE' })
  if (phase === CYCLE - 3) {
    millParts++
    latheParts++
    values.push(
      { id: 'm_exec', value: 'READY' },
      { id: 'l_exec', value: 'READY' },
      { id: 'm_parts', value: String(millParts) },
      { id: 'l_parts', value: String(latheParts) },
      { id: 'm_vars', entries: { '#100': String(millParts), '#101': (temp / 10).toFixed(2) } },
    )
  }
  agent.emit(values)
  if (phase === CYCLE - 3) putTool(millParts)
}

await agent.start()
const timer = setInterval(step, periodMs)
console.log(`ready http://${args.host}:${agent.port} (MILL-001, LATHE-002; ${format}; instanceId ${agent.instanceId})`)

const shutdown = async (): Promise<void> => {
  clearInterval(timer)
  await agent.stop()
  process.exit(0)
}
process.on('SIGINT', () => void shutdown())
process.on('SIGTERM', () => void shutdown())

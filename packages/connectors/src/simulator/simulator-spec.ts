/**
 * `connector.type: simulator` in the connector registry. The block is read by model's `readSimulatorConfig`
 * (config/simulator-config.ts), the reader `ofa validate` runs too: its rules are written there, once.
 */
import {
  type DeviceConfig,
  isOpenFactoryError,
  OpenFactoryError,
  parseSimulatorConfig,
  type SimulatorConfig,
  type UnsPlacement,
} from '@openfactory/model'
import { type ConnectorField, collectProblems, connectorPath, registerConnector } from '../connector-spec.ts'
import { createSimulatorConnector, type SimulatorConnector } from './simulator-connector.ts'

/** A simulator device, typed. */
export interface SimulatorDeviceConfig {
  readonly uuid: string
  readonly uns?: UnsPlacement
  readonly config: SimulatorConfig
}

const item = (field: string, type: string, description: string, dflt?: string): ConnectorField => ({
  path: `items.<id>.${field}`,
  type,
  required: false,
  ...(dflt === undefined ? {} : { default: dflt }),
  description,
})

const FIELDS: readonly ConnectorField[] = [
  { path: 'type', type: '"simulator"', required: true, description: 'the connector type' },
  {
    path: 'interval_ms',
    type: 'a number ≥ 10',
    required: false,
    default: '1000',
    description: 'how often signals are sampled, in milliseconds',
  },
  {
    path: 'seed',
    type: 'a number',
    required: false,
    description: 'makes the randomness repeatable (default: random)',
  },
  { path: 'asset_type', type: 'text', required: false, default: 'Device', description: 'the AssetType attribute' },
  { path: 'items', type: 'a map', required: false, description: 'the simulated data items, by id' },
  { ...item('tag', 'text', "the MTConnect type: the observation's TAG"), required: true },
  { ...item('category', 'one of Samples, Events, Condition', 'the data item category'), required: true },
  item('units', 'text', 'units of a Samples item'),
  item('sub_type', 'text', 'the MTConnect subType'),
  item(
    'signal',
    'one of sine, random_walk, ramp, noise, constant',
    'Samples: how the value moves — sine: offset + amplitude·sin(2πt/period_s); random_walk: from start by steps of ±step; ramp: sawtooth from → to every period_s; noise: offset + Gaussian noise; constant: offset',
  ),
  item('offset', 'a number', 'centre of sine, noise and constant', '0'),
  item('amplitude', 'a number', 'sine', '1'),
  item('period_s', 'a number > 0', 'sine and ramp period, in seconds', '60'),
  item('from', 'a number', 'ramp start', '0'),
  item('to', 'a number', 'ramp end', '100'),
  item('start', 'a number', 'random_walk start (default: offset)'),
  item('step', 'a number ≥ 0', 'random_walk step', '1'),
  item('noise', 'a number ≥ 0', 'standard deviation of Gaussian noise added to any signal', '0'),
  item('min', 'a number', 'lower clamp'),
  item('max', 'a number', 'upper clamp'),
  item('decimals', 'a number ≥ 0', 'rounding', '3'),
  item('states', 'a map', 'Events: a state machine, by state name'),
  item('states.<state>.next', 'a state or a list of states', 'where it goes next (one chosen at random)'),
  item('states.<state>.after_s', 'seconds, or [min, max]', 'how long the state lasts', '10'),
  item('initial', 'a state', 'the first state (default: the first one declared)'),
  item('values', 'a list', 'Events: values cycled through'),
  item('every_s', 'a number > 0', 'how long each of `values` lasts, in seconds', '30'),
  item('counter.every_s', 'a number > 0', 'Events: counts up from 0 every every_s seconds', '10'),
  item('counter.while', 'a map {item: value}', 'counts only while that item has that value'),
  item('value', 'text', 'Events: a fixed value'),
  item(
    'faults',
    'a list of {native_code, level, message, every_s, duration_s, start_s}',
    'Condition: each raised every every_s (default 60) for duration_s (default 5), first at start_s (default every_s), level FAULT (default) or WARNING, native_code default F1, F2...; cleared by its native code',
  ),
  { path: 'methods', type: 'a map', required: false, description: 'methods the asset offers, by name' },
  {
    path: 'methods.<name>.description',
    type: 'text',
    required: false,
    description: 'what the method does (default: its name)',
  },
  {
    path: 'methods.<name>.arguments',
    type: 'a list of {name, description, type, required}',
    required: false,
    description: 'its arguments; type is number, string, boolean or object',
  },
  {
    path: 'methods.<name>.set',
    type: 'a map {item: literal or $argument}',
    required: false,
    description:
      'what it changes: a Samples item gets a new centre (offset), an Events item a new value (a state machine jumps to that state)',
  },
]

export const simulatorSpec = registerConnector<SimulatorDeviceConfig, SimulatorConnector>({
  type: 'simulator',
  summary: 'Virtual machines declared in YAML: signals, state machines, counters, faults and methods.',
  fields: FIELDS,
  parse(device: DeviceConfig): SimulatorDeviceConfig {
    let config: SimulatorConfig
    try {
      config = parseSimulatorConfig(device.connector, connectorPath(device))
    } catch (err) {
      if (!isOpenFactoryError(err)) throw err
      // The reader names fields; the device file names the place.
      const problems = (err.problems.length > 0 ? err.problems : [err]).map(
        (p) =>
          new OpenFactoryError(p.code, p.message, {
            where: { ...device.where, ...(p.where?.path ? { path: p.where.path } : {}) },
          }),
      )
      throw collectProblems(problems)
    }
    return { uuid: device.uuid, ...(device.uns ? { uns: device.uns } : {}), config }
  },
  create: (c, deps) =>
    createSimulatorConnector({
      uuid: c.uuid,
      config: c.config,
      ...(c.uns ? { uns: c.uns } : {}),
      ...(deps.now ? { now: deps.now } : {}),
    }),
})

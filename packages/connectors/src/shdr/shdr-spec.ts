/**
 * `connector.type: shdr` in the connector registry: an SHDR adapter whose keys the device file declares
 * (`host`, `port`, `data: {<key>: {tag, type}}`). Model's schema checks the block; `parse` adds the one rule
 * model does not know, the SHDR key's syntax (`shdrKeyProblem`).
 */
import type { DeviceConfig, ShdrConnectorConfig as ShdrBlock, UnsPlacement } from '@openfactory/model'
import {
  collectProblems,
  connectorConfigError,
  fieldsOfSchema,
  modelConnectorSchema,
  registerConnector,
} from '../connector-spec.ts'
import { type ShdrConnector, type ShdrDataPoint, shdrConnectorOf, shdrKeyProblem } from './shdr-connector.ts'

/** A `connector.type: shdr` device, typed. */
export interface ShdrDeviceConfig {
  readonly uuid: string
  readonly uns?: UnsPlacement
  readonly host: string
  readonly port: number
  readonly data: Readonly<Record<string, ShdrDataPoint>>
}

export const shdrSpec = registerConnector<ShdrDeviceConfig, ShdrConnector>({
  type: 'shdr',
  summary: 'An SHDR adapter (the MTConnect adapter protocol over TCP) whose keys are declared in the device file.',
  fields: fieldsOfSchema(modelConnectorSchema('shdr'), {
    type: { description: 'the connector type' },
    host: { description: 'the adapter host' },
    port: { description: 'the adapter port' },
    data: { description: 'the SHDR keys ingested, each the ID of its observations; other keys are skipped' },
    'data.<key>.tag': { description: "the MTConnect type: the observation's TAG" },
    'data.<key>.type': { description: 'the category (Condition is ours: the reference reads Samples and Events)' },
  }),
  parse(device: DeviceConfig): ShdrDeviceConfig {
    const block = device.connector as ShdrBlock
    const data = block.data ?? {}
    const problems = Object.keys(data).flatMap((key) => {
      const problem = shdrKeyProblem(key)
      return problem ? [connectorConfigError(device, `data.${key}`, problem)] : []
    })
    if (problems.length > 0) throw collectProblems(problems)
    return {
      uuid: device.uuid,
      ...(device.uns ? { uns: device.uns } : {}),
      host: block.host,
      port: block.port,
      data,
    }
  },
  create: (c, deps) => shdrConnectorOf({ ...c, ...(deps.timings ? { timings: deps.timings } : {}) }),
})

// A mapped field as the spec builds it, with defaults the unit tests override (a uint16 holding register of unit 1).
import type { ModbusField } from '../src/index.ts'

export const modbusField = (over: Partial<ModbusField> = {}): ModbusField => ({
  id: 'x',
  unitId: 1,
  table: 'holding',
  address: 0,
  type: 'uint16',
  count: 1,
  bit: 0,
  byteOrder: 'big',
  wordOrder: 'big',
  scale: 1,
  offset: 0,
  category: 'Samples',
  tag: 'X',
  pollIntervalMs: 1000,
  writable: false,
  where: { file: 'devices.yml', line: 1, column: 1 },
  ...over,
})

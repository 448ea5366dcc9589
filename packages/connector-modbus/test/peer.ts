// The Modbus peer of the tests: scripts/peers/modbus_server.py on pymodbus (PyPI, pinned in
// scripts/peers/modbus-requirements.txt, installed once into .cache/modbus by scripts/modbus.ts), one private
// server per test on a free loopback port, driven through its stdin (mute/unmute a unit, set an entry).
import type { TestContext } from 'node:test'
import { type ModbusPeer, startModbusServer } from '../../../scripts/modbus.ts'

export type { ModbusPeer }

/** Starts a private server with units 1, 2 and 3 for one test; stopped (its process group killed) after it. */
export async function startPeer(t: TestContext, units = '1,2,3'): Promise<ModbusPeer> {
  const peer = await startModbusServer({ units })
  t.after(() => peer.stop())
  return peer
}

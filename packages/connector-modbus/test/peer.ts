// The Modbus peer of the tests: scripts/peers/modbus_server.py on pymodbus (PyPI, pinned in
// scripts/peers/modbus-requirements.txt, installed once into .cache/modbus by scripts/modbus.ts), one private
// server per test on a free loopback port, driven through its stdin (mute/unmute a unit, set an entry). With
// `pipelining`, the same PLC behind test/peers/pipelining_server.py: pymodbus with a connection handler that takes
// several requests in flight on one connection, as a gateway may.
import fs from 'node:fs'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { type ModbusPeer, startModbusServer } from '../../../scripts/modbus.ts'

export type { ModbusPeer }

const PIPELINING = path.join(import.meta.dirname, 'peers', 'pipelining_server.py')

export interface PeerOptions {
  /** Answer several requests in flight on one connection. */
  readonly pipelining?: boolean
  /** Seconds between two counts of holding register 100 (the server's default 0.1). */
  readonly tick?: number
}

/** Starts a private server with units 1, 2 and 3 for one test; stopped (its process group killed) after it. */
export async function startPeer(t: TestContext, units = '1,2,3', opts: PeerOptions = {}): Promise<ModbusPeer> {
  const peer = await startModbusServer({
    units,
    ...(opts.pipelining ? { program: PIPELINING } : {}),
    ...(opts.tick !== undefined ? { args: ['--tick', String(opts.tick)] } : {}),
  })
  t.after(() => peer.stop())
  return peer
}

/**
 * The TCP connections a server on this host has open on `port` (ESTABLISHED, the server's end): read from the
 * kernel's socket tables, so it counts what the server holds, whoever opened them.
 */
export function serverConnections(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  let n = 0
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = fs.readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (cols[1]?.endsWith(hex) && cols[3] === '01') n++
    }
  }
  return n
}

/**
 * Grouping: the fewest read requests that cover a register map. Fields of one unit, one table and one poll
 * interval are sorted by address and merged into one request while the span stays within the protocol's limit
 * (125 registers, 2000 bits) and the unread gap between two neighbours is at most `maxGap` (reading a few unused
 * registers is cheaper than another round trip; a long gap may hold addresses the device refuses). A field is
 * never split: the map's validation made sure each one fits a request alone.
 */
import { MAX_READ_BITS, MAX_READ_REGISTERS, type ModbusField, type ModbusTable } from './modbus-map.ts'

export interface ReadRequest {
  readonly unitId: number
  readonly table: ModbusTable
  readonly pollIntervalMs: number
  readonly address: number
  /** Registers, or bits for coils and discrete inputs. */
  readonly count: number
  /** The fields it covers, by address. */
  readonly fields: readonly ModbusField[]
}

export function maxReadCount(table: ModbusTable): number {
  return table === 'coil' || table === 'discrete' ? MAX_READ_BITS : MAX_READ_REGISTERS
}

export function planReads(fields: readonly ModbusField[], maxGap: number): ReadRequest[] {
  const groups = new Map<string, ModbusField[]>()
  for (const f of fields) {
    const key = `${f.unitId}/${f.table}/${f.pollIntervalMs}`
    const g = groups.get(key)
    if (g) g.push(f)
    else groups.set(key, [f])
  }
  const out: ReadRequest[] = []
  for (const group of groups.values()) {
    group.sort((a, b) => a.address - b.address || a.count - b.count)
    const first = group[0] as ModbusField
    const limit = maxReadCount(first.table)
    let start = first.address
    let end = first.address + first.count // exclusive
    let members: ModbusField[] = [first]
    const close = () =>
      out.push({
        unitId: first.unitId,
        table: first.table,
        pollIntervalMs: first.pollIntervalMs,
        address: start,
        count: end - start,
        fields: members,
      })
    for (const f of group.slice(1)) {
      const newEnd = Math.max(end, f.address + f.count)
      if (f.address - end <= maxGap && newEnd - start <= limit) {
        end = newEnd
        members.push(f)
      } else {
        close()
        start = f.address
        end = f.address + f.count
        members = [f]
      }
    }
    close()
  }
  return out.sort((a, b) => a.unitId - b.unitId || a.pollIntervalMs - b.pollIntervalMs || a.address - b.address)
}

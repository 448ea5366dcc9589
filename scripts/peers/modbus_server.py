"""A synthetic Modbus TCP PLC for the tests and the example factory, served by pymodbus (a stack we did not write).

Several unit ids on one port. Each unit has four tables of 1000 entries (coils, discrete inputs, holding and
input registers, addresses 0-999); an address past them is answered with exception 2 (illegal data address).
The registers hold known values of every type the connector decodes (see SEED below), and holding register 100
counts up every `--tick` seconds, so a poll sees a value that changes.

Control, one command a line on stdin:
  mute <unit>     the unit stops answering (its requests get no response at all, as a dead unit behind a gateway)
  unmute <unit>   it answers again
  set <unit> <table> <address> <value>   sets one entry (table: co, di, hr, ir)
  fault <unit> exception|short|none      the unit's reads answer exception 4 (server device failure), or a
                                          response one register (bit) short of what was asked, or normally again
  exit            stops the server
Prints `ready port=<port> units=<ids>` once it serves, then `ok <command>` after each command.
"""

import argparse
import asyncio
import struct
import sys

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer

SIZE = 1000
# Function code -> table.
TABLES = {1: "co", 5: "co", 15: "co", 2: "di", 3: "hr", 6: "hr", 16: "hr", 22: "hr", 23: "hr", 4: "ir"}


def words(fmt, value):
    """The big-endian 16-bit words of `value` packed as `fmt`."""
    raw = struct.pack(">" + fmt, value)
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def seed(unit):
    hr = {}

    def put(address, ws):
        for i, w in enumerate(ws):
            hr[address + i] = w

    put(0, words("h", -1234))
    put(1, words("H", 54321))
    put(2, words("i", -123456789))
    put(4, words("I", 3000000000))
    put(6, words("q", -1234567890123))
    put(10, words("f", 21.5))
    put(12, words("d", 3.141592653589793))
    text = b"OFA-PLC" + bytes([48 + unit])  # 8 ASCII bytes, two a register
    put(16, [int.from_bytes(text[i : i + 2], "big") for i in range(0, 8, 2)])
    put(20, [0b1010_0000_0000_0101])
    # float32 21.5 with its words swapped (CDAB), and little-endian bytes in each word (BADC).
    f = words("f", 21.5)
    put(22, [f[1], f[0]])
    put(24, [((w & 0xFF) << 8) | (w >> 8) for w in f])
    put(30, [unit])
    ir = {0: 2155, 1: 600, 2: unit * 10}
    co = {0: True, 1: False, 2: True, 3: True}
    di = {0: False, 1: True, 2: True}
    return {"co": co, "di": di, "hr": hr, "ir": ir}


class PlcContext(ModbusServerContext):
    """Our datastore: per unit, four sparse tables; muted units raise NoSuchIdException (no response is sent)."""

    def __init__(self, units):  # noqa: super().__init__ is not called: it would build pymodbus's own stores
        self.old_simulator = True
        self.simdevices = []
        self.units = {u: seed(u) for u in units}
        self.muted = set()
        self.faults = {}

    def _unit(self, device_id):
        if device_id not in self.units or device_id in self.muted:
            raise NoSuchIdException(f"unit {device_id}")
        return self.units[device_id]

    async def async_getValues(self, device_id, func_code, address, count=1):
        table = self._unit(device_id)[TABLES[func_code]]
        if address < 0 or address + count > SIZE:
            return ExcCodes.ILLEGAL_ADDRESS
        fault = self.faults.get(device_id) if func_code in (1, 2, 3, 4) else None
        if fault == "exception":
            return ExcCodes.DEVICE_FAILURE
        bits = TABLES[func_code] in ("co", "di")
        if fault == "short":
            count -= 8 if bits else 1  # bits travel in bytes: a byte short
        return [bool(table.get(a, False)) if bits else table.get(a, 0) for a in range(address, address + count)]

    async def async_setValues(self, device_id, func_code, address, values):
        table = self._unit(device_id)[TABLES[func_code]]
        if address < 0 or address + len(values) > SIZE:
            return ExcCodes.ILLEGAL_ADDRESS
        for i, v in enumerate(values):
            table[address + i] = v
        return None

    def device_ids(self):
        return list(self.units)


async def control(ctx, server):
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        parts = line.decode().split()
        if not parts:
            continue
        cmd = parts[0]
        if cmd == "exit":
            break
        if cmd == "mute":
            ctx.muted.add(int(parts[1]))
        elif cmd == "unmute":
            ctx.muted.discard(int(parts[1]))
        elif cmd == "fault":
            ctx.faults[int(parts[1])] = parts[2]
        elif cmd == "set":
            unit, table, address, value = int(parts[1]), parts[2], int(parts[3]), int(parts[4])
            ctx.units[unit][table][address] = bool(value) if table in ("co", "di") else value & 0xFFFF
        else:
            print(f"error unknown command {cmd}", flush=True)
            continue
        print(f"ok {' '.join(parts)}", flush=True)
    await server.shutdown()


async def tick(ctx, seconds):
    while True:
        await asyncio.sleep(seconds)
        for unit in ctx.units.values():
            unit["hr"][100] = (unit["hr"].get(100, 0) + 1) & 0xFFFF


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--units", default="1,2,3")
    p.add_argument("--tick", type=float, default=0.1)
    a = p.parse_args()
    ctx = PlcContext([int(u) for u in a.units.split(",")])
    server = ModbusTcpServer(ctx, address=(a.host, a.port), ignore_missing_devices=True)
    await server.listen()
    port = server.transport.sockets[0].getsockname()[1]
    print(f"ready port={port} units={','.join(str(u) for u in ctx.units)}", flush=True)
    ticker = asyncio.create_task(tick(ctx, a.tick))
    await control(ctx, server)
    ticker.cancel()


if __name__ == "__main__":
    asyncio.run(main())

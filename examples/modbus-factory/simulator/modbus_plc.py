"""The example factory's PLC: a bottle filling line behind one Modbus TCP server (pymodbus), two unit ids.

Unit 1, the filler:
  holding 0-1    tank level, float32, litres (falls while filling, refilled at 200 L)
  holding 2      product temperature, int16, tenths of a degree Celsius
  holding 3      status word: bit 0 running, bit 1 level low
  holding 4-5    bottles filled, uint32
  holding 10-11  fill volume setpoint, float32, millilitres (writable; 250-1000)
  holding 12-19  recipe name, 16 ASCII characters
  coil 0         filling enabled (writable)
  discrete 0     emergency stop pressed
Unit 2, the capper:
  holding 0      capping head speed, uint16, revolutions per minute
  holding 1-2    caps applied, uint32
  coil 0         capper enabled (writable)
Anything else reads as 0; addresses past 999 answer exception 2. Same stdin control as scripts/peers/modbus_server.py
(`mute 2`, `unmute 2`, `exit`); prints `ready port=<port> units=1,2`. The data is synthetic.
"""

import argparse
import asyncio
import math
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts", "peers"))
from modbus_server import PlcContext, control, words  # noqa: E402  (our test peer's datastore and control)
from pymodbus.server import ModbusTcpServer  # noqa: E402


def put(table, address, ws):
    for i, w in enumerate(ws):
        table[address + i] = w


def read_float(table, address):
    raw = struct.pack(">HH", table.get(address, 0), table.get(address + 1, 0))
    return struct.unpack(">f", raw)[0]


def u32(table, address):
    return (table.get(address, 0) << 16) | table.get(address + 1, 0)


async def run_line(ctx, period):
    filler = ctx.units[1]
    capper = ctx.units[2]
    for t in (filler["hr"], filler["ir"], capper["hr"]):
        t.clear()
    filler["co"].clear()
    capper["co"].clear()
    filler["di"].clear()
    put(filler["hr"], 0, words("f", 200.0))
    put(filler["hr"], 10, words("f", 500.0))
    recipe = b"SPARKLING-0500".ljust(16, b"\0")
    put(filler["hr"], 12, [int.from_bytes(recipe[i : i + 2], "big") for i in range(0, 16, 2)])
    filler["co"][0] = True
    capper["co"][0] = True
    step = 0
    while True:
        await asyncio.sleep(period)
        step += 1
        hr = filler["hr"]
        running = bool(filler["co"].get(0)) and not filler["di"].get(0)
        level = read_float(hr, 0)
        bottles = u32(hr, 4)
        if running:
            level -= read_float(hr, 10) / 1000.0
            bottles += 1
            if level < 20.0:
                level = 200.0
        put(hr, 0, words("f", round(level, 3)))
        put(hr, 4, words("I", bottles & 0xFFFFFFFF))
        temp = 184 + round(6 * math.sin(step / 20))
        put(hr, 2, words("h", temp))
        hr[3] = (1 if running else 0) | (2 if level < 40.0 else 0)
        capping = bool(capper["co"].get(0))
        capper["hr"][0] = 1200 + (step % 7) * 10 if capping else 0
        if capping and running:
            put(capper["hr"], 1, words("I", (u32(capper["hr"], 1) + 1) & 0xFFFFFFFF))


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5020)
    p.add_argument("--units", default="1,2")
    p.add_argument("--period", type=float, default=1.0)
    a = p.parse_args()
    ctx = PlcContext([1, 2])
    server = ModbusTcpServer(ctx, address=(a.host, a.port), ignore_missing_devices=True)
    await server.listen()
    port = server.transport.sockets[0].getsockname()[1]
    print(f"ready port={port} units=1,2", flush=True)
    line = asyncio.create_task(run_line(ctx, a.period))
    await control(ctx, server)
    line.cancel()


if __name__ == "__main__":
    asyncio.run(main())

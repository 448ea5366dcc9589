"""scripts/peers/modbus_server.py's synthetic PLC (same units, registers, stdin control), served by pymodbus with a
connection handler that takes pipelined requests: several requests in flight on one connection, as a Modbus TCP
gateway may take them (the spec numbers them by transaction id so that it can).

Why: pymodbus 3.16's own handler (server/requesthandler.py) decodes one frame per TCP read and keeps the rest of the
bytes until the next read, with a single slot for the request being handled, so a second request in flight waits
for more bytes or is lost. This handler decodes every whole frame of a read and handles each on its own: each is
answered when the datastore is done with it, a muted unit's never, whatever else is in flight. Framing, PDUs and
the datastore stay pymodbus's.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "scripts", "peers"))

import modbus_server  # noqa: E402
from pymodbus.constants import ExcCodes  # noqa: E402
from pymodbus.exceptions import NoSuchIdException  # noqa: E402
from pymodbus.pdu import ExceptionResponse  # noqa: E402
from pymodbus.server import ModbusTcpServer  # noqa: E402
from pymodbus.server.requesthandler import ServerRequestHandler  # noqa: E402


class PipeliningHandler(ServerRequestHandler):
    """Every whole frame of a read is a request, handled concurrently with the others."""

    def callback_data(self, data, addr=None):
        used = 0
        while used < len(data):
            cut, pdu = self.framer.handleFrame(data[used:], 0, 0)
            used += cut
            if pdu is None:
                break
            asyncio.ensure_future(self.answer(pdu, addr))
        return used

    async def answer(self, pdu, addr):
        try:
            response = await pdu.datastore_update(self.server.context, pdu.dev_id)
        except NoSuchIdException:
            return  # a muted unit: no answer at all, as a dead unit behind a gateway
        except Exception:  # noqa: BLE001 (a datastore failure is answered as one)
            response = ExceptionResponse(pdu.function_code, ExcCodes.DEVICE_FAILURE)
        response.transaction_id = pdu.transaction_id
        response.dev_id = pdu.dev_id
        self.server_send(response, addr)


class PipeliningServer(ModbusTcpServer):
    def callback_new_connection(self):
        return PipeliningHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


if __name__ == "__main__":
    modbus_server.ModbusTcpServer = PipeliningServer
    asyncio.run(modbus_server.main())

"""The machines of the example OPC UA factory (examples/opcua-factory), simulated and served over OPC UA.

One process, OPC UA servers built on asyncua (PyPI), laid out like the OPC UA devices of the reference
OpenFactory demo factory, so that device files written for that demo run against it unmodified:

    port P       (--port, default 4840)  a PID temperature controller heating a vessel
    port P+1     (default 4841)          a temperature/humidity (DHT) sensor: the one at workcenter WC001
    port P+2     (default 4842)          another one: the one at WC002 (--dht-servers: how many such servers)

As in the reference demo, every DHT server is a device of its own whose first (here: only) sensor is
Sensors/TemperatureSensor1.

Each server registers its own namespace first, so its nodes are in namespace index 2; SecurityPolicy None,
anonymous sessions. Endpoints: opc.tcp://<host>:<port> (no path).

Run it through scripts/opcua (which installs asyncua into a venv):

    scripts/opcua start --name opcua-factory --program examples/opcua-factory/simulator/opcua_factory.py --port 4840

or with the venv's python directly (`--host 0.0.0.0` serves the network, for a HOST_IP other than 127.0.0.1):

    .cache/opcua/venv-*/bin/python examples/opcua-factory/simulator/opcua_factory.py --host 0.0.0.0

Controller address space (port P), under Objects:

    TemperatureController                      object; its methods:
      Reset()                                  clears the PID's integral and derivative memory
      Tune(Kp, Ki, Kd: Double)                 sets the three gains at once (not negative: BadOutOfRange);
                                               returns the gains now in force
      Model, SoftwareRevision, Manufacturer, License     String properties, constant
      State/CurrentTemperature    Double   ro  the vessel's measured temperature, degrees Celsius
      State/ControlOutput         Double   ro  the heater output, percent, within OutputMin..OutputMax
      State/LastUpdateTime        DateTime ro  when the two above were last computed
      Configuration/SetPoint      Double   rw  the wanted temperature (50.0 at start)
      Configuration/Mode          String   rw  AUTO (the PID drives the heater), MANUAL (the output stays where
                                               it was), OFF (heater off); anything else is refused (BadOutOfRange)
      Configuration/PID/{Proportional,Integral,Derivative}/Gain      Double  rw  not negative
      Configuration/PID/{Proportional,Integral,Derivative}/Enabled   Boolean rw  a disabled term counts 0
      Configuration/PID/Integral/WindupLimit                         Double  rw  |integral term| at most this
      OutputConstraints/OutputMin, OutputConstraints/OutputMax       Double  rw  0..100 %, min <= max

The vessel is a first-order lag: it settles at ambient + gain x output with a time constant of 30 s. The PID
works on the error (set point - temperature), takes the derivative of the measurement (no kick when the set
point jumps), and stops integrating while the output is held at a limit. Switching from MANUAL back to AUTO
starts the integral where the held output was (no bump).

DHT sensor address space (ports P+1, P+2, ...), under Objects:

    Sensors/TemperatureSensor<i>   i = 1..--sensors (default 1); object and event notifier
      SensorModel       String property, constant
      Temperature       Double   the temperature in TemperatureUnit
      Humidity          Double   relative humidity, percent
      TemperatureUnit   String   rw: C or F (anything else is refused with BadOutOfRange)

Each sensor's temperature swings around its own base (22 degrees Celsius for the first sensor of the first
server, 0.8 more for each next one) by 3 degrees over --drift-period seconds, with noise; its humidity moves
against it. Events from each sensor object:

    SensorStatusEventType       every --event-interval ms, Severity 100: the sensor's readings
    HighTemperatureEventType    when the temperature goes above --high-temperature (degrees Celsius): Severity
                                500 at the limit, +100 per degree above it, at most 800; sent again, Severity
                                100, once it is 0.5 degrees back under the limit

Variables are updated every --interval ms (default 500). Prints `ready <controller endpoint>
namespace=<controller namespace> dht1=<endpoint> dht2=<endpoint> ...` once every server serves; stops cleanly
on SIGTERM or SIGINT (exit 0). The data is synthetic.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import math
import random
import signal
import sys
import time

from asyncua import Server, ua
from asyncua.common.callback import CallbackType

CONTROLLER_NAMESPACE = "urn:openfactory:examples:opcua-factory:temperature-controller"
SENSORS_NAMESPACE = "urn:openfactory:examples:opcua-factory:sensors"
MODES = ("AUTO", "MANUAL", "OFF")
UNITS = ("C", "F")

# The vessel the controller heats.
AMBIENT_C = 20.0
START_C = 22.0
PLANT_GAIN = 1.0  # degrees Celsius above ambient per percent of heater output, once settled
PLANT_TAU_S = 30.0
SIM_STEP_S = 0.1  # the physics is integrated in steps of this size, whatever the update interval


def clamp(x: float, low: float, high: float) -> float:
    return max(low, min(high, x))


def to_unit(celsius: float, unit: str) -> float:
    return celsius * 9.0 / 5.0 + 32.0 if unit == "F" else celsius


def finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# ------------------------------------------------------------------------------------------------------------
# Writes a client may not make


class WriteRules:
    """Checks the values clients write, before asyncua stores them.

    asyncua has no per-variable validation hook that answers with a status code, so a PreWrite listener checks
    every value of a Write request and refuses the whole request with BadOutOfRange when one is not allowed (a
    client sees the status of the Write service). Writes made by this program itself are not checked.
    """

    def __init__(self) -> None:
        self._rules: dict[ua.NodeId, object] = {}

    def add(self, nodeid: ua.NodeId, rule) -> None:  # noqa: ANN001
        self._rules[nodeid] = rule

    async def check(self, event, _dispatcher) -> None:  # noqa: ANN001
        if not event.is_external:
            return
        for wv in event.request_params.NodesToWrite:
            rule = self._rules.get(wv.NodeId)
            if rule is None or wv.AttributeId != ua.AttributeIds.Value or wv.Value.Value is None:
                continue
            if not await rule(wv.Value.Value.Value):
                raise ua.UaStatusCodeError(ua.StatusCodes.BadOutOfRange)


def argument(name: str, description: str) -> ua.Argument:
    arg = ua.Argument()
    arg.Name = name
    arg.DataType = ua.NodeId(ua.ObjectIds.Double)
    arg.ValueRank = ua.ValueRank.Scalar
    arg.Description = ua.LocalizedText(description)
    return arg


async def describe(node, text: str) -> None:  # noqa: ANN001
    await node.write_attribute(ua.AttributeIds.Description, ua.DataValue(ua.Variant(ua.LocalizedText(text))))


async def new_server(host: str, port: int, name: str, namespace: str) -> tuple[Server, int, str]:
    server = Server()
    await server.init()
    endpoint = f"opc.tcp://{host}:{port}"
    server.set_endpoint(endpoint)
    server.set_server_name(name)
    await server.set_application_uri(f"{namespace}:server")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    server.set_identity_tokens([ua.AnonymousIdentityToken])
    idx = await server.register_namespace(namespace)  # the first one registered: index 2
    return server, idx, endpoint


# ------------------------------------------------------------------------------------------------------------
# The temperature controller


class Controller:
    """The TemperatureController object: its nodes, the PID's memory and the vessel's temperature."""

    def __init__(self, server: Server, idx: int, rng: random.Random) -> None:
        self.server = server
        self.idx = idx
        self.rng = rng
        self.temperature = START_C
        self.output = 0.0
        self.integral = 0.0
        self.last_measured: float | None = None
        self.last_mode = "AUTO"
        self.n: dict[str, object] = {}

    def nid(self, name: str) -> ua.NodeId:
        return ua.NodeId(f"TemperatureController.{name}", self.idx)

    def qn(self, name: str) -> ua.QualifiedName:
        return ua.QualifiedName(name, self.idx)

    async def build(self, rules: WriteRules) -> None:
        objects = self.server.nodes.objects
        root = await objects.add_object(ua.NodeId("TemperatureController", self.idx), self.qn("TemperatureController"))
        await describe(root, "A PID controller heating a vessel (simulated)")
        for name, value in (
            ("Model", "TC-2400 PID temperature controller (simulated)"),
            ("SoftwareRevision", "3.1.4"),
            ("Manufacturer", "OpenFactory example machines"),
            ("License", "Apache-2.0"),
        ):
            self.n[name] = await root.add_property(self.nid(name), self.qn(name), value, ua.VariantType.String)

        state = await root.add_folder(self.nid("State"), self.qn("State"))
        self.n["CurrentTemperature"] = await state.add_variable(
            self.nid("State.CurrentTemperature"), self.qn("CurrentTemperature"), START_C, ua.VariantType.Double
        )
        self.n["ControlOutput"] = await state.add_variable(
            self.nid("State.ControlOutput"), self.qn("ControlOutput"), 0.0, ua.VariantType.Double
        )
        self.n["LastUpdateTime"] = await state.add_variable(
            self.nid("State.LastUpdateTime"),
            self.qn("LastUpdateTime"),
            datetime.datetime.now(datetime.timezone.utc),
            ua.VariantType.DateTime,
        )

        config = await root.add_folder(self.nid("Configuration"), self.qn("Configuration"))
        writable: list[tuple[str, object, object]] = []  # (key, node, rule)

        async def rw(parent, key: str, browse: str, value, vtype, rule) -> None:  # noqa: ANN001
            node = await parent.add_variable(self.nid(key), self.qn(browse), value, vtype)
            await node.set_writable(True)
            self.n[key] = node
            writable.append((key, node, rule))

        async def not_negative(x) -> bool:  # noqa: ANN001
            return finite(x) and x >= 0

        async def a_mode(x) -> bool:  # noqa: ANN001
            return x in MODES

        await rw(config, "Configuration.SetPoint", "SetPoint", 50.0, ua.VariantType.Double, self._any_number)
        await rw(config, "Configuration.Mode", "Mode", "AUTO", ua.VariantType.String, a_mode)
        pid = await config.add_folder(self.nid("Configuration.PID"), self.qn("PID"))
        for term, gain in (("Proportional", 4.0), ("Integral", 0.2), ("Derivative", 1.0)):
            folder = await pid.add_folder(self.nid(f"PID.{term}"), self.qn(term))
            await rw(folder, f"PID.{term}.Gain", "Gain", gain, ua.VariantType.Double, not_negative)
            await rw(folder, f"PID.{term}.Enabled", "Enabled", True, ua.VariantType.Boolean, self._any)
            if term == "Integral":
                await rw(folder, "PID.Integral.WindupLimit", "WindupLimit", 100.0, ua.VariantType.Double, not_negative)

        limits = await root.add_folder(self.nid("OutputConstraints"), self.qn("OutputConstraints"))

        async def output_min(x) -> bool:  # noqa: ANN001
            return finite(x) and 0 <= x <= await self.n["OutputConstraints.OutputMax"].read_value()

        async def output_max(x) -> bool:  # noqa: ANN001
            return finite(x) and await self.n["OutputConstraints.OutputMin"].read_value() <= x <= 100

        await rw(limits, "OutputConstraints.OutputMin", "OutputMin", 0.0, ua.VariantType.Double, output_min)
        await rw(limits, "OutputConstraints.OutputMax", "OutputMax", 100.0, ua.VariantType.Double, output_max)
        for _key, node, rule in writable:
            rules.add(node.nodeid, rule)

        reset = await root.add_method(self.nid("Reset"), self.qn("Reset"), self._reset, [], [])
        await describe(reset, "Clear the PID's integral and derivative memory")
        gains = [
            argument("Kp", "proportional gain, not negative"),
            argument("Ki", "integral gain, not negative"),
            argument("Kd", "derivative gain, not negative"),
        ]
        tune = await root.add_method(self.nid("Tune"), self.qn("Tune"), self._tune, gains, gains)
        await describe(tune, "Set the three PID gains at once")

    @staticmethod
    async def _any(_x) -> bool:  # noqa: ANN001
        return True

    @staticmethod
    async def _any_number(x) -> bool:  # noqa: ANN001
        return finite(x)

    async def _reset(self, _parent: ua.NodeId):
        self.integral = 0.0
        self.last_measured = None
        return []

    async def _tune(self, _parent: ua.NodeId, kp: ua.Variant, ki: ua.Variant, kd: ua.Variant):
        values = [kp.Value, ki.Value, kd.Value]
        if not all(finite(v) and v >= 0 for v in values):
            return ua.StatusCode(ua.StatusCodes.BadOutOfRange)
        for term, v in zip(("Proportional", "Integral", "Derivative"), values):
            await self.n[f"PID.{term}.Gain"].write_value(ua.Variant(float(v), ua.VariantType.Double))
        return [ua.Variant(float(v), ua.VariantType.Double) for v in values]

    async def _read(self, key: str):  # noqa: ANN202
        return await self.n[key].read_value()

    async def step(self, elapsed_s: float) -> None:
        """Advances the vessel and the controller by `elapsed_s` seconds, then publishes the new state."""
        mode = await self._read("Configuration.Mode")
        setpoint = await self._read("Configuration.SetPoint")
        gains = {t: await self._read(f"PID.{t}.Gain") for t in ("Proportional", "Integral", "Derivative")}
        enabled = {t: await self._read(f"PID.{t}.Enabled") for t in ("Proportional", "Integral", "Derivative")}
        windup = await self._read("PID.Integral.WindupLimit")
        low = await self._read("OutputConstraints.OutputMin")
        high = max(low, await self._read("OutputConstraints.OutputMax"))

        if mode == "AUTO" and self.last_mode == "MANUAL" and enabled["Integral"]:
            # Bumpless transfer: the integral term takes over the output held in MANUAL.
            error = setpoint - self.temperature
            p = gains["Proportional"] * error if enabled["Proportional"] else 0.0
            self.integral = clamp(self.output - p, -windup, windup)
        self.last_mode = mode

        steps = max(1, round(elapsed_s / SIM_STEP_S))
        dt = elapsed_s / steps
        measured = self.temperature
        for _ in range(steps):
            measured = self.temperature + self.rng.gauss(0.0, 0.03)
            if mode == "AUTO":
                self.output = self._pid(setpoint, measured, dt, gains, enabled, windup, low, high)
            elif mode == "MANUAL":
                self.output = clamp(self.output, low, high)
            else:
                self.output = 0.0
                self.integral = 0.0
                self.last_measured = None
            settled = AMBIENT_C + PLANT_GAIN * self.output
            self.temperature += (settled - self.temperature) * dt / PLANT_TAU_S

        now = datetime.datetime.now(datetime.timezone.utc)
        await self.n["CurrentTemperature"].write_value(ua.Variant(round(measured, 3), ua.VariantType.Double))
        await self.n["ControlOutput"].write_value(ua.Variant(round(self.output, 3), ua.VariantType.Double))
        await self.n["LastUpdateTime"].write_value(ua.Variant(now, ua.VariantType.DateTime))

    def _pid(self, setpoint, measured, dt, gains, enabled, windup, low, high) -> float:  # noqa: ANN001, PLR0913
        error = setpoint - measured
        p = gains["Proportional"] * error if enabled["Proportional"] else 0.0
        step = gains["Integral"] * error * dt if enabled["Integral"] else 0.0
        if not enabled["Integral"]:
            self.integral = 0.0
        self.integral = clamp(self.integral + step, -windup, windup)
        d = 0.0
        if enabled["Derivative"] and self.last_measured is not None:
            d = -gains["Derivative"] * (measured - self.last_measured) / dt
        self.last_measured = measured
        raw = p + self.integral + d
        out = clamp(raw, low, high)
        if out != raw and (raw - out) * step > 0:
            self.integral -= step  # held at a limit: integrating on would only wind up
        return out


# ------------------------------------------------------------------------------------------------------------
# The DHT sensors


class Sensor:
    """One TemperatureSensor<i> object: its nodes, its event generators and where its readings are."""

    def __init__(self, index: int, serial: int, rng: random.Random) -> None:
        """`index`: its number on its server (TemperatureSensor<index>); `serial`: its number in the factory."""
        self.serial = serial
        self.name = f"TemperatureSensor{index}"
        self.rng = rng
        self.base_c = 22.0 + 0.8 * (serial - 1)
        self.phase = 0.9 * (serial - 1)
        self.noise_c = 0.0
        self.celsius = self.base_c
        self.high = False
        self.unit = "C"
        self.temperature = self.base_c
        self.humidity = 48.0
        self.n: dict[str, object] = {}
        self.status_events = None
        self.high_events = None

    async def build(self, server: Server, idx: int, folder, types: dict, rules: WriteRules) -> None:  # noqa: ANN001
        def nid(name: str) -> ua.NodeId:
            return ua.NodeId(f"Sensors.{self.name}.{name}" if name else f"Sensors.{self.name}", idx)

        obj = await folder.add_object(nid(""), ua.QualifiedName(self.name, idx))
        self.n["SensorModel"] = await obj.add_property(
            nid("SensorModel"),
            ua.QualifiedName("SensorModel", idx),
            f"DHT22 temperature and humidity sensor (simulated), serial OFA-DHT-{self.serial:04d}",
            ua.VariantType.String,
        )
        self.n["Temperature"] = await obj.add_variable(
            nid("Temperature"), ua.QualifiedName("Temperature", idx), self.base_c, ua.VariantType.Double
        )
        self.n["Humidity"] = await obj.add_variable(
            nid("Humidity"), ua.QualifiedName("Humidity", idx), self.humidity, ua.VariantType.Double
        )
        unit = await obj.add_variable(
            nid("TemperatureUnit"), ua.QualifiedName("TemperatureUnit", idx), "C", ua.VariantType.String
        )
        await unit.set_writable(True)
        self.n["TemperatureUnit"] = unit

        async def a_unit(x) -> bool:  # noqa: ANN001
            return x in UNITS

        rules.add(unit.nodeid, a_unit)
        # Generators with this object as the emitting node also make it an event notifier.
        self.status_events = await server.get_event_generator(types["status"], obj)
        self.high_events = await server.get_event_generator(types["high"], obj)

    async def step(self, t_s: float, period_s: float) -> None:
        # A slow swing (a day, sped up) plus a noise that wanders and is pulled back (Ornstein-Uhlenbeck).
        swing = math.sin(2 * math.pi * t_s / period_s + self.phase)
        self.noise_c += -0.2 * self.noise_c + self.rng.gauss(0.0, 0.05)
        self.celsius = self.base_c + 3.0 * swing + self.noise_c
        humidity = clamp(48.0 - 6.0 * swing + self.rng.gauss(0.0, 0.3), 0.0, 100.0)
        self.unit = await self.n["TemperatureUnit"].read_value()
        self.temperature = round(to_unit(self.celsius, self.unit), 2)
        self.humidity = round(humidity, 1)
        await self.n["Temperature"].write_value(ua.Variant(self.temperature, ua.VariantType.Double))
        await self.n["Humidity"].write_value(ua.Variant(self.humidity, ua.VariantType.Double))

    def readings(self) -> str:
        """The readings last published, in the unit they were published in."""
        return f"{self.temperature:.2f} {self.unit}, {self.humidity:.1f} %RH"

    async def report_status(self) -> None:
        self.status_events.event.Severity = 100
        await self.status_events.trigger(message=f"{self.name}: {self.readings()}")

    async def watch_temperature(self, limit_c: float) -> None:
        limit = f"{to_unit(limit_c, self.unit):.1f} {self.unit}"
        if not self.high and self.celsius > limit_c:
            self.high = True
            severity = int(min(800, 500 + 100 * (self.celsius - limit_c)))
            self.high_events.event.Severity = severity
            await self.high_events.trigger(message=f"{self.name}: temperature above {limit}: {self.readings()}")
        elif self.high and self.celsius < limit_c - 0.5:
            self.high = False
            self.high_events.event.Severity = 100
            await self.high_events.trigger(message=f"{self.name}: temperature back under {limit}")


# ------------------------------------------------------------------------------------------------------------


async def every(interval_s: float, fn) -> None:  # noqa: ANN001
    """Calls `fn(elapsed seconds)` every `interval_s`, on a fixed schedule (a slow call does not shift it)."""
    last = time.monotonic()
    deadline = last
    while True:
        deadline += interval_s
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        now = time.monotonic()
        try:
            await fn(now - last)
        except Exception:
            logging.exception("update failed")
        last = now


async def main(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)

    ctrl_server, ctrl_idx, ctrl_endpoint = await new_server(
        args.host, args.port, "OpenFactory example: temperature controller", CONTROLLER_NAMESPACE
    )
    ctrl_rules = WriteRules()
    controller = Controller(ctrl_server, ctrl_idx, rng)
    await controller.build(ctrl_rules)
    ctrl_server.subscribe_server_callback(CallbackType.PreWrite, ctrl_rules.check)

    servers = [ctrl_server]
    endpoints: list[str] = []
    sensors: list[Sensor] = []
    for k in range(1, args.dht_servers + 1):
        server, idx, endpoint = await new_server(
            args.host, args.port + k, f"OpenFactory example: DHT sensor {k}", SENSORS_NAMESPACE
        )
        rules = WriteRules()
        types = {
            "status": await server.create_custom_event_type(idx, "SensorStatusEventType"),
            "high": await server.create_custom_event_type(idx, "HighTemperatureEventType"),
        }
        folder = await server.nodes.objects.add_folder(ua.NodeId("Sensors", idx), ua.QualifiedName("Sensors", idx))
        for i in range(1, args.sensors + 1):
            sensor = Sensor(i, len(sensors) + 1, rng)
            await sensor.build(server, idx, folder, types, rules)
            sensors.append(sensor)
        server.subscribe_server_callback(CallbackType.PreWrite, rules.check)
        servers.append(server)
        endpoints.append(f"dht{k}={endpoint}")

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    for server in servers:
        await server.start()
    started = time.monotonic()

    async def update(elapsed_s: float) -> None:
        await controller.step(elapsed_s)
        t = time.monotonic() - started
        for s in sensors:
            await s.step(t, args.drift_period)
            await s.watch_temperature(args.high_temperature)

    async def report(_elapsed_s: float) -> None:
        for s in sensors:
            await s.report_status()

    tasks = [
        asyncio.create_task(every(args.interval / 1000, update)),
        asyncio.create_task(every(args.event_interval / 1000, report)),
    ]
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
    print(
        f"ready {ctrl_endpoint} namespace={CONTROLLER_NAMESPACE} {' '.join(endpoints)} "
        f"dht-namespace={SENSORS_NAMESPACE} security=none interval={args.interval}ms at={now}",
        flush=True,
    )
    await stopping.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for server in reversed(servers):
        await server.stop()
    print("stopped", flush=True)
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="The example OPC UA factory's machines: a temperature controller on --port, DHT sensors on the"
        " ports after it."
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on and to name in the endpoints")
    p.add_argument("--port", type=int, default=4840, help="the controller's port; the DHT servers take the next ones")
    p.add_argument("--interval", type=int, default=500, help="ms between variable updates")
    p.add_argument("--event-interval", type=int, default=10_000, help="ms between the sensors' status events")
    p.add_argument("--drift-period", type=float, default=120.0, help="seconds of one swing of the sensors' temperature")
    p.add_argument(
        "--high-temperature", type=float, default=24.5, help="degrees Celsius above which a sensor sends a warning"
    )
    p.add_argument("--dht-servers", type=int, default=2, help="how many DHT sensor servers (ports P+1, P+2, ...)")
    p.add_argument("--sensors", type=int, default=1, help="how many TemperatureSensor<i> objects each DHT server has")
    p.add_argument("--seed", type=int, default=None, help="seed of the noise (default: random)")
    p.add_argument("--log-level", default="WARNING")
    args = p.parse_args(argv)
    if args.interval <= 0 or args.event_interval <= 0 or args.drift_period <= 0:
        p.error("--interval, --event-interval and --drift-period must be positive")
    if args.sensors < 1 or args.dht_servers < 0:
        p.error("--sensors must be at least 1, --dht-servers at least 0")
    return args


if __name__ == "__main__":
    options = parse_args(sys.argv[1:])
    logging.basicConfig(level=options.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(asyncio.run(main(options)))

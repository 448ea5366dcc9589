"""A synthetic machine served over OPC UA, the independent peer of the OPC UA connector's tests.

Built on asyncua (PyPI), a server we did not write, so that our client code is checked against someone else's
reading of the specification. scripts/opcua.ts installs asyncua in a venv and runs this file; it is not meant to
be started by hand, but can be:

    .cache/opcua/venv-*/bin/python scripts/peers/opcua_server.py --port 4840 [--security sign-and-encrypt]

Address space (namespace URI NAMESPACE below; every node id is a string id in that namespace):

    Objects/Machine                      object, event notifier (emits BaseEventType events)
      Machine.SpindleSpeed   Double      commanded speed + a sine of 5 % of it, updated every --interval ms
      Machine.PartCount      UInt32      +1 every --interval ms
      Machine.Execution      String      READY / ACTIVE / INTERRUPTED / STOPPED, one step every 10 updates
      Machine.DoorOpen       Boolean     toggles every 25 updates
      Machine.FeedOverride   Double      read + write (AccessLevel CurrentRead | CurrentWrite), 100.0 at start
      Machine.SetSpeed       method      (rpm: Double) -> (rpm: Double); a negative rpm returns BadOutOfRange
    Objects/Peer                         object
      Peer.SessionCount      UInt32      sessions activated on this server now (asyncua keeps no standard count),
                                         updated every 200 ms: tests check that clients leave none behind
      Peer.AddNamespace      method      (uri: String) -> (index: UInt16); registers a namespace, so the server's
                                         NamespaceArray changes as when a server loads another information model

Every --event-interval ms an event (Severity cycling 100..900, a Message naming its sequence number) is emitted
from Machine and from the Server object, so a client may subscribe to either.

--security none: one endpoint, SecurityPolicy None, anonymous sessions.
--security sign-and-encrypt: one endpoint, Basic256Sha256 SignAndEncrypt, user/password sessions only; the
server's key and self-signed certificate are made in --pki on first start and kept (a restart keeps them).

Prints `ready <endpoint url> namespace=<NAMESPACE> ...` on stdout once it serves, and stops cleanly on SIGTERM or SIGINT (exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import ipaddress
import logging
import math
import signal
import socket
import sys
from pathlib import Path

from asyncua import Server, ua
from asyncua.common.event_objects import BaseEvent
from asyncua.crypto import cert_gen
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

NAMESPACE = "urn:openfactory:test-peer:machine"
APPLICATION_URI = "urn:openfactory:test-peer:opcua-server"
EXECUTION_STATES = ("READY", "ACTIVE", "INTERRUPTED", "STOPPED")


class PasswordUsers(UserManager):
    """One user, checked by name and password; anonymous sessions only where the endpoint allows them."""

    def __init__(self, username: str, password: str, allow_anonymous: bool) -> None:
        self._username = username
        self._password = password
        self._allow_anonymous = allow_anonymous

    def get_user(self, iserver, username=None, password=None, certificate=None):  # noqa: ANN001, ARG002
        if username is None and password is None:
            return User(role=UserRole.User) if self._allow_anonymous else None
        if username == self._username and password == self._password:
            return User(role=UserRole.User, name=username)
        return None


def make_certificate(pki: Path, host: str) -> tuple[Path, Path]:
    """A 2048-bit RSA key and a self-signed application certificate (DER), made once and kept in `pki`."""
    pki.mkdir(parents=True, exist_ok=True)
    key_file, cert_file = pki / "server-key.pem", pki / "server-cert.der"
    if key_file.exists() and cert_file.exists():
        return key_file, cert_file
    key = cert_gen.generate_private_key()
    names: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier(APPLICATION_URI),
        x509.DNSName("localhost"),
        x509.DNSName(socket.gethostname()),
    ]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    cert = cert_gen.generate_self_signed_app_certificate(
        key,
        "OpenFactory OPC UA test peer",
        {"organizationName": "OpenFactory"},
        names,
        extended=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        days=3650,
    )
    tmp_key, tmp_cert = key_file.with_suffix(".tmp"), cert_file.with_suffix(".tmp")
    tmp_key.write_bytes(cert_gen.dump_private_key_as_pem(key))
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    tmp_key.replace(key_file)
    tmp_cert.replace(cert_file)
    return key_file, cert_file


async def build(server: Server, args: argparse.Namespace) -> dict:
    """Adds the Machine object, its variables, its method and its event generators; returns what `run` updates."""
    idx = await server.register_namespace(NAMESPACE)
    objects = server.nodes.objects

    def nid(name: str) -> ua.NodeId:
        return ua.NodeId(name, idx)

    machine = await objects.add_object(nid("Machine"), ua.QualifiedName("Machine", idx))
    spindle = await machine.add_variable(
        nid("Machine.SpindleSpeed"), ua.QualifiedName("SpindleSpeed", idx), 0.0, ua.VariantType.Double
    )
    parts = await machine.add_variable(
        nid("Machine.PartCount"), ua.QualifiedName("PartCount", idx), 0, ua.VariantType.UInt32
    )
    execution = await machine.add_variable(
        nid("Machine.Execution"), ua.QualifiedName("Execution", idx), EXECUTION_STATES[0], ua.VariantType.String
    )
    door = await machine.add_variable(
        nid("Machine.DoorOpen"), ua.QualifiedName("DoorOpen", idx), False, ua.VariantType.Boolean
    )
    override = await machine.add_variable(
        nid("Machine.FeedOverride"), ua.QualifiedName("FeedOverride", idx), 100.0, ua.VariantType.Double
    )
    await override.set_writable(True)

    state = {"commanded": args.rpm}

    async def set_speed(parent: ua.NodeId, rpm: ua.Variant):  # noqa: ARG001
        value = rpm.Value
        if not isinstance(value, float) or math.isnan(value):
            return ua.StatusCode(ua.StatusCodes.BadInvalidArgument)
        if value < 0:
            return ua.StatusCode(ua.StatusCodes.BadOutOfRange)
        state["commanded"] = value
        return [ua.Variant(value, ua.VariantType.Double)]

    rpm_in = ua.Argument()
    rpm_in.Name = "rpm"
    rpm_in.DataType = ua.NodeId(ua.ObjectIds.Double)
    rpm_in.ValueRank = ua.ValueRank.Scalar
    rpm_in.Description = ua.LocalizedText("commanded spindle speed, revolutions per minute, not negative")
    rpm_out = ua.Argument()
    rpm_out.Name = "rpm"
    rpm_out.DataType = ua.NodeId(ua.ObjectIds.Double)
    rpm_out.ValueRank = ua.ValueRank.Scalar
    rpm_out.Description = ua.LocalizedText("the speed now commanded")
    await machine.add_method(nid("Machine.SetSpeed"), ua.QualifiedName("SetSpeed", idx), set_speed, [rpm_in], [rpm_out])

    peer = await objects.add_object(nid("Peer"), ua.QualifiedName("Peer", idx))
    sessions = await peer.add_variable(
        nid("Peer.SessionCount"), ua.QualifiedName("SessionCount", idx), 0, ua.VariantType.UInt32
    )

    async def add_namespace(parent: ua.NodeId, uri: ua.Variant):  # noqa: ARG001
        if not isinstance(uri.Value, str) or not uri.Value:
            return ua.StatusCode(ua.StatusCodes.BadInvalidArgument)
        index = await server.register_namespace(uri.Value)
        return [ua.Variant(index, ua.VariantType.UInt16)]

    uri_in = ua.Argument()
    uri_in.Name = "uri"
    uri_in.DataType = ua.NodeId(ua.ObjectIds.String)
    uri_in.ValueRank = ua.ValueRank.Scalar
    index_out = ua.Argument()
    index_out.Name = "index"
    index_out.DataType = ua.NodeId(ua.ObjectIds.UInt16)
    index_out.ValueRank = ua.ValueRank.Scalar
    await peer.add_method(
        nid("Peer.AddNamespace"), ua.QualifiedName("AddNamespace", idx), add_namespace, [uri_in], [index_out]
    )

    generators = [
        await server.get_event_generator(BaseEvent(sourcenode=machine.nodeid), machine),
        await server.get_event_generator(BaseEvent(sourcenode=machine.nodeid), ua.ObjectIds.Server),
    ]
    return {
        "state": state,
        "spindle": spindle,
        "parts": parts,
        "execution": execution,
        "door": door,
        "events": generators,
        "sessions": sessions,
    }


async def update_loop(nodes: dict, interval_s: float) -> None:
    tick = 0
    while True:
        await asyncio.sleep(interval_s)
        tick += 1
        commanded = nodes["state"]["commanded"]
        speed = commanded + 0.05 * commanded * math.sin(tick / 5)
        await nodes["spindle"].write_value(ua.Variant(speed, ua.VariantType.Double))
        await nodes["parts"].write_value(ua.Variant(tick % 2**32, ua.VariantType.UInt32))
        if tick % 10 == 0:
            step = EXECUTION_STATES[(tick // 10) % len(EXECUTION_STATES)]
            await nodes["execution"].write_value(ua.Variant(step, ua.VariantType.String))
        if tick % 25 == 0:
            await nodes["door"].write_value(ua.Variant((tick // 25) % 2 == 1, ua.VariantType.Boolean))


async def session_count_loop(nodes: dict) -> None:
    # asyncua's own count of activated sessions (a class attribute of its session type, pinned version).
    from asyncua.server.internal_session import InternalSession

    while True:
        await nodes["sessions"].write_value(ua.Variant(InternalSession._current_connections, ua.VariantType.UInt32))
        await asyncio.sleep(0.2)


async def event_loop(nodes: dict, interval_s: float) -> None:
    seq = 0
    while True:
        await asyncio.sleep(interval_s)
        seq += 1
        severity = 100 * (1 + (seq - 1) % 9)
        for gen in nodes["events"]:
            gen.event.Severity = severity
            await gen.trigger(message=f"synthetic machine event {seq} (severity {severity})")


async def main(args: argparse.Namespace) -> int:
    secure = args.security == "sign-and-encrypt"
    server = Server(user_manager=PasswordUsers(args.user, args.password, allow_anonymous=not secure))
    await server.init()
    endpoint = f"opc.tcp://{args.host}:{args.port}/openfactory/peer"
    server.set_endpoint(endpoint)
    server.set_server_name("OpenFactory OPC UA test peer")
    await server.set_application_uri(APPLICATION_URI)
    if secure:
        key_file, cert_file = make_certificate(Path(args.pki), args.host)
        await server.load_certificate(str(cert_file))
        await server.load_private_key(str(key_file))
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        server.set_identity_tokens([ua.UserNameIdentityToken])
    else:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_identity_tokens([ua.AnonymousIdentityToken])
    nodes = await build(server, args)

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    await server.start()
    tasks = [
        asyncio.create_task(update_loop(nodes, args.interval / 1000)),
        asyncio.create_task(event_loop(nodes, args.event_interval / 1000)),
        asyncio.create_task(session_count_loop(nodes)),
    ]
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
    print(f"ready {endpoint} namespace={NAMESPACE} security={args.security} at={now}", flush=True)
    await stopping.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await server.stop()
    print("stopped", flush=True)
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="OpenFactory's synthetic OPC UA machine (a test peer).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4840)
    p.add_argument("--security", choices=["none", "sign-and-encrypt"], default="none")
    p.add_argument("--user", default="ofa")
    p.add_argument("--password", default="ofa-secret")
    p.add_argument("--pki", default="pki", help="folder of the server key and certificate (sign-and-encrypt)")
    p.add_argument("--interval", type=int, default=100, help="ms between variable updates")
    p.add_argument("--event-interval", type=int, default=500, help="ms between events")
    p.add_argument("--rpm", type=float, default=1200.0, help="commanded spindle speed at start")
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


if __name__ == "__main__":
    options = parse_args(sys.argv[1:])
    logging.basicConfig(level=options.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(asyncio.run(main(options)))

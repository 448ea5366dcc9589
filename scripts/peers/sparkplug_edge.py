"""A Sparkplug B edge node for OpenFactory's tests, written for them: paho-mqtt publishes payloads that Google's
protobuf encodes with the module grpcio-tools compiled from our packages/connector-mqtt/proto/sparkplug_b.proto.

It connects with an NDEATH will, publishes NBIRTH and one DBIRTH, answers NCMD `Node Control/Rebirth` with its births
again and DCMD by printing the command and publishing the new value in DDATA. Driven by lines on stdin:

  ddata <number>    DDATA: Temperature (by alias only) = number
  ndata <number>    NDATA: Uptime (by alias only) = number
  skip              count a sequence number without sending it (a gap)
  garbage           publish bytes that are not a Sparkplug payload on the DDATA topic
  ddeath            DDEATH of the device
  quit              disconnect (no NDEATH sent: the broker publishes the will) and exit

It prints one line per event on stdout: `ready`, `rebirth`, `dcmd <metric> <value>`, `sent <type> <seq>`.
"""
import argparse
import sys
import threading
import time

import paho.mqtt.client as mqtt

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--gen", required=True, help="folder of the compiled sparkplug_b_pb2.py")
parser.add_argument("--group", default="Plant1")
parser.add_argument("--node", default="Edge1")
parser.add_argument("--device", default="Sensor1")
parser.add_argument("--bdseq", type=int, default=0)
args = parser.parse_args()
sys.path.insert(0, args.gen)
import sparkplug_b_pb2 as sp  # noqa: E402

INT32, INT64, DOUBLE, BOOLEAN, STRING = 3, 4, 10, 11, 12
NS = "spBv1.0"
node_topic = lambda kind: f"{NS}/{args.group}/{kind}/{args.node}"  # noqa: E731
device_topic = lambda kind: f"{NS}/{args.group}/{kind}/{args.node}/{args.device}"  # noqa: E731

lock = threading.Lock()
seq = 0
temperature = 20.0
mode = "AUTO"
setpoint = 100


def now_ms():
    return int(time.time() * 1000)


def say(line):
    print(line, flush=True)


def metric(p, name, alias, datatype, value):
    m = p.metrics.add()
    if name is not None:
        m.name = name
    if alias is not None:
        m.alias = alias
    m.timestamp = now_ms()
    if datatype is not None:
        m.datatype = datatype
    if isinstance(value, bool):
        m.boolean_value = value
    elif isinstance(value, float):
        m.double_value = value
    elif isinstance(value, str):
        m.string_value = value
    elif datatype == INT64:
        m.long_value = value
    else:
        m.int_value = value & 0xFFFFFFFF
    return m


def next_seq():
    global seq
    s = seq
    seq = (seq + 1) % 256
    return s


def death_payload():
    p = sp.Payload()
    p.timestamp = now_ms()
    metric(p, "bdSeq", None, INT64, args.bdseq)
    return p.SerializeToString()


def publish(topic, p, kind):
    client.publish(topic, p.SerializeToString(), qos=0)
    say(f"sent {kind} {p.seq}")


def births():
    global seq
    with lock:
        seq = 0
        p = sp.Payload()
        p.timestamp = now_ms()
        p.seq = next_seq()
        metric(p, "bdSeq", None, INT64, args.bdseq)
        metric(p, "Node Control/Rebirth", None, BOOLEAN, False)
        metric(p, "Uptime", 1, INT64, 0)
        publish(node_topic("NBIRTH"), p, "NBIRTH")
        d = sp.Payload()
        d.timestamp = now_ms()
        d.seq = next_seq()
        metric(d, "Temperature", 10, DOUBLE, temperature)
        metric(d, "Mode", 11, STRING, mode)
        metric(d, "Setpoint", 12, INT32, setpoint)
        publish(device_topic("DBIRTH"), d, "DBIRTH")


def on_connect(c, userdata, flags, reason_code, properties=None):
    c.subscribe([(node_topic("NCMD"), 0), (device_topic("DCMD"), 0)])
    births()
    say("ready")


def on_message(c, userdata, msg):
    global setpoint, mode
    p = sp.Payload()
    p.ParseFromString(msg.payload)
    kind = msg.topic.split("/")[2]
    for m in p.metrics:
        field = m.WhichOneof("value")
        value = getattr(m, field) if field else None
        if kind == "NCMD" and m.name == "Node Control/Rebirth" and value:
            say("rebirth")
            births()
        elif kind == "DCMD":
            if field == "int_value" and value >= 0x80000000:
                value -= 0x100000000
            say(f"dcmd {m.name or m.alias} {value}")
            with lock:
                d = sp.Payload()
                d.timestamp = now_ms()
                d.seq = next_seq()
                if m.name == "Setpoint" or m.alias == 12:
                    setpoint = int(value)
                    metric(d, None, 12, INT32, setpoint)
                elif m.name == "Mode" or m.alias == 11:
                    mode = str(value)
                    metric(d, None, 11, STRING, mode)
                publish(device_topic("DDATA"), d, "DDATA")


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"edge-{args.group}-{args.node}", clean_session=True)
client.will_set(node_topic("NDEATH"), death_payload(), qos=1, retain=False)
client.on_connect = on_connect
client.on_message = on_message
client.connect("127.0.0.1", args.port, keepalive=5)
client.loop_start()

for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    with lock:
        if words[0] == "ddata":
            d = sp.Payload()
            d.timestamp = now_ms()
            d.seq = next_seq()
            metric(d, None, 10, None, float(words[1]))
            publish(device_topic("DDATA"), d, "DDATA")
        elif words[0] == "ndata":
            d = sp.Payload()
            d.timestamp = now_ms()
            d.seq = next_seq()
            metric(d, None, 1, None, int(words[1]))
            d.metrics[0].long_value = int(words[1])
            publish(node_topic("NDATA"), d, "NDATA")
        elif words[0] == "burst":
            # burst N: N NDATA at once, Uptime 1..N (a flooding node), then one line.
            for i in range(1, int(words[1]) + 1):
                d = sp.Payload()
                d.timestamp = now_ms()
                d.seq = next_seq()
                metric(d, None, 1, None, i)
                d.metrics[0].long_value = i
                client.publish(node_topic("NDATA"), d.SerializeToString(), qos=0)
            say(f"burst {words[1]}")
        elif words[0] == "skip":
            say(f"skipped {next_seq()}")
        elif words[0] == "garbage":
            client.publish(device_topic("DDATA"), b"\xff\xff\xff not protobuf", qos=0)
            say("sent garbage")
        elif words[0] == "ddeath":
            d = sp.Payload()
            d.timestamp = now_ms()
            d.seq = next_seq()
            publish(device_topic("DDEATH"), d, "DDEATH")
        elif words[0] == "quit":
            break

# Without DISCONNECT the broker publishes the will (NDEATH): close the socket as a crashed node would.
client.loop_stop()
client.socket().close()
say("bye")

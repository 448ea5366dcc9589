"""Drives an MTConnect agent with clients we did not write, for packages/serve/test/mtconnect/.

Two readers, neither ours:
- pymtconnect (PyPI, pinned in mtconnect-requirements.txt): `probe`, `current`, `sample` and `stream_sample` over the
  agent's JSON answers (`Accept: application/json`); it reads Header, Devices (name, uuid, id), Events and Condition.
- Python's own xml.etree.ElementTree over the XML answers, for what pymtconnect does not read: the component tree
  and every data item attribute of `probe`, and every observation (Samples too) of `current` and `sample`.

Usage: python mtconnect_client.py COMMAND BASE_URL [ARGS]; prints one JSON object on stdout (pymtconnect's own
progress lines go to stderr).

  probe URL                      {"client": {devices, header}, "xml": {devices: [tree]}}
  current URL [QUERY]            {"client": {header, events, conditions}, "xml": {header, observations}}
  page URL COUNT                 every observation from firstSequence, page by page with from/count/nextSequence:
                                 {"client": [events...], "xml": [observations...], "pages": N, "header": {...}}
  stream URL INTERVAL PARTS      the first PARTS parts of sample?interval= through stream_sample (the agent's
                                 default heartbeat: it passes none): {"start": header, "parts": [{header, events}]}
  raw URL                        {"status", "content_type", "body"} of one GET (error documents)
"""

import contextlib
import json
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

from pymtconnect import mtconnect_client as mtc


def local(tag):
    return tag.split("}", 1)[1] if "}" in tag else tag


def get(url, accept="text/xml"):
    req = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode("utf-8")


def xml_component(el):
    """A Device or component element as a tree: attributes, data items, child components."""
    node = {"element": local(el.tag), "attributes": dict(el.attrib), "dataItems": [], "components": []}
    for child in el:
        name = local(child.tag)
        if name == "DataItems":
            node["dataItems"] = [dict(d.attrib) for d in child if local(d.tag) == "DataItem"]
        elif name == "Components":
            node["components"] = [xml_component(c) for c in child]
    return node


def xml_header(root):
    for child in root:
        if local(child.tag) == "Header":
            return dict(child.attrib)
    return {}


def xml_observations(root):
    out = []
    for ds in root.iter():
        if local(ds.tag) != "DeviceStream":
            continue
        for cs in ds:
            for group in cs:
                for o in group:
                    out.append(
                        {
                            "device": ds.attrib.get("uuid"),
                            "component": cs.attrib.get("componentId"),
                            "category": local(group.tag),
                            "element": local(o.tag),
                            "attributes": dict(o.attrib),
                            "text": o.text or "",
                            "entries": [dict(e.attrib, value=e.text or "") for e in o if local(e.tag) == "Entry"],
                        }
                    )
    return out


def header_dict(h):
    return {
        "instanceId": h.instance_id,
        "firstSequence": h.first_sequence,
        "lastSequence": h.last_sequence,
        "nextSequence": h.next_sequence,
        "bufferSize": h.buffer_size,
        "version": h.version,
    }


def events_list(events):
    return [{"dataItemId": e.data_item_id, "sequence": e.sequence, "value": e.result, "type": e.type} for e in events]


def conditions_list(conditions):
    return [
        {"dataItemId": c.data_item_id, "sequence": c.sequence, "state": c.state, "nativeCode": c.native_code}
        for c in conditions
    ]


def cmd_probe(url):
    with contextlib.redirect_stdout(sys.stderr):
        header, devices = mtc.probe(url)
    status, _, body = get(url + "/probe")
    root = ET.fromstring(body)
    xml_devices = [xml_component(d) for d in root.iter() if local(d.tag) == "Device"]
    return {
        "client": {
            "header": {"instanceId": header.instance_id, "bufferSize": header.buffer_size, "version": header.version},
            "devices": [{"name": d.name, "uuid": d.uuid, "id": d.id} for d in devices],
        },
        "xml": {"status": status, "header": xml_header(root), "devices": xml_devices},
    }


def cmd_current(url, query=""):
    with contextlib.redirect_stdout(sys.stderr):
        header, events, conditions = mtc._parse_current(mtc._json_request(url + "/current" + query))
    _, _, body = get(url + "/current" + query)
    root = ET.fromstring(body)
    return {
        "client": {"header": header_dict(header), "events": events_list(events), "conditions": conditions_list(conditions)},
        "xml": {"header": xml_header(root), "observations": xml_observations(root)},
    }


def cmd_page(url, count):
    """Pages through the whole buffer twice, with both readers, from firstSequence to the end."""
    client = []
    with contextlib.redirect_stdout(sys.stderr):
        header, _, _ = mtc.current(url)
        start = header.first_sequence
        end = header.next_sequence
        nxt = start
        pages = 0
        while nxt < end:
            h, events, conditions = mtc.sample(url, from_seq=nxt, count=count)
            client += events_list(events) + conditions_list(conditions)
            if h.next_sequence <= nxt:
                raise SystemExit("nextSequence did not move")
            nxt = h.next_sequence
            pages += 1
    xml = []
    nxt = start
    while nxt < end:
        _, _, body = get(f"{url}/sample?from={nxt}&count={count}")
        root = ET.fromstring(body)
        xml += xml_observations(root)
        h = xml_header(root)
        if int(h["nextSequence"]) <= nxt:
            raise SystemExit("nextSequence did not move")
        nxt = int(h["nextSequence"])
    return {"client": client, "xml": xml, "pages": pages, "from": start, "to": end}


def cmd_stream(url, interval, parts):
    """The first PARTS parts of sample?interval= (the agent's own heartbeat: stream_sample passes none)."""
    out = []
    with contextlib.redirect_stdout(sys.stderr):
        header, _, _ = mtc.current(url)
        for h, events, conditions in mtc.stream_sample(url, interval=int(interval), timeout=30):
            out.append({"header": header_dict(h), "events": events_list(events), "conditions": conditions_list(conditions)})
            if len(out) >= int(parts):
                break
    return {"start": header_dict(header), "parts": out}


def cmd_raw(url, accept="text/xml"):
    status, ctype, body = get(url, accept)
    return {"status": status, "content_type": ctype, "body": body}


def main():
    cmd, url, *args = sys.argv[1:]
    commands = {"probe": cmd_probe, "current": cmd_current, "page": cmd_page, "stream": cmd_stream, "raw": cmd_raw}
    result = commands[cmd](url, *args)
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    main()

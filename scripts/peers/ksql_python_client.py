"""Drives ksql-python-ng (PyPI), a ksqlDB client we did not write, against a ksqlDB-compatible server.

Usage: ksql_python_client.py URL

Runs its steps in order and prints one JSON line per step, `{"step": NAME, ...what the client got}`. Before a step
whose query waits for rows, it prints `{"step": NAME, "waiting": true}`: the test then feeds the push query it sees
started. Used by packages/serve/test/http/ksql-clients.test.ts, installed by scripts/pyclients.ts.
"""

import json
import sys

from ksql import KSQLAPI
from ksql.errors import KSQLError
from ksql.utils import get_all_streams


def out(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


def main(url):
    # The client asks GET /info for the server's version when it is made.
    client = KSQLAPI(url, timeout=10)
    out("info", version=client.get_ksql_version())

    # POST /ksql over HTTP/1.1.
    out("show-streams", result=client.ksql("SHOW STREAMS"))
    out("all-streams", names=get_all_streams(client))
    try:
        client.ksql("DESCRIBE ghost")
        out("statement-error", raised=False)
    except KSQLError as e:
        out("statement-error", raised=True, message=e.msg, code=e.error_code)

    # A pull query on /query (HTTP/1.1, ksqlDB's first format): the raw chunks the client yields.
    out("pull-query", chunks=list(client.query("SELECT * FROM machines")))
    # A pull query on /query-stream (HTTP/2 over cleartext), parsed by the client into one dict per row.
    out("pull-query-stream", rows=list(client.query("SELECT * FROM machines", use_http2=True, parse=True)))

    # A push query on /query with a LIMIT: the test feeds two rows; the answer ends with "Limit Reached".
    out("push-query", waiting=True)
    out("push-query", chunks=list(client.query("SELECT * FROM readings EMIT CHANGES LIMIT 2")))

    # A push query on /query-stream: the first two rows, then the client closes the stream.
    out("push-query-stream", waiting=True)
    rows = client.query("SELECT * FROM readings EMIT CHANGES", use_http2=True, parse=True)
    first = [next(rows), next(rows)]
    rows.close()
    out("push-query-stream", rows=first)

    # close_query: a push query's header gives its id; /close-query (sent without a content type) ends its answer.
    chunks = client.query("SELECT * FROM readings_to_close EMIT CHANGES", use_http2=True)
    header = json.loads(next(chunks))
    closed = client.close_query(header["queryId"])
    out("close-query", queryId=header["queryId"], closed=closed, rest=list(chunks))


if __name__ == "__main__":
    main(sys.argv[1])

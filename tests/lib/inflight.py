#!/usr/bin/env python3
"""Sends COUNT valid batches of about 0.7 MB to the gateway at once, one
connection each, bodies sent straight away (no "Expect: 100-continue"), and
waits up to TIMEOUT s for every answer. Prints one JSON object: the answers
by status and message, their times, their Retry-After headers.

Loopback only, bounded in time; the standard library only.
"""
import asyncio
import json
import time

from gwargs import gateway_parser


def batch(tag):
    # 1000 patients near the field limits: about 0.7 MB.
    return json.dumps({"patients": [{
        "code": "%s-%04d-%s" % (tag, i, "x" * 80),
        "first_name": "F" * 255,
        "last_name": "L" * 255,
        "gender": "female",
        "birthdate": "1985-12-10",
    } for i in range(1000)]}, separators=(",", ":")).encode()


async def one(a, body, i):
    t0 = time.monotonic()
    head = ("PUT /v1/patients HTTP/1.1\r\nHost: inflight\r\nConnection: close\r\n"
            "X-API-Key: %s\r\nX-Secret-Key: %s\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (a.key, a.secret, len(body))).encode()
    writer = None
    try:
        reader, writer = await asyncio.open_connection(a.host, a.port)
        writer.write(head + body)
        await writer.drain()
        raw = await reader.read()
    except OSError as e:
        return {"status": 0, "error": str(e), "s": time.monotonic() - t0}
    finally:
        if writer:
            writer.close()
    took = time.monotonic() - t0
    text = raw.decode("utf-8", "replace")
    head_part, _, body_part = text.partition("\r\n\r\n")
    lines = head_part.split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return {"status": status, "retry_after": headers.get("retry-after"),
            "request_id": headers.get("x-request-id"), "body": body_part, "s": took}


async def main():
    p = gateway_parser()
    p.add_argument("--count", type=int, default=400)
    p.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()
    body = batch("b")
    rs = await asyncio.wait_for(asyncio.gather(*(one(a, body, i) for i in range(a.count))),
                                a.timeout)
    groups = {}
    for r in rs:
        try:
            msg = json.loads(r.get("body") or "{}").get("error", {}).get("message", "")
        except ValueError:
            msg = (r.get("body") or r.get("error", ""))[:80]
        g = groups.setdefault("%d %s" % (r["status"], msg), {
            "n": 0, "min_s": 1e9, "max_s": 0, "retry_after": set(), "request_id": 0})
        g["n"] += 1
        g["min_s"] = round(min(g["min_s"], r["s"]), 3)
        g["max_s"] = round(max(g["max_s"], r["s"]), 3)
        g["retry_after"].add(r.get("retry_after"))
        g["request_id"] += 1 if r.get("request_id") else 0
    for g in groups.values():
        g["retry_after"] = sorted(str(x) for x in g["retry_after"])
    print(json.dumps({"body_bytes": len(body), "count": a.count, "answers": groups}))


asyncio.run(main())

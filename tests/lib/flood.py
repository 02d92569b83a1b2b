#!/usr/bin/env python3
"""A trickle flood against the gateway, with a legitimate client probing it.

Opens PER_ADDRESS connections from each of ADDRESSES loopback addresses
(127.0.1.1, 127.0.1.2, ...), each sending one byte of a request head every
INTERVAL seconds, and opens a new one 1 s after the gateway ends one, for
DURATION seconds; then closes them all at once. Meanwhile, from 127.0.0.1,
a probe sends a small valid PUT every PROBE_EVERY seconds on a new
connection and waits up to PROBE_TIMEOUT s for its status line; it goes on
for AFTER seconds once the flood is closed. Prints one JSON object.

`flood.py trickle --port P --key K --secret S` instead opens two
connections that keep busy without ever finishing: one sends a request
head a byte every 0.5 s, the other a whole head and then its body a byte
every 0.5 s; prints after how many seconds the gateway ended each (null:
not within 30 s).

Loopback only, bounded in time; the standard library only.
"""
import asyncio
import json
import sys
import time

from gwargs import gateway_parser

HEAD = (b"PUT /v1/patients HTTP/1.1\r\nHost: flood\r\nX-API-Key: nobody\r\n"
        b"X-Padding: " + b"a" * 4096)


class Flood:
    def __init__(self, a):
        self.a = a
        self.open = 0
        self.peak_open = 0
        self.connects = 0
        self.connect_failures = 0
        self.ended_by_server = 0
        self.stop = False
        self.writers = set()

    async def one(self, addr):
        a = self.a
        while not self.stop:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(a.host, a.port, local_addr=(addr, 0)), 5)
            except (OSError, asyncio.TimeoutError):
                self.connect_failures += 1
                await asyncio.sleep(1)
                continue
            self.connects += 1
            self.open += 1
            self.peak_open = max(self.peak_open, self.open)
            self.writers.add(writer)
            i = 0
            try:
                while not self.stop:
                    writer.write(HEAD[i % len(HEAD):i % len(HEAD) + 1])
                    i += 1
                    await writer.drain()
                    try:
                        data = await asyncio.wait_for(reader.read(4096), a.interval)
                    except asyncio.TimeoutError:
                        continue
                    if not data:  # the gateway ended it
                        if not self.stop:
                            self.ended_by_server += 1
                        break
            except OSError:
                if not self.stop:
                    self.ended_by_server += 1
            finally:
                self.open -= 1
                self.writers.discard(writer)
                writer.close()
            if not self.stop:
                await asyncio.sleep(1)

    def close_all(self):
        self.stop = True
        for w in list(self.writers):
            w.close()


async def probe_once(a, n):
    body = json.dumps({"patients": [{"code": "probe%d" % n, "first_name": "Probe",
                                     "gender": "female", "birthdate": "1985-12-10"}]}).encode()
    req = (b"PUT /v1/patients HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n"
           b"X-API-Key: " + a.key.encode() + b"\r\nX-Secret-Key: " + a.secret.encode() +
           b"\r\nContent-Type: application/json\r\nContent-Length: " +
           str(len(body)).encode() + b"\r\n\r\n" + body)
    t0 = time.monotonic()
    writer = None
    try:
        async def go():
            nonlocal writer
            reader, writer = await asyncio.open_connection(a.host, a.port,
                                                           local_addr=("127.0.0.1", 0))
            writer.write(req)
            await writer.drain()
            return await reader.readline()
        line = await asyncio.wait_for(go(), a.probe_timeout)
        parts = line.split()
        status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0
    except (OSError, asyncio.TimeoutError, ValueError):
        status = 0
    finally:
        if writer:
            writer.close()
    return status, time.monotonic() - t0


async def main():
    p = gateway_parser()
    p.add_argument("--addresses", type=int, default=42)
    p.add_argument("--per-address", type=int, default=25)
    p.add_argument("--interval", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--warmup", type=float, default=5.0,
                   help="seconds after the start before probes count as 'during'")
    p.add_argument("--after", type=float, default=6.0)
    p.add_argument("--probe-every", type=float, default=0.5)
    p.add_argument("--probe-timeout", type=float, default=3.0)
    a = p.parse_args()

    f = Flood(a)
    addrs = ["127.0.1.%d" % (i + 1) for i in range(a.addresses)]
    start = time.monotonic()
    tasks = []
    for addr in addrs:
        for _ in range(a.per_address):
            tasks.append(asyncio.ensure_future(f.one(addr)))
    await asyncio.sleep(0)

    during, after, n = [], [], 0
    closed_at = None
    probes = []
    while True:
        now = time.monotonic()
        if closed_at is None and now - start >= a.duration:
            peak = f.peak_open
            f.close_all()
            closed_at = now
        if closed_at is not None and now - closed_at >= a.after:
            break
        n += 1
        t = now - start
        task = asyncio.ensure_future(probe_once(a, n))
        probes.append((t, closed_at is not None, task))
        await asyncio.sleep(a.probe_every)
    for t, is_after, task in probes:
        status, took = await task
        rec = {"t": round(t, 2), "status": status, "s": round(took, 3)}
        if is_after:
            rec["since_close"] = round(t - (closed_at - start), 2)
            after.append(rec)
        elif t >= a.warmup:
            during.append(rec)
    await asyncio.gather(*tasks, return_exceptions=True)

    ok_during = [r for r in during if r["status"] == 200]
    first_ok_after = next((r["since_close"] + r["s"] for r in after if r["status"] == 200), None)
    print(json.dumps({
        "addresses": a.addresses,
        "per_address": a.per_address,
        "connections_wanted": a.addresses * a.per_address,
        "peak_open": peak,
        "connects": f.connects,
        "connect_failures": f.connect_failures,
        "ended_by_server": f.ended_by_server,
        "probes_during": len(during),
        "probes_during_200": len(ok_during),
        "probe_max_s_during": max((r["s"] for r in ok_during), default=None),
        "probes_after": len(after),
        "probes_after_200": sum(1 for r in after if r["status"] == 200),
        "recovered_after_s": first_ok_after,
        "during": during,
        "after": after,
    }))


async def trickle_one(a, first, then):
    reader, writer = await asyncio.open_connection(a.host, a.port, local_addr=("127.0.0.1", 0))
    t0 = time.monotonic()
    writer.write(first)
    try:
        for i in range(60):
            writer.write(then[i % len(then):i % len(then) + 1])
            await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(4096), 0.5)
            except asyncio.TimeoutError:
                continue
            if not data:
                return round(time.monotonic() - t0, 2)
    except OSError:
        return round(time.monotonic() - t0, 2)
    finally:
        writer.close()
    return None


async def trickle():
    p = gateway_parser()
    p.add_argument("mode")
    a = p.parse_args()
    head = b"PUT /v1/patients HTTP/1.1\r\nHost: trickle\r\n"
    full = (head + b"X-API-Key: " + a.key.encode() + b"\r\nX-Secret-Key: " +
            a.secret.encode() + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n")
    h, b = await asyncio.gather(trickle_one(a, head, b"X-Slow: " + b"a" * 1000),
                                trickle_one(a, full, b'{"patients":[' + b" " * 1000))
    print(json.dumps({"head_cut_s": h, "body_cut_s": b}))


if len(sys.argv) > 1 and sys.argv[1] == "trickle":
    asyncio.run(trickle())
else:
    asyncio.run(main())

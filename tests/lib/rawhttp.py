#!/usr/bin/env python3
"""Sends raw bytes to an HTTP server and prints what came back, one line per
answer, for the framing scenarios (curl cannot send a malformed request).

    rawhttp.py PORT COUNT REQUEST

REQUEST is text with Python escapes (\\r \\n \\x00 ...), taken as bytes.
CR and LF in a body are printed as \\r and \\n.
Reads until COUNT answers came, the server closed, or nothing came for
3 s. Prints per answer "STATUS connection=<value or -> request_id=<0|1>
body=<body>", then "closed" if the server closed the connection, "open"
if it was still open 0.5 s after the last answer, or "silent" if nothing at
all came within 3 s. Standard library only."""
import socket
import sys
import time


def main():
    port, count = int(sys.argv[1]), int(sys.argv[2])
    payload = sys.argv[3].encode("latin-1").decode("unicode_escape").encode("latin-1")
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(payload)
    except OSError:
        pass  # the server may close before reading everything
    buf, closed, answers = b"", False, []
    deadline = time.monotonic() + 3

    def parse():
        nonlocal buf
        head_end = buf.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        lines = buf[:head_end].decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(buf) < head_end + 4 + length:
            return None
        body = buf[head_end + 4:head_end + 4 + length].decode("latin-1")
        body = body.replace("\r", "\\r").replace("\n", "\\n")  # one line per answer
        buf = buf[head_end + 4 + length:]
        status = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "?"
        return "%s connection=%s request_id=%d body=%s" % (
            status, headers.get("connection", "-"), 1 if "x-request-id" in headers else 0, body)

    while len(answers) < count and time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            closed = True
            break
        if not data:
            closed = True
            break
        buf += data
        while True:
            a = parse()
            if a is None:
                break
            answers.append(a)
            deadline = time.monotonic() + 3
    if not closed and answers:
        s.settimeout(0.5)
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    closed = True
                    break
        except socket.timeout:
            pass
        except OSError:
            closed = True
    for a in answers:
        print(a)
    print("closed" if closed else ("open" if answers else "silent"))


main()

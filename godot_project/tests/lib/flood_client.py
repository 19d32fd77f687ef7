#!/usr/bin/env python3
"""A hostile WebSocket client for the flood tests (test_faults_flood.gd): a raw TCP socket with a
4 KiB receive buffer that upgrades to WebSocket, floods the server and never reads.

    python3 flood_client.py --log=PATH --timeout=SECONDS --port=N --mode=ping --count=N
    python3 flood_client.py --log=PATH --timeout=SECONDS --port=N --mode=message --count=N --size=B

ping: N masked pings of 125 bytes, then a text message "after the pings" (once the server has
read it, it has read every ping before it). message: N binary messages of B bytes, the first 4
bytes of each its number (big-endian). Then it holds the connection, still not reading, until
the test ends it or --timeout runs out.

The log is the one client_proc.gd reads: one JSON array a line, ["connected"], ["sent", N],
["closed", why] when the server ends the connection, ["exit", code] last.
"""

import base64
import json
import os
import socket
import struct
import sys
import time

MASK = b"\x37\xfa\x21\x3d"


def frame(opcode, payload):
    """One masked client frame, FIN set."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n <= 0xFFFF:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return head + MASK + masked


class Log:
    def __init__(self, path):
        self.file = open(path, "a", buffering=1)

    def event(self, *fields):
        self.file.write(json.dumps(list(fields)) + "\n")


def upgrade(sock, port):
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"refused: {head.splitlines()[0]!r}")


def flood(sock, mode, count, size):
    if mode == "ping":
        burst = frame(0x9, b"\x55" * 125) * 1000
        for _ in range(count // 1000):
            sock.sendall(burst)
        sock.sendall(frame(0x1, b"after the pings"))
    else:
        filler = b"\xaa" * (size - 4)
        for seq in range(count):
            sock.sendall(frame(0x2, struct.pack(">I", seq) + filler))


def main():
    args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
    log = Log(args["log"])
    deadline = time.monotonic() + float(args.get("timeout", "30"))
    port = int(args["port"])
    code = 0
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Set before connecting, so the window the server sees stays small: what it sends
        # piles up in the server, not in this socket.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        upgrade(sock, port)
        log.event("connected")
        flood(sock, args["mode"], int(args["count"]), int(args.get("size", "0")))
        log.event("sent", int(args["count"]))
        # Hold the connection without reading; a server that closes it is seen by a probe.
        sock.setblocking(False)
        while time.monotonic() < deadline:
            try:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    log.event("closed", "end of stream")
                    break
            except BlockingIOError:
                pass
            time.sleep(0.05)
        else:
            code = 2
    except (OSError, ConnectionError) as e:
        log.event("closed", str(e))
    log.event("exit", code)
    return code


if __name__ == "__main__":
    sys.exit(main())

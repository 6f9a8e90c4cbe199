#!/usr/bin/env python3
"""A minimal BGP listener that records every message a router sends it, for test vectors.

Usage: capture_peer.py OUT ADDRESS [ADDRESS...]

Listens on port 179 of each address. For each connection: answers the router's OPEN with its own
OPEN (AS 65001, 4-octet AS, IPv4 and IPv6 unicast, route refresh, graceful restart) and a
KEEPALIVE, sends a KEEPALIVE every 5 s, and appends each message received to OUT as one line:
`<peer address> <message in hex>`. Runs until killed. Not a BGP implementation: just enough of
one for a router to reach Established and talk.
"""

import socket
import struct
import sys
import threading
import time

MY_AS = 65001
ROUTER_ID = bytes([169, 254, 150, 1])
lock = threading.Lock()


def message(kind, body):
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), kind) + body


def cap(code, value):
    return bytes([code, len(value)]) + value


def our_open():
    caps = (
        cap(1, struct.pack("!HBB", 1, 0, 1))
        + cap(1, struct.pack("!HBB", 2, 0, 1))
        + cap(2, b"")
        + cap(65, struct.pack("!I", MY_AS))
        + cap(64, struct.pack("!H", 120) + struct.pack("!HBB", 1, 1, 0x80) + struct.pack("!HBB", 2, 1, 0x80))
    )
    params = bytes([2, len(caps)]) + caps
    body = struct.pack("!BHH", 4, MY_AS, 90) + ROUTER_ID + bytes([len(params)]) + params
    return message(1, body)


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def serve(conn, peer, out):
    stop = threading.Event()

    def keepalives():
        while not stop.wait(5):
            try:
                conn.sendall(message(4, b""))
            except OSError:
                return

    threading.Thread(target=keepalives, daemon=True).start()
    try:
        while True:
            header = read_exact(conn, 19)
            if header is None:
                break
            length, kind = struct.unpack("!HB", header[16:19])
            body = read_exact(conn, length - 19)
            if body is None:
                break
            with lock, open(out, "a") as f:
                f.write(f"{peer} {(header + body).hex()}\n")
            if kind == 1:
                conn.sendall(our_open() + message(4, b""))
            if kind == 3:
                break
    finally:
        stop.set()
        conn.close()


def listen(address, out):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, 179))
    s.listen(4)
    print(f"listening on {address}", flush=True)
    while True:
        conn, peer = s.accept()
        threading.Thread(target=serve, args=(conn, peer[0], out), daemon=True).start()


def main():
    out = sys.argv[1]
    for a in sys.argv[2:]:
        threading.Thread(target=listen, args=(a, out), daemon=True).start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()

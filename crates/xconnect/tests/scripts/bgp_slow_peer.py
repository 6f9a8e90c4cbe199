"""Two scripted BGP neighbours of one gateway: one that churns a large table, one that never reads.

Usage: bgp_slow_peer.py FEEDER_ADDRESS SLOW_ADDRESS PREFIXES SECONDS

- The feeder (AS 65010) listens on FEEDER_ADDRESS:179, takes the gateway's connection, and for
  SECONDS announces PREFIXES /24s (from 11.0.0.0) and withdraws them again, over and over,
  reading and discarding what the gateway sends.
- The slow neighbour (AS 65020) listens on SLOW_ADDRESS:179 with a tiny receive buffer, takes the
  gateway's connection, completes the OPEN exchange, and from then on reads nothing; it sends a
  KEEPALIVE every 3 s, so that only the gateway's send hold timer (RFC 9687) can notice it.

It prints "feeder established", "slow established", "round N" and finally "done".
"""

import socket
import struct
import sys
import threading
import time

FEEDER, SLOW = sys.argv[1], sys.argv[2]
PREFIXES, SECONDS = int(sys.argv[3]), float(sys.argv[4])


def message(kind, body=b""):
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), kind) + body


def open_message(asn, router_id):
    caps = bytes([1, 4, 0, 1, 0, 1]) + bytes([65, 4]) + struct.pack("!I", asn)
    params = bytes([2, len(caps)]) + caps
    return message(1, struct.pack("!BHH4sB", 4, asn, 90, socket.inet_aton(router_id), len(params)) + params)


KEEPALIVE = message(4)


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_message(sock):
    header = read_exact(sock, 19)
    length, kind = struct.unpack("!HB", header[16:19])
    return kind, read_exact(sock, length - 19)


def listen(address, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((address, 179))
    s.listen()
    return s


def handshake(sock, asn, address):
    kind, _ = read_message(sock)
    assert kind == 1, f"expected OPEN, got {kind}"
    sock.sendall(open_message(asn, address) + KEEPALIVE)


def nlri(i):
    a = 0x0B000000 + (i << 8)
    return bytes([24]) + struct.pack("!I", a)[:3]


def updates(address, withdraw):
    per = 1000
    out = []
    attrs = (
        bytes([0x40, 1, 1, 0])  # ORIGIN IGP
        + bytes([0x50, 2, 0, 6, 2, 1]) + struct.pack("!I", 65010)  # AS_PATH (extended length)
        + bytes([0x40, 3, 4]) + socket.inet_aton(address)  # NEXT_HOP
    )
    for start in range(0, PREFIXES, per):
        routes = b"".join(nlri(i) for i in range(start, min(start + per, PREFIXES)))
        if withdraw:
            body = struct.pack("!H", len(routes)) + routes + struct.pack("!H", 0)
        else:
            body = struct.pack("!H", 0) + struct.pack("!H", len(attrs)) + attrs + routes
        out.append(message(2, body))
    return out


def drain(sock):
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def slow_neighbour(listener):
    conn, _ = listener.accept()
    handshake(conn, 65020, SLOW)
    print("slow established", flush=True)
    # Reads nothing from now on; keeps the gateway's hold timer satisfied.
    while True:
        try:
            conn.sendall(KEEPALIVE)
        except OSError:
            return
        time.sleep(3)


def main():
    feeder_listener = listen(FEEDER)
    slow_listener = listen(SLOW, rcvbuf=4096)
    threading.Thread(target=slow_neighbour, args=(slow_listener,), daemon=True).start()
    feeder, _ = feeder_listener.accept()
    handshake(feeder, 65010, FEEDER)
    threading.Thread(target=drain, args=(feeder,), daemon=True).start()
    print("feeder established", flush=True)
    announce, withdraw = updates(FEEDER, False), updates(FEEDER, True)
    end = time.time() + SECONDS
    n = 0
    last_keepalive = time.time()
    while time.time() < end:
        for m in announce + withdraw:
            feeder.sendall(m)
        if time.time() - last_keepalive > 3:
            feeder.sendall(KEEPALIVE)
            last_keepalive = time.time()
        n += 1
        print(f"round {n}", flush=True)
    for m in announce:
        feeder.sendall(m)
    print("done", flush=True)
    while True:
        feeder.sendall(KEEPALIVE)
        time.sleep(3)


main()

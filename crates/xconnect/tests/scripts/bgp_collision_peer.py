"""A scripted BGP peer that provokes one exact connection collision (RFC 4271 6.8).

Usage: bgp_collision_peer.py LOCAL_ADDRESS GATEWAY_ADDRESS

1. It listens on LOCAL_ADDRESS:179 and takes the gateway's connection (A), reading its OPEN.
2. It opens its own connection (B) to the gateway and sends its OPEN; the gateway answers with
   its OPEN on B too, so the collision is pending on the gateway.
3. It sends OPEN and KEEPALIVE on A in one write: the gateway reaches Established on A before it
   can decide the collision. This peer's BGP identifier is the higher one, which would make B
   the winner by identifiers alone, but A is already Established on both ends.
4. It expects the gateway to keep A (a KEEPALIVE there) and to close B with Cease / Connection
   Collision Resolution, then prints "ok" and keeps A alive until it is killed.

Any other outcome prints "FAIL" with what was seen and exits non-zero.
"""

import socket
import struct
import sys

LOCAL, GATEWAY = sys.argv[1], sys.argv[2]
ASN = 65010


def message(kind, body=b""):
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), kind) + body


CAPS = bytes([1, 4, 0, 1, 0, 1]) + bytes([65, 4]) + struct.pack("!I", ASN)
PARAMS = bytes([2, len(CAPS)]) + CAPS
OPEN = message(1, struct.pack("!BHH4sB", 4, ASN, 90, socket.inet_aton(LOCAL), len(PARAMS)) + PARAMS)
KEEPALIVE = message(4)
NAMES = {1: "OPEN", 2: "UPDATE", 3: "NOTIFICATION", 4: "KEEPALIVE", 5: "ROUTE-REFRESH"}


def fail(why):
    print(f"FAIL {why}", flush=True)
    sys.exit(1)


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            fail(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_message(sock):
    header = read_exact(sock, 19)
    length, kind = struct.unpack("!HB", header[16:19])
    return kind, read_exact(sock, length - 19)


def expect(sock, conn, kind, body_prefix=b""):
    got, body = read_message(sock)
    if got != kind or not body.startswith(body_prefix):
        fail(f"on {conn}: expected {NAMES[kind]} {body_prefix.hex()}, got {NAMES.get(got, got)} {body.hex()}")


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((LOCAL, 179))
listener.listen()
print("listening", flush=True)

a, _ = listener.accept()
a.settimeout(30)
expect(a, "A", 1)

b = socket.create_connection((GATEWAY, 179), timeout=30, source_address=(LOCAL, 0))
b.sendall(OPEN)
expect(b, "B", 1)

a.sendall(OPEN + KEEPALIVE)
expect(a, "A", 4)
expect(b, "B", 3, bytes([6, 7]))
a.sendall(KEEPALIVE)
print("ok", flush=True)

while True:
    kind, body = read_message(a)
    if kind == 3:
        fail(f"NOTIFICATION on the kept connection: {body.hex()}")
    if kind == 4:
        a.sendall(KEEPALIVE)

#!/usr/bin/env python3
"""Traffic of every segmentation size class through a link, checked at the far end.

udp-recv ADDR PORT SECONDS MTU   receive datagrams for SECONDS after the first; print a JSON summary:
                             per burst the datagrams received, whether they came in order and
                             whether every byte was the one sent
udp-send ADDR PORT MTU       send one UDP GSO burst (UDP_SEGMENT) per size class (MTU: the
                             link's, for the burst of datagrams that fill it)
tcp-recv ADDR PORT           (IPv4 or IPv6, fe80::1%dev for a link-local one) accept one connection, read it to the end, print its length and SHA-256
tcp-send ADDR PORT BYTES     send BYTES of a pattern in 256 KiB writes, print length and SHA-256

The bursts: (segment size, datagrams, bytes of the last datagram). Each datagram starts with its
burst and index (4 bytes each), then bytes that depend on both and their offset.
"""
import hashlib
import json
import socket
import struct
import sys
import time

SOL_UDP = 17
UDP_SEGMENT = 103


def bursts(mtu):
    full = mtu - 28
    return BURSTS + [(full, 44, full)]  # datagrams that fill the link's MTU, up to 62 KiB at once


BURSTS = [
    (1200, 1, 8),  # a lone datagram of its header only
    (1200, 1, 1199),
    (1200, 2, 8),
    (1200, 20, 1200),
    (1200, 40, 345),  # equal datagrams and a shorter last one
    (333, 64, 100),
]


def datagram(burst, index, size):
    head = struct.pack("!II", burst, index)
    body = bytes((burst * 31 + index * 7 + i) % 251 for i in range(max(size - 8, 0)))
    return (head + body)[:size]


def udp_send(addr, port, mtu):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((addr, port))
    for b, (seg, count, last) in enumerate(bursts(mtu)):
        sizes = [seg] * (count - 1) + [max(last, 8)]
        buf = b"".join(datagram(b, i, n) for i, n in enumerate(sizes))
        if count > 1:
            s.sendmsg([buf], [(SOL_UDP, UDP_SEGMENT, struct.pack("H", seg))])
        else:
            s.send(buf)
        time.sleep(0.05)
    print(json.dumps({"bursts": len(bursts(mtu))}))


def udp_recv(addr, port, seconds, mtu):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((addr, port))
    print("ready", flush=True)
    got = {}
    deadline = None
    s.settimeout(30)
    while deadline is None or time.time() < deadline:
        if deadline is not None:
            s.settimeout(max(deadline - time.time(), 0.01))
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if deadline is None:
            deadline = time.time() + seconds
        if len(d) < 8:
            continue
        burst, index = struct.unpack("!II", d[:8])
        entry = got.setdefault(burst, {"received": 0, "in_order": True, "intact": True, "next": 0})
        entry["in_order"] &= index == entry["next"]
        entry["next"] = index + 1
        entry["intact"] &= d == datagram(burst, index, len(d))
        entry["received"] += 1
    out = []
    for b, (seg, count, last) in enumerate(bursts(mtu)):
        e = got.get(b, {"received": 0, "in_order": False, "intact": False})
        out.append({"segment": seg, "sent": count, "received": e["received"],
                    "in_order": e["in_order"], "intact": e["intact"]})
    print(json.dumps(out))


def pattern(n):
    block = bytes(i * 13 % 256 for i in range(256 * 1024))
    while n > 0:
        yield block[: min(n, len(block))]
        n -= len(block)


def tcp_send(addr, port, total):
    h = hashlib.sha256()
    s = socket.create_connection((addr, port), timeout=30)
    for chunk in pattern(total):
        s.sendall(chunk)
        h.update(chunk)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    print(json.dumps({"bytes": total, "sha256": h.hexdigest()}))


def tcp_recv(addr, port):
    family, _, _, _, sockaddr = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM)[0]
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(sockaddr)
    ls.listen(1)
    ls.settimeout(30)
    print("ready", flush=True)
    c, _ = ls.accept()
    c.settimeout(30)
    h = hashlib.sha256()
    n = 0
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        h.update(d)
        n += len(d)
    c.close()
    print(json.dumps({"bytes": n, "sha256": h.hexdigest()}))


if __name__ == "__main__":
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "udp-send":
        udp_send(addr, port, int(sys.argv[4]))
    elif mode == "udp-recv":
        udp_recv(addr, port, float(sys.argv[4]), int(sys.argv[5]))
    elif mode == "tcp-send":
        tcp_send(addr, port, int(sys.argv[4]))
    elif mode == "tcp-recv":
        tcp_recv(addr, port)
    else:
        sys.exit("unknown mode " + mode)

#!/usr/bin/env python3
"""A legacy media-stream responder in 40 lines: the manual's walkthrough (plugging-in.md).
usage: legacy_responder.py HOST:PORT BITS_PER_SECOND FRAME_RATE STREAM_SECONDS DATAGRAM_BYTES"""
import socket, struct, sys, threading, time, uuid

host, port = sys.argv[1].rsplit(":", 1)
bps, fps, seconds, max_dgram = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
frame = bps // 8 // fps                      # F, the 26-byte headers included
frames = int(seconds * fps)                  # no end marker: both sides know N
PATTERN = b"".join(struct.pack("<H", i) for i in range(32768))   # u16 LE 0..32767, 64 KiB
QPF = 10_000_000                             # a 10 MHz counter

def sizes(f, m):                             # cut F into M-byte datagrams; a last one of 1..26
    n, r = divmod(f, m)                      # bytes makes the one before it shorter, so the
    out = [m] * n                            # last is exactly 27
    if 0 < r < 27 and out:
        out[-1] -= 27 - r; r = 27
    return out + ([r] if r else [])

def serve(sock, peer, live):
    sock.sendto(struct.pack("<H", 0x1000) + str(uuid.uuid4()).encode() + b"\0", peer)
    start = time.monotonic()
    for seq in range(1, frames + 1):         # frame k goes out at start + (k-1)/FrameRate
        time.sleep(max(0.0, start + (seq - 1) / fps - time.monotonic()))
        for size in sizes(frame, max_dgram):
            qpc = time.perf_counter_ns() // 100
            sock.sendto(struct.pack("<HQQQ", 0, seq, qpc, QPF) + PATTERN[: size - 26], peer)
    live.discard(peer)                       # a later START from this tuple starts afresh

sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((host.strip("[]"), int(port)))
live = set()
while True:
    data, peer = sock.recvfrom(65535)
    if data == b"START" and peer not in live:  # exactly 5 bytes; anything else is dropped
        live.add(peer)
        threading.Thread(target=serve, args=(sock, peer, live), daemon=True).start()

"""A synthetic "stops serving anyone" hang, for checking that `harness fuzz` and `harness learn`
find hangs in a kept responder: a UDP proxy in front of a responder that forwards both ways (one
upstream socket per client) until a datagram of TRIGGER_LEN bytes arrives, then forwards nothing
more, ever. With a negative TRIGGER_LEN, a datagram of -TRIGGER_LEN bytes is a crash instead: the
proxy ends at once with exit code 3 (its responder with it). With TRIGGER `every:EVERY:SECONDS` it
is slow, not stopped: at the first datagram from a client EVERY seconds after it started or last
stopped, it stops for SECONDS, then goes on with what came meanwhile (a process slowed by load,
whatever its input: it never stops for longer).

    hang_proxy.py LISTEN_PORT TRIGGER COMMAND…

COMMAND is the responder's, with @INNER@ where its listen address goes (a free loopback port the
proxy picks); the proxy binds LISTEN_PORT once the responder has bound its own, and exits when the
responder does. See hang-proxy-mediastream.json.
"""

import select
import socket
import subprocess
import sys
import time


def bound(port):
    """Whether a UDP socket is bound to `port` (Linux /proc/net/udp)."""
    suffix = ":%04X" % port
    with open("/proc/net/udp") as f:
        return any(line.split()[1].endswith(suffix) for line in f.readlines()[1:])


def main():
    outer_port, trigger = int(sys.argv[1]), sys.argv[2]
    stall_every, stall_seconds, trigger_len = None, 0.0, None
    if trigger.startswith("every:"):
        _, every, seconds = trigger.split(":")
        stall_every, stall_seconds = float(every), float(seconds)
    else:
        trigger_len = int(trigger)
    crash = trigger_len is not None and trigger_len < 0
    if trigger_len is not None:
        trigger_len = abs(trigger_len)
    last_stall = time.monotonic()
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    inner_port = probe.getsockname()[1]
    probe.close()
    command = [a.replace("@INNER@", f"127.0.0.1:{inner_port}") for a in sys.argv[3:]]
    child = subprocess.Popen(command)
    deadline = time.time() + 5
    while time.time() < deadline and not bound(inner_port):
        time.sleep(0.005)
    outer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    outer.bind(("127.0.0.1", outer_port))
    upstream, client_of = {}, {}
    hung = False
    try:
        while child.poll() is None:
            ready, _, _ = select.select([outer, *client_of], [], [], 0.5)
            for s in ready:
                data, addr = s.recvfrom(65536)
                if hung:
                    continue
                if s is not outer:
                    outer.sendto(data, client_of[s])
                    continue
                if stall_every is not None and time.monotonic() - last_stall >= stall_every:
                    time.sleep(stall_seconds)
                    last_stall = time.monotonic()
                if len(data) == trigger_len:
                    if crash:
                        child.terminate()
                        sys.exit(3)
                    hung = True
                else:
                    u = upstream.get(addr)
                    if u is None:
                        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        u.bind(("127.0.0.1", 0))
                        upstream[addr], client_of[u] = u, addr
                    u.sendto(data, ("127.0.0.1", inner_port))
        sys.exit(child.returncode or 0)
    finally:
        child.terminate()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A hostile implementation under test: it does not implement any protocol, it attacks the harness.

    hostile.py MODE client|server ADDR [--secs S] [--alpn A] [--cert C --key K]

`client` sends to ADDR (the harness's server); `server` listens on ADDR and turns on whoever sends
to it first (the harness's client). Every mode stops by itself after --secs, children included,
so a harness that failed to end it cannot leave it running.

Modes (the `make hostile` suite runs each against every family, in both roles):
  tiny       random 1-16 byte datagrams, as fast as the socket takes them
  large      random 65,000 byte datagrams, as fast as the socket takes them
  initials   QUIC v1 Initial-looking datagrams (1,200 bytes), each with fresh random connection ids
  hellos     real QUIC v1 Initials (aioquic ClientHellos the server can decrypt and accept), each
             from a new connection with fresh connection ids, as fast as they can be made
  sessions   (media stream) a valid SYN from each of 800 fresh ports, each SYN-ACK answered with its
             ACK: the harness's responder is asked to stream to all of them at once
  fork       forks 3 children that flood tiny datagrams, and exits at once (they go on)
  answer50   answers every datagram it receives with 50 random ones (a client says hello first)
  streams    a real QUIC handshake (aioquic), then thousands of streams with a few bytes each,
             past the peer's stream limits
  slowloris  a real QUIC handshake, then one byte a second on a stream (UDP families: one datagram
             a second)
  prefix4g   a real QUIC handshake, then a Dark Tower signaling message that claims a length of
             4 GiB, followed by bytes that never end it (a client on a stream of its own; a server
             as its answer on each stream the client opens)
"""
import argparse
import asyncio
import os
import random
import signal
import socket
import ssl
import sys
import tempfile
import time

MODES = ("tiny", "large", "initials", "hellos", "sessions", "fork", "answer50", "streams", "slowloris", "prefix4g")


def parse_addr(text):
    host, port = text.rsplit(":", 1)
    return host.strip("[]"), int(port)


def initial_like():
    dcid = os.urandom(random.randint(8, 20))
    scid = os.urandom(random.randint(0, 20))
    header = bytes([0xC0 | random.randint(0, 3)]) + (1).to_bytes(4, "big")
    header += bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid + b"\x00"  # no token
    body_len = 1200 - len(header) - 2
    return header + (0x4000 | body_len).to_bytes(2, "big") + os.urandom(body_len)


PAYLOADS = {
    "tiny": lambda: os.urandom(random.randint(1, 16)),
    "large": lambda: os.urandom(65000),
    "initials": initial_like,
}


def udp_socket(args):
    s = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_DGRAM)
    if args.role == "server":
        s.bind((args.host, args.port))
    return s


def wait_for_peer(s, until):
    s.settimeout(max(0.01, until - time.time()))
    try:
        _, peer = s.recvfrom(65536)
        return peer
    except OSError:
        return None


def flood(args, make, until):
    s = udp_socket(args)
    peer = (args.host, args.port) if args.role == "client" else wait_for_peer(s, until)
    if peer is None:
        return
    s.setblocking(False)
    while time.time() < until:
        for _ in range(64):
            try:
                s.sendto(make(), peer)
            except OSError:
                pass


def fork(args, until):
    s = udp_socket(args)
    peer = (args.host, args.port) if args.role == "client" else wait_for_peer(s, until)
    if peer is None:
        return
    for _ in range(3):
        if os.fork() == 0:
            os.setsid()  # out of the harness's process group: only the harness's own care stops it
            c = socket.socket(s.family, socket.SOCK_DGRAM)
            c.setblocking(False)
            while time.time() < until:
                for _ in range(64):
                    try:
                        c.sendto(PAYLOADS["tiny"](), peer)
                    except OSError:
                        pass
            os._exit(0)
    os._exit(0)


def hellos(args, until):
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection

    s = udp_socket(args)
    s.setblocking(False)
    peer = (args.host, args.port)
    while time.time() < until:
        config = QuicConfiguration(is_client=True, alpn_protocols=args.alpn, verify_mode=ssl.CERT_NONE)
        c = QuicConnection(configuration=config)
        c.connect(peer, now=time.time())
        for data, _ in c.datagrams_to_send(now=time.time()):
            try:
                s.sendto(data, peer)
            except OSError:
                pass


def sessions(args, until):
    import selectors

    syn = b"\x00\x01" + bytes(24) + b"\x01\x00\x00\x00" + bytes(37)
    peer = (args.host, args.port)
    sel = selectors.DefaultSelector()
    for _ in range(800):
        s = udp_socket(args)
        s.setblocking(False)
        try:
            s.sendto(syn, peer)
        except OSError:
            pass
        sel.register(s, selectors.EVENT_READ)
    while time.time() < until:
        for key, _ in sel.select(timeout=0.1):
            try:
                data, _ = key.fileobj.recvfrom(65536)
            except OSError:
                continue
            if data[:2] == b"\x01\x01" and len(data) >= 67:
                ack = b"\x02\x01" + bytes(24) + b"\x01\x00\x00\x00" + data[30:67]
                try:
                    key.fileobj.sendto(ack, peer)
                except OSError:
                    pass


def answer50(args, until):
    s = udp_socket(args)
    if args.role == "client":
        s.sendto(initial_like(), (args.host, args.port))
    while time.time() < until:
        s.settimeout(max(0.01, until - time.time()))
        try:
            _, peer = s.recvfrom(65536)
        except OSError:
            continue
        for _ in range(50):
            try:
                s.sendto(os.urandom(random.randint(1, 1400)), peer)
            except OSError:
                pass


def udp_slowloris(args, until):
    s = udp_socket(args)
    peer = (args.host, args.port) if args.role == "client" else wait_for_peer(s, until)
    while peer is not None and time.time() < until:
        s.sendto(os.urandom(1), peer)
        time.sleep(1)


# --- QUIC modes (aioquic) ---


def self_signed(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import datetime

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=10))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


async def attack(quic, transmit, mode, until):
    """What a QUIC mode does once the handshake is done."""
    if mode == "streams":
        # Past the peer's stream limits: a hostile peer does not ask for credit.
        quic._remote_max_streams_bidi = 1 << 40
        quic._remote_max_streams_uni = 1 << 40
        n = 0
        while time.time() < until and n < 20000:
            sid = quic.get_next_available_stream_id(is_unidirectional=n % 2 == 1)
            quic.send_stream_data(sid, os.urandom(3))
            n += 1
            if n % 32 == 0:
                transmit()
                await asyncio.sleep(0.001)
        transmit()
    elif mode == "slowloris":
        sid = quic.get_next_available_stream_id()
        while time.time() < until:
            quic.send_stream_data(sid, b"\x01")
            transmit()
            await asyncio.sleep(1)
    elif mode == "prefix4g":
        sid = quic.get_next_available_stream_id()
        quic.send_stream_data(sid, b"\xff\xff\xff\xff")
        while time.time() < until:
            quic.send_stream_data(sid, os.urandom(1000))
            transmit()
            await asyncio.sleep(0.01)
    while time.time() < until:
        await asyncio.sleep(0.05)


async def quic_client(args, until):
    from aioquic.asyncio import connect
    from aioquic.quic.configuration import QuicConfiguration

    config = QuicConfiguration(
        is_client=True, alpn_protocols=args.alpn, verify_mode=ssl.CERT_NONE, server_name="localhost"
    )
    async with connect(args.host, args.port, configuration=config, wait_connected=True) as client:
        await attack(client._quic, client.transmit, args.mode, until)


async def quic_server(args, until):
    from aioquic.asyncio import QuicConnectionProtocol, serve
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.events import HandshakeCompleted, StreamDataReceived

    config = QuicConfiguration(is_client=False, alpn_protocols=args.alpn)
    with tempfile.TemporaryDirectory() as d:
        cert, key = (args.cert, args.key) if args.cert else self_signed(d)
        config.load_cert_chain(cert, key)
    tasks = []

    class Hostile(QuicConnectionProtocol):
        answered = set()

        def quic_event_received(self, event):
            if args.mode == "prefix4g":
                # The answer on the client's own signaling stream claims 4 GiB, then never ends.
                if isinstance(event, StreamDataReceived) and event.stream_id not in self.answered:
                    self.answered.add(event.stream_id)
                    self._quic.send_stream_data(event.stream_id, b"\xff\xff\xff\xff" + os.urandom(1000))
                    self.transmit()
                return
            if isinstance(event, HandshakeCompleted):
                tasks.append(asyncio.ensure_future(attack(self._quic, self.transmit, args.mode, until)))

    await serve(args.host, args.port, configuration=config, create_protocol=Hostile)
    await asyncio.sleep(max(0, until - time.time()))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=MODES)
    p.add_argument("role", choices=("client", "server"))
    p.add_argument("addr")
    p.add_argument("--secs", type=float, default=10.0)
    p.add_argument("--alpn", action="append", default=None)
    p.add_argument("--udp", action="store_true", help="a UDP family: QUIC modes become datagram ones")
    p.add_argument("--cert")
    p.add_argument("--key")
    args = p.parse_args()
    args.host, args.port = parse_addr(args.addr)
    args.alpn = args.alpn or ["proton"]
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    until = time.time() + args.secs
    if args.mode in PAYLOADS:
        flood(args, PAYLOADS[args.mode], until)
    elif args.mode == "fork":
        fork(args, until)
    elif args.mode == "hellos" and args.role == "client" and not args.udp:
        hellos(args, until)
    elif args.mode == "sessions":
        sessions(args, until)
    elif args.mode == "answer50":
        answer50(args, until)
    elif args.udp:
        udp_slowloris(args, until) if args.mode == "slowloris" else flood(args, PAYLOADS["tiny"], until)
    elif args.role == "client":
        asyncio.run(quic_client(args, until))
    else:
        asyncio.run(quic_server(args, until))


if __name__ == "__main__":
    try:
        main()
    except (ConnectionError, OSError, asyncio.TimeoutError) as e:
        print(f"hostile: {e}", file=sys.stderr)
        sys.exit(1)

"""A WebTransport echo peer on aioquic 1.2, server or client, for handshake-webtransport's interop
tests.

Once the session is open, each side:
- greets: opens a uni stream with b"uni from aioquic" + FIN, a bidi stream with
  b"bidi from aioquic" + FIN, and sends the datagram b"dgram from aioquic";
- echoes: every uni stream the peer opens comes back on a new uni stream of ours when it ends (same
  bytes, then FIN); every bidi stream the peer opens is echoed on itself (FIN after FIN); every
  datagram is echoed;
- commands (a uni stream whose whole content is): b"reset N" -> opens a uni stream, writes b"r",
  then resets it with WebTransport code N mapped into HTTP/3; b"stop S N" -> STOP_SENDING on the
  peer's stream S with N mapped; the datagram b"close" -> a CLOSE_WEBTRANSPORT_SESSION capsule
  (77, "done from aioquic") and FIN on the CONNECT stream;
- reads the answers on its own bidi streams at the QUIC level (aioquic 1.2's H3 layer parses them
  as HTTP/3 frames and loses them);
- reports on stdout, one line each, flushed:
  `listening PORT` (server), `session PATH`, `data STREAM HEX` (a stream of ours the peer answered,
  when it ends), `reset STREAM WIRE`, `stop STREAM WIRE`, `datagram HEX`,
  `closed CODE REASON` (a CLOSE_WEBTRANSPORT_SESSION capsule), `fin` (the CONNECT stream ended),
  `terminated CODE` (the QUIC connection ended).

aioquic 1.2 maps no codes: this peer applies the draft-ietf-webtrans-http3 mapping itself.
"""

import argparse
import asyncio
import datetime
import ipaddress
import os
import ssl
import sys
import tempfile

from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.buffer import Buffer, encode_uint_var
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import (
    DataReceived,
    DatagramReceived,
    HeadersReceived,
    WebTransportStreamDataReceived,
)
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (
    ConnectionTerminated,
    ProtocolNegotiated,
    StopSendingReceived,
    StreamDataReceived,
    StreamReset,
)

WT_FIRST = 0x52E4A40FA8DB


def to_http3(code: int) -> int:
    return WT_FIRST + code + code // 0x1E


def say(*parts) -> None:
    print(*parts, flush=True)


class Peer(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = None
        self.session = None
        self.is_client = self._quic.configuration.is_client
        self.ours = set()
        self.buffers = {}
        self.capsules = b""
        self.opened = asyncio.get_event_loop().create_future()

    def quic_event_received(self, event):
        if isinstance(event, ProtocolNegotiated):
            self.h3 = H3Connection(self._quic, enable_webtransport=True)
        if isinstance(event, StreamReset):
            say("reset", event.stream_id, event.error_code)
        if isinstance(event, StopSendingReceived):
            say("stop", event.stream_id, event.error_code)
        if isinstance(event, ConnectionTerminated):
            say("terminated", event.error_code)
            if not self.opened.done():
                self.opened.set_result(False)
        if isinstance(event, StreamDataReceived) and event.stream_id in self.ours:
            # aioquic 1.2 parses the answer on a WebTransport bidi stream it opened as HTTP/3
            # frames (it only recognises the 0x41 signal at the start of a stream it receives),
            # swallowing the bytes: read those streams at the QUIC level instead.
            self.stream_data(event.stream_id, event.data, event.end_stream)
            self.transmit()
            return
        if self.h3 is not None:
            for h3_event in self.h3.handle_event(event):
                self.h3_event(h3_event)
        self.transmit()

    def h3_event(self, event):
        if isinstance(event, HeadersReceived):
            headers = dict(event.headers)
            if self.is_client:
                if headers.get(b":status") == b"200" and event.stream_id == self.session:
                    self.open_session(None)
            elif (
                headers.get(b":method") == b"CONNECT"
                and headers.get(b":protocol") == b"webtransport"
                and self.session is None
            ):
                self.session = event.stream_id
                self.h3.send_headers(
                    event.stream_id,
                    [(b":status", b"200"), (b"sec-webtransport-http3-draft", b"draft02")],
                )
                self.open_session(headers.get(b":path", b"").decode())
            else:
                self.h3.send_headers(event.stream_id, [(b":status", b"404")], end_stream=True)
        elif isinstance(event, DataReceived) and event.stream_id == self.session:
            self.capsules += event.data
            self.read_capsules()
            if event.stream_ended:
                say("fin")
        elif isinstance(event, DatagramReceived):
            if event.data == b"close":
                # aioquic 1.2 has no capsule code: CLOSE_WEBTRANSPORT_SESSION by hand, then FIN.
                say("closing")
                value = (77).to_bytes(4, "big") + b"done from aioquic"
                capsule = encode_uint_var(0x2843) + encode_uint_var(len(value)) + value
                self.h3.send_data(self.session, capsule, end_stream=True)
                return
            say("datagram", event.data.hex())
            self.h3.send_datagram(self.session, event.data)
        elif isinstance(event, WebTransportStreamDataReceived):
            self.stream_data(event.stream_id, event.data, event.stream_ended)

    def read_capsules(self):
        while True:
            buf = Buffer(data=self.capsules)
            try:
                ctype = buf.pull_uint_var()
                length = buf.pull_uint_var()
                value = buf.pull_bytes(length)
            except Exception:
                return
            self.capsules = self.capsules[buf.tell():]
            if ctype == 0x2843 and len(value) >= 4:
                code = int.from_bytes(value[:4], "big")
                say("closed", code, value[4:].decode("utf-8", "replace"))

    def open_session(self, path):
        say("session", path if path is not None else "-")
        if not self.opened.done():
            self.opened.set_result(True)
        uni = self.h3.create_webtransport_stream(self.session, is_unidirectional=True)
        self._quic.send_stream_data(uni, b"uni from aioquic", end_stream=True)
        bidi = self.h3.create_webtransport_stream(self.session, is_unidirectional=False)
        self.ours.add(bidi)
        self._quic.send_stream_data(bidi, b"bidi from aioquic", end_stream=True)
        self.h3.send_datagram(self.session, b"dgram from aioquic")

    def stream_data(self, stream_id, data, ended):
        uni = bool(stream_id & 2)
        if stream_id in self.ours:
            self.buffers[stream_id] = self.buffers.get(stream_id, b"") + data
            if ended:
                say("data", stream_id, self.buffers.pop(stream_id).hex())
            return
        if not uni:
            # Echo a peer bidi stream on itself.
            if data or ended:
                self._quic.send_stream_data(stream_id, data, end_stream=ended)
            return
        self.buffers[stream_id] = self.buffers.get(stream_id, b"") + data
        if not ended:
            return
        content = self.buffers.pop(stream_id)
        words = content.split()
        if len(words) == 2 and words[0] == b"reset":
            out = self.h3.create_webtransport_stream(self.session, is_unidirectional=True)
            self._quic.send_stream_data(out, b"r")
            self.transmit()
            loop = asyncio.get_event_loop()
            loop.call_later(0.05, self.reset_later, out, int(words[1]))
            return
        if len(words) == 3 and words[0] == b"stop":
            self._quic.stop_stream(int(words[1]), to_http3(int(words[2])))
            return
        out = self.h3.create_webtransport_stream(self.session, is_unidirectional=True)
        self._quic.send_stream_data(out, content, end_stream=True)

    def reset_later(self, stream_id, code):
        self._quic.reset_stream(stream_id, to_http3(code))
        self.transmit()

    def connect_session(self, authority, path):
        self.session = self._quic.get_next_available_stream_id()
        self.h3.send_headers(
            self.session,
            [
                (b":method", b"CONNECT"),
                (b":scheme", b"https"),
                (b":authority", authority.encode()),
                (b":path", path.encode()),
                (b":protocol", b"webtransport"),
            ],
        )
        self.transmit()


def self_signed(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

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
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
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


async def run_server(args):
    config = QuicConfiguration(
        alpn_protocols=H3_ALPN, is_client=False, max_datagram_frame_size=65536
    )
    with tempfile.TemporaryDirectory() as d:
        cert, key = self_signed(d)
        config.load_cert_chain(cert, key)
    server = await serve("127.0.0.1", 0, configuration=config, create_protocol=Peer)
    port = server._transport.get_extra_info("sockname")[1]
    say("listening", port)
    await asyncio.sleep(args.seconds)
    server.close()


async def run_client(args):
    config = QuicConfiguration(
        alpn_protocols=H3_ALPN,
        is_client=True,
        max_datagram_frame_size=65536,
        verify_mode=ssl.CERT_NONE,
    )
    host, port = args.connect.rsplit(":", 1)
    async with connect(
        host, int(port), configuration=config, create_protocol=Peer, wait_connected=True
    ) as peer:
        peer.connect_session(f"{host}:{port}", args.path)
        await asyncio.sleep(args.seconds)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["server", "client"])
    parser.add_argument("--connect", default="127.0.0.1:4433")
    parser.add_argument("--path", default="/aioquic")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    try:
        asyncio.run(run_server(args) if args.role == "server" else run_client(args))
    except KeyboardInterrupt:
        pass
    sys.stdout.flush()


if __name__ == "__main__":
    main()

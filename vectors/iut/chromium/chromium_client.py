#!/usr/bin/env python3
"""Chromium as a Dark Tower client under test: the browser's own WebTransport stack (QUIC, HTTP/3,
TLS) carrying the client of darktower.js.

The launcher serves client.html and darktower.js from http://localhost:PORT (a free port; localhost
is a secure context, which WebTransport requires), starts headless Chromium at that page with the
run's parameters in the query string, waits for the page to POST its result to /result, stops
Chromium, prints one `RESULT=...` line and exits:

  0   the client completed (joined, authenticated, published, lingered, closed both sessions)
  1   it failed (an ErrorMessage, a refused token, a stopped stream, an early close, a timeout,
      Chromium gone before it answered, ...)
  2   usage error (bad arguments, no Chromium)
  89  what a browser cannot do: bare QUIC (`--transport quic`), raw reset codes, a v2 frame larger
      than the browser's maxDatagramSize

Standard library only. Chromium's TLS secrets go to --keylog (NSS key log, appended) for the
harness to decrypt the capture. See README.md.
"""

import argparse
import ctypes
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNSUPPORTED = 0, 1, 2, 89
HERE = os.path.dirname(os.path.abspath(__file__))
STATIC = {
    "/": ("client.html", "text/html; charset=utf-8"),
    "/client.html": ("client.html", "text/html; charset=utf-8"),
    "/darktower.js": ("darktower.js", "text/javascript; charset=utf-8"),
}
T0 = time.monotonic()
PR_SET_PDEATHSIG = 1


def log(text: str) -> None:
    print(f"[chromium-client +{time.monotonic() - T0:.3f}s] {text}", file=sys.stderr, flush=True)


class Usage(Exception):
    pass


class Unsupported(Exception):
    pass


class Run:
    """What the page tells the launcher."""

    def __init__(self):
        self.result = None
        self.done = threading.Event()


def make_handler(run: Run):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # no access log
            pass

        def _answer(self, code: int, body: bytes = b"", ctype: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self):
            path = urllib.parse.urlsplit(self.path).path
            if path in STATIC:
                name, ctype = STATIC[path]
                with open(os.path.join(HERE, name), "rb") as f:
                    self._answer(200, f.read(), ctype)
            else:
                self._answer(404, b"not found")

        def do_POST(self):
            path = urllib.parse.urlsplit(self.path).path
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n > 0 else b""
            if path == "/log":
                print(body.decode("utf-8", "replace"), file=sys.stderr, flush=True)
                self._answer(204)
            elif path == "/result":
                try:
                    result = json.loads(body)
                except ValueError:
                    self._answer(400, b"not JSON")
                    return
                if run.result is None:
                    run.result = result
                run.done.set()
                self._answer(204)
            else:
                self._answer(404, b"not found")

    return Handler


def find_chromium(given: str) -> str:
    for name in ([given] if given else []) + [os.environ.get("CHROMIUM", ""), "chromium",
                                              "chromium-browser", "google-chrome"]:
        if not name:
            continue
        path = shutil.which(name)
        if path:
            return path
        if given and name == given:
            raise Usage(f"--chromium {given}: not found")
    raise Usage("Chromium not found (apt-get install -y chromium, or --chromium PATH / $CHROMIUM)")


def die_with_parent() -> None:
    """In Chromium's browser process, before exec: SIGKILL when the launcher dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def descendants(pid: int):
    """Every process below pid (Chromium's zygotes, renderers, network service ...)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("utf-8", "replace")
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def stop_chromium(proc: subprocess.Popen, grace_s: float = 3.0) -> None:
    if proc.poll() is None:
        below = descendants(proc.pid)
        try:
            proc.terminate()
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            pass
        except OSError:
            pass
        below += descendants(proc.pid)
        for pid in [proc.pid] + below:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    try:
        proc.wait(2)
    except subprocess.TimeoutExpired:
        pass


def tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, "rb") as f:
            text = f.read()[-8192:].decode("utf-8", "replace")
    except OSError:
        return ""
    keep = [x for x in text.splitlines() if x.strip() and "dbus" not in x]
    return "\n".join(keep[-lines:])


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="chromium_client.py",
                                 description="Headless Chromium as a Dark Tower WebTransport client")
    ap.add_argument("--target", required=True, help="the controller's HOST:PORT")
    ap.add_argument("--transport", choices=["webtransport", "quic"], default="webtransport")
    ap.add_argument("--profile", choices=["v1", "v2"], default="v1")
    ap.add_argument("--reset-codes", choices=["mapped", "raw", ""], default="mapped")
    ap.add_argument("--cert-hash", default="", help="hex SHA-256 of the server certificate's DER")
    ap.add_argument("--keylog", default="", help="NSS key log file Chromium appends its TLS secrets to")
    ap.add_argument("--join-token", required=True)
    ap.add_argument("--meeting", default="", help="default: the join token's meeting_id")
    ap.add_argument("--name", default="chromium")
    ap.add_argument("--publish", default="video", help="video, audio, video,audio or none")
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--payload-bytes", type=int, default=100)
    ap.add_argument("--linger-ms", type=int, default=500)
    ap.add_argument("--idle-ms", default="", help="accepted and ignored: the browser's QUIC timers are its own")
    ap.add_argument("--keepalive-ms", default="", help="accepted and ignored (see --idle-ms)")
    ap.add_argument("--signaling-path", default="/signaling")
    ap.add_argument("--op-ms", type=int, default=20000, help="longest wait for one answer in the page")
    ap.add_argument("--chromium", default="", help="the browser (default: $CHROMIUM, chromium, ...)")
    ap.add_argument("--timeout-s", type=float, default=0,
                    help="longest run (default: 90 s + the media's duration + linger)")
    ap.add_argument("--show-chromium-log", action="store_true", help="print Chromium's own output at the end")
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    o = ap.parse_args(argv)
    if o.transport != "webtransport":
        raise Unsupported("a browser speaks WebTransport only, not bare QUIC (DH1)")
    if o.reset_codes == "raw":
        raise Unsupported("a browser's WebTransport maps reset codes into the HTTP/3 space (DT9): raw is not its choice")
    if o.frames < 0 or o.fps <= 0 or o.payload_bytes < 0 or o.linger_ms < 0:
        raise Usage("--frames, --payload-bytes, --linger-ms must be >= 0 and --fps > 0")
    chromium = find_chromium(o.chromium)

    run = Run()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(run))
    server.daemon_threads = True
    port = server.server_address[1]
    query = urllib.parse.urlencode({
        "target": o.target, "cert_hash": o.cert_hash, "join_token": o.join_token, "meeting": o.meeting,
        "name": o.name, "publish": o.publish, "frames": o.frames, "fps": f"{o.fps:g}",
        "payload_bytes": o.payload_bytes, "linger_ms": o.linger_ms, "profile": o.profile,
        "signaling_path": o.signaling_path, "op_ms": o.op_ms,
    })
    url = f"http://localhost:{port}/client.html?{query}"

    profile_dir = tempfile.mkdtemp(prefix="darktower-chromium-")
    chromium_log = os.path.join(profile_dir, "chromium.log")
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio",
           "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
           f"--user-data-dir={profile_dir}"]
    if o.keylog:
        cmd.append(f"--ssl-key-log-file={os.path.abspath(o.keylog)}")
    cmd.append(url)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()
        run.done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log(f"{o.profile} to {o.target}; serving the page on http://localhost:{port}/; starting {chromium}")
    with open(chromium_log, "wb") as out:
        # Chromium stays in the launcher's process group (the harness stops the whole group) and
        # dies with the launcher.
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=die_with_parent)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    timeout_s = o.timeout_s or 90.0 + o.frames / o.fps + o.linger_ms / 1000.0
    deadline = time.monotonic() + timeout_s
    why = None
    while not run.done.is_set():
        if proc.poll() is not None:
            why = f"Chromium exited ({proc.returncode}) before the page answered"
            break
        if time.monotonic() > deadline:
            why = f"no answer from the page within {timeout_s:.0f} s"
            break
        run.done.wait(0.1)

    result = run.result
    if result is not None:
        time.sleep(0.2)  # let the last packets and key-log lines out before Chromium goes
    stop_chromium(proc)
    server.shutdown()
    server.server_close()

    if stop.is_set() and result is None:
        why = "signal"
    failed = result is None or result.get("outcome") != "ok"
    if (failed or o.show_chromium_log) and tail(chromium_log):
        log("Chromium's output (tail):\n" + tail(chromium_log))
    shutil.rmtree(profile_dir, ignore_errors=True)

    if result is None:
        print(f"RESULT=fail reason={(why or 'no result').replace(' ', '_')} participant=- sent=0", flush=True)
        return EXIT_FAIL
    kv = f"participant={result.get('participant', '-')} sent={result.get('sent', 0)}"
    outcome = result.get("outcome")
    reason = str(result.get("reason", "")).replace(" ", "_")
    if outcome == "ok":
        print(f"RESULT=ok {kv}", flush=True)
        return EXIT_OK
    if outcome == "unsupported":
        print(f"unsupported: {result.get('reason', '')}", file=sys.stderr, flush=True)
        return EXIT_UNSUPPORTED
    print(f"RESULT=fail reason={reason} {kv}", flush=True)
    return EXIT_USAGE if outcome == "usage" else EXIT_FAIL


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Usage as e:
        print(f"chromium_client.py: error: {e}", file=sys.stderr, flush=True)
        sys.exit(EXIT_USAGE)
    except Unsupported as e:
        print(f"unsupported: {e}", file=sys.stderr, flush=True)
        sys.exit(EXIT_UNSUPPORTED)

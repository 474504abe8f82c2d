"""Quick loopback self-test for proton.py (python -m unittest test_proton, < 60 s)."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROG = os.path.join(HERE, "proton.py")
PY = sys.executable


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.keylog = os.path.join(self.tmp, "keys.log")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()

    def server(self, *extra):
        p = subprocess.Popen([PY, PROG, "server", "--listen", "127.0.0.1:0", "--keylog", self.keylog,
                              "--startup-delay", "0.1", *extra],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        line = p.stdout.readline()
        m = re.search(r"listening on ([\d.]+):(\d+)", line)
        self.assertIsNotNone(m, line)
        time.sleep(0.15)
        return p, "127.0.0.1:%s" % m.group(2)

    def client(self, addr, *extra, timeout=20):
        args = [PY, PROG, "client", "--connect", addr, "--keylog", self.keylog, "--startup-delay", "0",
                "--connect-retries", "0", "--op-timeout", "3", *extra]
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout)

    def stop(self, p):
        t = time.time()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(5)
        return rc, time.time() - t, p.stderr.read()


class TestProton(Base):
    def test_basic(self):
        s, addr = self.server()
        r = self.client(addr, "--events", "4", "--commits", "3", "--actions", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Received action: 125", r.stdout)
        self.assertIn("State commit response: 8484", r.stdout)
        rc, dt, err = self.stop(s)
        self.assertEqual(rc, 0)
        self.assertLess(dt, 0.5)
        with open(self.keylog) as f:
            self.assertIn("CLIENT_HANDSHAKE_TRAFFIC_SECRET", f.read())

    def test_plus2_and_push(self):
        s, addr = self.server("--commit-rule", "plus2", "--action-mode", "push")
        r = self.client(addr, "--commit-rule", "plus2", "--action-mode", "push", "--actions", "4",
                        "--strict-actions")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("State commit response: 4244", r.stdout)
        r2 = self.client(addr, "--commit-rule", "double")  # wrong reading -> failure
        self.assertNotEqual(r2.returncode, 0)
        self.stop(s)

    def test_violations_close_connection(self):
        s, addr = self.server()
        r = self.client(addr, "--mutant", "cli-event-repeat")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("(5, None, 'Stream error')", r.stderr)
        time.sleep(0.3)
        r = self.client(addr, "--mutant", "cli-wrong-disc")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("(1, None, 'Stream setup error')", r.stderr)
        time.sleep(0.3)
        r = self.client(addr)  # server is usable again afterwards
        self.assertEqual(r.returncode, 0, r.stderr)
        self.stop(s)

    def test_second_connection(self):
        s, addr = self.server()
        first = subprocess.Popen([PY, PROG, "client", "--connect", addr, "--keylog", self.keylog,
                                  "--startup-delay", "0", "--events", "4", "--op-gap", "0.4"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(first)
        time.sleep(0.6)
        r = self.client(addr, "--events", "1", "--commits", "0", "--actions", "0")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Another client is already connected", r.stderr)
        self.assertEqual(first.wait(15), 0)
        self.stop(s)

    def test_server_mutants_caught(self):
        for m in ["srv-ack-other-id", "srv-commit-short", "srv-swap-commit-action"]:
            s, addr = self.server("--mutant", m)
            r = self.client(addr)
            self.assertNotEqual(r.returncode, 0, m)
            self.stop(s)

    def test_unsupported(self):
        r = subprocess.run([PY, PROG, "server", "--listen", "127.0.0.1:0", "--keylog", self.keylog,
                            "--second-conn", "close-both"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 89)

    def test_mutants_json(self):
        with open(os.path.join(HERE, "mutants.json")) as f:
            data = json.load(f)
        self.assertTrue(10 <= len(data) <= 20)


if __name__ == "__main__":
    unittest.main()

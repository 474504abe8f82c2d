"""Quick loopback self-test for darktower.py (python -m unittest test_darktower)."""
import datetime
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import darktower as dt  # noqa: E402

PROG = os.path.join(HERE, "darktower.py")
SECRET = "unit-secret"


def make_cert(d):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    k = ec.generate_private_key(ec.SECP256R1())
    n = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    c = (x509.CertificateBuilder().subject_name(n).issuer_name(n).public_key(k.public_key())
         .serial_number(7).not_valid_before(datetime.datetime(2020, 1, 1))
         .not_valid_after(datetime.datetime(2040, 1, 1)).sign(k, hashes.SHA256()))
    cp, kp = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    open(cp, "wb").write(c.public_bytes(serialization.Encoding.PEM))
    open(kp, "wb").write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
    return cp, kp, hashlib.sha256(c.public_bytes(serialization.Encoding.DER)).hexdigest()


class Units(unittest.TestCase):
    def test_sizes(self):
        self.assertEqual(len(dt.stream_header(1, b"\0" * 16, b"VP90")), 32)
        self.assertEqual(len(dt.encode_frame("flow", 1, b"\1" * 16, 5, 1, 0, b"")), 46)
        self.assertEqual(len(dt.encode_frame("code", 1, b"\1" * 16, 5, 1, 0, b"")), 42)
        self.assertEqual(dt.stream_header(0, b"\0" * 16, b"Opus")[:4], b"DART")

    def test_jwt(self):
        t = dt.jwt_mint(SECRET, {"meeting_id": "m", "exp": int(time.time()) + 60})
        self.assertEqual(dt.jwt_verify(SECRET, t)["meeting_id"], "m")
        self.assertIsNone(dt.jwt_verify("other", t))
        old = dt.jwt_mint(SECRET, {"meeting_id": "m", "exp": int(time.time()) - 1})
        self.assertIsNone(dt.jwt_verify(SECRET, old))

    def test_classify(self):
        jr = dt.pb_str(1, "m") + dt.pb_str(2, "eyJx") + dt.pb_str(3, "A")
        self.assertEqual(dt.Controller.classify(jr)[0::2], ("join", False))
        self.assertEqual(dt.Controller.classify(dt.pb_msg(1, jr)), ("join", jr, True))
        self.assertEqual(dt.Controller.classify(dt.pb_msg(2, dt.pb_str(1, "s")))[0], "publish")

    def test_wt_codes(self):
        for n in (0, 1, 2, 0x1D, 0x1E, 0x1F, 1000):
            self.assertEqual(dt.h3_code_to_wt(dt.wt_code_to_h3(n)), n)

    def test_extract_token(self):
        t = b"eyJa.b.c"
        self.assertEqual(dt.extract_token(t), "eyJa.b.c")
        self.assertEqual(dt.extract_token(len(t).to_bytes(4, "big") + t), "eyJa.b.c")
        self.assertEqual(dt.extract_token(dt.pb_msg(1, dt.pb_str(1, t))), "eyJa.b.c")


class Loopback(unittest.TestCase):
    def start(self, role, *extra, mutant=None):
        cmd = [sys.executable, PROG, role, "--transport", self.T, "--listen", "127.0.0.1:0", "--cert", self.cert,
               "--key", self.key, "--secret", SECRET, "--keylog", self.kl, "--idle-timeout", "10",
               "--keepalive", "2"] + list(extra)
        if mutant:
            cmd += ["--mutant", mutant]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(p)
        line = p.stdout.readline()
        self.assertIn("listening on", line)
        return int(line.strip().rsplit(":", 1)[1])

    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.cert, self.key, self.pin = make_cert(self.d)
        self.kl = os.path.join(self.d, "keys.log")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            t0 = time.time()
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(5), 0)
            self.assertLess(time.time() - t0, 1.5)

    def client(self, cport, meeting, token, *extra):
        cmd = [sys.executable, PROG, "client", "--transport", self.T, "--connect", "127.0.0.1:%d" % cport,
               "--meeting-id", meeting, "--token", token, "--name", "U", "--pin-sha256", self.pin,
               "--secret", SECRET, "--keylog", self.kl, "--frames", "3", "--fps", "50", "--stay", "0.2"] + list(extra)
        return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20).returncode

    def tok(self, meeting, exp=60, secret=SECRET):
        return dt.jwt_mint(secret, {"meeting_id": meeting, "exp": int(time.time()) + exp, "sub": "x"})

    def scenario(self, ctl_mutant=None):
        hport = self.start("handler")
        cport = self.start("controller", "--media-url", "https://127.0.0.1:%d/media" % hport,
                           "--meetings", "m1,m3", "--ended", "m2", "--capacity", "1", mutant=ctl_mutant)
        return hport, cport

    def run_all(self):
        _, cport = self.scenario()
        self.assertEqual(self.client(cport, "m1", self.tok("m1")), 0)
        self.assertEqual(self.client(cport, "m1", self.tok("m1"), "--envelope", "wrapped",
                                     "--auth-via", "uni", "--publish", "audio"), 0)
        self.assertNotEqual(self.client(cport, "m1", self.tok("m1", secret="wrong")), 0)
        self.assertNotEqual(self.client(cport, "m1", self.tok("m1", exp=-5)), 0)
        self.assertNotEqual(self.client(cport, "m2", self.tok("m2")), 0)
        self.assertNotEqual(self.client(cport, "m9", self.tok("m9")), 0)

    def test_wt(self):
        self.T = "wt"
        self.run_all()
        self.assertGreater(os.path.getsize(self.kl), 0)

    def test_quic(self):
        self.T = "quic"
        self.run_all()

    def test_mutant_bad_signature(self):
        self.T = "wt"
        _, cport = self.scenario(ctl_mutant="ctl-accept-bad-signature")
        # the mutant controller admits a forged token; the handler (correct) still works
        self.assertEqual(self.client(cport, "m3", self.tok("m3", secret="wrong")), 0)

    def test_unsupported(self):
        self.T = "wt"
        r = subprocess.run([sys.executable, PROG, "client", "--transport", "tcp"], capture_output=True)
        self.assertEqual(r.returncode, 89)


if __name__ == "__main__":
    unittest.main()

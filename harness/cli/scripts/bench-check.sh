#!/usr/bin/env bash
# harness check on a 1,000,000-datagram capture (pcap and pcapng) against tshark, tcpdump and the
# bare read loop (pcap-file + etherparse over the whole file in memory), then its peak memory on
# that capture and on a 2 GB one. Needs hyperfine, tshark, tcpdump (`make tools-bench`).
set -eu
dir=target/bench
mkdir -p "$dir"
frame=${BENCH_FRAME:-125}
file=$dir/1m-f$frame.pcap
ng=$dir/1m-f$frame.pcapng
[ -s "$file" ] || target/release/examples/gen_capture "$file" 1000000 50 pcap "$frame"
[ -s "$ng" ] || target/release/examples/gen_capture "$ng" 1000000 50 pcapng "$frame"
ls -l "$file" "$ng"
check="target/release/harness check"
json=$dir/check-f$frame.json
hyperfine -N --warmup 2 --runs "${BENCH_RUNS:-20}" --output=null --export-json "$json" \
  -n "harness check" "$check $file --profile 3way" \
  -n "harness check --threads 1" "$check $file --profile 3way --threads 1" \
  -n "harness check pcapng" "$check $ng --profile 3way" \
  -n "bare loop" "target/release/examples/bare_read $file" \
  -n "tcpdump -nn -r" "tcpdump -nn -r $file" \
  -n "tcpdump -nn -r pcapng" "tcpdump -nn -r $ng"
hyperfine -N --runs "${TSHARK_RUNS:-1}" --output=null --export-json "$dir/tshark-f$frame.json" \
  -n "tshark -T fields -e udp.length" "tshark -r $file -T fields -e udp.length"

# Peak memory must not grow with the file: the same check on a 2 GB capture.
big=$dir/2g-f$frame.pcap
[ -s "$big" ] || target/release/examples/gen_capture "$big" "${BENCH_BIG_DATAGRAMS:-11500000}" 50 pcap "$frame" >/dev/null
python3 - "$json" "$dir/tshark-f$frame.json" "$file" "$big" <<'PY'
import json, os, sys, time
r = {x["command"]: x["mean"] for f in sys.argv[1:3] for x in json.load(open(f))["results"]}
ms = lambda k: r[k] * 1000

def peak(path, threads):
    """Peak RSS (MB) and wall time (s) of one harness check."""
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.execv("target/release/harness", ["harness", "check", path, "--profile", "3way", "--threads", str(threads)])
    _, status, usage = os.wait4(pid, 0)
    return usage.ru_maxrss / 1024, time.monotonic() - started

check, tshark, tcpdump = ms("harness check"), ms("tshark -T fields -e udp.length"), ms("tcpdump -nn -r")
print(f"\nharness check {check:.0f} ms (--threads 1: {ms('harness check --threads 1'):.0f} ms; pcapng {ms('harness check pcapng'):.0f} ms)"
      f" | bare loop {ms('bare loop'):.0f} ms | tcpdump {tcpdump:.0f} ms (pcapng {ms('tcpdump -nn -r pcapng'):.0f} ms) | tshark {tshark:.0f} ms")
print(f"check is {tshark / check:.0f}x tshark (goal 250x), {tcpdump / check:.1f}x tcpdump (goal 25x), "
      f"{ms('bare loop') / check:.2f}x the bare loop's speed; pcapng: {ms('tcpdump -nn -r pcapng') / ms('harness check pcapng'):.1f}x tcpdump")
for path in sys.argv[3:]:
    size = os.path.getsize(path) / 1e6
    for threads in (1, 2):
        rss, took = peak(path, threads)
        print(f"peak RSS, {size:,.0f} MB capture, --threads {threads}: {rss:.1f} MB ({took:.2f} s)")
PY
rm -f "$big"

#!/usr/bin/env bash
# harness check on a 1,000,000-datagram capture against tshark, tcpdump and the bare read loop
# (pcap-file + etherparse, the floor for any checker). Needs hyperfine, tshark, tcpdump (`make tools-bench`).
set -eu
dir=target/bench
mkdir -p "$dir"
frame=${BENCH_FRAME:-125}
file=$dir/1m-f$frame.pcap
[ -s "$file" ] || target/release/examples/gen_capture "$file" 1000000 50 pcap "$frame"
ls -l "$file"
json=$dir/check-f$frame.json
hyperfine -N --warmup 1 --runs 5 --output=null --export-json "$json" \
  -n "harness check" "target/release/harness check $file --profile 3way" \
  -n "bare loop" "target/release/examples/bare_read $file" \
  -n "tcpdump -nn -r" "tcpdump -nn -r $file"
hyperfine -N --runs "${TSHARK_RUNS:-1}" --output=null --export-json "$dir/tshark-f$frame.json" \
  -n "tshark -T fields -e udp.length" "tshark -r $file -T fields -e udp.length"
python3 - "$json" "$dir/tshark-f$frame.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for f in sys.argv[1:] for x in json.load(open(f))["results"]}
check = r["harness check"]
print(f"\nharness check {check*1000:.0f} ms | bare loop {r['bare loop']*1000:.0f} ms | tcpdump {r['tcpdump -nn -r']*1000:.0f} ms | tshark {r['tshark -T fields -e udp.length']*1000:.0f} ms")
print(f"check is {r['tshark -T fields -e udp.length']/check:.0f}x tshark (goal 200x), {r['tcpdump -nn -r']/check:.1f}x tcpdump (goal 20x), "
      f"{r['bare loop']/check:.2f} of the bare loop's speed (goal >= 0.5)")
PY

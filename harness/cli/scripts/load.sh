#!/usr/bin/env bash
# Load check over loopback: one `harness peer responder` serving CONNECTIONS initiators, at each frame
# rate given, with 125-byte frames (bits/s = 1000 × frame rate; 1,000,000 bit/s at 1000 frames/s is the
# upstream tool's documented test). Prints frames delivered, loss, and the responder's CPU use.
# Usage: load.sh PROFILE CONNECTIONS SECONDS RATE...
set -u
harness=${HARNESS:-target/release/harness}
profile=${1:-3way}; connections=${2:-50}; seconds=${3:-5}; shift 3 || true
rates=${*:-1000}
port=${LOAD_PORT:-4444}
printf '%-8s %-6s %6s %11s %9s %9s %8s %8s\n' profile conns fps frames_ok dropped failed resp_cpu% exit
for rate in $rates; do
  bps=$((rate * 1000))
  args=(--bits-per-second "$bps" --frame-rate "$rate" --stream-length "$seconds")
  /usr/bin/time -f '%U %S %e' -o /tmp/hh-load-resp.time \
    "$harness" peer responder --listen "127.0.0.1:$port" --profile "$profile" \
    --sessions "$connections" --duration $((seconds + 30)) "${args[@]}" >/tmp/hh-load-resp.out 2>&1 &
  resp=$!
  sleep 0.3
  "$harness" peer initiator --target "127.0.0.1:$port" --profile "$profile" --connections "$connections" \
    "${args[@]}" >/tmp/hh-load-init.out 2>&1
  code=$?
  wait "$resp"
  summary=$(tail -1 /tmp/hh-load-init.out)
  ok=$(sed -n 's/.*frames \([0-9]*\) successful.*/\1/p' <<<"$summary")
  dropped=$(sed -n 's/.* \([0-9]*\) dropped of.*/\1/p' <<<"$summary")
  failed=$(sed -n 's/.*: \([0-9]*\) failed.*/\1/p' <<<"$summary")
  read -r user sys wall < /tmp/hh-load-resp.time
  cpu=$(python3 -c "print(f'{100*($user+$sys)/$wall:.1f}')")
  printf '%-8s %-6s %6s %11s %9s %9s %8s %8s\n' "$profile" "$connections" "$rate" "${ok:-?}" "${dropped:-?}" "${failed:-?}" "$cpu" "$code"
done

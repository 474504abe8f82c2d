#!/bin/bash -eu
# Builds every cargo-fuzz target of fuzz/ into $OUT, with its committed corpus as
# $OUT/<target>_seed_corpus.zip, the OSS-Fuzz way for Rust (`cargo fuzz build -O`).
#
# In the ClusterFuzzLite image $SRC, $OUT and the sanitizer flags come from the environment and
# cargo is nightly. Run by hand (no container) it builds the same binaries into
# fuzz/target/cflite-out with the nightly toolchain (AddressSanitizer):
#   .clusterfuzzlite/build.sh
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="${SRC:+$SRC/handshake-harness}"
repo="${repo:-$here}"
[ -d "$repo/fuzz" ] || repo="$here"
OUT="${OUT:-$repo/fuzz/target/cflite-out}"
mkdir -p "$OUT"

cargo_cmd=(cargo)
# Outside the image the default toolchain may be stable: cargo-fuzz's sanitizers need nightly.
if ! cargo --version | grep -q nightly && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  cargo_cmd=(cargo +nightly)
fi
# In the image the sanitizer comes from $SANITIZER (address, memory, undefined, coverage …).
sanitizer_args=()
case "${SANITIZER:-address}" in
  address|memory|thread|leak) sanitizer_args=(--sanitizer "${SANITIZER:-address}") ;;
  *) sanitizer_args=(--sanitizer none) ;;
esac

cd "$repo/fuzz"
"${cargo_cmd[@]}" fuzz build -O --debug-assertions "${sanitizer_args[@]}"
built="target/x86_64-unknown-linux-gnu/release"
for target in $("${cargo_cmd[@]}" fuzz list); do
  cp "$built/$target" "$OUT/"
  if [ -d "corpus/$target" ] && [ -n "$(ls -A "corpus/$target")" ]; then
    rm -f "$OUT/${target}_seed_corpus.zip"
    (cd "corpus/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
  fi
done
echo "built $(ls "$OUT" | grep -vc '\.zip$') fuzz targets into $OUT"

#!/usr/bin/env bash
# Installs `harness` from the packaged crates alone (target/package/*.crate, as `cargo package
# --workspace` leaves them), the way `cargo install handshake-harness` will once they are on
# crates.io: each .crate unpacked, the unpublished siblings patched in from there (nothing from
# the checkout), the binary installed into an empty directory, and the quick start run there.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' harness/cli/Cargo.toml | head -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/crates" "$work/root" "$work/empty"
patches="$work/patches.toml"
echo '[patch.crates-io]' >"$patches"
packaged="${PACKAGED:-target/package}"
for crate in "$packaged"/handshake-*-"$version".crate; do
    tar -xzf "$crate" -C "$work/crates"
    name=$(basename "$crate" .crate)
    echo "${name%-"$version"} = { path = \"$work/crates/$name\" }" >>"$patches"
done
[ -d "$work/crates/handshake-harness-$version" ] || { echo "no handshake-harness-$version.crate under $packaged (run cargo package --workspace)" >&2; exit 2; }
# The debug profile: this checks what is in the crates, not the release build's speed.
CARGO_TARGET_DIR="${PACKAGE_TARGET_DIR:-target/package-install}" \
    cargo install --quiet --debug --config "$patches" \
    --path "$work/crates/handshake-harness-$version" --root "$work/root"
cd "$work/empty"
"$work/root/bin/harness" --version
"$work/root/bin/harness" run --iut ref:3way --report report >/dev/null
test -f report/results.json
echo "installed from the packaged crates into an empty directory: harness run --iut ref:3way passed"

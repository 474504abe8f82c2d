#!/usr/bin/env bash
# Package a built `harness` as a release artefact (used by `make dist` and the release workflow):
#
#   .ci/package.sh TARGET BINARY [OUTDIR]    (OUTDIR: dist)
#
# writes OUTDIR/ARCHIVE (named by .ci/artefact.sh: a folder harness-vVERSION-TARGET/ holding the
# binary, README.md and the license files if there are any), OUTDIR/ARCHIVE.sha256
# (`<hex>  <archive name>`) and rewrites OUTDIR/SHA256SUMS from every *.sha256 in OUTDIR.
# Runs on Linux, macOS and Windows' Git Bash (sha256sum or shasum; tar; zip, 7z or Python's zipfile).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
target=$1
binary=$2
out=${3:-dist}

name=$("$here/artefact.sh" name "$target")
stem=$("$here/artefact.sh" stem "$target")
bin=$("$here/artefact.sh" bin "$target")

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$stem"
cp "$binary" "$stage/$stem/$bin"
chmod 755 "$stage/$stem/$bin"
cp "$root/README.md" "$stage/$stem/"
for f in "$root"/LICENSE* "$root"/COPYING*; do
    [ -f "$f" ] && cp "$f" "$stage/$stem/"
done

rm -f "$out/$name"
case "$name" in
    *.zip)
        if command -v zip >/dev/null; then
            (cd "$stage" && zip -qr "$out/$name" "$stem")
        elif command -v 7z >/dev/null; then
            (cd "$stage" && 7z a -tzip -bso0 "$out/$name" "$stem")
        else
            py=$(command -v python3 || command -v python)
            (cd "$stage" && "$py" -m zipfile -c "$out/$name" "$stem")
        fi
        ;;
    *)
        # Owner and group 0, sorted names: the archive does not carry the builder's user names.
        (cd "$stage" && tar --owner=0 --group=0 -czf "$out/$name" "$stem" 2>/dev/null \
            || tar -czf "$out/$name" "$stem")
        ;;
esac

sha256() {
    if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1
}
(cd "$out" && echo "$(sha256 "$name")  $name" > "$name.sha256")
(cd "$out" && cat ./*.sha256 | sort -k2 > SHA256SUMS)
echo "$out/$name"
cat "$out/$name.sha256"

#!/usr/bin/env bash
# Put `harness` on PATH for the Action (action.yml's install step) in seconds: the release artefact
# for this runner's OS and architecture, checked against its published SHA-256 and cached; a build
# from source only where no artefact fits.
#
# Settings (environment):
#   HARNESS_VERSION      the version to install (default: harness/cli/Cargo.toml beside this script,
#                        i.e. the checked-out action's version)
#   HARNESS_RELEASE_URL  where releases are: ARCHIVE is fetched from $HARNESS_RELEASE_URL/vVERSION/ARCHIVE
#                        and its sum from …/ARCHIVE.sha256 (default: the GitHub release download
#                        URL, .ci/artefact.sh). A local directory or a file:// URL works too.
#   HARNESS_CACHE_DIR    the cache (default: $RUNNER_TOOL_CACHE/handshake-harness, else
#                        ${XDG_CACHE_HOME:-~/.cache}/handshake-harness); a cached version is not
#                        downloaded again
#   HARNESS_OS, HARNESS_ARCH   override the runner's ($RUNNER_OS/$RUNNER_ARCH, else uname)
#   HARNESS_INSTALL_FALLBACK   the command run where no artefact fits (no artefact for this OS and
#                        architecture, or none at the URL); default:
#                        cargo install --locked --path <this repository>/harness/cli
#   GITHUB_PATH          when set, the binary's folder is appended to it (the next steps' PATH)
#
# Exit status: 0 installed (or the fallback succeeded); 1 a checksum mismatch (refused: the archive
# is not installed and the fallback is not tried) or another failure.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
artefact="$repo/.ci/artefact.sh"

log() { echo "install-harness: $*" >&2; }

fallback() {
    log "$1: building from source instead"
    local cmd=${HARNESS_INSTALL_FALLBACK:-cargo install --locked --path "$repo/harness/cli"}
    log "+ $cmd"
    bash -c "$cmd"
    exit $?
}

sha256_of() {
    if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1
}

# Fetch URL-or-path $1 into file $2; non-zero when it is not there.
fetch() {
    local src=$1 dst=$2
    case "$src" in
        file://*) src=${src#file://} ;;
        *://*)
            if command -v curl >/dev/null; then
                curl -fsSL --retry 3 --connect-timeout 20 -o "$dst" "$src"
            else
                wget -q -O "$dst" "$src"
            fi
            return
            ;;
    esac
    [ -f "$src" ] && cp "$src" "$dst"
}

add_to_path() {
    local dir=$1
    if [ -n "${GITHUB_PATH:-}" ]; then
        if command -v cygpath >/dev/null; then cygpath -w "$dir" >> "$GITHUB_PATH"; else echo "$dir" >> "$GITHUB_PATH"; fi
        log "added $dir to GITHUB_PATH"
    else
        log "not in GitHub Actions: add it yourself: export PATH=\"$dir:\$PATH\""
    fi
    echo "$dir"
}

version=${HARNESS_VERSION:-$("$artefact" version)}
version=${version#v}
os=${HARNESS_OS:-${RUNNER_OS:-$(uname -s)}}
arch=${HARNESS_ARCH:-${RUNNER_ARCH:-$(uname -m)}}
base=${HARNESS_RELEASE_URL:-$("$artefact" release-base)}
base=${base%/}

target=$("$artefact" target "$os" "$arch") || fallback "no release artefact for $os/$arch"
name=$("$artefact" name "$target" "$version")
stem=$("$artefact" stem "$target" "$version")
bin=$("$artefact" bin "$target")

cache_root=${HARNESS_CACHE_DIR:-${RUNNER_TOOL_CACHE:+$RUNNER_TOOL_CACHE/handshake-harness}}
cache_root=${cache_root:-${XDG_CACHE_HOME:-$HOME/.cache}/handshake-harness}
dir="$cache_root/v$version/$target"
if [ -x "$dir/$bin" ] && [ -f "$dir/.complete" ]; then
    log "harness v$version ($target) from the cache: $dir"
    add_to_path "$dir"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
url="$base/v$version/$name"
log "downloading $url"
fetch "$url" "$work/$name" || fallback "$url is not there"
fetch "$url.sha256" "$work/$name.sha256" || fallback "$url.sha256 is not there"

expected=$(cut -d' ' -f1 < "$work/$name.sha256" | tr -d '\r\n')
actual=$(sha256_of "$work/$name")
if [ "$expected" != "$actual" ]; then
    log "checksum mismatch for $name: published $expected, downloaded $actual; refusing to install it"
    exit 1
fi
log "sha256 $actual matches $name.sha256"

mkdir "$work/unpacked"
case "$name" in
    *.zip)
        if command -v unzip >/dev/null; then unzip -q "$work/$name" -d "$work/unpacked"; else tar -xf "$work/$name" -C "$work/unpacked"; fi ;;
    *) tar -xzf "$work/$name" -C "$work/unpacked" ;;
esac
[ -f "$work/unpacked/$stem/$bin" ] || { log "$name holds no $stem/$bin"; exit 1; }

rm -rf "$dir"
mkdir -p "$dir"
cp "$work/unpacked/$stem/$bin" "$dir/$bin"
chmod 755 "$dir/$bin"
echo "$actual  $name" > "$dir/.complete"
log "installed harness v$version ($target) into $dir"
add_to_path "$dir"

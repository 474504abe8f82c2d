#!/usr/bin/env bash
# The one place that names a release artefact. `make dist`, .github/workflows/release.yml and the
# Action's installer (.ci/action/install.sh) all ask this script, so the three cannot disagree.
#
#   artefact.sh version               the version in harness/cli/Cargo.toml (0.1.0)
#   artefact.sh name TARGET [VERSION]  the archive's file name: harness-v0.1.0-TARGET.tar.gz
#                                      (.zip for a Windows target)
#   artefact.sh stem TARGET [VERSION]  the folder inside it: harness-v0.1.0-TARGET
#   artefact.sh bin TARGET             the binary's file name in that folder (harness or harness.exe)
#   artefact.sh target OS ARCH         the target built for a runner's OS and architecture
#                                      (RUNNER_OS/RUNNER_ARCH or `uname -s`/`uname -m` spellings);
#                                      exit 1, printing nothing, where no artefact is built
#
# The release's files, next to each archive: ARCHIVE.sha256 (`<hex>  <archive name>`) and one
# SHA256SUMS for all. Download URL: $BASE/v$VERSION/ARCHIVE, where BASE is by default
# $RELEASE_BASE below. The repository URL is a placeholder until the project has its public home.
set -euo pipefail
REPOSITORY_URL=https://github.com/handshake-harness/handshake-harness
RELEASE_BASE=$REPOSITORY_URL/releases/download

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

version() {
    sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$root/harness/cli/Cargo.toml" | head -n 1
}

ext() {
    case "$1" in
        *windows*) echo zip ;;
        *) echo tar.gz ;;
    esac
}

case "${1:-}" in
    version) version ;;
    release-base) echo "$RELEASE_BASE" ;;
    repository) echo "$REPOSITORY_URL" ;;
    stem) echo "harness-v${3:-$(version)}-$2" ;;
    name) echo "harness-v${3:-$(version)}-$2.$(ext "$2")" ;;
    bin) case "$2" in *windows*) echo harness.exe ;; *) echo harness ;; esac ;;
    target)
        os=$(echo "${2:-}" | tr '[:upper:]' '[:lower:]')
        arch=$(echo "${3:-}" | tr '[:upper:]' '[:lower:]')
        case "$arch" in
            x64 | x86_64 | amd64) arch=x86_64 ;;
            arm64 | aarch64) arch=aarch64 ;;
            *) exit 1 ;;
        esac
        case "$os" in
            linux) echo "$arch-unknown-linux-gnu" ;;
            macos | darwin) echo "$arch-apple-darwin" ;;
            windows | mingw* | msys* | cygwin*)
                [ "$arch" = x86_64 ] || exit 1
                echo x86_64-pc-windows-msvc ;;
            *) exit 1 ;;
        esac
        ;;
    *)
        sed -n '2,/^set -e/p' "$0" | sed '$d' >&2
        exit 2
        ;;
esac

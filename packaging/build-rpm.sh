#!/usr/bin/env bash
# Builds dist/packetshipper-<version>-1.<arch>.rpm with rpmbuild from the tree stage.sh stages.
#
#   packaging/build-rpm.sh [--python PATH] [--wheelhouse DIR] [--out DIR]
#
# The virtualenv runs on the interpreter it was built with (see stage.sh); the rpm requires that
# interpreter's path (e.g. /usr/bin/python3.11, which RHEL 9 and Fedora's python3.11 packages
# provide), so build with the interpreter the target hosts have at that path. On Debian,
# `apt-get install rpm` provides rpmbuild.
set -euo pipefail

NAME=packetshipper
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

die() { echo "build-rpm.sh: $*" >&2; exit 1; }

stage_options=()
out=$repo/dist
while [ $# -gt 0 ]; do
    case "$1" in
        --python | --wheelhouse) stage_options+=("$1" "$2"); shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) die "unknown option $1 (see the comment at the top of this script)" ;;
    esac
done
command -v rpmbuild >/dev/null || die "rpmbuild not found (Debian: apt-get install rpm)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
"$here/stage.sh" "${stage_options[@]}" "$root"

venv=$root/opt/$NAME
interpreter=$(readlink -f "$venv/bin/python")
version=$("$venv/bin/python" -c 'import packetshipper.version as v; print(v.__version__)')

rpmbuild -bb --quiet \
    --define "_topdir $work/rpmbuild" \
    --define "stagedir $root" \
    --define "ps_version $version" \
    --define "ps_interpreter $interpreter" \
    "$here/$NAME.spec" >&2

mkdir -p "$out"
rpm=$(find "$work/rpmbuild/RPMS" -name "$NAME-$version-*.rpm" -print -quit)
[ -n "$rpm" ] || die "rpmbuild produced no package"
mv "$rpm" "$out/"
echo "$out/$(basename "$rpm")"

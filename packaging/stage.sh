#!/usr/bin/env bash
# Stages the file tree the deb and the rpm install: a self-contained virtualenv in /opt/packetshipper
# holding packetshipper and its dependencies, the /usr/bin symlink, the config in /etc/packetshipper,
# the systemd unit, the docs, and the (empty) data and log directories.
#
#   packaging/stage.sh [--python PATH] [--wheelhouse DIR] DEST
#
# --python      interpreter the virtualenv is built on; the package then needs that same interpreter,
#               at that same path, on the target host (default: /usr/bin/python3 when it is 3.11 or
#               newer, else python3 from PATH).
# --wheelhouse  install only from the wheels in DIR (offline); it must also hold setuptools and Cython,
#               which build packetshipper's own wheel and its compiled hot path.
set -euo pipefail

PREFIX=/opt/packetshipper
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

die() { echo "stage.sh: $*" >&2; exit 1; }

python=""
wheelhouse=""
while [ $# -gt 1 ]; do
    case "$1" in
        --python) python=$2; shift 2 ;;
        --wheelhouse) wheelhouse=$2; shift 2 ;;
        *) die "unknown option $1" ;;
    esac
done
[ $# -eq 1 ] || die "usage: stage.sh [--python PATH] [--wheelhouse DIR] DEST"
dest=$1

if [ -z "$python" ]; then
    if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        python=/usr/bin/python3
    else
        python=$(command -v python3) || die "no python3 found; pass --python PATH"
    fi
fi
command -v "$python" >/dev/null || die "$python: no such interpreter"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$python is older than Python 3.11, which packetshipper needs"
"$python" -c 'import ensurepip, venv' 2>/dev/null \
    || die "$python cannot create virtualenvs (on Debian: apt-get install python3-venv)"
# The versioned, symlink-free interpreter: the venv must not follow /usr/bin/python3 to a newer minor
# version after a distribution upgrade, since its site-packages and extension modules are per version.
interpreter=$("$python" -c 'import os, sys; print(os.path.realpath(sys.executable))')

[ -e "$dest" ] && [ -n "$(ls -A "$dest")" ] && die "$dest is not empty"
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
venv=$dest$PREFIX

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Build from a copy of just the packaged sources so that the build leaves nothing in the repository.
mkdir "$work/src"
cp -r "$repo/setup.py" "$repo/pyproject.toml" "$repo/README.md" "$repo/shipper" "$repo/modules" \
    "$repo/fields" "$work/src/"
find "$work/src" -name __pycache__ -prune -exec rm -rf {} +
rm -f "$work/src/shipper/_hotpath.c" "$work/src"/shipper/*.so  # a development build's: built afresh below

"$interpreter" -m venv "$venv"
pip_options=(--disable-pip-version-check --no-warn-script-location --quiet)
if [ -n "$wheelhouse" ]; then
    pip_options+=(--no-index --find-links "$wheelhouse")
fi
"$venv/bin/python" -m pip install "${pip_options[@]}" "$work/src"
# The packages always ship the compiled hot path: a build host without gcc and the Python headers fails here.
"$venv/bin/python" -c 'import packetshipper._hotpath' 2>/dev/null \
    || die "the compiled hot path was not built (on Debian: apt-get install gcc python3-dev)"

# The venv was created under $dest; point its scripts and config at the installed location instead.
grep -lI --null -F -- "$venv" "$venv"/bin/* "$venv/pyvenv.cfg" | xargs -0 --no-run-if-empty sed -i "s#$venv#$PREFIX#g"
# Byte-code compiled now, with the installed paths in tracebacks: the service user cannot write there.
find "$venv" -name __pycache__ -prune -exec rm -rf {} +
"$venv/bin/python" -m compileall -q -j 0 -s "$dest" -p / "$venv/lib" >/dev/null
# pip records where packetshipper was built from (a temporary directory): meaningless once installed.
rm -f "$venv"/lib/python3*/site-packages/packetshipper-*.dist-info/direct_url.json

leftover=$(grep -rlI -F -- "$dest" "$venv" || true)
[ -z "$leftover" ] || die "staging path left in: $leftover"

install -d "$dest/usr/bin"
ln -s "$PREFIX/bin/packetshipper" "$dest/usr/bin/packetshipper"
install -D -m 0640 "$here/packetshipper.yml" "$dest/etc/packetshipper/packetshipper.yml"
install -D -m 0644 "$repo/packetshipper.reference.yml" "$dest/etc/packetshipper/packetshipper.reference.yml"
install -D -m 0644 "$here/packetshipper.service" "$dest/usr/lib/systemd/system/packetshipper.service"
install -D -m 0644 "$here/README.md" "$dest/usr/share/doc/packetshipper/README.md"
install -D -m 0644 "$here/copyright" "$dest/usr/share/doc/packetshipper/copyright"
install -d -m 0750 "$dest/var/lib/packetshipper" "$dest/var/log/packetshipper"


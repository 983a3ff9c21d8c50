#!/usr/bin/env bash
# Builds dist/packetshipper_<version>_<arch>.deb with dpkg-deb from the tree stage.sh stages.
#
#   packaging/build-deb.sh [--python PATH] [--wheelhouse DIR] [--out DIR] [--allow-foreign-python]
#
# The package's virtualenv runs on the interpreter it was built with (see stage.sh), so the deb
# depends on that interpreter's Debian package (python3.11 for /usr/bin/python3.11): build on the
# Debian release you install on. An interpreter no Debian package owns (pyenv, /usr/local) is
# refused unless --allow-foreign-python: such a deb only works where that interpreter exists at the
# same path.
set -euo pipefail

NAME=packetshipper
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

die() { echo "build-deb.sh: $*" >&2; exit 1; }

stage_options=()
out=$repo/dist
allow_foreign=false
while [ $# -gt 0 ]; do
    case "$1" in
        --python | --wheelhouse) stage_options+=("$1" "$2"); shift 2 ;;
        --out) out=$2; shift 2 ;;
        --allow-foreign-python) allow_foreign=true; shift ;;
        *) die "unknown option $1 (see the comment at the top of this script)" ;;
    esac
done
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
"$here/stage.sh" "${stage_options[@]}" "$root"

venv=$root/opt/$NAME
interpreter=$(readlink -f "$venv/bin/python")
version=$("$venv/bin/python" -c 'import packetshipper.version as v; print(v.__version__)')
arch=$(dpkg --print-architecture)

if dpkg -S "$interpreter" >/dev/null 2>&1; then
    python_package=$("$venv/bin/python" -c 'import sys; print("python%d.%d" % sys.version_info[:2])')
    depends="$python_package"
elif $allow_foreign; then
    echo "build-deb.sh: warning: $interpreter belongs to no Debian package; the deb runs only where it exists" >&2
    depends=""
else
    die "$interpreter belongs to no Debian package; pass --python /usr/bin/python3.X, or --allow-foreign-python"
fi

install -d "$root/DEBIAN"
install -m 0755 "$here/deb/postinst" "$here/deb/prerm" "$here/deb/postrm" "$root/DEBIAN/"
printf '/etc/%s/%s.yml\n/etc/%s/%s.reference.yml\n' "$NAME" "$NAME" "$NAME" "$NAME" >"$root/DEBIAN/conffiles"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
{
    echo "Package: $NAME"
    echo "Version: $version"
    echo "Architecture: $arch"
    echo "Maintainer: packetshipper developers <packetshipper@localhost>"
    echo "Installed-Size: $installed_size"
    [ -n "$depends" ] && echo "Depends: $depends"
    echo "Section: net"
    echo "Priority: optional"
    echo "Description: network traffic shipper for the Elastic Stack (Packetbeat-compatible)"
    echo " packetshipper captures network traffic with libpcap, decodes DNS, HTTP, ICMP and flows,"
    echo " and ships Packetbeat-shaped events to Elasticsearch, Logstash, Redis or files."
    echo " ."
    echo " A self-contained Python virtualenv in /opt/$NAME; runs as the systemd service"
    echo " $NAME.service under its own user with only the capture capabilities."
} >"$root/DEBIAN/control"

mkdir -p "$out"
deb=$out/${NAME}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"

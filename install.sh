#!/bin/sh
# Installs packetshipper from this checkout into its own virtual environment, so it works with Debian's
# own Python (PEP 668 forbids `pip install` into it) and never touches the system's packages.
#
#   sh install.sh          the service: a venv in /usr/local/lib/packetshipper (root) or
#                          ~/.local/lib/packetshipper (other users), the command linked into
#                          /usr/local/bin or ~/.local/bin
#   sh install.sh --dev    for development and the tests: an editable install with the test extras in
#                          ./.venv; as root also the Debian packages the tests use
#
# Running it again updates the install in place. PYTHON=/path/to/python3 picks the interpreter;
# EXTRAS=report (comma-separated) adds optional extras: report (the report's charts), mongodb, kafka, cassandra.
set -eu

cd "$(dirname "$0")"
python=${PYTHON:-python3}
mode=service
case "${1:-}" in
    "") ;;
    --dev) mode=dev ;;
    *) echo "usage: sh install.sh [--dev]" >&2; exit 2 ;;
esac

# The Debian packages the test suite uses: libpcap for pcapy-ng where it compiles, servers and tools the
# tests run for real (Redis, dnsmasq, MariaDB, PostgreSQL, memcached, exim, busybox's udhcpc, tcpdump, tshark,
# openssl), the public suffix list, what the packaging tests build with, and Chromium for the report's page;
# gcc and python3-dev build the compiled hot path (without them the pure-Python path runs).
TEST_PACKAGES="python3-venv gcc python3-dev libpcap-dev redis-server tcpdump tshark publicsuffix openssl rpm systemd dnsmasq
    mariadb-server mariadb-client postgresql memcached exim4-daemon-light busybox
    nfs-ganesha nfs-ganesha-mem libnfs-utils rpcbind sip-tester rabbitmq-server chromium chromium-driver"

is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
    # A fresh machine may have no package lists yet: update only if the install cannot find a package.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    }
}

if ! command -v "$python" >/dev/null 2>&1; then
    echo "install.sh: no $python found; install Python 3.11 or newer (Debian: apt-get install python3)" >&2
    exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "install.sh: packetshipper needs Python 3.11 or newer; $python is $("$python" -V 2>&1)" >&2
    exit 1
fi

# Debian ships venv and ensurepip separately (python3-venv); without them `python3 -m venv` fails.
if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
        apt_install python3-venv
    else
        echo "install.sh: $python has no venv module; as root run: apt-get install python3-venv" >&2
        exit 1
    fi
fi

if [ "$mode" = dev ]; then
    venv=.venv
    if is_root && command -v apt-get >/dev/null 2>&1; then
        # shellcheck disable=SC2086  # a list of package names
        apt_install $TEST_PACKAGES
    else
        echo "install.sh: not root: skipping the Debian packages the tests use ($TEST_PACKAGES)" >&2
    fi
elif is_root; then
    venv=/usr/local/lib/packetshipper
    bindir=/usr/local/bin
else
    venv="$HOME/.local/lib/packetshipper"
    bindir="$HOME/.local/bin"
fi

# A venv whose interpreter is gone (Python upgraded or removed) is rebuilt rather than half-used.
if [ -d "$venv" ] && ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
    rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ] && ! "$python" -m venv "$venv"; then
    rm -rf "$venv"
    echo "install.sh: $python -m venv failed; on Debian as root: apt-get install python3-venv" >&2
    exit 1
fi

pip() { "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"; }
if [ "$mode" = dev ]; then
    pip -e '.[test]'
    echo "install.sh: installed for development in $venv; run the tests with $venv/bin/python -m pytest" >&2
else
    pip --upgrade ".${EXTRAS:+[$EXTRAS]}"
    mkdir -p "$bindir"
    ln -sf "$venv/bin/packetshipper" "$bindir/packetshipper"
    echo "install.sh: installed $("$venv/bin/packetshipper" version) as $bindir/packetshipper" >&2
    if ! "$venv/bin/python" -c 'import packetshipper._hotpath' 2>/dev/null; then
        echo "install.sh: no C compiler or Python headers (Debian: gcc python3-dev): the pure-Python hot path runs" >&2
    fi
    case ":$PATH:" in
        *":$bindir:"*) ;;
        *) echo "install.sh: $bindir is not on your PATH: call it as $bindir/packetshipper" >&2 ;;
    esac
fi

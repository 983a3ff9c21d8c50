"""Imported by every bench script before packetshipper: outside the environment packetshipper is installed in,
one line that says how to run the script instead of a ModuleNotFoundError traceback."""

import sys

try:
    import packetshipper  # noqa: F401
    import pcapy  # noqa: F401
except ModuleNotFoundError as exc:
    sys.exit(f"{sys.argv[0]}: {exc}: run it with the Python packetshipper is installed in, e.g. after "
             f"`sh install.sh --dev`: .venv/bin/python {sys.argv[0]}")

"""Packetbeat's own system tests (elastic/beats packetbeat/tests/system) for flows, http, dns and icmp.

Each test has the name of the Packetbeat test it re-runs; docs/packetbeat-system-tests.md lists every
assertion and its result.
"""

"""SASL (PLAIN, SCRAM-SHA-256/512) and TLS, end to end: librdkafka's mock broker behind kafka_proxy.BrokerFront.

The mock cluster speaks neither SASL nor TLS (it never advertises SaslHandshake), so the front plays
that part: it checks the credentials the output sends (PLAIN, or SCRAM's proof) and terminates TLS with a throw-away CA's
certificate for `localhost`. Events are read back through the same front.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("confluent_kafka")

from kafka_mock import MockCluster, consume_all  # noqa: E402
from kafka_proxy import BrokerFront  # noqa: E402
from packetshipper.outputs import OutputError, output_settings  # noqa: E402
from packetshipper.outputs.kafka import KafkaOutput  # noqa: E402
from packetshipper.settings import validate  # noqa: E402
from servers.certs import OPENSSL, make_certificates  # noqa: E402


@pytest.fixture
def cluster() -> Iterator[MockCluster]:
    mock = MockCluster(1)
    mock.create_topic("secure", 1)
    yield mock
    mock.close()


def _front(cluster: MockCluster, host: str, **options: Any) -> BrokerFront:
    upstream_host, port = cluster.hosts[0].rsplit(":", 1)
    front = BrokerFront((upstream_host, int(port)), **options)
    cluster.advertise(1, host, front.port)
    return front


def _output(hosts: list[str], **settings: Any) -> KafkaOutput:
    return KafkaOutput(validate(output_settings("kafka"), {"hosts": hosts, "topic": "secure", "timeout": "2s",
                                                           **settings}, "output.kafka"))


def test_sasl_plain_credentials_are_checked_and_events_delivered(cluster: MockCluster) -> None:
    front = _front(cluster, "127.0.0.1", credentials=("ann", "s3cret"))
    try:
        out = _output([f"127.0.0.1:{front.port}"], username="ann", password="s3cret")
        out.connect()
        assert out.publish_batch([{"n": 1}, {"n": 2}]).retry == []
        out.close()
        sasl = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.username": "ann",
                "sasl.password": "s3cret"}
        got = [json.loads(m.value())["n"] for m in consume_all(f"127.0.0.1:{front.port}", "secure", 2, **sasl)]
        assert got == [1, 2]
        assert front.refused == [] and "ann" in front.authenticated

        wrong = _output([f"127.0.0.1:{front.port}"], username="ann", password="guess")
        with pytest.raises(OutputError, match="SASL authentication error"):
            wrong.connect()
        wrong.close()
        assert front.refused
    finally:
        front.close()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_proves_the_password_and_a_wrong_one_is_refused(cluster: MockCluster, mechanism: str) -> None:
    front = _front(cluster, "127.0.0.1", credentials=("bob", "pa55"), mechanism=mechanism)
    try:
        out = _output([f"127.0.0.1:{front.port}"], username="bob", password="pa55",
                      **{"sasl.mechanism": mechanism})
        out.connect()
        assert out.publish_batch([{"n": 3}]).retry == []
        out.close()
        assert front.refused == [] and "bob" in front.authenticated
        wrong = _output([f"127.0.0.1:{front.port}"], username="bob", password="pass",
                        **{"sasl.mechanism": mechanism})
        with pytest.raises(OutputError, match="SASL authentication error"):
            wrong.connect()
        wrong.close()
        assert front.refused
    finally:
        front.close()


def test_tls_with_the_configured_ca_delivers_and_another_ca_is_refused(cluster: MockCluster,
                                                                       tmp_path: Path) -> None:
    if OPENSSL is None:
        pytest.skip("openssl is not installed")
    certs = make_certificates(tmp_path)
    front = _front(cluster, "localhost", tls=certs.server_context())
    try:
        out = _output([f"localhost:{front.port}"], ssl={"certificate_authorities": [str(certs.ca)]})
        out.connect()
        assert out.publish_batch([{"n": 7}]).retry == []
        out.close()
        tls = {"security.protocol": "SSL", "ssl.ca.location": str(certs.ca)}
        assert [json.loads(m.value())["n"] for m in consume_all(f"localhost:{front.port}", "secure", 1, **tls)] == [7]

        untrusted = _output([f"localhost:{front.port}"], ssl={"certificate_authorities": [str(certs.other_ca)]})
        with pytest.raises(OutputError, match="certificate verify failed"):
            untrusted.connect()
        untrusted.close()
    finally:
        front.close()

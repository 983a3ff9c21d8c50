"""Each processor and each `when` operator, on small events whose expected results are worked out by hand
(hashes with sha256sum/md5sum/openssl on the hash input string; community IDs from libbeat's golden logs)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml
from packetshipper.processors import ProcessorStats, build_chain, validate_processors
from packetshipper.settings import ConfigError


def run(processors: str | list[Any], event: dict[str, Any]) -> tuple[dict[str, Any] | None, ProcessorStats]:
    raw = yaml.safe_load(processors) if isinstance(processors, str) else processors
    stats = ProcessorStats()
    chain = build_chain([(validate_processors(raw, "processors"), "processors")], stats)
    assert chain is not None
    return chain(event), stats


def base() -> dict[str, Any]:
    return {"@timestamp": "2026-11-23T06:54:57.123Z", "type": "http", "status": "OK",
            "agent": {"name": "a"}, "host": {"name": "h"},
            "source": {"ip": "10.0.0.1", "port": 34855}, "destination": {"ip": "8.8.8.8", "port": 80},
            "network": {"transport": "tcp"}, "http": {"response": {"status_code": 404}},
            "message": "hello world", "tags": ["t"]}


# --- filtering -----------------------------------------------------------------------------------------

def test_drop_event_without_condition_drops_and_counts() -> None:
    out, stats = run("[{drop_event: {}}]", base())
    assert out is None and stats.dropped == 1


def test_drop_fields_names_and_patterns_never_the_mandatory_ones() -> None:
    out, stats = run("[{drop_fields: {fields: [message, type, '@timestamp', '/^source\\./']}}]", base())
    assert out is not None
    assert "message" not in out and out["type"] == "http" and "@timestamp" in out
    assert out["source"] == {} and out["destination"]["port"] == 80
    assert stats.errors == 0


def test_include_fields_keeps_mandatory_and_whole_objects() -> None:
    out, _ = run("[{include_fields: {fields: [http.response, source.ip]}}]", base())
    assert out == {"@timestamp": "2026-11-23T06:54:57.123Z", "type": "http",
                   "http": {"response": {"status_code": 404}}, "source": {"ip": "10.0.0.1"}}


# --- adding --------------------------------------------------------------------------------------------

def test_add_fields_default_target_root_and_deep_merge() -> None:
    event = base()
    event["fields"] = {"project": {"id": 1}}
    out, _ = run("""
        - add_fields: {fields: {project.name: shipper, env: prod}}
        - add_fields: {target: "", fields: {http: {version: "1.1"}}}
        - add_fields: {target: host, fields: {name: replaced}}
    """, event)
    assert out is not None
    assert out["fields"] == {"project": {"id": 1, "name": "shipper"}, "env": "prod"}
    assert out["http"] == {"response": {"status_code": 404}, "version": "1.1"}
    assert out["host"] == {"name": "replaced"}


def test_add_fields_never_changes_a_dict_other_events_share() -> None:
    shared_host = {"name": "h"}
    first, second = base(), base()
    first["host"] = second["host"] = shared_host
    run("[{add_fields: {target: host, fields: {id: x}}}, {rename: {fields: [{from: host.name, to: host.n}]}}]",
        first)
    assert shared_host == {"name": "h"} and second["host"] is shared_host


def test_add_tags_appends_to_a_new_list_and_custom_target() -> None:
    event = base()
    tags = event["tags"]
    out, _ = run("[{add_tags: {tags: [web, prod]}}, {add_tags: {tags: x, target: labels.kinds}}]", event)
    assert out is not None
    assert out["tags"] == ["t", "web", "prod"] and tags == ["t"]
    assert out["labels"] == {"kinds": ["x"]}


def test_add_tags_on_a_non_list_is_an_error_in_the_event() -> None:
    event = base()
    event["tags"] = "one"
    out, stats = run("[{add_tags: {tags: [x]}}]", event)
    assert out is not None and out["tags"] == "one"
    assert out["error"]["message"] == "add_tags: [tags] is a str, not a list of tags" and stats.errors == 1


def test_add_labels_flattens_keys_and_lists() -> None:
    out, _ = run("""
        - add_labels:
            labels:
              number: 1
              with.dots: test
              nested: {with.dots: nested}
              array: [do, re, {with.field: mi}]
    """, base())
    assert out is not None
    assert out["labels"] == {"number": 1, "with.dots": "test", "nested.with.dots": "nested",
                             "array.0": "do", "array.1": "re", "array.2.with.field": "mi"}


def test_add_locale_offset_and_abbreviation(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        # 2026-11-23 is in EST (UTC-5): worked out from the zone's rules, not the code.
        monkeypatch.setattr(time, "localtime", lambda: time.struct_time((2026, 11, 23, 1, 0, 0, 0, 327, 0),
                                                                           {"tm_zone": "EST", "tm_gmtoff": -18000}))
        out, _ = run("[{add_locale: {}}]", base())
        assert out is not None and out["event"]["timezone"] == "-05:00"
        out, _ = run("[{add_locale: {format: abbreviation}}]", base())
        assert out is not None and out["event"]["timezone"] == "EST"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_add_id_twenty_url_safe_characters_unique() -> None:
    stats = ProcessorStats()
    chain = build_chain([(validate_processors([{"add_id": None}], "processors"), "processors")], stats)
    assert chain is not None
    ids = [chain(base())["@metadata"]["_id"] for _ in range(1000)]  # type: ignore[index]
    assert len(set(ids)) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{20}", i) for i in ids)
    out, _ = run("[{add_id: {target_field: event.id}}]", base())
    assert out is not None and len(out["event"]["id"]) == 20


# --- mutating ------------------------------------------------------------------------------------------

def test_rename_moves_values_in_order() -> None:
    out, _ = run("[{rename: {fields: [{from: message, to: event.original}, {from: event.original, to: msg}]}}]",
                 base())
    assert out is not None and out["msg"] == "hello world" and "message" not in out
    assert out["event"] == {}


def test_rename_onto_an_existing_field_fails_and_undoes_the_processor() -> None:
    event = base()
    out, stats = run("[{rename: {fields: [{from: message, to: x}, {from: status, to: type}]}}]", event)
    assert out is not None
    assert out["message"] == "hello world" and "x" not in out  # the first pair undone too
    assert out["error"]["message"] == ("rename: target field [type] already exists, drop or rename this field "
                                       "first")
    assert stats.failed == {"rename": 1}


def test_rename_fail_on_error_false_keeps_the_rest_and_only_counts() -> None:
    out, stats = run("""
        - rename:
            fail_on_error: false
            fields: [{from: nope, to: a}, {from: message, to: b}]
    """, base())
    assert out is not None and out["b"] == "hello world" and "error" not in out
    assert stats.errors == 1


def test_rename_ignore_missing() -> None:
    out, stats = run("[{rename: {ignore_missing: true, fields: [{from: nope, to: a}]}}]", base())
    assert out is not None and "a" not in out and stats.errors == 0


def test_copy_fields_copies_and_refuses_existing_targets() -> None:
    out, _ = run("[{copy_fields: {fields: [{from: source.ip, to: client.ip}]}}]", base())
    assert out is not None and out["client"] == {"ip": "10.0.0.1"} and out["source"]["ip"] == "10.0.0.1"
    out, stats = run("[{copy_fields: {fields: [{from: source.ip, to: destination.ip}]}}]", base())
    assert out is not None and out["destination"]["ip"] == "8.8.8.8" and stats.errors == 1


def test_truncate_fields_characters_bytes_and_log_flags() -> None:
    event = base()
    event["name"] = "héllo"  # é is 2 bytes in UTF-8
    out, _ = run("[{truncate_fields: {fields: [message], max_characters: 5}}]", event)
    assert out is not None and out["message"] == "hello" and out["log"] == {"flags": ["truncated"]}
    out, _ = run("[{truncate_fields: {fields: [name], max_bytes: 2}}]", copy.deepcopy(event))
    assert out is not None and out["name"] == "h"  # "hé" would be 3 bytes; a half character is dropped
    out, _ = run("[{truncate_fields: {fields: [name], max_bytes: 3}}]", copy.deepcopy(event))
    assert out is not None and out["name"] == "hé"
    out, _ = run("[{truncate_fields: {fields: [message], max_bytes: 100}}]", base())
    assert out is not None and out["message"] == "hello world" and "log" not in out


def test_truncate_fields_refuses_non_text() -> None:
    out, stats = run("[{truncate_fields: {fields: [source.port], max_bytes: 1}}]", base())
    assert out is not None and out["source"]["port"] == 34855 and stats.errors == 1
    assert out["error"]["message"] == "truncate_fields: field [source.port] is a int, not text"


def test_replace_with_go_style_groups() -> None:
    out, _ = run(r"""
        - replace:
            fields:
              - {field: message, pattern: '(\w+) (\w+)', replacement: '$2 $1 $$'}
              - {field: source.ip, pattern: '\.\d+$', replacement: '.0'}
    """, base())
    assert out is not None and out["message"] == "world hello $" and out["source"]["ip"] == "10.0.0.0"


# --- host ----------------------------------------------------------------------------------------------

def test_add_host_metadata_from_this_host_and_cached() -> None:
    import platform
    import socket

    raw = validate_processors([{"add_host_metadata": {"netinfo.enabled": False}}], "processors")
    stats = ProcessorStats()
    chain = build_chain([(raw, "processors")], stats)
    assert chain is not None
    first, second = chain(base()), chain(base())
    assert first is not None and second is not None
    host = first["host"]
    assert host["hostname"] == socket.gethostname() and host["architecture"] == platform.machine()
    assert host["os"]["kernel"] == platform.release() and host["os"]["type"] == "linux"
    assert "ip" not in host
    assert second["host"] == host  # read once, then cached


def test_add_host_metadata_netinfo_lists_addresses_without_loopback() -> None:
    out, _ = run("[{add_host_metadata: ~}]", base())
    assert out is not None
    assert "127.0.0.1" not in out["host"].get("ip", []) and "::1" not in out["host"].get("ip", [])
    assert all(re.fullmatch(r"([0-9A-F]{2}-){5}[0-9A-F]{2}", mac) for mac in out["host"].get("mac", []))


def test_add_host_metadata_replace_fields_false_keeps_an_event_with_host_details() -> None:
    event = base()
    event["host"] = {"name": "h", "id": "mine"}
    out, _ = run("[{add_host_metadata: {replace_fields: false, netinfo.enabled: false}}]", event)
    assert out is not None and out["host"] == {"name": "h", "id": "mine"}


# --- hashing -------------------------------------------------------------------------------------------

FP_EVENT = {"@timestamp": "t", "type": "x", "field1": "value1", "field2": 2}


@pytest.mark.parametrize(("options", "expected"), [
    ({}, "965f72eafba8409d1ae5255083ae8b2b32cba3b3a2ffcdf05927ed187353151c"),  # sha256 of |field1|value1|field2|2|
    ({"method": "md5"}, "55f9d01f6a80e6fd006349b7eab9e02f"),
    ({"method": "sha1", "encoding": "base64"}, "LeP0NryOGWUpseUaqkvyoC9fw3Y="),
])
def test_fingerprint_methods_and_encodings(options: dict[str, Any], expected: str) -> None:
    out, _ = run([{"fingerprint": {"fields": ["field2", "field1"], **options}}], dict(FP_EVENT))
    assert out is not None and out["fingerprint"] == expected


def test_fingerprint_ignore_missing_target_and_base32() -> None:
    config = {"fields": ["field1", "nope"], "ignore_missing": True, "encoding": "base32", "target_field": "a.b"}
    out, _ = run([{"fingerprint": config}], dict(FP_EVENT))
    # base32 of sha256(|field1|value1|)
    assert out is not None and out["a"]["b"] == "N2P6DE6USWR7GNODXCS452TIEZX4AZYGHOLYSLXWCSVXN43LCLMA===="


def test_fingerprint_missing_or_object_field_is_an_error() -> None:
    out, stats = run([{"fingerprint": {"fields": ["nope"]}}], dict(FP_EVENT))
    assert out is not None and "fingerprint" not in out and stats.errors == 1
    assert out["error"]["message"] == "fingerprint: failed to find field [nope] in event"


@pytest.mark.parametrize(("event", "expected"), [
    ({"source": {"ip": "128.232.110.120", "port": 34855}, "destination": {"ip": "66.35.250.204", "port": 80},
      "network": {"transport": "tcp"}}, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    ({"source": {"ip": "8.8.8.8", "port": 53}, "destination": {"ip": "192.168.1.52", "port": 54585},
      "network": {"iana_number": "17"}}, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
    ({"source": {"ip": "192.168.0.89"}, "destination": {"ip": "192.168.0.1"}, "network": {"transport": "icmp"},
      "icmp": {"type": 8, "code": 0}}, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
])
def test_community_id_from_the_golden_logs(event: dict[str, Any], expected: str) -> None:
    out, _ = run("[{community_id: {}}]", {"type": "x", **event})
    assert out is not None and out["network"]["community_id"] == expected


def test_community_id_leaves_an_existing_id_and_incomplete_events() -> None:
    event = {"type": "x", "source": {"ip": "1.2.3.4", "port": 1}, "destination": {"ip": "5.6.7.8", "port": 2},
             "network": {"transport": "tcp", "community_id": "mine"}}
    out, _ = run("[{community_id: {}}]", event)
    assert out is not None and out["network"]["community_id"] == "mine"
    out, stats = run("[{community_id: {}}]", {"type": "x", "source": {"ip": "1.2.3.4"}})
    assert out is not None and "network" not in out and stats.errors == 0


# --- network -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "destination", "direction"), [
    ("10.0.0.1", "8.8.8.8", "outbound"), ("8.8.8.8", "10.0.0.1", "inbound"),
    ("10.0.0.1", "192.168.1.1", "internal"), ("8.8.8.8", "1.1.1.1", "external"),
])
def test_add_network_direction(source: str, destination: str, direction: str) -> None:
    config = "[{add_network_direction: {source: s, destination: d, target: dir, internal_networks: [private]}}]"
    out, _ = run(config, {"type": "x", "s": source, "d": destination})
    assert out is not None and out["dir"] == direction


def test_add_network_direction_cidr_and_missing_address() -> None:
    config = "[{add_network_direction: {source: s, destination: d, target: dir, internal_networks: [8.8.8.0/24]}}]"
    out, _ = run(config, {"type": "x", "s": "8.8.8.8", "d": "9.9.9.9"})
    assert out is not None and out["dir"] == "outbound"
    out, stats = run(config, {"type": "x", "s": "8.8.8.8"})
    assert out is not None and "dir" not in out and stats.errors == 0


def test_registered_domain_with_etld_and_subdomain() -> None:
    out, _ = run("""
        - registered_domain:
            field: dns.question.name
            target_field: rd
            target_etld_field: etld
            target_subdomain_field: sub
    """, {"type": "dns", "dns": {"question": {"name": "www.foo.example.co.uk."}}})
    assert out is not None
    assert (out["rd"], out["etld"], out["sub"]) == ("example.co.uk", "co.uk", "www.foo")


def test_registered_domain_failure_and_ignore_failure() -> None:
    config = [{"registered_domain": {"field": "d", "target_field": "rd"}}]
    out, stats = run(config, {"type": "x", "d": "co.uk"})
    assert out is not None and "rd" not in out and stats.errors == 1
    config[0]["registered_domain"]["ignore_failure"] = True
    out, stats = run(config, {"type": "x", "d": "co.uk"})
    assert out is not None and stats.errors == 0 and "error" not in out


# --- decoding ------------------------------------------------------------------------------------------

def test_decode_json_fields_in_place_root_and_target() -> None:
    text = '{"a": 1, "type": "nope", "inner": "{\\"b\\": true}", "id": "doc1"}'
    out, _ = run("[{decode_json_fields: {fields: [j]}}]", {"type": "x", "j": text})
    assert out is not None and out["j"] == {"a": 1, "type": "nope", "inner": '{"b": true}', "id": "doc1"}
    out, _ = run("[{decode_json_fields: {fields: [j], max_depth: 2, target: out, document_id: id}}]",
                 {"type": "x", "j": text})
    assert out is not None and out["out"] == {"a": 1, "type": "nope", "inner": {"b": True}}
    assert out["@metadata"] == {"_id": "doc1"}
    out, _ = run("[{decode_json_fields: {fields: [j], target: ''}}]", {"type": "x", "a": 0, "j": text})
    assert out is not None and out["a"] == 0 and out["type"] == "x" and out["id"] == "doc1"
    out, _ = run("[{decode_json_fields: {fields: [j], target: '', overwrite_keys: true}}]",
                 {"type": "x", "a": 0, "j": text})
    assert out is not None and out["a"] == 1 and out["type"] == "x"


def test_decode_json_fields_bad_json_is_counted_and_reported_with_add_error_key() -> None:
    out, stats = run("[{decode_json_fields: {fields: [j]}}]", {"type": "x", "j": "{nope"})
    assert out is not None and out["j"] == "{nope" and "error" not in out and stats.errors == 1
    out, stats = run("[{decode_json_fields: {fields: [j], add_error_key: true}}]", {"type": "x", "j": "{nope"})
    assert out is not None and out["error"]["message"].startswith("decode_json_fields: field [j] is not JSON")


# --- conditions and groups -----------------------------------------------------------------------------

@pytest.mark.parametrize(("when", "dropped"), [
    ({"equals": {"http.response.status_code": 404}}, True),
    ({"equals": {"http.response.status_code": "404"}}, False),  # a string never equals a number
    ({"contains": {"message": "lo wo"}}, True),
    ({"regexp": {"message": "^hel+o"}}, True),
    ({"range": {"http.response.status_code": {"gte": 400, "lt": 500}}}, True),
    ({"range": {"http.response.status_code.lt": 400}}, False),
    ({"network": {"source.ip": "private", "destination.ip": ["10.0.0.0/8", "public"]}}, True),
    ({"network": {"source.ip": "loopback"}}, False),
    ({"has_fields": ["http.response.status_code", "message"]}, True),
    ({"has_fields": ["nope"]}, False),
    ({"or": [{"equals": {"type": "dns"}}, {"equals": {"status": "OK"}}]}, True),
    ({"and": [{"equals": {"type": "http"}}, {"equals": {"status": "Error"}}]}, False),
    ({"not": {"equals": {"type": "flow"}}}, True),
])
def test_each_condition_operator_on_drop_event(when: dict[str, Any], dropped: bool) -> None:
    out, stats = run([{"drop_event": {"when": when}}], base())
    assert (out is None) is dropped and stats.dropped == int(dropped)


def test_if_then_else_groups() -> None:
    config = """
        - if.equals.status: OK
          then:
            - add_tags: {tags: [ok]}
          else:
            - add_tags: {tags: [bad]}
            - drop_fields: {fields: [message]}
    """
    ok, _ = run(config, base())
    failed_event = base()
    failed_event["status"] = "Error"
    bad, _ = run(config, failed_event)
    assert ok is not None and ok["tags"] == ["t", "ok"] and "message" in ok
    assert bad is not None and bad["tags"] == ["t", "bad"] and "message" not in bad


def test_stock_packetbeat_yml_processors_load_with_one_warning_each(caplog: pytest.LogCaptureFixture) -> None:
    # The processors section of Packetbeat 8's packetbeat.yml.
    raw = yaml.safe_load("""
        - if.contains.tags: forwarded
          then:
            - drop_fields:
                fields: [host]
          else:
            - add_host_metadata: ~
        - add_cloud_metadata: ~
        - add_docker_metadata: ~
        - detect_mime_type:
            field: http.request.body.content
            target: http.request.mime_type
        - detect_mime_type:
            field: http.response.body.content
            target: http.response.mime_type
    """)
    from packetshipper.processors import placeholders

    placeholders._warned.clear()
    with caplog.at_level("WARNING", "packetshipper.processors"):
        validate_processors(raw, "processors")
        validate_processors(raw, "processors")
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 3
    assert any("add_cloud_metadata processor is not available" in w for w in warned)
    forwarded = base()
    forwarded["tags"] = ["forwarded"]
    out, _ = run(raw, forwarded)
    assert out is not None and "host" not in out


# --- config errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("processors", "message"), [
    ("[{nope: {}}]", "processors.0.nope: unknown processor (known: "),
    ("[{add_tags: {tags: [a]}}, {rename: {fields: [{from: a}]}}]", "processors.1.rename.fields.0.to: required "
                                                                    "setting is missing"),
    ("[{drop_fields: {fields: [a], colour: red}}]", "processors.0.drop_fields.colour: unknown setting"),
    ("[{drop_event: {when: {equal: {a: 1}}}}]", "processors.0.drop_event.when: unknown condition 'equal'"),
    ("[{truncate_fields: {fields: [a]}}]", "processors.0.truncate_fields: set exactly one of max_bytes, "
                                           "max_characters"),
    ("[{replace: {fields: [{field: a, pattern: '('}]}}]", "processors.0.replace.fields.0.pattern: bad regular"),
    ("[{drop_event: {}, add_tags: {tags: [a]}}]", "processors.0: one processor per list entry"),
    ("[{fingerprint: {fields: [a], method: crc}}]", "processors.0.fingerprint.method: must be one of"),
    ("{drop_event: {}}", "processors: expected a list of processors"),
])
def test_a_bad_processor_is_one_error_naming_the_key(processors: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_processors(yaml.safe_load(processors), "processors")
    text = str(info.value)
    assert text.startswith(message) and "\n" not in text

"""What `-d mysql` says: a transaction in a few words, and why each counted anomaly happened."""

from __future__ import annotations

from typing import Any

from packetshipper.debuglog import debug_log
from packetshipper.protocol import Transaction

from .messages import MysqlRequest, MysqlResponse

__all__ = ["DEBUG", "REASONS", "describe"]

DEBUG = debug_log("mysql")

MAX_QUERY = 200  # characters of a query shown; the event has all of it

# Counter name -> what happened. Empty: the transaction line says it already.
REASONS = {
    "truncated_packets": "packet longer than max_message_size: the rest is skipped",
    "packets_cut_by_close": "connection closed inside a packet: it is dropped",
    "packets_dropped_on_resync": "server side restarted at a segment after lost bytes: the packet it was in is dropped",
    "tls_connections": "client asked for TLS: the rest of the connection is not parsed",
    "compressed_connections": "compressed protocol negotiated: the rest of the connection is not parsed",
    "replication_streams": "binlog dump: the replication stream that follows is not parsed",
    "skipped_packets": "packet that answers no command seen (capture began mid-exchange, or after loss)",
    "out_of_sequence_packets": "server packet whose sequence id does not follow the exchange: not its response",
    "malformed_responses": "response that does not decode: published as an error, the server side resyncs",
    "malformed_commands": "command that does not decode: dropped",
    "malformed_greetings": "greeting that does not decode",
    "malformed_logins": "handshake response that does not decode",
    "malformed_rows": "row that does not decode: counted, not rendered",
    "unknown_commands": "command byte this module does not know: published by number",
    "unknown_statements": "execute of a statement whose PREPARE was not seen",
    "undecoded_params": "execute parameters that do not decode: left out",
    "statements_over_limit": "more prepared statements than max_statements: the oldest is forgotten",
    "statements_expired": "",
    "pending_requests_overflow": "more commands waiting than max_pending_requests: the oldest is published unanswered",
    "gaps_in_requests": "bytes lost in the client's stream",
    "gaps_in_responses": "bytes lost in the server's stream",
    "failed_logins": "",
    "unanswered_logins": "",
    "unmatched_requests": "",
    "unmatched_responses": "",
}


def describe(transaction: Transaction[Any, Any]) -> str:
    """`SELECT * FROM t -> 3 rows`, `EXECUTE SELECT ... (2 parameters) -> 1 rows`, `LOGIN bob -> ERR 1045 ...`."""
    request: MysqlRequest | None = transaction.request
    response: MysqlResponse | None = transaction.response
    if request is not None:
        query = request.query if len(request.query) <= MAX_QUERY else request.query[:MAX_QUERY] + "..."
        name = request.command_name
        asked = f"{name.removeprefix('STMT_')} {query}" if name.startswith("STMT_") and name != request.method else query
        if request.params:
            asked += f" ({len(request.params)} parameters)"
    else:
        asked = "(no request)"
    if response is None:
        answered = "(no response)"
    elif response.is_error:
        answered = f"ERR {response.error_code} {response.error_message}"
    elif response.num_fields:
        answered = f"{response.num_rows} rows"
    else:
        answered = f"OK, {response.affected_rows} rows affected"
    return f"{asked} -> {answered}"

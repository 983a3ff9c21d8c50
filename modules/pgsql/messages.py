"""The messages the pgsql parsers emit: frozen, slotted, with wire sizes and first-byte timestamps.

The frontend parser emits one message per protocol message the correlator needs (CopyData is summed
into the CopyDone / CopyFail that ends it). The backend parser gathers a result - RowDescription,
DataRows, CopyData - into the message that completes it (CommandComplete, PortalSuspended,
ErrorResponse), keeping at most `max_rows` rows of at most `max_row_length` bytes.
"""

from __future__ import annotations

import enum

from packetshipper.records import record

__all__ = ["Front", "Back", "FrontendMessage", "BackendMessage", "ServerError", "PACKET_LOSS_REQUEST",
           "PACKET_LOSS_RESPONSE", "RESULT_CUT"]

# Packetbeat's wording for results cut by a gap.
PACKET_LOSS_REQUEST = "Packet loss while capturing the request"
PACKET_LOSS_RESPONSE = "Packet loss while capturing the response"
RESULT_CUT = "Connection closed while the result was arriving"


class Front(enum.Enum):
    STARTUP = "startup"
    SSL_REQUEST = "ssl_request"
    GSSENC_REQUEST = "gssenc_request"
    CANCEL = "cancel"
    PASSWORD = "password"  # also SASL and GSSAPI responses: all 'p'
    QUERY = "query"
    PARSE = "parse"
    BIND = "bind"
    DESCRIBE = "describe"
    EXECUTE = "execute"
    SYNC = "sync"
    FLUSH = "flush"
    CLOSE = "close"
    COPY_END = "copy_end"  # CopyDone or CopyFail, carrying the CopyData bytes before it
    FUNCTION_CALL = "function_call"
    TERMINATE = "terminate"


class Back(enum.Enum):
    SSL_ANSWER = "ssl_answer"
    AUTH = "auth"
    READY = "ready"
    RESULT = "result"  # CommandComplete
    EMPTY_QUERY = "empty_query"
    SUSPENDED = "suspended"  # PortalSuspended: Execute's row limit reached
    ERROR = "error"
    NOTICE = "notice"
    FUNCTION_RESULT = "function_result"


@record
class ServerError:
    """The fields of an ErrorResponse or NoticeResponse that events use."""

    severity: str
    code: str  # SQLSTATE
    message: str


@record
class FrontendMessage:
    kind: Front
    ts: float
    size: int  # wire bytes, type byte included
    sql: str | None = ""  # QUERY, PARSE; None when the message was over max_message_size
    name: str = ""  # PARSE / BIND: statement; EXECUTE: portal; DESCRIBE / CLOSE: the object
    portal: str = ""  # BIND
    params: tuple[tuple[str, str], ...] = ()  # STARTUP parameters, in wire order
    failed: bool = False  # COPY_END: the client sent CopyFail
    notes: tuple[str, ...] = ()

    def param(self, key: str) -> str | None:
        for name, value in self.params:
            if name == key:
                return value
        return None


@record
class BackendMessage:
    kind: Back
    ts: float  # first byte of the result (its RowDescription, first DataRow or the message itself)
    size: int  # wire bytes of the result: RowDescription + DataRows + copy data + this message
    code: int = 0  # AUTH: the authentication request code (0: AuthenticationOk)
    status: str = ""  # READY: transaction status I/T/E; SSL_ANSWER: the answer byte
    tag: str = ""  # RESULT: the command tag ("SELECT 200", "INSERT 0 1")
    fields: tuple[str, ...] = ()  # column names of the RowDescription, if the result had one
    rows: tuple[tuple[str, ...], ...] = ()  # kept rows, values rendered as text
    num_rows: int = 0  # DataRows seen, kept or not
    error: ServerError | None = None  # ERROR, NOTICE
    notes: tuple[str, ...] = ()

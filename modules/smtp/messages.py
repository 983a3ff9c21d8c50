"""What the SMTP parsers return, and the state the two directions of one session share."""

from __future__ import annotations

from packetshipper.records import record

__all__ = ["AuthResponse", "Command", "Content", "Reply", "SessionState"]


@record
class Command:
    """One client command line. `arg` is what follows the verb, except for AUTH: only the mechanism
    (an initial response is credentials and is never kept). `chunk` is the size of a BDAT chunk."""

    verb: str  # upper-cased; "" when the line does not start with a word
    arg: str
    ts: float
    size: int  # wire bytes, with the line end (and a BDAT chunk)
    chunk: int = 0
    last: bool = False  # BDAT ... LAST
    headers: tuple[tuple[str, str], ...] = ()  # BDAT: the headers, once the chunk that ends them is read


@record
class AuthResponse:
    """A line the client sent in answer to a 334 challenge: credentials, so only its size is kept."""

    ts: float
    size: int


@record
class Content:
    """The message sent after DATA, up to and with the line holding a single dot."""

    ts: float
    size: int  # wire bytes, with the terminator
    message_size: int  # the message itself: dot-stuffing undone, terminator excluded
    headers: tuple[tuple[str, str], ...]  # kept headers, unfolded, in order
    headers_truncated: bool = False
    gap: bool = False  # bytes were lost inside it


@record
class Reply:
    """A server reply: the code and each line's text (a multi-line reply has several)."""

    code: int
    lines: tuple[str, ...]
    ts: float
    size: int
    lines_dropped: int = 0  # lines over max_reply_lines: read, not kept

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class SessionState:
    """What the correlator learns that the client's parser needs: whether the bytes after DATA are a
    message (354) or more commands, whether the next line answers an AUTH challenge, and whether the
    session has switched to TLS (both parsers then stop)."""

    __slots__ = ("data_accepted", "auth_challenge", "tls", "__weakref__")

    def __init__(self) -> None:
        self.data_accepted: bool | None = None  # None: no reply to DATA yet
        self.auth_challenge = False
        self.tls = False

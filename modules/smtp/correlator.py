"""Pairs SMTP commands with replies in order (RFC 2920 pipelining is a FIFO) and groups them into
mail transactions: MAIL through the reply to the message, RSET, a new EHLO/MAIL, STARTTLS, QUIT or
the end of the connection. Session-level exchanges (a refused greeting, a failed AUTH, STARTTLS)
make events of their own."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from packetshipper.debuglog import Counter
from packetshipper.protocol import Connection, Correlator, Direction, Status, Transaction
from packetshipper.records import record

from .messages import AuthResponse, Command, Content, Reply, SessionState
from .paths import parse_path
from .records import MailRecord, Recipient

__all__ = ["CorrelatorLimits", "SmtpCorrelator"]

ENDINGS = {
    "rset": "mail transaction reset by the client (RSET)",
    "quit": "client quit before the message was sent",
    "close": "connection ended before the mail transaction did",
    "helo": "mail transaction abandoned by a new EHLO/HELO",
    "mail": "mail transaction abandoned by a new MAIL",
    "starttls": "mail transaction abandoned by STARTTLS",
    "timeout": "no reply within transaction_timeout",
}
GREETING_CODES = frozenset({220, 421, 554})


@record
class CorrelatorLimits:
    max_pending: int = 1000  # commands awaiting a reply
    max_recipients: int = 1000  # per mail transaction
    max_commands: int = 100  # verbs (and lines) listed per event
    max_message_size: int = 50 * 1024 * 1024  # larger messages are noted (0: no limit)


class _Mail:
    """A mail transaction being read."""

    __slots__ = ("start", "last", "mail_from", "params", "mail_reply", "accepted", "rejected", "recipients", "dropped",
                 "data_reply", "final", "content", "chunked", "headers", "delivered", "pipelined", "commands",
                 "lines", "replies", "request_bytes", "response_bytes", "gap")

    def __init__(self, start: float) -> None:
        self.start = self.last = start
        self.mail_from: str | None = None
        self.params: tuple[str, ...] = ()
        self.mail_reply: Reply | None = None
        self.accepted: list[str] = []
        self.rejected: list[Recipient] = []
        self.recipients: list[Recipient] = []
        self.dropped = 0
        self.data_reply: Reply | None = None
        self.final: Reply | None = None
        self.content: int | None = None
        self.chunked = 0
        self.headers: tuple[tuple[str, str], ...] = ()
        self.delivered = False
        self.pipelined = False
        self.commands: list[str] = []
        self.lines: list[str] = []
        self.replies: list[str] = []
        self.request_bytes = self.response_bytes = 0
        self.gap = False


Message = Command | Content | AuthResponse


class SmtpCorrelator(Correlator):
    def __init__(self, connection: Connection, state: SessionState, limits: CorrelatorLimits, timeout: float,
                 count: Counter) -> None:
        self._connection = connection
        self._state = state
        self._limits = limits
        self._timeout = timeout
        self._count = count
        self._pending: deque[tuple[Message, bool]] = deque()
        self._greeted = False
        self._greeting: Reply | None = None
        self._helo: str | None = None
        self._extensions: tuple[str, ...] = ()
        self._auth: str | None = None  # the mechanism of the AUTH that succeeded
        self._auth_try: tuple[str, float, int, int] | None = None  # mechanism, start, request/response bytes
        self._mail: _Mail | None = None
        self._last_seen = float("-inf")
        self._apply: dict[str, Callable[[Command, bool, Reply], list[Transaction[Any, Any]]]] = {
            "EHLO": self._on_helo, "HELO": self._on_helo, "LHLO": self._on_helo, "MAIL": self._on_mail,
            "RCPT": self._on_rcpt, "DATA": self._on_data, "BDAT": self._on_bdat, "RSET": self._on_rset,
            "QUIT": self._on_quit, "STARTTLS": self._on_starttls, "AUTH": self._on_auth,
        }

    # --- messages -------------------------------------------------------------------------------------
    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        self._last_seen = max(self._last_seen, ts)
        if isinstance(message, Reply):
            return self._on_reply(message)
        if not isinstance(message, Command | Content | AuthResponse):
            raise TypeError(f"not an SMTP message: {type(message).__name__}")
        pending = self._pending
        if len(pending) >= self._limits.max_pending:
            pending.popleft()
            self._count("commands_evicted")
        pending.append((message, bool(pending)))
        return []

    def _on_reply(self, reply: Reply) -> list[Transaction[Any, Any]]:
        pending = self._pending
        if not self._greeted and reply.code in GREETING_CODES and not (
                pending and isinstance(pending[0][0], Command) and pending[0][0].verb == "STARTTLS"):
            return self._on_greeting(reply)
        self._greeted = True
        if not pending:
            self._count("unmatched_replies")
            if reply.code == 421 and self._mail is not None:  # the server is closing the session
                self._mail.final = reply
                return self._end("close")
            return []
        message, pipelined = pending.popleft()
        if isinstance(message, Content):
            return self._on_content(message, pipelined, reply)
        if isinstance(message, AuthResponse):
            return self._on_auth_reply(message.size, reply)
        handler = self._apply.get(message.verb)
        if handler is not None:
            return handler(message, pipelined, reply)
        self._note(message, pipelined, reply)
        return []

    def _on_greeting(self, reply: Reply) -> list[Transaction[Any, Any]]:
        self._greeted = True
        self._greeting = reply
        if reply.code == 220:
            return []
        record = self._session_record("greeting", reply)
        return [self._session_txn(record, reply.ts, reply, 0, reply.size)]

    def _note(self, command: Command, pipelined: bool, reply: Reply) -> None:
        """Count the exchange into the open mail transaction, if any."""
        mail = self._mail
        if mail is None:
            return
        mail.last = reply.ts
        mail.request_bytes += command.size
        mail.response_bytes += reply.size
        mail.pipelined = mail.pipelined or pipelined
        if len(mail.commands) < self._limits.max_commands:
            mail.commands.append(command.verb or "?")
            mail.lines.append(f"{command.verb} {command.arg}".strip() if command.verb else command.arg)
            mail.replies.append(f"{reply.code} {reply.text}")

    # --- session commands -----------------------------------------------------------------------------
    def _on_helo(self, command: Command, pipelined: bool, reply: Reply) -> list[Transaction[Any, Any]]:
        out = self._end("helo") if self._mail is not None else []
        if reply.code // 100 == 2:
            self._helo = command.arg
            self._extensions = reply.lines[1:] if command.verb != "HELO" else ()
        return out

    def _on_quit(self, command: Command, pipelined: bool, reply: Reply) -> list[Transaction[Any, Any]]:
        self._note(command, pipelined, reply)
        return self._end("quit") if self._mail is not None else []

    def _on_rset(self, command: Command, pipelined: bool, reply: Reply) -> list[Transaction[Any, Any]]:
        self._state.data_accepted = None
        self._note(command, pipelined, reply)
        return self._end("rset") if self._mail is not None else []

    def _on_starttls(self, command: Command, pipelined: bool, reply: Reply) -> list[Transaction[Any, Any]]:
        out = self._end("starttls") if self._mail is not None else []
        if reply.code == 220:
            self._state.tls = True
            self._pending.clear()
        record = self._session_record("starttls", reply, lines=(command.verb,))
        out.append(self._session_txn(record, command.ts, reply, command.size, reply.size))
        return out

    def _on_auth(self, command: Command, pipelined: bool, reply: Reply) -> list[Transaction[Any, Any]]:
        self._auth_try = (command.arg, command.ts, command.size, 0)
        return self._on_auth_reply(0, reply)

    def _on_auth_reply(self, sent: int, reply: Reply) -> list[Transaction[Any, Any]]:
        if self._auth_try is None:
            return []
        mechanism, start, request_bytes, response_bytes = self._auth_try
        request_bytes += sent
        response_bytes += reply.size
        if reply.code == 334:
            self._state.auth_challenge = True
            self._auth_try = (mechanism, start, request_bytes, response_bytes)
            return []
        self._auth_try = None
        if reply.code // 100 == 2:
            self._auth = mechanism
            return []
        record = self._session_record("auth", reply, mechanism=mechanism)
        return [self._session_txn(record, start, reply, request_bytes, response_bytes)]

    # --- the mail transaction -------------------------------------------------------------------------
    def _open(self, ts: float) -> _Mail:
        self._mail = _Mail(ts)
        return self._mail

    def _on_mail(self, command: Command, pipelined: bool, reply: Reply) -> list[Transaction[Any, Any]]:
        current = self._mail
        if current is not None and current.mail_reply is not None and current.mail_reply.code // 100 == 2 \
                and reply.code == 503:
            self._note(command, pipelined, reply)  # a nested MAIL, refused as out of sequence: it goes on
            return []
        out = self._end("mail") if current is not None else []
        mail = self._open(command.ts)
        mail.mail_from, mail.params = parse_path(command.arg, "FROM")
        mail.mail_reply = reply
        if reply.code // 100 != 2:
            mail.final = reply
        self._note(command, pipelined, reply)
        return out

    def _on_rcpt(self, command: Command, pipelined: bool, reply: Reply) -> list[Transaction[Any, Any]]:
        mail = self._mail or self._open(command.ts)
        address, _ = parse_path(command.arg, "TO")
        address = command.arg if address is None else address
        if len(mail.recipients) >= self._limits.max_recipients:
            mail.dropped += 1
            self._count("recipients_dropped")
        else:
            answered = Recipient(address, reply.code, reply.text)
            mail.recipients.append(answered)
            if reply.code // 100 == 2:
                mail.accepted.append(address)
            else:
                mail.rejected.append(answered)
        self._note(command, pipelined, reply)
        return []

    def _on_data(self, command: Command, pipelined: bool, reply: Reply) -> list[Transaction[Any, Any]]:
        self._state.data_accepted = reply.code == 354
        mail = self._mail or self._open(command.ts)
        mail.data_reply = reply
        if reply.code != 354:
            mail.final = reply
        self._note(command, pipelined, reply)
        return []

    def _on_content(self, content: Content, pipelined: bool, reply: Reply) -> list[Transaction[Any, Any]]:
        self._state.data_accepted = None
        mail = self._mail or self._open(content.ts)
        mail.content = content.message_size
        mail.headers = content.headers
        mail.gap = mail.gap or content.gap
        mail.request_bytes += content.size
        mail.response_bytes += reply.size
        mail.last = reply.ts
        mail.final = reply
        mail.delivered = reply.code // 100 == 2
        if len(mail.replies) < self._limits.max_commands:
            mail.replies.append(f"{reply.code} {reply.text}")
        return self._end("data")

    def _on_bdat(self, command: Command, pipelined: bool, reply: Reply) -> list[Transaction[Any, Any]]:
        mail = self._mail or self._open(command.ts)
        mail.chunked += command.chunk
        self._note(command, pipelined, reply)
        if reply.code // 100 != 2:
            mail.final = reply
            return []
        if command.last:
            mail.content = mail.chunked
            mail.headers = command.headers
            mail.final = reply
            mail.delivered = True
            return self._end("data")
        return []

    def _end(self, how: str) -> list[Transaction[Any, Any]]:
        mail = self._mail
        if mail is None:
            return []
        self._mail = None
        record = MailRecord(
            action="mail", end=how, helo=self._helo, greeting=self._greeting, extensions=self._extensions,
            auth_mechanism=self._auth, auth_success=True if self._auth else None, mail_from=mail.mail_from,
            mail_parameters=mail.params, mail_reply=mail.mail_reply, accepted=tuple(mail.accepted),
            rejected=tuple(mail.rejected), recipients=tuple(mail.recipients), recipients_dropped=mail.dropped, data_reply=mail.data_reply,
            message_size=mail.content, headers=mail.headers, delivered=mail.delivered, pipelined=mail.pipelined,
            commands=tuple(mail.commands), lines=tuple(mail.lines), replies=tuple(mail.replies))
        final = mail.final
        error: str | None = None
        if not mail.delivered:
            if final is not None and final.code >= 400:
                error = f"{final.code} {final.lines[0] if final.lines else ''}".strip()
            else:
                error = ENDINGS.get(how, how)
        notes: list[str] = []
        if mail.dropped:
            notes.append(f"{mail.dropped} recipients over max_recipients not listed")
        limit = self._limits.max_message_size
        if limit and mail.content is not None and mail.content > limit:
            self._count("messages_over_max_message_size")
            notes.append(f"message of {mail.content} bytes is over max_message_size ({limit})")
        if mail.gap:
            notes.append("bytes of the message were lost (packet loss): its size is approximate")
        return [Transaction(connection=self._connection, request=record, response=final, start=mail.start,
                            end=mail.last, request_bytes=mail.request_bytes, response_bytes=mail.response_bytes,
                            status=Status.OK if mail.delivered else Status.ERROR, error=error, notes=tuple(notes))]

    # --- session-level events -------------------------------------------------------------------------
    def _session_record(self, action: str, reply: Reply, *, mechanism: str | None = None,
                        lines: tuple[str, ...] = ()) -> MailRecord:
        return MailRecord(action=action, end=action, helo=self._helo, greeting=self._greeting,
                          extensions=self._extensions, auth_mechanism=mechanism or self._auth,
                          auth_success=False if mechanism else (True if self._auth else None),
                          commands=lines, lines=lines, replies=(f"{reply.code} {reply.text}",))

    def _session_txn(self, record: MailRecord, start: float, reply: Reply, request_bytes: int,
                     response_bytes: int) -> Transaction[Any, Any]:
        ok = reply.code // 100 == 2
        error = None if ok else f"{reply.code} {reply.lines[0] if reply.lines else ''}".strip()
        return Transaction(connection=self._connection, request=record, response=reply, start=start, end=reply.ts,
                           request_bytes=request_bytes, response_bytes=response_bytes,
                           status=Status.OK if ok else Status.ERROR, error=error)

    # --- time -----------------------------------------------------------------------------------------
    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        if self._pending and self._mail is not None and now - self._last_seen > self._timeout:
            self._pending.clear()
            self._count("unanswered_commands")
            return self._end("timeout")
        return []

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        if self._pending:
            self._count("unanswered_commands", len(self._pending))
            self._pending.clear()
        return self._end("close")

    def note_gap(self, direction: Direction, nbytes: int, ts: float) -> None:
        if self._mail is not None and direction == Direction.REQUEST:
            self._mail.gap = True

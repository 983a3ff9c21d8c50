"""What an SMTP event is made of: one mail transaction, or one session-level exchange."""

from __future__ import annotations

from packetshipper.records import record

from .messages import Reply

__all__ = ["MailRecord", "Recipient"]


@record
class Recipient:
    address: str
    code: int
    text: str


@record
class MailRecord:
    """The request side of an SMTP transaction (the reply that ended it is the response).

    `action` is "mail" for a mail transaction (MAIL through the end of the message, RSET, or the end
    of the session); "greeting", "auth" and "starttls" for a refused greeting, a failed AUTH and the
    switch to TLS, which happen outside mail transactions."""

    action: str
    end: str  # how it ended: data, rset, mail, helo, quit, close, starttls, timeout (or the action)
    helo: str | None = None
    greeting: Reply | None = None
    extensions: tuple[str, ...] = ()
    auth_mechanism: str | None = None
    auth_success: bool | None = None
    mail_from: str | None = None
    mail_parameters: tuple[str, ...] = ()
    mail_reply: Reply | None = None
    accepted: tuple[str, ...] = ()
    rejected: tuple[Recipient, ...] = ()
    recipients: tuple[Recipient, ...] = ()  # every RCPT in order, accepted or not, with its reply
    recipients_dropped: int = 0
    data_reply: Reply | None = None
    message_size: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    delivered: bool = False
    pipelined: bool = False
    commands: tuple[str, ...] = ()  # the verbs, in order
    lines: tuple[str, ...] = ()  # the command lines (AUTH without credentials), for send_request
    replies: tuple[str, ...] = ()  # the replies as `code text`, for send_response

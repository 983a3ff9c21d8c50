"""SMTP over TCP: sessions of 5 mail transactions each (greeting, EHLO with extensions, then MAIL, two
RCPT of which one is refused now and then, DATA with a 2 KB message, or a RSET), QUIT, with handshake
and FIN. One event per mail transaction."""

from __future__ import annotations

from collections.abc import Iterator

from packetshipper.pcapgen import tcp_frame

PROTOCOLS = [{"type": "smtp"}]
SERVER = "192.0.2.25"
PER_CONNECTION = 5
BODY = b"".join(b"line %d of the message body, some text to fill it up a little\r\n" % i for i in range(30))
EHLO = (b"250-mx.example Hello\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-STARTTLS\r\n"
        b"250 HELP\r\n")


def _transaction(i: int) -> list[tuple[bool, bytes]]:
    out = [(True, b"MAIL FROM:<sender%d@example.org>\r\n" % (i % 1000)), (False, b"250 OK\r\n"),
           (True, b"RCPT TO:<rcpt%d@example.net>\r\n" % (i % 977)), (False, b"250 Accepted\r\n"),
           (True, b"RCPT TO:<other%d@example.net>\r\n" % i),
           (False, b"550 No such user\r\n" if i % 7 == 0 else b"250 Accepted\r\n")]
    if i % 10 == 9:
        return out + [(True, b"RSET\r\n"), (False, b"250 Reset\r\n")]
    message = (b"From: sender@example.org\r\nTo: rcpt@example.net\r\nSubject: Report %d\r\n"
               b"Message-ID: <%d@example.org>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\n" % (i, i)) + BODY
    return out + [(True, b"DATA\r\n"), (False, b"354 Go ahead\r\n"), (True, message + b".\r\n"),
                  (False, b"250 OK queued as %d\r\n" % i)]


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    for conn in range((transactions + PER_CONNECTION - 1) // PER_CONNECTION):
        client, sport = f"10.25.{(conn >> 8) & 255}.{conn & 255}", 1024 + conn % 60000
        seq = {True: 1000, False: 5000}
        yield ts, tcp_frame(client, SERVER, sport, 25, flags="S", seq=seq[True] - 1)
        yield ts + 0.0001, tcp_frame(SERVER, client, 25, sport, flags="SA", seq=seq[False] - 1, ack=seq[True])
        yield ts + 0.0002, tcp_frame(client, SERVER, sport, 25, seq=seq[True], ack=seq[False])
        ts += 0.0003
        steps: list[tuple[bool, bytes]] = [(False, b"220 mx.example ESMTP\r\n"), (True, b"EHLO c.example\r\n"),
                                           (False, EHLO)]
        for n in range(min(PER_CONNECTION, transactions - conn * PER_CONNECTION)):
            steps += _transaction(conn * PER_CONNECTION + n)
        steps += [(True, b"QUIT\r\n"), (False, b"221 Bye\r\n")]
        for from_client, payload in steps:
            src, dst, a, b = (client, SERVER, sport, 25) if from_client else (SERVER, client, 25, sport)
            yield ts, tcp_frame(src, dst, a, b, payload, flags="PA", seq=seq[from_client], ack=seq[not from_client])
            seq[from_client] += len(payload)
            ts += 0.0001
        yield ts, tcp_frame(client, SERVER, sport, 25, flags="FA", seq=seq[True], ack=seq[False])
        yield ts + 0.0001, tcp_frame(SERVER, client, 25, sport, flags="FA", seq=seq[False], ack=seq[True] + 1)
        yield ts + 0.0002, tcp_frame(client, SERVER, sport, 25, seq=seq[True] + 1, ack=seq[False] + 1)
        ts += 0.001

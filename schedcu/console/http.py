"""The console's HTTP/1.1 protocol: uvicorn's h11 protocol, with an answer for a request head too long to read.

h11 stops reading a request head at `max_incomplete_event_size` (16 kB), and uvicorn then writes a 400 and
closes the socket while the client is still sending: the kernel resets the connection, and the client sees
the reset instead of the answer. Here such a request is answered 414 (its request line is the long part: a
long URL) or 431 (its headers), and the connection goes on reading and dropping what the client still sends,
for at most LINGER_S seconds and LINGER_BYTES bytes, before it closes (as nginx's lingering close does)."""

import h11
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol

# on every answer of the console, its own 414 and 431 included (app.py's SecurityHeaders adds them to the app's)
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
LINGER_S = 5.0
LINGER_BYTES = 16 * 1024 * 1024
TOO_LONG = {
    414: b"414: the URL is too long: search with fewer or shorter values",
    431: b"431: the request headers are too large",
}


class ConsoleH11Protocol(H11Protocol):
    draining = False
    drained = 0

    def send_400_response(self, msg: str) -> None:
        pending, _ = self.conn.trailing_data
        limit = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        if len(pending) <= limit:  # a malformed request, not a long one
            super().send_400_response(msg)
            return
        line_end = pending.find(b"\r\n")
        status = 414 if line_end == -1 or line_end > len(pending) - line_end else 431
        self.logger.info("request head over %d bytes: answered %d", limit, status)
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(TOO_LONG[status])).encode()),
            (b"connection", b"close"),
            *SECURITY_HEADERS,
        ]
        for event in (
            h11.Response(status_code=status, headers=headers, reason=STATUS_PHRASES[status]),
            h11.Data(data=TOO_LONG[status]),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.draining = True
        self.loop.call_later(LINGER_S, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if not self.draining:
            super().data_received(data)
            return
        self.drained += len(data)
        if self.drained > LINGER_BYTES:
            self.transport.close()

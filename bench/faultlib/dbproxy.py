"""A TCP proxy in front of PostgreSQL that resets connections at a seeded rate: the workers connect through
it, and while `rate` is above 0 each packet a client sends is, with that probability, answered by a reset
of both sides of its connection (the server aborts the transaction, the client sees the connection drop)."""

import asyncio
import contextlib
import random
import socket
import struct
import threading
from dataclasses import dataclass, field

from schedcu.runtime.infra import free_port

CHUNK = 65536


@dataclass
class ResettingProxy:
    upstream_port: int
    seed: int
    port: int = field(default_factory=free_port)
    rate: float = 0.0
    resets: int = 0
    _rng: random.Random = field(init=False)
    _loop: asyncio.AbstractEventLoop = field(init=False)
    _thread: threading.Thread = field(init=False)
    _ready: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="db-proxy", daemon=True)

    def start(self) -> "ResettingProxy":
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    def _doomed(self) -> bool:
        return self.rate > 0 and self._rng.random() < self.rate

    async def _client(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            _reset(client_writer)
            return
        to_server = asyncio.ensure_future(self._pipe(client_reader, server_writer, check=True))
        to_client = asyncio.ensure_future(self._pipe(server_reader, client_writer, check=False))
        done, _ = await asyncio.wait({to_server, to_client}, return_when=asyncio.FIRST_COMPLETED)
        doomed = any(not task.cancelled() and task.exception() is None and task.result() for task in done)
        for task in (to_server, to_client):
            task.cancel()
        for writer in (client_writer, server_writer):
            if doomed:
                _reset(writer)
            else:
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, check: bool) -> bool:
        """Copy until the end of the stream (False), or until a packet is chosen for a reset (True)."""
        try:
            while data := await reader.read(CHUNK):
                if check and self._doomed():
                    self.resets += 1
                    return True
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        return False


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN, as a crashed peer or a broken network does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()

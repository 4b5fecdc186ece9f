"""A lean HTTP/1.1 keep-alive client for load generation (asyncio streams).

The load generator shares the machine's two cores with the server it measures, so it should
cost as little as possible: a request is one precomputed header block plus the body, and the
answer is read by its Content-Length. It checks the status (a 429 raises `Busy` with the
Retry-After the server asked for) and nothing else; the test suite
drives the server with the real Segment and RudderStack clients.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from urllib.parse import urlsplit


class HttpError(RuntimeError):
    pass


class Busy(HttpError):
    """429: the server's queue is full; send the same body again after `retry_after` s."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Closed(ConnectionError):
    """The server closed an idle keep-alive connection (uvicorn does after 5 s)."""


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def post(self, head: bytes, body: bytes) -> bytes:
        self.writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise Closed
        length, retry_after = 0, 1.0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"retry-after":
                retry_after = float(value)
        answer = await self.reader.readexactly(length)
        if status_line[9:12] == b"429":
            raise Busy(status_line.decode().strip(), retry_after)
        if status_line[9:12] != b"200":
            raise HttpError(f"{status_line.decode().strip()}: {answer[:300]!r}")
        return answer


class Client:
    """POSTs to one URL over a pool of keep-alive connections (opened as needed)."""

    def __init__(self, url: str, path: str, write_key: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        token = base64.b64encode(f"{write_key}:".encode()).decode()
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Basic {token}\r\nContent-Type: application/json\r\n"
            "Content-Length: "
        ).encode()
        self.idle: list[Connection] = []
        self.all: list[Connection] = []

    async def post(self, body: bytes) -> bytes:
        while self.idle:  # reuse the most recent connection; one the server closed is dropped
            conn = self.idle.pop()
            try:
                answer = await conn.post(self.head, body)
            except (Closed, ConnectionResetError, BrokenPipeError):
                conn.writer.close()
                continue
            self.idle.append(conn)
            return answer
        conn = await self._open()
        answer = await conn.post(self.head, body)
        self.idle.append(conn)
        return answer

    async def _open(self) -> Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        conn = Connection(reader, writer)
        self.all.append(conn)
        return conn

    async def close(self) -> None:
        for conn in self.all:
            conn.writer.close()
        for conn in self.all:
            with contextlib.suppress(ConnectionError):
                await conn.writer.wait_closed()

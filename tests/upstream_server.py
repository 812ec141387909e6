"""A real HTTP server on 127.0.0.1 that plays an upstream API from scripted replies.

Each path has a list of ``Reply``s, served in order; the last one repeats. A reply can delay,
drip its body a byte at a time, redirect, or carry any status and headers. Requests are
recorded (path, query, headers) so tests can assert what the collector sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    drip: float | None = None  # seconds between body bytes
    head_drip: float | None = None  # seconds between bytes of the status line and headers

    @classmethod
    def file(cls, path: Path, **kw: object) -> Reply:
        return cls(body=path.read_bytes(), **kw)  # type: ignore[arg-type]


@dataclass
class SeenRequest:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # clients that open many connections at once must not be refused


class UpstreamServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.functions: dict[str, Callable[[dict[str, list[str]], bytes], Reply]] = {}
        self.requests: list[SeenRequest] = []
        self._served: dict[str, int] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.httpd = _Server(("127.0.0.1", 0), self._handler_class())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, *replies: Reply) -> str:
        """Script ``path``; returns its full URL."""
        with self._lock:
            self.routes[path] = list(replies)
            self._served[path] = 0
        return self.url(path)

    def route_fn(self, path: str, fn: Callable[[dict[str, list[str]], bytes], Reply]) -> str:
        """Answer ``path`` with ``fn(query, body)``; returns its full URL."""
        self.functions[path] = fn
        return self.url(path)

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def start(self) -> UpstreamServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _next_reply(self, path: str) -> Reply | None:
        with self._lock:
            replies = self.routes.get(path)
            if not replies:
                return None
            n = self._served[path]
            self._served[path] = n + 1
            return replies[min(n, len(replies) - 1)]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = parse_qs(parts.query)
                server.requests.append(SeenRequest(parts.path, query, dict(self.headers.items()), body))
                if parts.path in server.functions:
                    reply = server.functions[parts.path](query, body)
                else:
                    reply = server._next_reply(parts.path)
                if reply is None:
                    reply = Reply(404, b'{"error": "no such route in the test server"}')
                if reply.delay and server._stopping.wait(reply.delay):
                    return
                try:
                    if reply.head_drip is not None:
                        head = f"HTTP/1.1 {reply.status} OK\r\nContent-Type: application/json\r\n\r\n".encode()
                        for i in range(len(head)):
                            self.wfile.write(head[i : i + 1])
                            self.wfile.flush()
                            if server._stopping.wait(reply.head_drip):
                                return
                        self.wfile.write(reply.body)
                        return
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json", **reply.headers}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.drip is None:
                        self.wfile.write(reply.body)
                    else:
                        for i in range(len(reply.body)):
                            self.wfile.write(reply.body[i : i + 1])
                            self.wfile.flush()
                            if server._stopping.wait(reply.drip):
                                return
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout``; returns its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())

"""A real websocket server on 127.0.0.1 (the ``websockets`` package) that plays scripted exchanges.

Each path has a handler ``async def handler(ws, n)`` (``n`` counts connections to that path from 0);
the server runs in its own thread and event loop so both in-process listeners and child processes can
connect. Every message a client sends is recorded per path.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

Handler = Callable[[ServerConnection, int], Awaitable[None]]


class WsServer:
    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.received: dict[str, list[str]] = defaultdict(list)
        self.connections: dict[str, int] = defaultdict(int)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._stop: asyncio.Event | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def route(self, path: str, handler: Handler) -> None:
        self.handlers[path] = handler

    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> WsServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with serve(self._dispatch, "127.0.0.1", 0) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()
            for task in list(self._handlers):  # scripts that wait for minutes end with the server
                task.cancel()

    async def _dispatch(self, ws: ServerConnection) -> None:
        path = ws.request.path
        handler = self.handlers.get(path) or self.handlers.get(path.split("?")[0])
        if handler is None:
            await ws.close(code=1008, reason="no such path in the test server")
            return
        n = self.connections[path]
        self.connections[path] += 1
        task = asyncio.current_task()
        self._handlers.add(task)
        try:
            with contextlib.suppress(Exception):  # a client that went away ends the script
                await handler(ws, n)
        finally:
            self._handlers.discard(task)

    def record(self, path: str, message: Any) -> None:
        self.received[path].append(message if isinstance(message, str) else message.decode())


async def replies(ws: ServerConnection, server: WsServer, path: str, answer: Callable[[str], str | None]) -> None:
    """Answer client messages (subscribe, ping) with ``answer(message)`` until the client leaves."""
    async for message in ws:
        server.record(path, message)
        reply = answer(message if isinstance(message, str) else message.decode())
        if reply is not None:
            await ws.send(reply)


def listen_in_thread(listener: Any) -> Callable[[], None]:
    """Run ``listener`` (a ``streams.Listener``) in a thread with its own event loop; return ``stop()``,
    which ends it and waits for the thread."""
    stop = threading.Event()

    def run() -> None:
        async def main() -> None:
            done = asyncio.Event()
            loop = asyncio.get_running_loop()
            loop.run_in_executor(None, stop.wait).add_done_callback(lambda _: loop.call_soon_threadsafe(done.set))
            await listener.run(done)

        asyncio.run(main())

    thread = threading.Thread(target=run)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(20)

    return halt

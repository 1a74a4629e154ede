"""The live view's front door: the Foxglove WebSocket protocol under both of its names.

The interface control document names the protocol `foxglove.websocket.v1`; the
Foxglove SDK's server accepts only `foxglove.sdk.v1`, the same protocol under its
newer name (the same messages, op codes and binary layouts), and answers 400 to a
client that offers only the older one. The front listens on the live view's port,
takes a client offering either name, opens its own connection to the SDK's server
(on a loopback port of its own) with `foxglove.sdk.v1`, and passes every frame both
ways unchanged. No rclpy: the node starts it (live_node.py).
"""
from __future__ import annotations

import asyncio
import threading

PROTOCOLS = ('foxglove.websocket.v1', 'foxglove.sdk.v1')   # what clients may offer
SDK_PROTOCOL = 'foxglove.sdk.v1'                             # what the SDK's server takes


class FrontError(OSError):
    """The front cannot listen where it was asked to."""


class Front:
    """Listens on host:port in a thread of its own; relays each client to the SDK server
    at sdk_port on the loopback."""

    def __init__(self, host: str, port: int, sdk_port: int):
        self.sdk_url = f'ws://127.0.0.1:{sdk_port}'
        self.loop = asyncio.new_event_loop()
        self._server = None
        ready: list = []
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self._server = self.loop.run_until_complete(self._serve(host, port))
                ready.append(None)
            except OSError as exc:
                ready.append(exc)
            started.set()
            if self._server is not None:
                self.loop.run_forever()

        self.thread = threading.Thread(target=run, name='foxglove-front', daemon=True)
        self.thread.start()
        started.wait(10.0)
        if not ready or ready[0] is not None:
            raise FrontError(str(ready[0]) if ready else 'the front did not start')
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, host: str, port: int):
        from websockets.asyncio.server import serve
        return await serve(self._relay, host, port, subprotocols=list(PROTOCOLS),
                           max_size=None, compression=None)

    async def _relay(self, client) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed
        try:
            async with connect(self.sdk_url, subprotocols=[SDK_PROTOCOL], max_size=None,
                               compression=None, open_timeout=10) as sdk:
                async def pump(source, sink) -> None:
                    async for frame in source:
                        await sink.send(frame)

                done, pending = await asyncio.wait(
                    [asyncio.ensure_future(pump(client, sdk)),
                     asyncio.ensure_future(pump(sdk, client))],
                    return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
        except (ConnectionClosed, OSError):
            pass                    # either side went away: the other is closed with it

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()
        if self._server is not None and self.loop.is_running():
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10.0)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10.0)

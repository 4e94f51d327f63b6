"""The `idle_capacity` baseline: a bare websockets server (compression off) that answers
every frame with a pong and does nothing else. Started by bench/idle_capacity.py.

    python bench/bare_ws_server.py PORT
"""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.server import ServerConnection, serve


async def pong(conn: ServerConnection) -> None:
    async for _ in conn:
        await conn.send('{"type": "pong"}')


async def main(port: int) -> None:
    async with serve(pong, "127.0.0.1", port, compression=None, backlog=4096) as server:
        print("ready", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))

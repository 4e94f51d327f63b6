"""An `idle_capacity` reference: a bare websockets server that answers every frame with a
pong and does nothing else. Started by bench/idle_capacity.py, with permessage-deflate
accepted (``deflate``: the library's defaults, 12-bit windows and memLevel 5, the same as
uvicorn's websockets-sansio), accepted without context takeover (``deflate-no-context``:
each message compressed on its own, so no compressor or decompressor stays allocated
between messages; uvicorn has no option for it) or declined (``none``).

    python bench/bare_ws_server.py PORT deflate|deflate-no-context|none
"""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.server import ServerConnection, serve
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

NO_CONTEXT = ServerPerMessageDeflateFactory(
    server_no_context_takeover=True,
    client_no_context_takeover=True,
    server_max_window_bits=12,
    client_max_window_bits=12,
    compress_settings={"memLevel": 5},
)


async def pong(conn: ServerConnection) -> None:
    async for _ in conn:
        await conn.send('{"type": "pong"}')


async def main(port: int, mode: str) -> None:
    compression = "deflate" if mode == "deflate" else None
    extensions = [NO_CONTEXT] if mode == "deflate-no-context" else None
    async with serve(
        pong, "127.0.0.1", port, compression=compression, extensions=extensions, backlog=4096
    ) as server:
        print("ready", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))

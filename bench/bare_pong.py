"""The `idle_capacity` baseline under uvicorn: an ASGI app that accepts every socket and
answers every frame with a pong, nothing else (no Django, no Channels). bench/idle_capacity.py
serves it with the same uvicorn options as the product (WebSocket implementation and
permessage-deflate), so the ratio between the two is what the helpdesk adds to a socket.

    uvicorn bench.bare_pong:application --ws websockets-sansio --ws-per-message-deflate true

Plain HTTP gets 200 (the readiness check of tests/processes.py asks /healthz).
"""

from __future__ import annotations

from typing import Any

PONG = '{"type": "pong"}'


async def websocket(receive: Any, send: Any) -> None:
    while (event := await receive())["type"] != "websocket.disconnect":
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        else:
            await send({"type": "websocket.send", "text": PONG})


async def http(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def lifespan(receive: Any, send: Any) -> None:
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await websocket(receive, send)
    elif scope["type"] == "http":
        await http(send)
    else:
        await lifespan(receive, send)

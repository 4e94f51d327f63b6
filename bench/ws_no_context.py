"""Bench only: uvicorn's websockets-sansio implementation with permessage-deflate negotiated
without context takeover (each message compressed on its own, no compressor or decompressor
kept between messages), a setting uvicorn has no option for. bench/idle_capacity.py measures
it beside uvicorn's own implementations:

    BENCH_IDLE_WS=bench.ws_no_context:Protocol BENCH_IDLE_DEFLATE=true \\
      ./scripts/test-env.sh .venv/bin/python bench/idle_capacity.py

It replaces the connection uvicorn's class builds (an internal of uvicorn): never served in
production.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.server import ServerProtocol

from bench.bare_ws_server import NO_CONTEXT


class Protocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.ws_per_message_deflate:
            self.conn = ServerProtocol(
                extensions=[NO_CONTEXT], max_size=self.config.ws_max_size, logger=self.conn.logger
            )

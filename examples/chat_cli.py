"""A command-line chat app for helpdesk, in one screen of code: what an app or mini-program
does, with httpx for the HTTP API and websockets for live messages.

    .venv/bin/python examples/chat_cli.py http://127.0.0.1:8000 wk_yourSiteKey

Type a line and press Enter to send it; agents' replies appear as they come. Quit with
Ctrl-D (it waits until the server has stored what you sent). httpx and websockets come with
the dev install (`make install`). The token and cursor are kept in .chat-cli.json, so the next run resumes the same
conversation and shows only what you missed. See docs/protocol.md for every frame.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

import httpx
import websockets

STATE = Path(".chat-cli.json")


def load() -> dict:
    return json.loads(STATE.read_text()) if STATE.exists() else {"token": None, "cursor": None}


def save(state: dict) -> None:
    STATE.write_text(json.dumps(state))


def show(message: dict, state: dict) -> None:
    """Print a message once, and move the cursor (the highest seq held)."""
    cursor = state.get("cursor") or {"conversation_id": message["conversation_id"], "seq": 0}
    if cursor["conversation_id"] != message["conversation_id"]:
        cursor = {"conversation_id": message["conversation_id"], "seq": 0}
    if message["seq"] <= cursor["seq"]:
        return  # already shown: frames can repeat after a reconnect
    who = {"visitor": "you", "agent": message.get("agent_name") or "agent"}.get(
        message["sender"], "·"
    )
    print(f"[{message['created_at'][11:16]}] {who}: {message['body']}")
    cursor["seq"] = message["seq"]
    state["cursor"] = cursor
    save(state)


async def main(base: str, site_key: str) -> None:
    state = load()
    # 1. A session over HTTP: a new visitor, or the one whose token we kept.
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.post(
            "/api/v1/visitor/session",
            json={"site_key": site_key, "token": state["token"], "channel": "app"},
        )
        response.raise_for_status()
        state["token"] = response.json()["token"]
        save(state)

    # 2. The socket: hello with the cursor, and the server sends only what we have not seen.
    ws_url = base.replace("http", "ws", 1) + "/ws/visitor/"
    async with websockets.connect(ws_url, origin=base) as ws:
        hello = {"type": "hello", "site_key": site_key, "token": state["token"]}
        await ws.send(json.dumps(hello | {"cursor": state["cursor"], "channel": "app"}))

        unacked: set[str] = set()
        welcomed = asyncio.Event()

        async def receive() -> None:
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "welcome":
                    # Until the first message there is no visitor, only a pending token: keep
                    # it, so a reconnect finds the visitor that message made.
                    state["token"] = frame["token"] or frame.get("pending_token")
                    online = "online" if frame["agents_online"] else "offline (we'll reply later)"
                    print(f"Connected to {frame['site']['name']}: agents are {online}.")
                    for message in frame["messages"]:
                        show(message, state)
                    welcomed.set()
                elif frame["type"] in ("message", "message.ack"):
                    unacked.discard(frame.get("client_id"))
                    show(frame["message"], state)
                elif frame["type"] == "error":
                    print(f"! {frame['code']}: {frame['detail']}")

        receiver = asyncio.create_task(receive())
        await welcomed.wait()
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip():
                # A client ID per message: resending it never stores it twice.
                client_id = str(uuid.uuid4())
                unacked.add(client_id)
                frame = {"type": "message.send", "client_id": client_id, "body": line.strip()}
                await ws.send(json.dumps(frame))
        # End of input: leave once the server has acknowledged (stored) everything we sent.
        async with asyncio.timeout(10):
            while unacked:
                await asyncio.sleep(0.05)
        receiver.cancel()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1].rstrip("/"), sys.argv[2]))

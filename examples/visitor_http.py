"""A minimal app or mini-program client over the JSON-over-HTTP API (standard library only).

    python examples/visitor_http.py http://127.0.0.1:8000 wk_yourSiteKey "Hello from the app"

It starts a visitor session (or resumes the one saved in .visitor-token), sends one message
with a client ID (safe to resend), and prints the conversation so far.
"""

from __future__ import annotations

import json
import sys
import urllib.request
import uuid
from pathlib import Path

TOKEN_FILE = Path(".visitor-token")


def call(
    base: str, method: str, path: str, body: dict | None = None, token: str | None = None
) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)  # noqa: S310
    with urllib.request.urlopen(request) as response:  # noqa: S310 (the URL is the user's own)
        return json.loads(response.read())


def main(base: str, site_key: str, text: str) -> None:
    saved = TOKEN_FILE.read_text().strip() if TOKEN_FILE.exists() else None
    session = call(
        base,
        "POST",
        "/api/v1/visitor/session",
        {"site_key": site_key, "token": saved, "channel": "app"},
    )
    TOKEN_FILE.write_text(session["token"])  # keep the fresh token for next time
    print("agents online:", session["agents_online"])
    sent = call(
        base,
        "POST",
        "/api/v1/visitor/messages",
        {"client_id": str(uuid.uuid4()), "body": text},
        session["token"],
    )
    conversation = sent["message"]["conversation_id"]
    history = call(
        base,
        "GET",
        f"/api/v1/visitor/messages?conversation_id={conversation}&after_seq=0",
        token=session["token"],
    )
    for m in history["messages"]:
        who = m["agent_name"] or m["sender"]
        print(f"#{m['seq']} {m['created_at']} {who}: {m['body']}")


if __name__ == "__main__":
    main(*sys.argv[1:4])

"""A stand-in for the WeChat server API of one mini-program, on loopback, keeping WeChat's
rules:

- ``stable_token``: an access token for the right AppID and AppSecret (40125 otherwise);
  every other call wants a valid one (40001 otherwise; ``revoke`` one to see it fetched again);
- ``jscode2session``: a ``wx.login`` code gives its user's openid, once (40163 the second
  time, 40029 for a code WeChat never made). Codes are ``<openid>.<nonce>``, as ``code_for``
  and the Node tests' ``wx.login`` make them;
- ``subscribe/send``: one message per consent the user gave for that template (``grant``,
  as the user's tap on "allow" does at WeChat), 43101 when none is left; values longer than
  their keyword allows are refused (47003);
- ``custom/send``: only within 48 hours of the user's last message to the mini-program's
  customer service (``contacted``), 45015 otherwise.

``fail_next`` makes the next call to a path answer an error, or (``"hang"``) answer only
after ``hang_seconds``, which our client sees as a timeout.
"""

from __future__ import annotations

import itertools
import json
import queue
import secrets
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LIMITS = {"thing": 20, "name": 10, "phrase": 5, "character_string": 32}
SUBSCRIBE = "/cgi-bin/message/subscribe/send"
CUSTOM = "/cgi-bin/message/custom/send"


@dataclass
class Call:
    path: str
    query: dict[str, str]
    body: dict[str, Any]


@dataclass
class Wechat:
    appid: str = "wx0123456789abcdef"
    # A new secret per stand-in: the access token cached for one never serves another.
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    port: int = 0
    consents: Counter[tuple[str, str]] = field(default_factory=Counter)
    last_contact: dict[str, float] = field(default_factory=dict)
    used_codes: set[str] = field(default_factory=set)
    tokens: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    fail_next: dict[str, dict[str, Any] | str] = field(default_factory=dict)
    hang_seconds: float = 3
    calls: list[Call] = field(default_factory=list)
    messages: queue.Queue[Call] = field(default_factory=queue.Queue)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def code_for(openid: str) -> str:
        return f"{openid}.{secrets.token_hex(4)}"

    def grant(self, openid: str, template_id: str, times: int = 1) -> None:
        self.consents[(openid, template_id)] += times

    def contacted(self, openid: str, at: float | None = None) -> None:
        self.last_contact[openid] = time.time() if at is None else at

    def next(self, timeout: float = 10) -> Call:
        return self.messages.get(timeout=timeout)

    def none_pending(self) -> bool:
        return self.messages.empty()

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def start(self) -> Wechat:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve(b"")

            def do_POST(self) -> None:
                self._serve(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

            def _serve(self, raw: bytes) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                body = json.loads(raw) if raw else {}
                answer = stand_in._handle(url.path, query, body)
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(200)  # WeChat says what went wrong in the body
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def _handle(self, path: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.calls.append(Call(path, query, body))
            planned = self.fail_next.pop(path, None)
        if planned == "hang":
            time.sleep(self.hang_seconds)  # the client has given up by now; the call counts
            planned = None
        elif planned is not None:
            return planned  # type: ignore[return-value]
        with self.lock:
            if path == "/cgi-bin/stable_token":
                return self._token(body)
            if path == "/sns/jscode2session":
                return self._login(query)
            if (
                query.get("access_token") not in self.tokens
                or query["access_token"] in self.revoked
            ):
                return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            if path == SUBSCRIBE:
                return self._subscribe(path, query, body)
            if path == CUSTOM:
                return self._custom(path, query, body)
        return {"errcode": 40066, "errmsg": "invalid url"}

    def _token(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("appid") != self.appid or body.get("secret") != self.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        live = [t for t in self.tokens if t not in self.revoked]
        if not live or body.get("force_refresh"):
            self.tokens.append(f"wx-token-{len(self.tokens) + 1}")
            live = self.tokens[-1:]
        return {"access_token": live[-1], "expires_in": 7200}

    def _login(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("appid") != self.appid or query.get("secret") != self.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        code = query.get("js_code", "")
        openid, dot, _ = code.partition(".")
        if not dot or not openid:
            return {"errcode": 40029, "errmsg": "invalid code"}
        if code in self.used_codes:
            return {"errcode": 40163, "errmsg": "code been used"}
        self.used_codes.add(code)
        return {"openid": openid, "session_key": secrets.token_hex(8)}

    def _subscribe(self, path: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        key = (body.get("touser", ""), body.get("template_id", ""))
        if self.consents[key] <= 0:
            return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
        for keyword, value in body.get("data", {}).items():
            limit = LIMITS.get(keyword.rstrip("0123456789"))
            if limit and len(value["value"]) > limit:
                return {"errcode": 47003, "errmsg": f"argument invalid! data.{keyword}.value"}
        self.consents[key] -= 1
        self.messages.put(Call(path, query, body))
        return {"errcode": 0, "errmsg": "ok", "msgid": next(self._ids)}

    def _custom(self, path: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        contact = self.last_contact.get(body.get("touser", ""))
        if contact is None or time.time() - contact > 48 * 3600:
            return {
                "errcode": 45015,
                "errmsg": "response out of time limit or subscription is canceled",
            }
        self.messages.put(Call(path, query, body))
        return {"errcode": 0, "errmsg": "ok"}

"""One class per channel behind one interface; one error type that says whether to retry."""

from __future__ import annotations

import hashlib
import json
import os
import smtplib
import threading
import time
from dataclasses import dataclass, field
from email.utils import make_msgid
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import httpx
import jwt
from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from google.oauth2 import service_account
from pywebpush import WebPushException, webpush
from requests import RequestException


class TransportError(Exception):
    """``permanent``: retrying cannot help. ``gone``: the address no longer exists (a push
    subscription the push service answered 404 or 410 for, an app uninstalled) and should be
    forgotten. ``maybe_sent``: no answer came, so the message may have gone out (a timeout
    after the request left). ``reason``: the provider's own error code, when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        gone: bool = False,
        maybe_sent: bool = False,
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.permanent = permanent or gone
        self.gone = gone
        self.maybe_sent = maybe_sent
        self.reason = reason


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)
    # Chosen before sending and kept: a resend after a crash carries the same Message-ID,
    # which mail systems use to show the recipient one email.
    message_id: str = ""


def new_message_id() -> str:
    return make_msgid(domain=settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost")


class EmailTransport:
    """Django's email API: SMTP or the console in development, django-anymail in production
    (the backend is ``EMAIL_BACKEND``). Returns the provider's message ID, or ours."""

    channel = "email"

    def send(self, email: Email) -> str:
        message_id = email.message_id or new_message_id()
        message = EmailMultiAlternatives(
            subject=email.subject,
            body=email.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[email.to],
            headers={"Message-ID": message_id, **email.headers},
        )
        message.attach_alternative(email.html, "text/html")
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise TransportError(f"recipient refused: {exc}", permanent=True) from exc
        except Exception as exc:
            if type(exc).__name__ == "AnymailRecipientsRefused":
                raise TransportError(f"recipient refused: {exc}", permanent=True) from exc
            raise TransportError(f"{type(exc).__name__}: {exc}", permanent=False) from exc
        status = getattr(message, "anymail_status", None)
        return (getattr(status, "message_id", None) or message_id) if status else message_id


@dataclass(frozen=True)
class Push:
    endpoint: str
    p256dh: str
    auth: str
    payload: dict[str, object]
    # Push services replace an undelivered push with a newer one of the same topic, so a
    # resend after a crash, or a newer summary, does not stack up on a device that was off.
    topic: str = ""


class PushTransport:
    """Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291),
    through pywebpush. Returns the push service's message URL (its Location header)."""

    channel = "push"

    def send(self, push: Push) -> str:
        headers = {"Urgency": "high"}
        if push.topic:
            headers["Topic"] = push.topic
        try:
            response = webpush(
                subscription_info={
                    "endpoint": push.endpoint,
                    "keys": {"p256dh": push.p256dh, "auth": push.auth},
                },
                data=json.dumps(push.payload, ensure_ascii=False),
                vapid_private_key=settings.VAPID_PRIVATE_KEY,
                vapid_claims={"sub": settings.VAPID_SUBJECT},
                ttl=settings.PUSH_TTL_SECONDS,
                timeout=settings.PUSH_TIMEOUT_SECONDS,
                headers=headers,
            )
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            message = f"push service answered {status}" if status else str(exc)
            if status in (404, 410):
                raise TransportError(message, permanent=True, gone=True) from exc
            # 400, 401, 403, 413: the request or our keys are wrong; sending again won't help.
            permanent = status is not None and 400 <= status < 500 and status != 429
            raise TransportError(message, permanent=permanent) from exc
        except (RequestException, ValueError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}", permanent=False) from exc
        return str(response.headers.get("Location", "")) if hasattr(response, "headers") else ""


# ---- apps: FCM and APNs ------------------------------------------------------------------------


@dataclass(frozen=True)
class AppPush:
    """One notification for one app on one phone. ``data`` travels to the app (strings only,
    as FCM requires). A resend carries the same ``collapse_id``: the phone shows the newer in
    place of the older instead of stacking them (FCM ``collapse_key``, APNs
    ``apns-collapse-id``)."""

    token: str
    title: str
    body: str
    data: dict[str, str]
    collapse_id: str = ""


class _Clients:
    """One HTTP client per process and kind, made on first use (after a worker forks):
    connections are kept alive between sends; APNs asks for exactly that."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = 0
        self.made: dict[str, httpx.Client] = {}

    def get(self, kind: str) -> httpx.Client:
        with self.lock:
            if self.pid != os.getpid():
                self.pid, self.made = os.getpid(), {}
            if kind not in self.made:
                # APNs speaks HTTP/2 only: ALPN on https, prior knowledge on a plain-http stand-in.
                http2 = kind == "apns"
                self.made[kind] = httpx.Client(http1=not http2, http2=http2)
            return self.made[kind]


_clients = _Clients()


def _http_error(service: str, exc: httpx.HTTPError) -> TransportError:
    """A request that got no answer. Refused before it left (no connection): not sent, try
    again. Cut after it left (a timeout, a dropped stream): it may have been delivered."""
    unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return TransportError(
        f"{service}: {type(exc).__name__}: {exc}", permanent=False, maybe_sent=not unsent
    )


FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
_fcm_credentials: dict[tuple[str, ...], service_account.Credentials] = {}
_fcm_lock = threading.Lock()


class _TimedRequest(google.auth.transport.requests.Request):
    """google-auth's requests transport, bounded by PUSH_TIMEOUT_SECONDS."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["timeout"] = settings.PUSH_TIMEOUT_SECONDS
        return super().__call__(*args, **kwargs)


class FcmTransport:
    """Firebase Cloud Messaging, HTTP v1 API: ``POST /v1/projects/<project>/messages:send``
    with an OAuth 2.0 access token that google-auth gets from the site's service account (a
    JWT signed with its key, exchanged at the token endpoint) and keeps until it expires.
    Returns FCM's message name."""

    channel = "app"

    def __init__(self, service_account_info: dict[str, Any]) -> None:
        self.info = service_account_info

    def _credentials(self) -> service_account.Credentials:
        info = dict(self.info)
        if settings.FCM_TOKEN_URL:
            info["token_uri"] = settings.FCM_TOKEN_URL
        key = (
            str(info.get("client_email")),
            str(info.get("private_key_id")),
            str(info.get("token_uri")),
            hashlib.sha256(str(info.get("private_key")).encode()).hexdigest(),
        )
        with _fcm_lock:
            if key not in _fcm_credentials:
                try:
                    _fcm_credentials[key] = service_account.Credentials.from_service_account_info(
                        info, scopes=[FCM_SCOPE]
                    )
                except (ValueError, KeyError) as exc:
                    raise TransportError(
                        f"FCM: the service account key is unusable: {exc}", permanent=True
                    ) from exc
            return _fcm_credentials[key]

    def _access_token(self, *, fresh: bool = False) -> str:
        credentials = self._credentials()
        with _fcm_lock:
            if fresh or not credentials.valid:
                try:
                    credentials.refresh(_TimedRequest())
                except google.auth.exceptions.RefreshError as exc:
                    raise TransportError(
                        f"FCM: no access token: {exc}", permanent=not exc.retryable
                    ) from exc
                except google.auth.exceptions.TransportError as exc:
                    raise TransportError(f"FCM: no access token: {exc}", permanent=False) from exc
            return str(credentials.token)

    def _message(self, push: AppPush) -> dict[str, Any]:
        message: dict[str, Any] = {
            "token": push.token,
            "notification": {"title": push.title, "body": push.body},
            "data": push.data,
            "android": {"priority": "HIGH", "ttl": f"{settings.PUSH_TTL_SECONDS}s"},
            "apns": {"headers": {"apns-priority": "10"}},
        }
        if push.collapse_id:
            message["android"]["collapse_key"] = push.collapse_id
            message["apns"]["headers"]["apns-collapse-id"] = push.collapse_id
        return {"message": message}

    def send(self, push: AppPush) -> str:
        project = self.info.get("project_id")
        url = f"{settings.FCM_BASE_URL.rstrip('/')}/v1/projects/{project}/messages:send"
        body = self._message(push)
        for fresh in (False, True):
            headers = {"Authorization": f"Bearer {self._access_token(fresh=fresh)}"}
            try:
                response = _clients.get("fcm").post(
                    url, json=body, headers=headers, timeout=settings.PUSH_TIMEOUT_SECONDS
                )
            except httpx.HTTPError as exc:
                raise _http_error("FCM", exc) from exc
            if response.status_code != 401 or fresh:
                break  # 401: the token expired early (revoked, clock skew): once more, afresh
        if response.status_code == 200:
            return str(_json(response).get("name", ""))
        raise self._error(response)

    @staticmethod
    def _error(response: httpx.Response) -> TransportError:
        error = _json(response).get("error") or {}
        codes = [
            d.get("errorCode", "")
            for d in error.get("details", [])
            if isinstance(d, dict) and d.get("errorCode")
        ]
        reason = codes[0] if codes else str(error.get("status", ""))
        status = response.status_code
        message = f"FCM answered {status} {reason}: {str(error.get('message', ''))[:300]}"
        # The app was uninstalled, or the token belongs to another Firebase project.
        if reason in ("UNREGISTERED", "SENDER_ID_MISMATCH") or status == 404:
            return TransportError(message, permanent=True, gone=True, reason=reason)
        permanent = 400 <= status < 500 and status != 429
        return TransportError(message, permanent=permanent, reason=reason)


_apns_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
_apns_lock = threading.Lock()
# Apple refuses provider tokens older than an hour, and more than one new token every 20
# minutes: one is made per key and kept for 50 minutes.
APNS_TOKEN_SECONDS = 50 * 60


class ApnsTransport:
    """Apple Push Notification service over HTTP/2 (httpx with h2), authenticated with a
    provider token: a JWT signed ES256 with the site's .p8 key (PyJWT). Returns Apple's
    ``apns-id``."""

    channel = "app"

    def __init__(
        self, *, key: str, key_id: str, team_id: str, bundle_id: str, sandbox: bool = False
    ) -> None:
        self.key, self.key_id, self.team_id = key, key_id, team_id
        self.bundle_id, self.sandbox = bundle_id, sandbox

    def base_url(self) -> str:
        if settings.APNS_BASE_URL:
            return settings.APNS_BASE_URL.rstrip("/")
        host = "api.sandbox.push.apple.com" if self.sandbox else "api.push.apple.com"
        return f"https://{host}"

    def _provider_token(self, *, fresh: bool = False) -> str:
        cache_key = (self.team_id, self.key_id, hashlib.sha256(self.key.encode()).hexdigest())
        with _apns_lock:
            token, made = _apns_tokens.get(cache_key, ("", 0.0))
            if fresh or not token or time.time() - made > APNS_TOKEN_SECONDS:
                try:
                    token = jwt.encode(
                        {"iss": self.team_id, "iat": int(time.time())},
                        self.key,
                        algorithm="ES256",
                        headers={"kid": self.key_id},
                    )
                except (ValueError, TypeError, jwt.PyJWTError) as exc:
                    raise TransportError(
                        f"APNs: the key is unusable: {exc}", permanent=True
                    ) from exc
                _apns_tokens[cache_key] = (token, time.time())
            return token

    def send(self, push: AppPush) -> str:
        url = f"{self.base_url()}/3/device/{push.token}"
        body = {
            "aps": {
                "alert": {"title": push.title, "body": push.body},
                "sound": "default",
                "thread-id": "helpdesk",
            },
            **push.data,
        }
        headers = {
            "apns-topic": self.bundle_id,
            "apns-push-type": "alert",
            "apns-priority": "10",
            "apns-expiration": str(int(time.time()) + settings.PUSH_TTL_SECONDS),
        }
        if push.collapse_id:
            headers["apns-collapse-id"] = push.collapse_id[:64]
        for fresh in (False, True):
            headers["authorization"] = f"bearer {self._provider_token(fresh=fresh)}"
            try:
                response = _clients.get("apns").post(
                    url, json=body, headers=headers, timeout=settings.PUSH_TIMEOUT_SECONDS
                )
            except httpx.HTTPError as exc:
                raise _http_error("APNs", exc) from exc
            reason = str(_json(response).get("reason", ""))
            if reason != "ExpiredProviderToken" or fresh:
                break
        if response.status_code == 200:
            return response.headers.get("apns-id", "")
        message = f"APNs answered {response.status_code} {reason}"
        # The app was removed from the phone, or the token is not one of this app's.
        if response.status_code == 410 or reason in (
            "BadDeviceToken",
            "DeviceTokenNotForTopic",
            "Unregistered",
        ):
            raise TransportError(message, permanent=True, gone=True, reason=reason)
        permanent = 400 <= response.status_code < 500 and response.status_code != 429
        raise TransportError(message, permanent=permanent, reason=reason)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = json.loads(response.text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# ---- WeChat mini-programs ----------------------------------------------------------------------

# WeChat's error codes (errcode) that say our access token is stale: fetch it again, once.
WECHAT_STALE_TOKEN = {40001, 40014, 42001}
# Retrying cannot help: the user gave no consent (or spent it), a bad openid, template or
# data, the 48 hours of customer-service messages are over, or our AppID/secret are wrong.
WECHAT_NOT_SENT_FOR_GOOD = {40003, 40013, 40037, 40125, 41030, 43101, 45015, 45047, 47003}
WECHAT_NO_CONSENT = 43101


@dataclass(frozen=True)
class WechatMessage:
    """A subscribe message (``template_id`` set, one per consent) or a customer-service text
    (within 48 hours of the user's last message to the mini-program's customer service)."""

    openid: str
    text: str = ""
    template_id: str = ""
    data: dict[str, str] = field(default_factory=dict)
    page: str = ""
    state: str = "formal"
    lang: str = "zh_CN"


class WechatTransport:
    """The WeChat server API for one mini-program: its access token (``stable_token``,
    shared by every process through the cache), ``jscode2session`` (a ``wx.login`` code →
    the user's openid), subscribe messages and customer-service messages."""

    channel = "wechat"

    def __init__(self, *, appid: str, secret: str) -> None:
        self.appid, self.secret = appid, secret

    def _url(self, path: str) -> str:
        return f"{settings.WECHAT_API_BASE_URL.rstrip('/')}{path}"

    def _cache_key(self) -> str:
        digest = hashlib.sha256(f"{self.appid}:{self.secret}".encode()).hexdigest()[:16]
        return f"wechat:access-token:{self.appid}:{digest}"

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = _clients.get("wechat").request(
                method, self._url(path), timeout=settings.PUSH_TIMEOUT_SECONDS, **kwargs
            )
        except httpx.HTTPError as exc:
            raise _http_error("WeChat", exc) from exc
        if response.status_code != 200:
            raise TransportError(f"WeChat answered HTTP {response.status_code}", permanent=False)
        return _json(response)

    def access_token(self, *, stale: str = "") -> str:
        """The mini-program's access token, from the cache while valid. ``stale``: a token
        WeChat refused; a new one is asked for unless another process already did."""
        token = cache.get(self._cache_key())
        if token and token != stale:
            return str(token)
        try:
            data = self._call(
                "POST",
                "/cgi-bin/stable_token",
                json={
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.secret,
                },
            )
        except TransportError as exc:
            exc.maybe_sent = False  # asking for a token sends nobody anything
            raise
        if not data.get("access_token"):
            raise self._error("access token", data)
        expires = int(data.get("expires_in", 7200))
        cache.set(self._cache_key(), data["access_token"], timeout=max(60, expires - 300))
        return str(data["access_token"])

    def openid_for(self, code: str) -> str:
        """The openid of the user whose ``wx.login`` gave ``code`` (usable once, 5 minutes)."""
        data = self._call(
            "GET",
            "/sns/jscode2session",
            params={
                "appid": self.appid,
                "secret": self.secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        if not data.get("openid"):
            raise self._error("login", data)
        return str(data["openid"])

    def send(self, message: WechatMessage) -> str:
        if message.template_id:
            path = "/cgi-bin/message/subscribe/send"
            body: dict[str, Any] = {
                "touser": message.openid,
                "template_id": message.template_id,
                "page": message.page,
                "data": {k: {"value": v} for k, v in message.data.items()},
                "miniprogram_state": message.state,
                "lang": message.lang,
            }
        else:
            path = "/cgi-bin/message/custom/send"
            body = {"touser": message.openid, "msgtype": "text", "text": {"content": message.text}}
        token = self.access_token()
        for attempt in range(2):
            # Sent as UTF-8 JSON: WeChat shows \u escapes literally in some clients.
            data = self._call(
                "POST",
                path,
                params={"access_token": token},
                content=json.dumps(body, ensure_ascii=False).encode(),
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
            if data.get("errcode") not in WECHAT_STALE_TOKEN or attempt:
                break
            token = self.access_token(stale=token)
        if data.get("errcode", 0) == 0:
            return str(data.get("msgid", ""))
        raise self._error("message", data)

    @staticmethod
    def _error(what: str, data: dict[str, Any]) -> TransportError:
        code = data.get("errcode")
        message = f"WeChat {what}: errcode {code} {str(data.get('errmsg', ''))[:200]}"
        permanent = code in WECHAT_NOT_SENT_FOR_GOOD or code in (40029, 40163, 40226)
        return TransportError(message, permanent=permanent, gone=code == 40003, reason=str(code))

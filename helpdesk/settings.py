"""Settings, all from the environment (see the table in README.md).

Nothing set: the embedded default (SQLite, in-memory channel layer, Celery tasks run
in-process). ``DATABASE_URL`` and ``REDIS_URL`` set: production shape (PostgreSQL, Redis
Pub/Sub channel layer, Celery on the Redis broker with separate worker and beat).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from helpdesk import logs, redis_ha
from helpdesk.env import env_bool, env_int, env_list, env_str, webhooks_signed

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
# Redis through Sentinel (docs/deployment.md): the master is asked of these; REDIS_URL then
# gives only the database, the password and TLS.
REDIS_SENTINELS = redis_ha.parse_sentinels(env_list("REDIS_SENTINELS", []))
REDIS_SENTINEL_MASTER = env_str("REDIS_SENTINEL_MASTER", "mymaster")
REDIS_SENTINEL_PASSWORD = env_str("REDIS_SENTINEL_PASSWORD")
if REDIS_SENTINELS and not REDIS_URL:
    raise ImproperlyConfigured(
        "REDIS_SENTINELS needs REDIS_URL too (e.g. redis://mymaster/0: its database, password "
        "and scheme are used, its host is not)"
    )
_SENTINEL: dict[str, Any] = {
    "sentinels": REDIS_SENTINELS,
    "master": REDIS_SENTINEL_MASTER,
    "sentinel_password": REDIS_SENTINEL_PASSWORD,
}
EMBEDDED = not DATABASE_URL and not REDIS_URL

# Off unless asked for: a demo reachable from elsewhere must not show tracebacks.
DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("DJANGO_SECRET_KEY")
    if key:
        return key
    if not EMBEDDED:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required with DATABASE_URL or REDIS_URL")
    # Embedded: one random key per data directory, so visitor tokens stay valid across
    # restarts without a well-known key in the source.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()

# HTTPS (production default; the embedded default and the test suite serve plain http):
# redirect to https, HSTS, secure cookies, and trust the proxy's X-Forwarded-Proto.
HTTPS = env_bool("HTTPS", not EMBEDDED)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# /healthz answers the load balancer and /metrics Prometheus, over plain http inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]


def _field_keys() -> tuple[list[str], str]:
    """Keys for encryption at rest (helpdesk/crypto.py): FIELD_ENCRYPTION_KEYS, a list of
    <id>:<base64 key>, the first one encrypting; FIELD_INDEX_KEY for blind indexes."""
    keys, index = env_list("FIELD_ENCRYPTION_KEYS", []), env_str("FIELD_INDEX_KEY")
    if keys and index:
        return keys, index
    if not EMBEDDED:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS and FIELD_INDEX_KEY are required with DATABASE_URL or "
            "REDIS_URL (python manage.py field_key prints new ones)"
        )
    # Embedded: made once per data directory, like the secret key.
    path = DATA_DIR / "field_keys.json"
    if not path.exists():
        import base64
        import json

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        fresh = {
            "keys": ["k1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()],
            "index": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        }
        path.write_text(json.dumps(fresh), encoding="utf-8")
        path.chmod(0o600)
    import json

    stored = json.loads(path.read_text(encoding="utf-8"))
    return keys or stored["keys"], index or stored["index"]


FIELD_ENCRYPTION_KEYS, FIELD_INDEX_KEY = _field_keys()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # The back office's theme (docs/decisions.md: chosen for our script-src 'self' policy),
    # before Django admin so its templates win; then Django admin with our dashboard.
    "admin_interface",
    "colorfield",
    "helpdesk.admin_config.HelpdeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "anymail",
    "channels",
    "helpdesk",
    "offline",
    "routing",
    "notifications",
    "privacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "helpdesk.middleware.ApiBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the browser's (Accept-Language), then, once signed in, the person's own
    # setting (helpdesk.i18n).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "helpdesk.i18n.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "helpdesk.middleware.ContentSecurityPolicyMiddleware",
]

# CORS, for the visitor API only: a browser on a page of an origin some site allows
# (helpdesk.signals.cors_for_allowed_origins decides, the socket's rule). No cookies.
CORS_URLS_REGEX = r"^/api/v1/visitor/"
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "x-helpdesk-user-id",
    "x-helpdesk-user-hash",
)
CORS_PREFLIGHT_MAX_AGE = 86400

ROOT_URLCONF = "helpdesk.urls"
ASGI_APPLICATION = "helpdesk.asgi.application"
WSGI_APPLICATION = "helpdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "helpdesk.i18n.context",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Behind a transaction pooler (PgBouncer with pool_mode = transaction, docs/deployment.md):
# each transaction may run on another server connection, so nothing may outlive one:
# no server-side cursors or prepared statements (here and in helpdesk.pgpool), no session
# state. SET LOCAL, row locks and transaction-level advisory locks are fine.
DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING", False)
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0)
        )
    }
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASE_TRANSACTION_POOLING:
        if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            raise ImproperlyConfigured("DATABASE_TRANSACTION_POOLING needs a PostgreSQL URL")
        # QuerySet.iterator() (Django's own forms call it for a select's choices) opens a
        # WITH HOLD cursor in autocommit: the next fetch may reach another server connection.
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
        # Django's psycopg 3 backend already defaults to no server-side prepare; pinned here,
        # as PgBouncer before 1.21 does not carry prepared statements between connections.
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
elif DATABASE_TRANSACTION_POOLING:
    raise ImproperlyConfigured("DATABASE_TRANSACTION_POOLING needs DATABASE_URL (PostgreSQL)")
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(DATA_DIR / "helpdesk.sqlite3")),
            # IMMEDIATE: a write transaction takes the lock at BEGIN, so two writers queue
            # instead of failing on upgrade; WAL lets readers run alongside.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Connections each event loop keeps for the hot path's one-statement writes (helpdesk.pgpool),
# besides the one of the process's database thread. PostgreSQL only.
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 4, minimum=1)

CHANNELS_PREFIX = env_str("CHANNELS_PREFIX", "helpdesk")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # rediss:// URLs connect over TLS. With CHANNELS_ENCRYPTION_KEYS set, events are
            # encrypted on their way through Redis (the first key encrypts, all decrypt).
            "CONFIG": {
                "hosts": [redis_ha.channel_layer_host(REDIS_URL, **_SENTINEL)],
                "prefix": CHANNELS_PREFIX,
                **(
                    {"symmetric_encryption_keys": env_list("CHANNELS_ENCRYPTION_KEYS", [])}
                    if env_list("CHANNELS_ENCRYPTION_KEYS", [])
                    else {}
                ),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Celery: tasks run in-process in the embedded default; on the Redis broker otherwise.
_BROKER, _BROKER_OPTIONS = (
    redis_ha.celery_broker(REDIS_URL, **_SENTINEL) if REDIS_URL else ("memory://", {})
)
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", _BROKER)
if CELERY_BROKER_URL.startswith("sentinel://") and CELERY_BROKER_URL != _BROKER:
    _BROKER_OPTIONS = {"master_name": REDIS_SENTINEL_MASTER}
elif CELERY_BROKER_URL != _BROKER:
    _BROKER_OPTIONS = {}
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
# Workers consume this queue: deployments (or test runs) sharing one Redis never take each
# other's tasks.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, **_BROKER_OPTIONS}
_SWEEP = float(env_int("ROUTE_SWEEP_SECONDS", 30, minimum=1))
CELERY_BEAT_SCHEDULE = {
    "route-waiting-conversations": {"task": "routing.tasks.route_waiting", "schedule": _SWEEP},
    "requeue-unattended": {"task": "routing.tasks.requeue_unattended", "schedule": _SWEEP},
    "overflow": {"task": "routing.tasks.overflow", "schedule": _SWEEP},
    "wake-snoozed": {"task": "helpdesk.tasks.wake_snoozed", "schedule": 60.0},
    "notifications-scan": {
        "task": "notifications.tasks.scan",
        "schedule": float(env_int("NOTIFY_SCAN_SECONDS", 30, minimum=1)),
    },
    # Retention (privacy.services.retention_prune): once a day.
    "privacy-prune": {
        "task": "privacy.tasks.prune",
        "schedule": float(env_int("PRUNE_EVERY_SECONDS", 86400, minimum=60)),
    },
}

# Product settings.
MESSAGE_MAX_CHARS = env_int("MESSAGE_MAX_CHARS", 4000, minimum=1)
FRAME_MAX_BYTES = 64 * 1024
VISITOR_TOKEN_MAX_AGE_DAYS = env_int("VISITOR_TOKEN_MAX_AGE_DAYS", 90, minimum=1)
PRESENCE_TTL_SECONDS = env_int("PRESENCE_TTL_SECONDS", 60, minimum=5)
# An agent who goes away or offline keeps their conversations this long.
ROUTING_GRACE_SECONDS = env_int("ROUTING_GRACE_SECONDS", 300, minimum=0)
OFFLINE_FLUSH_BATCH = env_int("OFFLINE_FLUSH_BATCH", 1000, minimum=1)
# Rows claimed per transaction of a flush: one claim and one summary read serve up to this
# many messages, sent as frames of OFFLINE_FLUSH_BATCH.
OFFLINE_FLUSH_CHUNK = env_int("OFFLINE_FLUSH_CHUNK", 10_000, minimum=1)
VISITOR_HISTORY_LIMIT = 500

# Retention (docs/security.md, "Retention, export and erasure"). Conversations follow each
# site's own retention period (the back office); these records follow this one. The reports
# read them: keep them at least as long as the longest period you report on.
RETAIN_RECORDS_DAYS = env_int("RETAIN_RECORDS_DAYS", 400, minimum=1)
PRUNE_BATCH = env_int("PRUNE_BATCH", 1000, minimum=1)

# Notifications (docs/notifications.md).
# Visitors may answer follow-up emails when replies to this domain reach the provider's
# inbound webhook (docs/notifications.md); empty: no reply-by-email.
INBOUND_EMAIL_DOMAIN = env_str("INBOUND_EMAIL_DOMAIN")
# Where `make run` serves (scripts/run.sh reads the same two variables). Links in emails
# point here unless PUBLIC_BASE_URL says otherwise, so `PORT=9000 make run` sends working links.
RUN_HOST = env_str("HOST", "127.0.0.1")
RUN_PORT = env_int("PORT", 8000, minimum=1)
_LINK_HOST = "127.0.0.1" if RUN_HOST in ("", "0.0.0.0", "::", "[::]") else RUN_HOST  # noqa: S104
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", f"http://{_LINK_HOST}:{RUN_PORT}").rstrip("/")
NOTIFY_AGENT_EMAIL_AFTER_SECONDS = env_int("NOTIFY_AGENT_EMAIL_AFTER_SECONDS", 600, minimum=0)
NOTIFY_EMAIL_WINDOW_SECONDS = env_int("NOTIFY_EMAIL_WINDOW_SECONDS", 120, minimum=0)
# A send that started this long ago and never finished (the worker died) is retried, with
# the same Message-ID.
NOTIFY_SENDING_TIMEOUT_SECONDS = env_int("NOTIFY_SENDING_TIMEOUT_SECONDS", 300, minimum=1)
NOTIFY_VISITOR_EMAIL_AFTER_SECONDS = env_int("NOTIFY_VISITOR_EMAIL_AFTER_SECONDS", 120, minimum=0)
# Escalation ladder: "seconds:audience" steps; audience "group" (its managers) or "all".
NOTIFY_ESCALATION_LADDER = [
    (int(seconds), audience)
    for seconds, _, audience in (
        step.partition(":")
        for step in env_list("NOTIFY_ESCALATION_LADDER", ["300:group", "1800:all"])
    )
]
if any(audience not in {"group", "all"} for _, audience in NOTIFY_ESCALATION_LADDER):
    raise ImproperlyConfigured("NOTIFY_ESCALATION_LADDER steps are seconds:group or seconds:all")

# Off hours (the group's business hours closed): "digest" (one email to the group's managers
# when the team's next shift starts, listing what waited; the ladder then counts from the
# shift start), "ladder" (escalate around the clock) or "none" (wait for the shift).
NOTIFY_OFF_HOURS = env_str("NOTIFY_OFF_HOURS", "digest")
if NOTIFY_OFF_HOURS not in {"digest", "ladder", "none"}:
    raise ImproperlyConfigured("NOTIFY_OFF_HOURS is digest, ladder or none")
# Web Push: unread by the assigned agent this long → a push; an agent reply unseen this long →
# a push to the visitor's subscribed browsers.
NOTIFY_AGENT_PUSH_AFTER_SECONDS = env_int("NOTIFY_AGENT_PUSH_AFTER_SECONDS", 120, minimum=0)
NOTIFY_VISITOR_PUSH_AFTER_SECONDS = env_int("NOTIFY_VISITOR_PUSH_AFTER_SECONDS", 120, minimum=0)
PUSH_TIMEOUT_SECONDS = env_int("PUSH_TIMEOUT_SECONDS", 5, minimum=1)
# How long a push service keeps an undelivered push for a device that is off.
PUSH_TTL_SECONDS = env_int("PUSH_TTL_SECONDS", 86400, minimum=0)
# Browsers' push services we send to. A subscription naming any other host is refused, so
# a crafted "subscription" cannot make the server post to an address of the attacker's
# choosing. ".example.com" matches its subdomains. Only https endpoints are accepted.
PUSH_SERVICE_HOSTS = env_list(
    "PUSH_SERVICE_HOSTS",
    ["fcm.googleapis.com", ".push.services.mozilla.com", ".notify.windows.com", ".push.apple.com"],
)
# Tests only: accept plain-http endpoints (a local stand-in for the push service).
PUSH_ALLOW_HTTP = False
VAPID_PUBLIC_KEY = env_str("VAPID_PUBLIC_KEY")
VAPID_PRIVATE_KEY = env_str("VAPID_PRIVATE_KEY")
if bool(VAPID_PUBLIC_KEY) != bool(VAPID_PRIVATE_KEY):
    raise ImproperlyConfigured("Set both VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY, or neither")
if not VAPID_PUBLIC_KEY and EMBEDDED:
    from notifications.vapid import keys_in

    VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY = keys_in(DATA_DIR)
# Without keys (production, unset) Web Push is off; `manage.py vapid_keys` makes a pair.

# App push and WeChat mini-program messages (docs/notifications.md). Each site's credentials
# are kept in the back office (encrypted); these say only where the services are, so tests
# and private deployments can point them at stand-ins or proxies.
FCM_BASE_URL = env_str("FCM_BASE_URL", "https://fcm.googleapis.com")
# Where the FCM service account's OAuth token is fetched; empty: its own ``token_uri``.
FCM_TOKEN_URL = env_str("FCM_TOKEN_URL")
# Empty: api.push.apple.com, or api.sandbox.push.apple.com for a site set to the sandbox.
APNS_BASE_URL = env_str("APNS_BASE_URL")
WECHAT_API_BASE_URL = env_str("WECHAT_API_BASE_URL", "https://api.weixin.qq.com")
for _name in ("FCM_BASE_URL", "FCM_TOKEN_URL", "APNS_BASE_URL", "WECHAT_API_BASE_URL"):
    _value = globals()[_name]
    if _value and not _value.startswith(("https://", "http://")):
        raise ImproperlyConfigured(f"{_name}={_value!r} is not an http(s) URL")

# Email: console in the embedded default; any Django or django-anymail backend by path.
# ANYMAIL_* variables become keys of the ANYMAIL dict (e.g. ANYMAIL_MAILGUN_API_KEY).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "helpdesk@localhost")
# Push services contact this address about our pushes (a mailto: or https: URL).
VAPID_SUBJECT = env_str("VAPID_SUBJECT", f"mailto:{DEFAULT_FROM_EMAIL}")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_")
}


if INBOUND_EMAIL_DOMAIN and not webhooks_signed(ANYMAIL):
    # Replies by email post to a public webhook: unsigned, anyone could write as a visitor.
    raise ImproperlyConfigured(
        "INBOUND_EMAIL_DOMAIN needs the webhook authenticated: set ANYMAIL_WEBHOOK_SECRET "
        "(user:password, in the provider's webhook URL) or the provider's signing key, e.g. "
        "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY (docs/notifications.md)."
    )

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Rate limits, "<count>/<seconds>" (0/1: off), counted in the cache: Redis in production.
CACHES = {
    "default": (
        {
            "BACKEND": "helpdesk.redis_ha.SentinelRedisCache"
            if REDIS_SENTINELS
            else "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CHANNELS_PREFIX,
            "OPTIONS": {
                "socket_timeout": 2,
                "socket_connect_timeout": 2,
                **(
                    {
                        "sentinels": REDIS_SENTINELS,
                        "master_name": REDIS_SENTINEL_MASTER,
                        "sentinel_password": REDIS_SENTINEL_PASSWORD,
                    }
                    if REDIS_SENTINELS
                    else {}
                ),
            },
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
RATE_LIMITS = {
    # Messages one visitor may send (a person types far fewer; a widget's outbox after a
    # long time offline stays well under it, and waits when it does not).
    "visitor_messages": env_str("RATE_VISITOR_MESSAGES", "60/60"),
    # New visitors (sessions without a token) from one IP address.
    "visitor_sessions": env_str("RATE_VISITOR_SESSIONS", "300/3600"),
    # Confirmation emails: per visitor, and per address (whoever asks), so nobody can make
    # the server mail strangers.
    "visitor_emails": env_str("RATE_VISITOR_EMAILS", "5/3600"),
    # Files one visitor may upload.
    "visitor_uploads": env_str("RATE_VISITOR_UPLOADS", "30/3600"),
    "email_confirmations": env_str("RATE_EMAIL_CONFIRMATIONS", "5/86400"),
    # Failed sign-ins per username, then per IP: past them, sign-in is locked for the window.
    "login_failures": env_str("RATE_LOGIN_FAILURES", "5/900"),
    "login_failures_ip": env_str("RATE_LOGIN_FAILURES_IP", "30/900"),
    # WeChat sign-ins (wx.login codes we exchange with WeChat) per visitor.
    "wechat_logins": env_str("RATE_WECHAT_LOGINS", "30/3600"),
}
for _name, _rate in RATE_LIMITS.items():
    _count, _, _seconds = _rate.partition("/")
    if not (_count.isdigit() and _seconds.isdigit() and int(_seconds) > 0):
        raise ImproperlyConfigured(f"{_name}: a rate is <count>/<seconds>, e.g. 60/60")
AUTHENTICATION_BACKENDS = ["helpdesk.auth.LockoutModelBackend"]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/inbox/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON in, JSON out: the schema advertises only what the API really speaks.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "helpdesk.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# The OpenAPI schema at /api/schema/, browsable at /api/docs/ (assets served from here).
SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "VERSION": "1",
    "DESCRIPTION": (
        "Visitors (apps, mini-programs) and agents over HTTP. The WebSocket protocol and the "
        "rules behind both (cursors, client IDs, errors) are in docs/protocol.md."
    ),
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# English and Simplified Chinese throughout (locale/, compiled by `make install`). A person's
# own setting wins, then the browser's languages; visitors get their browser's.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Attachments (encrypted before they are stored): the filesystem in DATA_DIR by default;
# S3-compatible object storage when ATTACHMENTS_S3_BUCKET is set (django-storages).
ATTACHMENTS_S3_BUCKET = env_str("ATTACHMENTS_S3_BUCKET")
if ATTACHMENTS_S3_BUCKET:
    _attachments: dict[str, object] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ATTACHMENTS_S3_BUCKET,
            "endpoint_url": env_str("ATTACHMENTS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("ATTACHMENTS_S3_REGION") or None,
            "access_key": env_str("ATTACHMENTS_S3_ACCESS_KEY") or None,
            "secret_key": env_str("ATTACHMENTS_S3_SECRET_KEY") or None,
            "default_acl": "private",
            "querystring_auth": False,  # never handed out: we serve the decrypted bytes
            "file_overwrite": False,
        },
    }
else:
    _attachments = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DATA_DIR / "files"), "base_url": None},
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "attachments": _attachments,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
# What may be sent: content types, or a family with "/*". No SVG or HTML (they run scripts).
ATTACHMENT_TYPES = env_list(
    "ATTACHMENT_TYPES",
    [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "audio/mpeg",
        "audio/mp4",
        "video/mp4",
    ],
)
ATTACHMENTS_PER_MESSAGE = 10
# How long a file's signed URL works; clients get fresh ones with every history.
ATTACHMENT_URL_SECONDS = env_int("ATTACHMENT_URL_SECONDS", 3600, minimum=60)
# The embedded default serves static files straight from the apps, no collectstatic step.
WHITENOISE_USE_FINDERS = DEBUG or EMBEDDED

# The widget page is framed by customers' sites; every other page refuses framing.
X_FRAME_OPTIONS = "DENY"

# Prometheus at /metrics, for whoever holds this bearer token (unset: no endpoint). With
# PROMETHEUS_MULTIPROC_DIR set, every process of the machine writes its figures there and
# /metrics adds them up (docs/operations.md).
METRICS_TOKEN = env_str("METRICS_TOKEN")
if env_str("PROMETHEUS_MULTIPROC_DIR"):
    Path(env_str("PROMETHEUS_MULTIPROC_DIR")).mkdir(parents=True, exist_ok=True)

# JSON lines in production, text in the embedded default; every line carries the request,
# socket, conversation, agent or visitor IDs it belongs to, and no tokens (helpdesk/logs.py).
LOG_FORMAT = env_str("LOG_FORMAT", "text" if EMBEDDED else "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured("LOG_FORMAT is json or text")
LOGGING = logs.config(json_lines=LOG_FORMAT == "json", level=env_str("LOG_LEVEL", "INFO"))

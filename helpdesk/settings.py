"""Settings, all from the environment (see the table in README.md).

Nothing set: the embedded default (SQLite, in-memory channel layer, Celery tasks run
in-process). ``DATABASE_URL`` and ``REDIS_URL`` set: production shape (PostgreSQL, Redis
Pub/Sub channel layer, Celery on the Redis broker with separate worker and beat).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from helpdesk.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
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
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "anymail",
    "channels",
    "helpdesk",
    "offline",
    "routing",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0)
        )
    }
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
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

CHANNELS_PREFIX = env_str("CHANNELS_PREFIX", "helpdesk")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNELS_PREFIX},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Celery: tasks run in-process in the embedded default; on the Redis broker otherwise.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
_SWEEP = float(env_int("ROUTE_SWEEP_SECONDS", 30, minimum=1))
CELERY_BEAT_SCHEDULE = {
    "route-waiting-conversations": {"task": "routing.tasks.route_waiting", "schedule": _SWEEP},
    "requeue-unattended": {"task": "routing.tasks.requeue_unattended", "schedule": _SWEEP},
    "overflow": {"task": "routing.tasks.overflow", "schedule": _SWEEP},
    "notifications-scan": {
        "task": "notifications.tasks.scan",
        "schedule": float(env_int("NOTIFY_SCAN_SECONDS", 30, minimum=1)),
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
VISITOR_HISTORY_LIMIT = 500

# Notifications (docs/notifications.md).
# Visitors may answer follow-up emails when replies to this domain reach the provider's
# inbound webhook (docs/notifications.md); empty: no reply-by-email.
INBOUND_EMAIL_DOMAIN = env_str("INBOUND_EMAIL_DOMAIN")
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
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

# Email: console in the embedded default; any Django or django-anymail backend by path.
# ANYMAIL_* variables become keys of the ANYMAIL dict (e.g. ANYMAIL_MAILGUN_API_KEY).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "helpdesk@localhost")
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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/inbox/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "helpdesk.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# The embedded default serves static files straight from the apps, no collectstatic step.
WHITENOISE_USE_FINDERS = DEBUG or EMBEDDED

# The widget page is framed by customers' sites; every other page refuses framing.
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

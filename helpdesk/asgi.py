"""ASGI entry point: Django for HTTP, Channels consumers for the two sockets."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from helpdesk.consumers import AgentConsumer, VisitorConsumer  # noqa: E402
from helpdesk.logs import RequestIdMiddleware  # noqa: E402
from helpdesk.metrics import CountSockets  # noqa: E402
from helpdesk.supervision import SupervisorConsumer  # noqa: E402

# Agent sockets carry a session cookie, so their Origin must be ours (no cross-site
# hijacking): the consumer checks it and answers forbidden_origin / 4403. Visitor sockets
# authenticate with a token in their first frame and may come from apps that send no
# Origin; the site's allowed origins are checked at hello.
websocket = URLRouter(
    [
        path("ws/agent/", AuthMiddlewareStack(AgentConsumer.as_asgi())),
        path("ws/visitor/", VisitorConsumer.as_asgi()),
        # Managers and site administrators, agents or not (helpdesk.supervision).
        path("ws/supervisor/", AuthMiddlewareStack(SupervisorConsumer.as_asgi())),
    ]
)

# One request ID per request and per socket, on every log line written for it (helpdesk/logs.py).
# Sockets open are counted around the consumers (helpdesk/metrics.py).
application = RequestIdMiddleware(
    CountSockets(ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket}))
)

from django.conf import settings  # noqa: E402

if settings.EMBEDDED and settings.CELERY_TASK_ALWAYS_EAGER:
    # No Celery beat in the embedded default: this process runs the same schedule.
    from helpdesk import periodic

    periodic.start()

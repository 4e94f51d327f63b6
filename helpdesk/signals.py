"""Signal receivers: thin, they call into services and events."""

from __future__ import annotations

import re
from typing import Any

from corsheaders.signals import check_request_enabled
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from helpdesk import events, selectors
from helpdesk.models import Agent, Attachment
from helpdesk.services.attachments import attachment_files_delete


@receiver(user_logged_out)
def close_sockets_on_logout(sender: Any, user: Any, **kwargs: Any) -> None:
    """A logged-out agent's open sockets close at once, on every server process."""
    if user is None:
        return
    agent_id = Agent.objects.filter(user=user).values_list("pk", flat=True).first()
    if agent_id is not None:
        events.close_sockets([events.agent_group(agent_id)])


@receiver(post_delete, sender=Attachment)
def delete_stored_file(sender: Any, instance: Attachment, **kwargs: Any) -> None:
    """A deleted attachment (its message pruned, its visitor erased) leaves no bytes behind,
    once the deletion has committed."""
    transaction.on_commit(lambda: attachment_files_delete(instance), robust=True)


@receiver(check_request_enabled)
def cors_for_allowed_origins(sender: Any, request: Any, **kwargs: Any) -> bool:
    """The visitor API answers a browser on a site's own pages (``CORS_URLS_REGEX``) when a
    site allows that origin. No cookies cross: visitors authenticate with their token. (The
    library enables CORS on any path a receiver says yes to, so the path is checked here.)"""
    if not re.match(settings.CORS_URLS_REGEX, request.path_info):
        return False
    return selectors.origin_allowed_by_a_site(request.headers.get("Origin"))

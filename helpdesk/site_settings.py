"""Writes of a site's settings from the back office that are more than a form's save: the
identity secret, revealed and rotated on purpose, each recorded in the audit log."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from helpdesk.models import Site, new_identity_secret
from privacy import audit


def identity_secret_reveal(*, site: Site, user: Any) -> str:
    """The secret, for someone who may change the site; recorded (who saw it, when)."""
    _record(site, user, audit.Action.SECRET_REVEAL)
    return site.identity_secret


@transaction.atomic
def identity_secret_rotate(*, site_id: Any, user: Any) -> Site:
    """A new secret at once: proofs made with the old one stop working (signed-in visitors
    then chat anonymously until the host site signs with the new one)."""
    site = Site.objects.select_for_update().get(pk=site_id)
    site.identity_secret = new_identity_secret()
    site.save(update_fields=["identity_secret"])
    _record(site, user, audit.Action.SECRET_ROTATE)
    return site


def _record(site: Site, user: Any, action: str) -> None:
    audit.record(
        action=action,
        actor_id=user.pk,
        actor_name=user.get_username(),
        target=f"helpdesk.site:{site.pk}",
        target_repr=site.name,
        site_id=site.pk,
    )

"""App push: the phones that registered for it (an FCM registration token or an APNs device
token), each belonging to one visitor."""

from __future__ import annotations

from helpdesk.models import Visitor
from notifications.models import ChannelSettings, Device
from notifications.services.common import ChannelNotConfigured, channel_settings


def platform_ready(conf: ChannelSettings | None, platform: str) -> bool:
    if conf is None:
        return False
    return conf.fcm_ready if platform == Device.Platform.FCM else conf.apns_ready


def device_register(*, visitor: Visitor, platform: str, token: str) -> Device:
    """Remember this phone for ``visitor``. The token names the app on one phone: if another
    visitor registered it before (someone else signed in there), it is theirs no more.
    ``ChannelNotConfigured`` when the site has no credentials for the platform."""
    if not platform_ready(channel_settings(visitor.site_id), platform):
        raise ChannelNotConfigured(platform)
    device, _ = Device.objects.update_or_create(
        platform=platform, token=token, defaults={"visitor": visitor}
    )
    return device


def device_unregister(*, visitor: Visitor, platform: str, token: str) -> int:
    """Forget a phone (the app's sign-out); only its visitor may. Returns 0 or 1."""
    deleted, _ = Device.objects.filter(visitor=visitor, platform=platform, token=token).delete()
    return deleted

"""Print a new VAPID key pair as the two environment variables production reads."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from notifications import vapid


class Command(BaseCommand):
    help = (
        "Generate a VAPID key pair for Web Push and print it as VAPID_PUBLIC_KEY and "
        "VAPID_PRIVATE_KEY. Set both in every process's environment. Changing them later "
        "invalidates every browser's subscription (people subscribe again on their next visit)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        public, private = vapid.generate()
        self.stdout.write(f"VAPID_PUBLIC_KEY={public}\nVAPID_PRIVATE_KEY={private}\n")

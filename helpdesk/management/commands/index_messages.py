"""Build the search tokens of messages stored before search existed (or after the index key
changed): in batches, each committed; safe to interrupt and run again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from helpdesk.models import Message, MessageToken
from helpdesk.timeline import message_index


class Command(BaseCommand):
    help = "Index message text for search (helpdesk.search), in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=500)
        parser.add_argument(
            "--all", action="store_true", help="Rebuild every message's tokens (new index key)."
        )

    def handle(self, *args: Any, batch: int, all: bool, **options: Any) -> None:
        messages = Message.objects.exclude(sender=Message.Sender.SYSTEM).order_by("pk")
        if not all:
            indexed = MessageToken.objects.values("message_id")
            messages = messages.exclude(pk__in=indexed)
        done, last = 0, None
        while True:
            page = messages if last is None else messages.filter(pk__gt=last)
            rows = list(page[:batch])
            if not rows:
                break
            with transaction.atomic():
                MessageToken.objects.filter(message__in=rows).delete()
                for message in rows:
                    message_index(message)
            done += len(rows)
            last = rows[-1].pk
            self.stdout.write(f"indexed {done}")
        self.stdout.write(self.style.SUCCESS(f"Done: {done} messages indexed."))

"""Re-encrypt every encrypted value with the current key, in batches, while the service runs.

Resumable: each batch commits, and values already on the current key are skipped, so an
interrupted run just starts again. Safe alongside live traffic: each row is re-read under a
row lock and written back with the same plaintext.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from helpdesk import crypto
from helpdesk.fields import EncryptedTextField
from helpdesk.models import Message, Visitor


def encrypted_fields(model: Any) -> list[EncryptedTextField]:
    return [f for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]


class Command(BaseCommand):
    help = "Re-encrypt message bodies and visitor data with the first FIELD_ENCRYPTION_KEYS key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=500, help="Rows per transaction.")
        parser.add_argument(
            "--max-batches", type=int, default=0, help="Stop after this many (0: all)."
        )

    def handle(self, *args: Any, batch: int, max_batches: int, **options: Any) -> None:
        current = crypto.keyring().current
        done = 0
        for model in (Message, Visitor):
            fields = encrypted_fields(model)
            stale: Any = model.objects.none()  # a queryset of this model
            for field in fields:
                stale = stale | model.objects.exclude(
                    **{f"{field.name}__startswith": crypto.Sealed(f"{crypto.VERSION}:{current}:")}
                )
            after = None
            while not max_batches or done < max_batches:
                page = stale.order_by("pk")
                if after is not None:
                    page = page.filter(pk__gt=after)
                ids = list(page.values_list("pk", flat=True)[:batch])
                if not ids:
                    break
                with transaction.atomic():
                    for row in model.objects.select_for_update().filter(pk__in=ids):
                        for field in fields:
                            getattr(row, field.attname)  # decrypt with any configured key
                        row.save(update_fields=[f.name for f in fields])  # encrypt anew
                after = ids[-1]
                done += 1
                self.stdout.write(f"{model._meta.label}: re-encrypted up to {after}")
        left = sum(
            model.objects.exclude(
                **{
                    f"{f.name}__startswith": crypto.Sealed(f"{crypto.VERSION}:{current}:")
                    for f in encrypted_fields(model)[:1]
                }
            ).count()
            for model in (Message, Visitor)
        )
        self.stdout.write(f"Done: key {current}; rows left on older keys: {left}")

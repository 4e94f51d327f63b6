"""Print a new key for encryption at rest, as an entry of FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from helpdesk import crypto


class Command(BaseCommand):
    help = (
        "Print a new 256-bit key as <id>:<base64>. To rotate: put it first in "
        "FIELD_ENCRYPTION_KEYS (keep the old ones after it), restart, run rotate_keys, then "
        "drop the old keys. --index prints a FIELD_INDEX_KEY instead (set once; never rotate)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--id", default="", help="Key ID (letters and digits).")
        parser.add_argument("--index", action="store_true", help="A FIELD_INDEX_KEY.")

    def handle(self, *args: Any, id: str, index: bool, **options: Any) -> None:
        if index:
            self.stdout.write(crypto.new_key())
            return
        import time

        kid = id or f"k{int(time.time())}"
        if not kid.isalnum():
            self.stderr.write("The key ID must be letters and digits.")
            raise SystemExit(2)
        self.stdout.write(f"{kid}:{crypto.new_key()}")

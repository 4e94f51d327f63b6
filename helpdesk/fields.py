"""Model fields whose values are encrypted at rest (see helpdesk/crypto.py).

Values are encrypted when a row is saved (``save``, ``create``, ``bulk_create``) and decrypted
when first read on an instance. They cannot be used in lookups, and ``QuerySet.update`` on
them is refused: it would store plaintext.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core import checks
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from helpdesk import crypto


class _Decrypting(DeferredAttribute):
    def __get__(self, instance: Any, cls: Any = None) -> Any:
        value = super().__get__(instance, cls)
        if instance is None or not isinstance(value, crypto.Sealed):
            return value
        plain = self.field.open(value, instance.pk)  # type: ignore[attr-defined]
        instance.__dict__[self.field.attname] = plain
        return plain

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):
    """Text encrypted with AES-256-GCM, bound to its row's primary key (which must be known
    before the row is saved: a UUID with a default)."""

    descriptor_class = _Decrypting
    as_json = False

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        """A value is bound to its row's primary key, which must be known before the row is
        saved (a UUID with a default, or a one-to-one key the caller sets). An auto-increment
        key is None then, and the value would never decrypt again."""
        errors = super().check(**kwargs)
        pk = self.model._meta.pk
        if isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField):
            errors.append(
                checks.Error(
                    f"{self.model._meta.label}.{self.name} is encrypted, so its model needs a "
                    "primary key known before saving, not an auto-increment one (e.g. id = "
                    "UUIDField(primary_key=True, default=uuid.uuid4)).",
                    obj=self,
                    id="helpdesk.E001",
                )
            )
        return errors

    def aad(self, pk: Any) -> str:
        return f"{self.model._meta.label_lower}.{self.name}:{pk}"

    def open(self, stored: str, pk: Any) -> Any:
        text = crypto.unseal(stored, self.aad(pk))
        return json.loads(text) if self.as_json else text

    def open_many(self, values: Iterable[tuple[str, Any]]) -> list[Any]:
        """``open`` of each (stored, pk) pair: bulk reads."""
        prefix = self.aad("")
        texts = crypto.unseal_many((stored, f"{prefix}{pk}") for stored, pk in values)
        return [json.loads(t) for t in texts] if self.as_json else texts

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return None if value is None else crypto.Sealed(value)

    def to_python(self, value: Any) -> Any:
        return value

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if value is None or isinstance(value, crypto.Sealed):
            return value
        text = json.dumps(value, ensure_ascii=False) if self.as_json else str(value)
        return crypto.seal(text, self.aad(model_instance.pk))

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None or isinstance(value, crypto.Sealed):
            return None if value is None else str(value)
        raise TypeError(
            f"{self.model._meta.label}.{self.name} is encrypted: write it with save() or "
            "create(), and look it up through its blind index, never by value"
        )

    def value_to_string(self, obj: Any) -> str:
        value = self.value_from_object(obj)
        return json.dumps(value) if self.as_json else str(value or "")


class EncryptedJSONField(EncryptedTextField):
    """A JSON value (dict, list…), stored encrypted as its JSON text."""

    as_json = True

    def formfield(self, **kwargs: Any) -> Any:
        from django.forms import JSONField

        return JSONField(**kwargs)

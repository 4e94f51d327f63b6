"""Model rows in raw SQL: the column lists of a model for a hand-written statement, and model
instances made from the raw values it returns, converted as the ORM converts them.

The statements sent from the event loop (``helpdesk.pgpool``: the next visitor message in
``services.append``, a returning visitor's hello in ``services.resume``) build their SQL
from the models' own table and column names, and read their rows back through here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import models

from helpdesk import pgpool
from helpdesk.fields import EncryptedTextField

M = TypeVar("M", bound=models.Model)


def column_names(model: type[models.Model]) -> list[str]:
    return [str(f.column) for f in model._meta.concrete_fields]


def columns(model: type[models.Model], alias: str) -> str:
    """``alias.col1, alias.col2, …``: every concrete column, in the order ``instance`` reads."""
    return ", ".join(f"{alias}.{name}" for name in column_names(model))


def instance(
    model: type[M], values: Sequence[Any], fields: Sequence[models.Field[Any, Any]] | None = None
) -> M:
    """A model instance from a row of raw values, converted as the ORM converts them: every
    concrete field's, in ``columns``' order, or those of ``fields`` (the others deferred)."""
    fields = fields if fields is not None else model._meta.concrete_fields
    connection = pgpool.conversions()
    converted = []
    for f, value in zip(fields, values, strict=True):
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC)
        elif isinstance(f, EncryptedTextField):
            value = f.from_db_value(value, None, connection)
        converted.append(value)
    return model.from_db("default", [f.attname for f in fields], converted)


def sealed(obj: models.Model, field_name: str) -> Any:
    """The value of ``field_name`` as ``save()`` would store it (encrypted fields sealed with
    the row's key), for a parameter of a hand-written statement."""
    f = obj._meta.get_field(field_name)
    assert isinstance(f, models.Field)
    return f.get_db_prep_save(f.pre_save(obj, False), pgpool.conversions())

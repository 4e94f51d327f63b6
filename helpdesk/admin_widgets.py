"""Form widgets of the back office: a time zone picker (grouped by region, searchable by
typing in the open list) and a colour picker."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from django import forms


@lru_cache(maxsize=1)
def timezone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """IANA zones grouped by region ("Asia": Asia/Shanghai, …), UTC first."""
    regions: dict[str, list[tuple[str, str]]] = {}
    for name in sorted(available_timezones()):
        if "/" not in name or name.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/")):
            continue
        region, _, place = name.partition("/")
        regions.setdefault(region, []).append((name, place.replace("_", " ")))
    return [("", [("UTC", "UTC")]), *sorted(regions.items())]


class TimeZoneMixin:
    """A ModelAdmin or inline whose ``timezone`` fields are pickers, not free text."""

    def formfield_for_dbfield(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        if db_field.name == "timezone":
            return forms.ChoiceField(
                choices=timezone_choices(),
                initial=db_field.default if isinstance(db_field.default, str) else "UTC",
                required=not db_field.blank,
                help_text=db_field.help_text or "",
                label=db_field.verbose_name.capitalize(),
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]


class ColorInput(forms.TextInput):
    input_type = "color"

"""Shared by the notification tests: a frozen clock that tests move forward."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """Time stands at START (a Tuesday, 10:00 UTC) until a test shifts it."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller

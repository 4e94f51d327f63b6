"""Business hours across DST, the date line and holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from routing.hours import Hours, is_open, next_open, opened_at

WEEKDAYS_9_TO_18 = tuple((d, time(9), time(18)) for d in range(5))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_it_keeps_local_hours_across_a_dst_change():
    berlin = Hours("Europe/Berlin", WEEKDAYS_9_TO_18)
    # Friday 2026-03-27 is CET (UTC+1); Monday 2026-03-30 is CEST (UTC+2).
    assert is_open(berlin, utc(2026, 3, 27, 8, 0))  # 09:00 Berlin
    assert not is_open(berlin, utc(2026, 3, 27, 17, 0))  # 18:00 Berlin: closed
    # Closed over the weekend that the clocks change; next in Monday 09:00 CEST = 07:00 UTC.
    assert next_open(berlin, utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 30, 7, 0)


def test_an_opening_inside_the_spring_forward_gap_opens_when_the_gap_ends():
    # New York skips 02:00-03:00 on Sunday 2026-03-08.
    night = Hours("America/New_York", ((6, time(2, 30), time(5)),))
    assert next_open(night, utc(2026, 3, 8, 0, 0)) == utc(2026, 3, 8, 7, 0)  # 03:00 EDT


def test_it_works_across_the_date_line():
    # Kiritimati (UTC+14): Monday 09:00 there is Sunday 19:00 UTC.
    kiritimati = Hours("Pacific/Kiritimati", WEEKDAYS_9_TO_18)
    assert next_open(kiritimati, utc(2026, 11, 29, 12, 0)) == utc(2026, 11, 29, 19, 0)
    assert is_open(kiritimati, utc(2026, 11, 29, 19, 30))
    # Pago Pago (UTC-11): Monday 09:00 there is Monday 20:00 UTC.
    pago = Hours("Pacific/Pago_Pago", WEEKDAYS_9_TO_18)
    assert next_open(pago, utc(2026, 11, 30, 12, 0)) == utc(2026, 11, 30, 20, 0)


def test_a_holiday_is_skipped():
    shanghai = Hours(
        "Asia/Shanghai", WEEKDAYS_9_TO_18, frozenset({date(2026, 10, 1), date(2026, 10, 2)})
    )
    # Wednesday 2026-09-30 20:00 Shanghai: the next two weekdays are holidays → Monday 5 Oct.
    assert next_open(shanghai, utc(2026, 9, 30, 12, 0)) == utc(2026, 10, 5, 1, 0)
    assert not is_open(shanghai, utc(2026, 10, 1, 3, 0))


def test_open_now_is_now_and_never_open_is_none():
    always = Hours("UTC", tuple((d, time(0), time(23, 59)) for d in range(7)))
    now = utc(2026, 11, 24, 12, 0)
    assert next_open(always, now) == now
    assert next_open(Hours("UTC", ()), now) is None


def test_a_shift_starts_where_back_to_back_periods_begin():
    shanghai = Hours("Asia/Shanghai", WEEKDAYS_9_TO_18)
    # Tuesday 2026-11-24 11:00 in Shanghai (03:00 UTC): in since 09:00 (01:00 UTC).
    assert opened_at(shanghai, utc(2026, 11, 24, 3, 0)) == utc(2026, 11, 24, 1, 0)
    assert opened_at(shanghai, utc(2026, 11, 24, 12, 0)) is None  # 20:00: closed
    # A night shift split at midnight is one shift: Monday 22:00 until Tuesday 06:00.
    night = Hours("UTC", ((0, time(22), time(23, 59, 59)), (1, time(0), time(6))))
    assert opened_at(night, utc(2026, 11, 24, 3, 0)) == utc(2026, 11, 23, 22, 0)
    # Around the clock: it gives up a week back, which is as good as "always".
    always = Hours("UTC", tuple((d, time(0), time(23, 59, 59)) for d in range(7)))
    assert opened_at(always, utc(2026, 11, 24, 3, 0)) <= utc(2026, 11, 17, 3, 0)

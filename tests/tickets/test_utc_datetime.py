"""UTCDateTime on SQLite writes exactly SQLAlchemy's own DATETIME text and reads back the
same aware UTC instant; on PostgreSQL it keeps SQLAlchemy's processing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import postgresql, sqlite

from tickets.tables import UTCDateTime

SQLITE = sqlite.dialect()
offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
)


@given(instants)
def test_sqlite_text_is_sqlalchemys_and_reads_back_the_same_instant(value: datetime) -> None:
    ours = UTCDateTime().dialect_impl(SQLITE)
    bind = ours.bind_processor(SQLITE)
    read = ours.result_processor(SQLITE, None)
    assert bind is not None and read is not None
    theirs = DateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert theirs is not None
    text = bind(value)
    assert text == theirs(value.astimezone(UTC).replace(tzinfo=None))
    back = read(text)
    assert back == value and back.tzinfo == UTC


def test_sqlite_reads_what_sqlite_itself_writes_and_refuses_naive() -> None:
    ours = UTCDateTime().dialect_impl(SQLITE)
    read = ours.result_processor(SQLITE, None)
    bind = ours.bind_processor(SQLITE)
    assert read is not None and bind is not None
    # CURRENT_TIMESTAMP (a server default) has no fraction of a second.
    assert read("2026-11-23 10:46:11") == datetime(2026, 11, 23, 10, 46, 11, tzinfo=UTC)
    assert read(None) is None and bind(None) is None
    with pytest.raises(ValueError, match="naive"):
        bind(datetime(2026, 11, 23, 10, 46))


def test_postgresql_keeps_sqlalchemys_processing() -> None:
    pg = postgresql.dialect()
    ours = UTCDateTime().dialect_impl(pg)
    bind = ours.bind_processor(pg)
    value = datetime(2026, 11, 23, 18, 46, tzinfo=timezone(timedelta(hours=8)))
    out = bind(value) if bind is not None else value
    assert out == value and out.utcoffset() == timedelta(0)


@given(st.lists(instants, min_size=1, max_size=8), st.lists(st.integers(0, 7), max_size=30))
def test_one_processor_binding_many_values_gives_each_its_own_text(
    values: list[datetime], order: list[int]
) -> None:
    """The processor keeps its last conversion (a batch binds one instant many times over):
    repeated, alternating and equal-but-different-zone values each get their own text."""
    impl = UTCDateTime().dialect_impl(SQLITE)
    shared = impl.bind_processor(SQLITE)
    assert shared is not None
    for i in [*range(len(values)), *order]:
        value = values[i % len(values)]
        for same_instant in (value, value.astimezone(timezone(timedelta(hours=8)))):
            fresh = impl.bind_processor(SQLITE)
            assert fresh is not None
            assert shared(same_instant) == fresh(same_instant)

"""The ``make_store`` fixture: every JobStore contract test runs against the in-memory
fake, SQLite (in a tmp folder) and a real Redis server (the ``redis_url`` fixture), each
with a clock the test may replace (a :class:`FakeClock` moved by hand)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from servekit.jobs import JobPolicy, JobStore
from servekit.jobs.memory import MemoryStore
from servekit.jobs.sqlite import SqliteStore

MakeStore = Callable[..., JobStore]


@pytest.fixture(name="make_store", params=["memory", "sqlite", "redis"])
def store_maker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """``make_store(clock=..., **policy)``: a new store of the parameter's kind; every
    one made is closed after the test. Import it (under this name) to use it."""
    made: list[JobStore] = []

    def make(clock: Callable[[], float] = time.time, **policy: Any) -> JobStore:
        chosen = JobPolicy(**{"lease_seconds": 30.0, **policy})
        if request.param == "memory":
            store: JobStore = MemoryStore(chosen, clock=clock)
        elif request.param == "sqlite":
            store = SqliteStore(tmp_path / "jobs.db", chosen, clock=clock)
        else:
            from servekit.jobs.redis import RedisStore

            url = request.getfixturevalue("redis_url")
            namespace = f"test-{request.node.name}-{len(made)}"
            store = RedisStore(url, chosen, namespace=namespace, clock=clock)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


class FakeClock:
    """A clock the test moves by hand (stores stamp queue times with it)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

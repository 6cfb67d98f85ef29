"""The benchmark's CI check: it fails only on a broken product promise."""

from __future__ import annotations

from typing import Any

import pytest
from benchmarks.__main__ import table, verdicts


def run(
    server: str,
    p99: float = 4.0,
    errors: int = 0,
    rps: float = 10_000.0,
    p50: float = 2.0,
    cold: float = 0.4,
    rss: float = 40.0,
) -> dict[str, Any]:
    return {
        "server": server,
        "model": "echo",
        "open_loop": {
            "p50_ms": p50,
            "p90_ms": 3.0,
            "p99_ms": p99,
            "max_ms": 9.0,
            "errors": errors,
            "first_error": "HTTP 500" if errors else "",
        },
        "closed_loop": {"requests_per_second": rps, "errors": 0},
        "cold_start_s": cold,
        "peak_worker_rss_mb": rss,
        "peak_tree_rss_mb": 2 * rss,
    }


def report(**servekit: Any) -> dict[str, Any]:
    return {"runs": [run("baseline"), run("servekit", **servekit)]}


def test_a_healthy_run_passes_with_targets_met() -> None:
    assert verdicts(report()) == ([], [])


@pytest.mark.parametrize(
    ("change", "needle"), [({"p99": 51.0}, "p99 51.0 ms"), ({"errors": 1}, "1 errors")]
)
def test_the_promise_is_broken_by_slow_p99_or_any_error(
    change: dict[str, Any], needle: str
) -> None:
    broken, _ = verdicts(report(**change))
    assert len(broken) == 1
    assert needle in broken[0]


def test_missed_targets_are_reported_but_do_not_break_the_promise() -> None:
    broken, missed = verdicts(report(p99=8.0, rps=5_000.0, cold=2.0, rss=90.0, p50=3.0))
    assert broken == []
    assert len(missed) == 5


def test_the_table_shows_both_servers_and_the_ratio() -> None:
    text = table(report(rps=20_000.0))
    assert "| echo | saturation req/s | 20000.00 | 10000.00 | 2.00 |" in text
    assert text.count("| echo |") == 9

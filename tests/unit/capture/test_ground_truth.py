"""Ground truth bodies checked entry by entry, and labels written at once to their sink
(a failure is a 503 to send again, the sink reopened next time)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from servekit import errors
from servekit.capture.ground_truth import GroundTruth, parse_labels


def test_labels_come_as_an_array_or_under_ground_truth() -> None:
    body = b'[{"event_id": "a", "label": 1}, {"event_id": "b", "label": {"class": "x"}}]'
    assert parse_labels(body) == [("a", 1), ("b", {"class": "x"})]
    assert parse_labels(b'{"ground_truth": [{"event_id": "c", "label": null}]}') == [("c", None)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "send a non-empty array"),
        (b"[]", "send a non-empty array"),
        (b'{"labels": []}', "send a non-empty array"),
        (b'[{"event_id": "a"}]', r'ground_truth\[0\] must be \{"event_id"'),
        (b'[{"event_id": "a", "label": 1}, 3]', r"ground_truth\[1\] must be"),
        (b'[{"event_id": 7, "label": 1}]', r"ground_truth\[0\].event_id must be a string"),
        (b'[{"event_id": "", "label": 1}]', r"ground_truth\[0\].event_id must be a string"),
        (b'[{"event_id": "a", "label": 1, "x": 2}]', r"ground_truth\[0\] must be"),
    ],
)
def test_a_bad_entry_is_named(body: bytes, message: str) -> None:
    with pytest.raises(errors.BadRequest, match=message):
        parse_labels(body)


def test_a_malformed_body_is_bad_json() -> None:
    with pytest.raises(errors.BadJson):
        parse_labels(b'[{"event_id": "a", "label": 1}')


class Sink:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.lines: list[bytes] = []
        self.closed = False

    def write(self, lines: list[bytes]) -> None:
        if self.fail:
            raise OSError("disk full")
        self.lines += lines

    def close(self) -> None:
        self.closed = True


def test_labels_are_written_at_once_and_a_failure_is_503() -> None:
    opened: list[Sink] = []

    def sink() -> Any:
        opened.append(Sink(fail=len(opened) == 0))
        return opened[-1]

    truth = GroundTruth(sink, clock=lambda: 0.0)
    with pytest.raises(errors.StoreUnavailable, match="disk full; send it again"):
        truth.store([("a", 1)])
    assert opened[0].closed
    assert truth.store([("a", 1), ("b", "yes")]) == 2
    assert [orjson.loads(x) for x in opened[1].lines] == [
        {"time": "1970-01-01T00:00:00.000Z", "event_id": "a", "label": 1},
        {"time": "1970-01-01T00:00:00.000Z", "event_id": "b", "label": "yes"},
    ]

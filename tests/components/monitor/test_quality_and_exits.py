"""``servekit monitor``'s quality numbers are scikit-learn's on the same labels (for the
window and per hour), ground truth imported from a file joins too, quality bounds set the
exit code, and a mistake is exit 2 with one ``servekit: error:`` line."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from tests.components.monitor.known_drift import (
    START,
    draw,
    labels_for,
    monitor,
    summary,
    write_labels,
    write_records,
)

ROWS = 1800
SPAN = timedelta(hours=6)


@pytest.fixture
def classes(tmp_path: Path) -> tuple[Path, pd.DataFrame, np.ndarray, list[str]]:
    rng = np.random.default_rng(11)
    draw(rng, 2000).to_csv(tmp_path / "baseline.csv", index=False)
    frame = draw(rng, ROWS)
    events = write_records(tmp_path / "records", frame, START, SPAN)
    truth = labels_for(frame, rng, wrong=0.25)
    write_labels(tmp_path / "records", events, truth)
    return tmp_path, frame, truth, events


def test_class_quality_is_sklearns(classes: Any) -> None:
    folder, frame, truth, events = classes
    code, _, err = monitor(
        "--records", str(folder / "records"), "--baseline", str(folder / "baseline.csv"),
        "--prediction-column", "churn", "--out", str(folder / "out"),
    )  # fmt: skip
    assert (code, err) == (0, "")
    quality = summary(folder / "out")["quality"]
    guess = frame["churn"].to_numpy()
    assert (quality["task"], quality["joined"]) == ("classification", ROWS)
    expected = metrics.precision_recall_fscore_support(truth, guess, average="macro")
    assert quality["metrics"] == pytest.approx(
        {
            "accuracy": metrics.accuracy_score(truth, guess),
            "precision_macro": expected[0],
            "recall_macro": expected[1],
            "f1_macro": expected[2],
        }
    )
    per_class = metrics.precision_recall_fscore_support(truth, guess, labels=[0, 1])
    for index, name in enumerate(["0", "1"]):
        assert quality["per_class"][name] == pytest.approx(
            {
                "precision": per_class[0][index],
                "recall": per_class[1][index],
                "f1": per_class[2][index],
                "support": per_class[3][index],
            }
        )
    hours = np.array([int(event[3:]) * 6 // ROWS for event in events])  # the record's hour
    points = quality["over_time"]["points"]
    assert quality["over_time"]["unit"] == "hour"
    assert [p["start"] for p in points] == [
        (START + timedelta(hours=h)).isoformat() for h in range(6)
    ]
    for hour, point in enumerate(points):
        chosen = hours == hour
        assert point["count"] == chosen.sum()
        assert point["accuracy"] == pytest.approx(
            metrics.accuracy_score(truth[chosen], guess[chosen])
        )
        assert point["f1_macro"] == pytest.approx(
            metrics.f1_score(truth[chosen], guess[chosen], average="macro")
        )


def test_a_quality_bound_crossed_is_exit_1(classes: Any) -> None:
    folder = classes[0]
    (folder / "thresholds.json").write_text(json.dumps({"quality": {"accuracy": {"min": 0.8}}}))
    code, _, _ = monitor(
        "--records", str(folder / "records"), "--baseline", str(folder / "baseline.csv"),
        "--thresholds", str(folder / "thresholds.json"), "--out", str(folder / "out"),
    )  # fmt: skip
    found = summary(folder / "out")
    assert code == 1
    assert [(c["kind"], c["name"], c["min"]) for c in found["crossed"]] == [
        ("quality", "accuracy", 0.8)
    ]
    assert found["crossed"][0]["value"] == pytest.approx(0.75, abs=0.03)
    assert 'class="crossed"><td>accuracy' in (folder / "out" / "report.html").read_text()


def test_ground_truth_from_a_csv_file_joins_single_rows(classes: Any) -> None:
    folder, frame, _, events = classes
    (folder / "records" / "ground-truth.jsonl").unlink()
    singles = [
        (e, int(c)) for e, c in zip(events, frame["churn"], strict=True) if events.count(e) == 1
    ]
    pd.DataFrame(singles, columns=["event_id", "label"]).to_csv(folder / "gt.csv", index=False)
    code, _, _ = monitor(
        "--records", str(folder / "records"), "--baseline", str(folder / "baseline.csv"),
        "--ground-truth", str(folder / "gt.csv"), "--out", str(folder / "out"),
    )  # fmt: skip
    quality = summary(folder / "out")["quality"]
    assert code == 0
    assert (quality["labels"], quality["joined"]) == (len(singles), len(singles))
    assert quality["metrics"]["accuracy"] == 1.0  # the labels are the predictions


def test_number_quality_is_sklearns_and_bounds_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    draw(rng, 1000).to_csv(tmp_path / "baseline.csv", index=False)
    frame = draw(rng, 900)
    frame["churn"] = rng.normal(50.0, 10.0, len(frame))  # a number now, not a class
    events = write_records(tmp_path / "records", frame, START, timedelta(days=3))
    truth = frame["churn"].to_numpy() + rng.normal(0.0, 4.0, len(frame))
    write_labels(tmp_path / "records", events, truth)
    (tmp_path / "t.yaml").write_text("quality:\n  mae: {max: 2.5}\n  accuracy: {min: 0.9}\n")
    code, _, _ = monitor(
        "--records", str(tmp_path / "records"), "--baseline", str(tmp_path / "baseline.csv"),
        "--thresholds", str(tmp_path / "t.yaml"), "--out", str(tmp_path / "out"),
    )  # fmt: skip
    quality = summary(tmp_path / "out")["quality"]
    guess = frame["churn"].to_numpy()
    assert quality["task"] == "regression"
    assert quality["metrics"] == pytest.approx(
        {
            "mae": metrics.mean_absolute_error(truth, guess),
            "rmse": metrics.root_mean_squared_error(truth, guess),
        }
    )
    assert quality["over_time"]["unit"] == "day"
    assert [p["count"] for p in quality["over_time"]["points"]] == [300, 300, 300]
    assert code == 1  # MAE about 3.2 > 2.5; accuracy is no number's metric: not judged
    assert [c["name"] for c in summary(tmp_path / "out")["crossed"]] == ["mae"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--records": "nowhere"}, "--records {tmp}/nowhere: no such folder"),
        ({"--baseline": "nothing.csv"}, "--baseline {tmp}/nothing.csv: no such file"),
        ({"--since": "yesterday"}, "--since: expected an ISO 8601 time, got 'yesterday'"),
        ({"--since": "2030-01-01T00:00:00Z"}, "--records {tmp}/records: no records in the window"),
        ({"--prediction-column": "score"}, "--prediction-column score: no such column in"),
        (
            {"--thresholds": "bad.yaml"},
            "--thresholds {tmp}/bad.yaml: features.plan: unknown key 'pvalue'",
        ),
        ({"--baseline": "other.csv"}, "no captured feature is a column of the baseline"),
    ],
)
def test_a_mistake_is_exit_2_and_one_line(
    classes: Any, change: dict[str, str], message: str
) -> None:
    folder = classes[0]
    (folder / "bad.yaml").write_text("features:\n  plan: {pvalue: 0.1}\n")
    pd.DataFrame({"age": [1, 2]}).to_csv(folder / "other.csv", index=False)
    args = {"--records": "records", "--baseline": "baseline.csv", "--out": "out", **change}
    paths = ("--records", "--baseline", "--thresholds", "--out")
    argv = [
        part
        for flag, value in args.items()
        for part in (flag, str(folder / value) if flag in paths else value)
    ]
    code, out, err = monitor(*argv)
    assert code == 2
    assert out == ""
    assert err.startswith("servekit: error: " + message.format(tmp=folder))
    assert err.count("\n") == 1
    assert not (folder / "out").exists()


def test_usage_mistakes_are_argparses_exit_2(tmp_path: Path) -> None:
    code, _, err = monitor("--records", str(tmp_path))
    assert code == 2
    assert "one of the arguments --baseline --baseline-records is required" in err
    code, _, err = monitor("--records", ".", "--baseline", "a.csv", "--baseline-records", ".")
    assert code == 2
    assert "not allowed with argument" in err

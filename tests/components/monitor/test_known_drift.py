"""``servekit monitor`` on data where the drift is known: one numeric feature shifted and
one categorical feature's mix changed, the others drawn as before. The shifted features
are flagged, and only they; the exit code says so; CSV and Parquet baselines, and a
baseline window of records, agree."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.components.monitor.known_drift import (
    START,
    draw,
    monitor,
    summary,
    write_records,
)


def flagged(found: dict[str, Any]) -> set[str]:
    return {entry["name"] for entry in found["features"] if entry["drifted"]}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baseline (CSV and Parquet) of 4,000 rows; records of 3,000 shifted rows in
    ``shifted/`` and 3,000 unshifted in ``same/``."""
    folder = tmp_path_factory.mktemp("monitor")
    rng = np.random.default_rng(20261204)
    baseline = draw(rng, 4000)
    baseline.to_csv(folder / "baseline.csv", index=False)
    baseline.to_parquet(folder / "baseline.parquet")
    write_records(folder / "shifted", draw(rng, 3000, shifted=True))
    write_records(folder / "same", draw(rng, 3000))
    assert len(list((folder / "shifted").glob("predictions-*.jsonl.gz"))) > 2  # rotated
    return folder


def test_the_shifted_features_are_flagged_and_only_they(data: Path, tmp_path: Path) -> None:
    code, out, err = monitor(
        "--records", str(data / "shifted"), "--baseline", str(data / "baseline.csv"),
        "--prediction-column", "churn", "--out", str(tmp_path),
    )  # fmt: skip
    assert (code, err) == (1, "")
    found = summary(tmp_path)
    assert flagged(found) == {"tenure", "plan"}
    assert [entry["name"] for entry in found["features"]][:2] == ["tenure", "plan"]  # severity
    tests = {entry["name"]: (entry["kind"], entry["test"]) for entry in found["features"]}
    assert tests == {
        "tenure": ("numeric", "Kolmogorov-Smirnov"),
        "spend": ("numeric", "Kolmogorov-Smirnov"),
        "plan": ("categorical", "chi-square"),
        "region": ("categorical", "chi-square"),
        "active": ("categorical", "chi-square"),
    }
    kept = [entry for entry in found["features"] if not entry["drifted"]]
    assert all(entry["psi"] < 0.05 for entry in kept), kept
    assert all(entry["psi"] > 0.2 and entry["p_value"] < 1e-6 for entry in found["features"][:2])
    assert found["prediction"]["drifted"] is False
    assert [(c["kind"], c["name"]) for c in found["crossed"]] == [
        ("drift", "tenure"),
        ("drift", "plan"),
    ]
    assert found["records"] == {
        "read": 2001, "used": 2000, "failed": 1, "unusable": 0, "rows": 3000,
        "unreadable_lines": 1,
    }  # fmt: skip
    assert found["not_in_baseline"] == ["threshold"]  # the batch's other input
    assert found["exit_code"] == 1
    assert "2 threshold(s) crossed (tenure, plan)" in out
    assert (tmp_path / "report.html").read_text().count('class="chart feature"') == 5


def test_nothing_moved_is_exit_0(data: Path, tmp_path: Path) -> None:
    code, out, _ = monitor(
        "--records", str(data / "same"), "--baseline", str(data / "baseline.parquet"),
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0
    found = summary(tmp_path)
    assert flagged(found) == set()
    assert found["crossed"] == []
    assert found["prediction"] is None  # no --prediction-column: the baseline has none
    assert "no threshold crossed" in out


def test_csv_and_parquet_baselines_give_the_same_numbers(data: Path, tmp_path: Path) -> None:
    for name in ("csv", "parquet"):
        monitor(
            "--records", str(data / "shifted"), "--baseline", str(data / f"baseline.{name}"),
            "--out", str(tmp_path / name),
        )  # fmt: skip
    assert summary(tmp_path / "csv")["features"] == summary(tmp_path / "parquet")["features"]


def test_per_feature_thresholds_decide(data: Path, tmp_path: Path) -> None:
    thresholds = tmp_path / "thresholds.yaml"
    thresholds.write_text("psi: 0.2\nfeatures:\n  plan: {psi: 5}\n  spend: {psi: 0, p_value: 1}\n")
    code, _, _ = monitor(
        "--records", str(data / "shifted"), "--baseline", str(data / "baseline.csv"),
        "--thresholds", str(thresholds), "--out", str(tmp_path / "out"),
    )  # fmt: skip
    found = summary(tmp_path / "out")
    assert code == 1
    assert flagged(found) == {"tenure", "spend"}  # plan's bar raised, spend's at nothing
    limits = {entry["name"]: entry["limits"] for entry in found["features"]}
    assert limits["plan"] == {"psi": 5.0, "p_value": 0.05}
    assert limits["region"] == {"psi": 0.2, "p_value": 0.05}


def test_a_window_of_records_is_a_baseline(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    folder = tmp_path / "records"
    write_records(folder, draw(rng, 2400), START, timedelta(hours=2), torn=False)
    write_records(folder, draw(rng, 2400, shifted=True), START + timedelta(hours=2))
    later = (START + timedelta(hours=2)).isoformat()
    code, _, err = monitor(
        "--records", str(folder), "--since", later,
        "--baseline-records", str(folder), "--baseline-until", later,
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert (code, err) == (1, "")
    found = summary(tmp_path / "out")
    assert flagged(found) == {"tenure", "plan"}
    assert found["baseline"]["rows"] == 2400
    assert found["records"]["rows"] == 2400
    assert found["prediction"] is not None
    assert found["prediction"]["drifted"] is False

"""The thresholds file: defaults, per-feature overrides, quality bounds, and a mistake
named where it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from servekit.errors import ConfigError
from servekit.monitor.thresholds import Limits, Thresholds, load_thresholds, parse_thresholds


def test_nothing_is_the_defaults() -> None:
    assert parse_thresholds(None, "t") == Thresholds()
    assert Thresholds().for_feature("x") == Limits(psi=0.2, p_value=0.05)


def test_both_limits_must_be_crossed() -> None:
    limits = Limits(psi=0.2, p_value=0.05)
    assert limits.drifted(0.2, 0.049)
    assert not limits.drifted(0.19, 0.0)
    assert not limits.drifted(3.0, 0.05)


def test_overrides_start_from_the_file_defaults() -> None:
    found = parse_thresholds(
        {
            "psi": 0.3,
            "features": {"tenure": {"psi": 0.1}, "plan": {"p_value": 0.01}},
            "prediction": {"psi": 0.5},
            "quality": {"accuracy": {"min": 0.8}, "mae": {"max": 3}},
        },
        "t",
    )
    assert found.for_feature("tenure") == Limits(0.1, 0.05)
    assert found.for_feature("plan") == Limits(0.3, 0.01)
    assert found.for_feature("other") == Limits(0.3, 0.05)
    assert found.for_prediction() == Limits(0.5, 0.05)
    assert found.quality == {"accuracy": ("min", 0.8), "mae": ("max", 3.0)}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1], "t: expected a mapping, got [1]"),
        ({"psi": "high"}, "t.psi: expected a number, got 'high'"),
        ({"p_value": 2}, "t.p_value: expected a number from 0.0 to 1.0, got 2"),
        ({"psi": -1}, "t.psi: expected a number from 0.0 to inf, got -1"),
        ({"feature": {}}, "t: unknown key 'feature'"),
        ({"features": {"x": {"ks": 1}}}, "t: features.x: unknown key 'ks'"),
        ({"quality": {"auc": {"min": 1}}}, "t: quality: unknown key 'auc'"),
        ({"quality": {"mae": {"min": 1, "max": 2}}}, "t: quality.mae: expected one of min or max"),
        ({"quality": {"mae": {"max": True}}}, "t: quality.mae.max: expected a number, got True"),
    ],
)
def test_a_mistake_is_named(document: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_thresholds(document, "t")
    assert caught.value.message.startswith(message)


def test_files_are_yaml_or_json(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("psi: 0.1\nquality:\n  rmse: {max: 4}\n")
    (tmp_path / "t.json").write_text('{"psi": 0.1, "quality": {"rmse": {"max": 4}}}')
    assert load_thresholds(tmp_path / "t.yaml") == load_thresholds(tmp_path / "t.json")
    (tmp_path / "bad.yaml").write_text("psi: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not YAML or JSON"):
        load_thresholds(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match=r"missing\.yaml: No such file"):
        load_thresholds(tmp_path / "missing.yaml")

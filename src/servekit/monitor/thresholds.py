"""Which numbers count as a problem: the thresholds file, parsed and applied. I/O-free
(:func:`load_thresholds` only reads the file).

A YAML or JSON document, every key optional::

    psi: 0.2            # a feature drifted when its PSI is at least this ...
    p_value: 0.05       # ... and its test's p-value is below this
    features:           # per feature, either or both
      tenure: {psi: 0.1}
      plan: {p_value: 0.01}
    prediction: {psi: 0.1}
    quality:            # where ground truth joined, over the whole window
      accuracy: {min: 0.8}
      mae: {max: 3}

Requiring both keeps a large sample's tiny but significant shift, and a small sample's
noisy PSI, from raising the alarm; ``psi: 0`` judges by the test alone, ``p_value: 1``
by the PSI alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servekit.errors import ConfigError
from servekit.monitor._libs import yaml
from servekit.monitor.quality import CLASS_METRICS, NUMBER_METRICS

__all__ = ["Limits", "Thresholds", "load_thresholds", "parse_thresholds"]


@dataclass(frozen=True)
class Limits:
    """A feature's drift limits."""

    psi: float = 0.2
    p_value: float = 0.05

    def drifted(self, psi: float, p_value: float) -> bool:
        """Whether a PSI and p-value cross these limits."""
        return psi >= self.psi and p_value < self.p_value


@dataclass(frozen=True)
class Thresholds:
    """Drift limits (default, per feature, the prediction's) and quality bounds
    (metric -> ``("min" | "max", value)``)."""

    default: Limits = Limits()
    features: dict[str, Limits] = field(default_factory=dict)
    prediction: Limits | None = None
    quality: dict[str, tuple[str, float]] = field(default_factory=dict)

    def for_feature(self, name: str) -> Limits:
        """The limits of feature ``name``."""
        return self.features.get(name, self.default)

    def for_prediction(self) -> Limits:
        """The limits of the prediction."""
        return self.prediction or self.default


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if not (low <= value <= high and math.isfinite(value)):
        raise ConfigError(f"{where}: expected a number from {low} to {high}, got {value}")
    return float(value)


def _mapping(value: Any, where: str, keys: set[str] | None = None) -> dict[str, Any]:
    """``value`` when it is a mapping of only ``keys`` (of any keys when None)."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping, got {value!r}")
    unknown = [] if keys is None else sorted(str(key) for key in set(value) - keys)
    if unknown and keys is not None:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(keys))})")
    return value


def _limits(value: Any, where: str, base: Limits) -> Limits:
    found = _mapping(value, where, {"psi", "p_value"})
    return Limits(
        psi=_number(found.get("psi", base.psi), f"{where}.psi", 0.0, math.inf),
        p_value=_number(found.get("p_value", base.p_value), f"{where}.p_value", 0.0, 1.0),
    )


def parse_thresholds(document: Any, where: str) -> Thresholds:
    """The thresholds a document asks for; ConfigError naming the key that is wrong."""
    found = _mapping(document or {}, where, {"psi", "p_value", "features", "prediction", "quality"})
    default = _limits({k: v for k, v in found.items() if k in ("psi", "p_value")}, where, Limits())
    features = {
        str(name): _limits(limits, f"{where}: features.{name}", default)
        for name, limits in _mapping(found.get("features") or {}, f"{where}: features").items()
    }
    prediction = (
        _limits(found["prediction"], f"{where}: prediction", default)
        if found.get("prediction") is not None
        else None
    )
    quality: dict[str, tuple[str, float]] = {}
    known = set(CLASS_METRICS) | set(NUMBER_METRICS)
    for metric, bound in _mapping(found.get("quality") or {}, f"{where}: quality", known).items():
        limit = _mapping(bound, f"{where}: quality.{metric}", {"min", "max"})
        if len(limit) != 1:
            raise ConfigError(f"{where}: quality.{metric}: expected one of min or max")
        ((side, value),) = limit.items()
        quality[metric] = (
            side,
            _number(value, f"{where}: quality.{metric}.{side}", -math.inf, math.inf),
        )
    return Thresholds(default, features, prediction, quality)


def load_thresholds(path: Path) -> Thresholds:
    """The thresholds in ``path`` (YAML, of which JSON is a part)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--thresholds {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--thresholds {path}: not YAML or JSON: {exc}") from None
    return parse_thresholds(document, f"--thresholds {path}")

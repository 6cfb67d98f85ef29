"""How far one feature moved between a baseline sample and a current one. I/O-free:
arrays in, numbers out.

Two measures per feature, both from the same counts:

* the population stability index, ``PSI = sum((c - b) * ln(c / b))`` over bins, ``b`` and
  ``c`` each side's share of a bin (computed as ``rel_entr(c, b) + rel_entr(b, c)``,
  scipy.special). Numbers are binned at the baseline's deciles (cut points merged where
  they tie, so a feature with few values gets fewer bins), open at both ends; categories
  are their own bins (every value seen on either side). A share of 0 counts as
  :data:`EPSILON`, so an empty bin gives a large but finite index;
* a two-sample test, named per kind: Kolmogorov-Smirnov for numbers
  (``scipy.stats.ks_2samp``), chi-square on the 2 x categories table for categories
  (``scipy.stats.chi2_contingency``; one category on both sides is no drift, p = 1).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from servekit.monitor._libs import special, stats

__all__ = ["BINS", "EPSILON", "Drift", "categorical_drift", "numeric_drift", "psi"]

BINS = 10
"""Numeric features are binned at the baseline's quantiles 1/BINS, 2/BINS, ..."""
EPSILON = 1e-4
"""The share an empty bin counts as."""

KS = "Kolmogorov-Smirnov"
CHI2 = "chi-square"


@dataclass(frozen=True)
class Drift:
    """One feature's drift: the test, its statistic and p-value, the PSI, and the bins it
    was computed on (label, baseline share, current share)."""

    kind: str
    test: str
    statistic: float
    p_value: float
    psi: float
    bins: list[str]
    baseline_share: list[float]
    current_share: list[float]
    baseline_count: int
    current_count: int


def _shares(counts: Any) -> Any:
    return np.asarray(counts, dtype=float) / max(float(np.sum(counts)), 1.0)


def psi(baseline_counts: Any, current_counts: Any) -> float:
    """The population stability index of two count vectors over the same bins."""
    b = np.maximum(_shares(baseline_counts), EPSILON)
    c = np.maximum(_shares(current_counts), EPSILON)
    return float(np.sum(special.rel_entr(c, b) + special.rel_entr(b, c)))


def _cut_labels(cuts: Any) -> list[str]:
    edges = [f"{value:.4g}" for value in cuts]
    if not edges:
        return ["all"]
    inner = [f"({low}, {high}]" for low, high in itertools.pairwise(edges)]
    return [f"≤ {edges[0]}", *inner, f"> {edges[-1]}"]


def numeric_drift(baseline: Any, current: Any) -> Drift:
    """Drift of a numeric feature (``baseline`` and ``current``: 1-d, no NaN, not empty)."""
    baseline, current = np.asarray(baseline, dtype=float), np.asarray(current, dtype=float)
    cuts = np.unique(np.quantile(baseline, np.arange(1, BINS) / BINS))
    bins = len(cuts) + 1
    base = np.bincount(np.searchsorted(cuts, baseline, side="left"), minlength=bins)
    now = np.bincount(np.searchsorted(cuts, current, side="left"), minlength=bins)
    test = stats.ks_2samp(baseline, current)
    return Drift(
        kind="numeric",
        test=KS,
        statistic=float(test.statistic),
        p_value=float(test.pvalue),
        psi=psi(base, now),
        bins=_cut_labels(cuts),
        baseline_share=_shares(base).tolist(),
        current_share=_shares(now).tolist(),
        baseline_count=len(baseline),
        current_count=len(current),
    )


def categorical_drift(baseline: Any, current: Any) -> Drift:
    """Drift of a categorical feature (``baseline`` and ``current``: 1-d arrays of
    strings, not empty)."""
    categories, inverse = np.unique(
        np.concatenate([np.asarray(baseline, dtype=str), np.asarray(current, dtype=str)]),
        return_inverse=True,
    )
    split = len(baseline)
    base = np.bincount(inverse[:split], minlength=len(categories))
    now = np.bincount(inverse[split:], minlength=len(categories))
    if len(categories) > 1:
        statistic, p_value, _, _ = stats.chi2_contingency(np.vstack([base, now]))
    else:
        statistic, p_value = 0.0, 1.0
    return Drift(
        kind="categorical",
        test=CHI2,
        statistic=float(statistic),
        p_value=float(p_value),
        psi=psi(base, now),
        bins=[str(c) for c in categories],
        baseline_share=_shares(base).tolist(),
        current_share=_shares(now).tolist(),
        baseline_count=len(baseline),
        current_count=len(current),
    )

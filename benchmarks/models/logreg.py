"""A small numpy model: logistic regression on 20 features (fixed, seeded weights)."""

from __future__ import annotations

import numpy as np

_RNG = np.random.default_rng(20)
WEIGHTS = _RNG.normal(size=20)
BIAS = float(_RNG.normal())


def predict(features: list[float]) -> dict[str, float]:
    """Probability of the positive class for one row of 20 features."""
    x = np.asarray(features, dtype=np.float64)
    score = float(x @ WEIGHTS + BIAS)
    return {"probability": 1.0 / (1.0 + float(np.exp(-score)))}

"""A class with load(): a logistic-regression churn model in numpy.

servekit creates ``ChurnModel`` once per worker, calls ``load()`` once (reading the
weights file shipped beside this file, by a relative path), then serves ``predict``.

    servekit serve examples/churn/model.py:ChurnModel
    curl -s localhost:8080/model -H 'Content-Type: application/json' \
         -d '{"data": {"customers": [{"tenure_months": 3, "monthly_spend": 80.5,
              "support_calls": 4, "plan": "basic"}]}}'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass
class Customer:
    """One customer's features, as the client sends them."""

    tenure_months: int
    monthly_spend: float
    support_calls: int = 0
    plan: Literal["basic", "plus", "pro"] = "basic"


class ChurnModel:
    """Churn probability from a customer's tenure, spend, support calls and plan."""

    def load(self) -> None:
        with open("weights.json", encoding="utf-8") as f:  # relative: the project folder
            spec = json.load(f)
        self.features: list[str] = spec["features"]
        self.weights = np.asarray(spec["weights"], dtype=np.float64)
        self.bias = float(spec["bias"])
        self.threshold = float(spec["threshold"])

    def _row(self, customer: Customer) -> list[float]:
        plan = customer.plan
        return [
            customer.tenure_months / 12.0,
            customer.monthly_spend / 100.0,
            float(customer.support_calls),
            1.0 if plan == "plus" else 0.0,
            1.0 if plan == "pro" else 0.0,
        ]

    def predict(self, customers: list[Customer]) -> list[dict[str, object]]:
        """One ``{"churn_probability", "will_churn"}`` per customer, in order."""
        if not customers:
            return []
        x = np.asarray([self._row(c) for c in customers], dtype=np.float64)
        probability = 1.0 / (1.0 + np.exp(-(x @ self.weights + self.bias)))
        return [
            {"churn_probability": round(float(p), 4), "will_churn": bool(p >= self.threshold)}
            for p in probability
        ]

"""The AMQP consumers' metrics (``servekit worker --amqp``), served on
``SERVEKIT_METRICS_PORT`` like the job workers'. No metric is created at import: the
registry is passed in (under the supervisor, prometheus_client's multi-process files)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from servekit.metrics.server import LATENCY_BUCKETS

__all__ = ["OUTCOMES", "AmqpMetrics"]

OUTCOMES = ("success", "failure", "timeout")
"""``outcome`` labels: a SeldonMessage reply, a FAILURE reply, a prediction past the timeout."""


class AmqpMetrics:
    """Messages answered by outcome, and the time from taking a message to its ack."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "servekit_amqp_messages_total",
            "Messages answered on the output queue, by outcome (success, failure, timeout).",
            ["outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "servekit_amqp_message_duration_seconds",
            "Time from taking a message to acknowledging it (the reply confirmed).",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        for outcome in OUTCOMES:  # every series exists from the start, at 0
            self.messages.labels(outcome)

    def answered(self, outcome: str, seconds: float) -> None:
        """Count one acknowledged message."""
        self.messages.labels(outcome).inc()
        self.seconds.observe(seconds)

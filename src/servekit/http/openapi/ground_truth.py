"""The OpenAPI operation of the ground-truth route (documented when capture is on)."""

from __future__ import annotations

from typing import Any

from servekit.http.openapi.parts import build_operation, error_answers, json_answer

__all__ = ["LABELS", "ground_truth_operation"]

LABELS: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["event_id", "label"],
        "additionalProperties": False,
        "properties": {
            "event_id": {"type": "string", "minLength": 1, "maxLength": 256},
            "label": {"description": "the true outcome (any JSON value)"},
        },
    },
}
"""The body: labels by event id (the ``event_id`` of a captured prediction)."""


def ground_truth_operation(path: str, security: list[Any]) -> dict[str, Any]:
    """``POST`` labels for earlier predictions."""
    accepted = {
        "type": "object",
        "required": ["accepted"],
        "properties": {"accepted": {"type": "integer", "minimum": 1}},
    }
    codes = (400, *((401,) if security else ()), 404, 409, 413, 431, 503)
    responses = {"200": json_answer(accepted, "stored"), **error_answers(codes)}
    return build_operation(path, "ground truth: labels by event id", responses, security, LABELS)

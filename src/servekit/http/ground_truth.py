"""``POST /models/<id>/<version>/ground-truth`` (and ``/ground-truth``): labels for
earlier predictions, by event id, stored beside the captured ones
(:mod:`servekit.capture.ground_truth`). Thin. Needs a token like predictions; answers
``{"accepted": N}`` once the sink has them, 409 when capture is off, 503 when the sink
cannot take them (send again: nothing was half stored in a file, and a label sent twice
is harmless to a join).
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, request

from servekit import errors
from servekit.capture.ground_truth import GroundTruth, parse_labels
from servekit.http.predictions import check_model_path, not_ready
from servekit.http.state import ServerState
from servekit.settings import Settings

__all__ = ["views"]


def views(settings: Settings, state: ServerState) -> dict[str, Any]:
    """The view, by endpoint."""
    truth: GroundTruth | None = None
    if settings.capture:
        from servekit.capture.sinks import sink_factory

        truth = GroundTruth(sink_factory(settings, labels=True))

    def ground_truth(model_id: str = "", version: str = "") -> Response:
        plane = state.dataplane
        if plane is None:
            raise not_ready(state)
        if model_id:
            check_model_path(request.path, plane.release, settings.model_id)
        if truth is None:
            raise errors.Conflict(
                "ground truth is stored beside the captured predictions, and capture is "
                "off: set SERVEKIT_CAPTURE"
            )
        count = truth.store(parse_labels(request.get_data(cache=False)))
        return Response(orjson.dumps({"accepted": count}), mimetype="application/json")

    return {"ground_truth": ground_truth}

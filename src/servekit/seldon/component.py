"""A component for Seldon's own Python wrapper that runs any servekit TARGET.

Run it with Seldon Core's microservice, in an environment that has seldon-core::

    SERVEKIT_TARGET=/app/model.py:predict \\
        seldon-core-microservice servekit.seldon.component.ServekitComponent \\
        --service-type MODEL

The TARGET may also be given as a Seldon parameter named ``target``. Each of the
wrapper's worker processes loads the model once (Seldon calls :meth:`load` after fork),
and every request goes through servekit's :class:`~servekit.protocols.seldon.codec.SeldonCodec`:
the same mapping, validation and answers as servekit's own Seldon routes. This module
imports only servekit's I/O-free core (no Flask, uWSGI or prometheus_client), so it runs
beside seldon-core's old pins: ``pip install --no-deps servekit orjson``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import orjson

from servekit.errors import ServekitError
from servekit.loading import load_dataplane
from servekit.protocols.seldon.codec import SeldonCodec
from servekit.protocols.seldon.message import seldon_error
from servekit.settings import Settings

__all__ = ["ServekitComponent"]


class ServekitComponent:
    """A Seldon model class whose ``predict_raw`` is servekit's Seldon plane."""

    def __init__(self, target: str = "", **parameters: Any) -> None:
        """``target`` (or ``SERVEKIT_TARGET``) names the model; any other Seldon
        parameters are passed on to a class TARGET's constructor."""
        settings = Settings.from_env(os.environ)
        settings = dataclasses.replace(
            settings,
            target=target or settings.target,
            unit_parameters=json.dumps([_parameter(k, v) for k, v in parameters.items()]),
        )
        self.settings = settings
        self._plane: SeldonCodec | None = None

    def load(self) -> None:
        """Load the TARGET once in this process (Seldon calls this after fork)."""
        if self._plane is None:
            self._plane = SeldonCodec(load_dataplane(self.settings))

    def _seldon(self) -> SeldonCodec:
        self.load()
        assert self._plane is not None
        return self._plane

    def predict_raw(self, message: Any) -> Any:
        """Answer one SeldonMessage; errors in Seldon's envelope and status."""
        request_id = os.urandom(16).hex()
        plane = self._seldon()
        try:
            answer = plane.predict(message, request_id)
            return orjson.loads(plane.plane.encode_result(answer.body, request_id))
        except ServekitError as exc:
            raise _seldon_exception(exc) from None

    def health_status(self) -> Any:
        """``health_status()`` of a Seldon-style TARGET, else ``"healthy"``."""
        plane = self._seldon()
        body = plane.health(os.urandom(16).hex()).body
        return body.get("jsonData", body.get("strData", "healthy"))

    def init_metadata(self) -> dict[str, Any]:
        """Seldon metadata: the model's name and version (and a Seldon TARGET's own)."""
        return self._seldon().metadata(os.urandom(16).hex())


def _parameter(name: str, value: Any) -> dict[str, str]:
    """One parameter back in Seldon's typed form (Seldon has already converted it)."""
    kind = (
        "BOOL"
        if isinstance(value, bool)
        else "INT"
        if isinstance(value, int)
        else "DOUBLE"
        if isinstance(value, float)
        else "STRING"
    )
    return {"name": name, "value": str(value), "type": kind}


def _seldon_exception(error: ServekitError) -> Exception:
    """Seldon's own exception for ``error``, so its wrapper answers with our status and
    reason (imported here: this runs inside Seldon's wrapper, where it exists)."""
    from seldon_core.flask_utils import SeldonMicroserviceException

    status, body = seldon_error(error)
    found: Exception = SeldonMicroserviceException(
        body["status"]["info"], status_code=status, reason=body["status"]["reason"]
    )
    return found

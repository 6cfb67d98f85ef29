"""MLflow's scoring protocol (``POST /invocations``) over the one data plane. I/O-free.

:meth:`ScoringCodec.score` answers as ``mlflow models serve`` does:

- the content type (:func:`~.request.media_type`): CSV, JSON or Parquet, else 415;
- a JSON body's ``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs``
  (exactly one) and ``params`` (:func:`~.request.parse_json`), turned into what the model
  takes by MLflow's own ``infer_and_parse_data`` with the model's input schema (a model
  whose signature came from type hints takes ``inputs`` as they are); a CSV or Parquet
  body by MLflow's ``parse_csv_input``/``parse_parquet_input``, without params;
- the model called through :meth:`DataPlane.call` (``protocol="mlflow"``) with one
  :class:`~servekit.runtimes.mlflow.scoring.ScoringInput`; the runtime returns
  ``model.predict(data, params=params)``'s result;
- the result written as MLflow writes it (:mod:`.answer`).

Errors are MLflow's documents (:mod:`.shape`): what MLflow's parsing raises, as it is;
an ``MlflowException`` from the model (a schema the input does not fit, a bad param)
as "Failed to predict data '...'. Error: ..."; any other exception from the model as
MLflow's "Encountered an unexpected error while evaluating the model..." (400, as MLflow
answers it; the traceback is logged, never sent).
"""

from __future__ import annotations

import json
import logging
import warnings
from io import BytesIO, StringIO
from typing import Any

from servekit import errors
from servekit.core.binding import BoundCall
from servekit.core.dataplane import Answer, DataPlane
from servekit.protocols.mlflow.answer import predictions_body
from servekit.protocols.mlflow.request import (
    CSV,
    JSON,
    invalid_input,
    media_type,
    parse_json,
)
from servekit.protocols.mlflow.shape import ScoringError, error_document
from servekit.runtimes.mlflow.scoring import ScoringInput

__all__ = ["UNEXPECTED", "ScoringCodec"]

log = logging.getLogger("servekit.model")

UNEXPECTED = (
    "Encountered an unexpected error while evaluating the model. Verify"
    " that the serialized input Dataframe is compatible with the model for"
    " inference."
)
"""MLflow's message when the model raises anything but an ``MlflowException``."""


class ScoringCodec:
    """Serves ``plane``'s MLflow model over ``/invocations``. Build once per process:
    it reads the model's metadata (``metadata``: its ``mlflow.models.Model``)."""

    def __init__(self, plane: DataPlane, metadata: Any) -> None:
        with warnings.catch_warnings():  # MLflow warns about its own type hints
            warnings.simplefilter("ignore")
            from mlflow.exceptions import MlflowException
            from mlflow.pyfunc import scoring_server
            from mlflow.utils.proto_json_utils import NumpyEncoder

        self.plane = plane
        self._mlflow_error: type[Exception] = MlflowException
        self._encoder: type[json.JSONEncoder] = NumpyEncoder
        self._server: Any = scoring_server  # MLflow's parsing helpers (untyped)
        self._formats = str(scoring_server.REQUIRED_INPUT_FORMAT)
        self.schema: Any = metadata.get_input_schema()
        params = metadata.get_params_schema()
        self.params = frozenset(p.name for p in params.params) if params else frozenset()
        hinted = getattr(metadata, "_is_signature_from_type_hint", None)
        self.type_hinted = bool(hinted()) if hinted is not None else False
        """The signature came from the model's type hints: ``inputs`` go in unparsed."""

    def score(self, body: bytes, content_type: str | None, request_id: str) -> Answer:
        """One scoring request: the 200's JSON body and the seconds the model took, or
        a ServekitError in MLflow's shape."""
        kind = media_type(content_type)
        unwrapped = False
        try:
            if kind == JSON:
                data, params, unwrapped = self._json(body)
            elif kind == CSV:
                data, params = self._csv(body), None
            else:
                data, params = self._server.parse_parquet_input(BytesIO(body)), None
        except self._mlflow_error as exc:
            raise ScoringError.of(exc) from None
        plane = self.plane
        bound = BoundCall(args=(ScoringInput(data, params),), kwargs={})
        started = plane.clock()
        try:
            result = plane.call(bound, request_id, protocol="mlflow")
        except errors.ServekitError as exc:
            raise self._failure(exc, data) from exc
        seconds = plane.clock() - started
        try:
            answer = predictions_body(result, self._encoder, unwrapped)
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            log.error("result could not be encoded: %s", exc, extra={"request_id": request_id})
            raise errors.ModelError(f"the model's result could not be encoded: {exc}") from exc
        return Answer(answer, seconds)

    def _json(self, body: bytes) -> tuple[Any, Any, bool]:
        document = parse_json(body, self.params, self._formats)
        if document.unwrapped:
            return document.data, document.params, True
        data = document.data
        if not self.type_hinted:
            return self._server.infer_and_parse_data(data, self.schema), document.params, False
        if "inputs" not in data:
            raise ScoringError(
                error_document(
                    "INVALID_PARAMETER_VALUE",
                    "Request payload must be a dictionary with 'inputs' key when the model "
                    f"contains a valid type hint. Found keys in payload: {data.keys()}.",
                )
            )
        return data["inputs"], document.params, False

    def _csv(self, body: bytes) -> Any:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise invalid_input(
                f"Ensure that input is a valid UTF-8 encoded string. Error: '{exc!r}'"
            ) from None
        return self._server.parse_csv_input(csv_input=StringIO(text), schema=self.schema)

    def _failure(self, exc: errors.ServekitError, data: Any) -> errors.ServekitError:
        """The model's error as MLflow answers it (see the module's docstring)."""
        # The model's exception: DataPlane's ModelError is raised from it; the runtime
        # raises its 422 for a schema MLflow enforced while handling it.
        cause = exc.__cause__ if exc.__cause__ is not None else exc.__context__
        if isinstance(cause, self._mlflow_error):
            message = getattr(cause, "message", str(cause))
            return ScoringError.of(cause, f"Failed to predict data '{data}'. \nError: {message}")
        if isinstance(exc, errors.ModelError):
            return ScoringError(error_document("BAD_REQUEST", UNEXPECTED))
        return exc

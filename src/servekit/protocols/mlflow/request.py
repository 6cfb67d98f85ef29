"""How MLflow's scoring server reads a request: its content type, and a JSON body into
the data and params a pyfunc model takes. I/O-free; imports no MLflow.

The rules and messages are those of ``mlflow.pyfunc.scoring_server`` (3.x): the media
type is matched as sent (``text/csv``, ``application/json`` or
``application/vnd.apache.parquet``); ``charset`` may only be ``utf-8``, and no other
parameter is taken; either refusal is a 415 in plain text. A JSON body is parsed by
the standard library's ``json.loads``, as MLflow parses it: orjson differs on what it
takes (it reads an integer past 64 bits as a float, refuses ``NaN`` and UTF-16), and
for the bodies scored, parsing is a few microseconds beside building the DataFrame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from servekit.protocols.mlflow.shape import ScoringError, UnsupportedContent, error_document

__all__ = [
    "CSV",
    "FORMATS",
    "JSON",
    "LLM_KEYS",
    "PARQUET",
    "REQUIRED_FORMAT",
    "UPGRADE_NOTE",
    "Document",
    "invalid_input",
    "media_type",
    "parse_json",
]

CSV, JSON, PARQUET = "text/csv", "application/json", "application/vnd.apache.parquet"
_TYPES = [CSV, JSON, PARQUET]
FORMATS = frozenset({"dataframe_split", "dataframe_records", "instances", "inputs"})
"""The keys holding the data (exactly one per request)."""
LLM_KEYS = frozenset({"messages", "prompt", "input"})
"""Keys of MLflow's unwrapped chat, completions and embeddings requests."""
UPGRADE_NOTE = (
    "IMPORTANT: The MLflow Model scoring protocol has changed in MLflow version 2.0. If you are"
    " seeing this error, you are likely using an outdated scoring request format. To resolve the"
    " error, either update your request format or adjust your MLflow Model's requirements file to"
    " specify an older version of MLflow (for example, change the 'mlflow' requirement specifier"
    " to 'mlflow==1.30.0'). If you are making a request using the MLflow client"
    " (e.g. via `mlflow.pyfunc.spark_udf()`), upgrade your MLflow client to a version >= 2.0 in"
    " order to use the new request format. For more information about the updated MLflow"
    " Model scoring protocol in MLflow 2.0, see"
    " https://mlflow.org/docs/latest/models.html#deploy-mlflow-models."
)
"""MLflow's note on the 1.x protocol, appended to some of its refusals."""


REQUIRED_FORMAT = (
    f"The input must be a JSON dictionary with exactly one of the input fields {set(FORMATS)}"
)
"""MLflow's sentence naming the data keys. It prints its own set, whose order is that
process's: pass ``mlflow.pyfunc.scoring_server.REQUIRED_INPUT_FORMAT`` for its text."""


@dataclass(frozen=True)
class Document:
    """A JSON request read as MLflow reads it: ``data`` (the format keys present, or an
    unwrapped LLM request's fields), ``params`` and whether it was unwrapped."""

    data: dict[str, Any]
    params: Any
    unwrapped: bool = False


def invalid_input(message: str) -> ScoringError:
    """MLflow's ``MlflowInvalidInputException``: 400 ``BAD_REQUEST``, "Invalid input. ..."."""
    return ScoringError(error_document("BAD_REQUEST", f"Invalid input. {message}"))


def media_type(content_type: str | None) -> str:
    """The media type of a ``Content-Type`` MLflow takes; :class:`UnsupportedContent`
    otherwise (a missing one is ``''``: MLflow 3.17 fails on it with a bare 500)."""
    parts = [part.strip() for part in (content_type or "").split(";")]
    values = {key: value for key, _, value in (pair.partition("=") for pair in parts[1:])}
    if values.get("charset", "utf-8").lower() != "utf-8":
        raise UnsupportedContent("The scoring server only supports UTF-8")
    unknown = set(values) - {"charset"}
    if unknown:
        raise UnsupportedContent(
            f"Unrecognized content type parameters: {', '.join(unknown)}. {UPGRADE_NOTE}"
        )
    if parts[0] not in _TYPES:
        raise UnsupportedContent(
            "This predictor only supports the following content types:"
            f" Types: {_TYPES}. Got '{content_type or ''}'."
        )
    return parts[0]


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid_input(
            f"Ensure that input is a valid JSON formatted string. Error: '{exc!r}'\n"
            f"Input: \n{body!r}\n"
        ) from None


def parse_json(
    body: bytes, params_names: frozenset[str], formats: str = REQUIRED_FORMAT
) -> Document:
    """The body's data and params. ``params_names``: the model's params (an unwrapped LLM
    request's fields of those names are its params); ``formats``: MLflow's sentence
    naming the data keys, for the refusals."""
    document = _loads(body)
    if isinstance(document, list):
        raise invalid_input(f"{formats}. Received a list.")
    if not isinstance(document, dict):
        raise invalid_input(f"{formats}. Received unexpected input type '{type(document)}.")
    if not LLM_KEYS.isdisjoint(document):
        data = {k: v for k, v in document.items() if k not in params_names}
        params = {k: v for k, v in document.items() if k in params_names}
        return Document(data, params, unwrapped=True)
    data = {k: v for k, v in document.items() if k in FORMATS}
    return Document(data, document.get("params"))

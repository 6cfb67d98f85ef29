"""The floor for this stack: a minimal Flask app on uWSGI with orjson, no servekit.

It parses the same body, calls the same function with ``data`` as keyword arguments and
returns ``{"result": ...}``: no validation, envelope, metrics, auth or logging.
``BENCH_TARGET`` (``path/to/file.py:NAME``) names the function.
"""

from __future__ import annotations

import importlib.util
import os

import orjson
from flask import Flask, Response, request


def _load(target: str):  # type: ignore[no-untyped-def]
    path, _, name = target.rpartition(":")
    spec = importlib.util.spec_from_file_location("bench_model", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


predict = _load(os.environ["BENCH_TARGET"])
app = Flask(__name__)


@app.post("/model")
def model() -> Response:
    document = orjson.loads(request.get_data())
    result = predict(**document["data"])
    return Response(
        orjson.dumps({"result": result}, option=orjson.OPT_SERIALIZE_NUMPY),
        mimetype="application/json",
    )


@app.get("/healthz")
def healthz() -> Response:
    return Response(b'{"status":"alive"}', mimetype="application/json")

"""The ``http(s)://`` capture sink: CloudEvents over HTTP, as KServe's request logger
sends them, so receivers written for KServe (its message dumper, drift detectors fed by
the logger) read servekit's records as they are; ground truth goes as events of
servekit's own type.

Each record becomes two events in binary content mode, one HTTP POST each, with the
same ``ce-id`` (the event id): ``org.kubeflow.serving.inference.request`` carrying the
inputs and ``org.kubeflow.serving.inference.response`` carrying the result, with KServe's
extension attributes (``ce-inferenceservicename``: the model, ``ce-endpoint``: its
version, ``ce-component``: ``predictor``) and servekit's (``ce-protocol``,
``ce-statuscode``, ``ce-modelms``). A ground-truth label is one event
``org.servekit.inference.groundtruth`` with data ``{"label": ...}``. A batch is sent over
one persistent connection; any answer but 2xx fails the batch (counted, never retried:
capture must not fall behind).
"""

from __future__ import annotations

import base64
import http.client
import ssl
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

__all__ = ["EVENT_TYPES", "GROUND_TRUTH", "HttpSink", "events_of", "label_event"]

EVENT_TYPES = ("org.kubeflow.serving.inference.request", "org.kubeflow.serving.inference.response")
GROUND_TRUTH = "org.servekit.inference.groundtruth"
"""The type of a ground-truth label's event (data ``{"label": ...}``)."""
_TIMEOUT = 5.0
"""Seconds to connect, and to send or read one event's exchange."""


def label_event(label: dict[str, Any], source: str) -> list[tuple[dict[str, str], bytes]]:
    """The event of one ground-truth line (``{"time", "event_id", "label"}``). I/O-free."""
    headers = {
        "ce-specversion": "1.0",
        "ce-id": str(label["event_id"]),
        "ce-source": source,
        "ce-time": label["time"],
        "ce-type": GROUND_TRUTH,
        "content-type": "application/json",
    }
    return [(headers, orjson.dumps({"label": label["label"]}))]


def events_of(record: dict[str, Any], source: str) -> list[tuple[dict[str, str], bytes]]:
    """The two events (headers, body) of one record. I/O-free."""
    common = {
        "ce-specversion": "1.0",
        "ce-id": str(record["event_id"]),
        "ce-source": source,
        "ce-time": record["time"],
        "ce-inferenceservicename": str(record["model"]),
        "ce-endpoint": str(record["version"]),
        "ce-component": "predictor",
        "ce-protocol": str(record["protocol"]),
        "content-type": "application/json",
    }
    if record.get("status") is not None:
        common["ce-statuscode"] = str(record["status"])
    if record.get("model_ms") is not None:
        common["ce-modelms"] = str(record["model_ms"])
    response = record["result"] if "error" not in record else {"error": record["error"]}
    return [
        ({**common, "ce-type": EVENT_TYPES[0]}, orjson.dumps(record["inputs"])),
        ({**common, "ce-type": EVENT_TYPES[1]}, orjson.dumps(response)),
    ]


class HttpSink:
    """POSTs each record's events to ``url``."""

    def __init__(self, url: str, labels: bool = False) -> None:
        parts = urlsplit(url)
        self.events = label_event if labels else events_of
        self.https = parts.scheme.lower() == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.https else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.source = f"servekit://{self.host}"
        self.auth = ""
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self.auth = "Basic " + base64.b64encode(pair).decode()
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            if self.https:
                context = ssl.create_default_context()
                self._connection = http.client.HTTPSConnection(
                    self.host, self.port, timeout=_TIMEOUT, context=context
                )
            else:
                self._connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=_TIMEOUT
                )
        return self._connection

    def write(self, lines: list[bytes]) -> None:
        """Send every line's two events; raise on the first failure."""
        try:
            for line in lines:
                for headers, body in self.events(orjson.loads(line), self.source):
                    self._post(headers, body)
        except BaseException:
            self.close()  # a broken connection is not reused
            raise

    def _post(self, headers: dict[str, str], body: bytes) -> None:
        connection = self._connect()
        if self.auth:
            headers = {**headers, "authorization": self.auth}
        connection.request("POST", self.path, body, headers)
        answer = connection.getresponse()
        answer.read()
        if not 200 <= answer.status < 300:
            raise OSError(f"the capture sink answered {answer.status} {answer.reason}")

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

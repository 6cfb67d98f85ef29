"""One queued SeldonMessage in, its reply out, as Domino's Seldon executor answers them on
RabbitMQ. I/O-free: the consumer (:mod:`servekit.serving.amqp`) moves the bytes.

Every message gets exactly one reply, and the reply always carries a ``meta.puid`` to
match it with its request: the request's own ``meta.puid``, else the ``Seldon-Puid``
header the consumer passes in, else a new UUID. The reply is the prediction's
SeldonMessage, or one of Seldon's two FAILURE messages::

    {"status": {"code": 0, "info": "Prediction Failed", "reason": <error>,
                "status": "FAILURE"}, "meta": {"puid": ...}}
    {"status": {"code": -1, "info": "Payload size is greater than allowed size",
                "reason": "payload is large", "status": "FAILURE"}, "meta": {"puid": ...}}

the first for a message that is not JSON, not a SeldonMessage, or whose prediction failed
(any :class:`~servekit.errors.ServekitError`), the second for a reply larger than the
limit. Nothing here raises for a bad message: a poison message must not stop a consumer.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from servekit import errors
from servekit.core.paths import describe
from servekit.protocols.seldon.codec import SeldonCodec

__all__ = ["PUID_HEADER", "Executor", "Reply"]

log = logging.getLogger("servekit.amqp")

PUID_HEADER = "Seldon-Puid"
"""The message header Seldon's executor carries the puid in (requests and replies)."""


@dataclass(frozen=True)
class Reply:
    """What to publish for one request: the body, its puid, and whether it is a FAILURE."""

    body: bytes
    puid: str
    failed: bool = False


def _new_puid() -> str:
    return str(uuid.uuid4())


class Executor:
    """Answers request bodies with ``seldon``'s model; replies over ``max_result_bytes``
    (as JSON) are replaced by the payload-size FAILURE."""

    def __init__(
        self,
        seldon: SeldonCodec,
        max_result_bytes: int,
        new_puid: Callable[[], str] = _new_puid,
    ) -> None:
        self.seldon = seldon
        self.max_result_bytes = max_result_bytes
        self._new_puid = new_puid

    def answer(self, body: bytes, header_puid: str | None = None) -> Reply:
        """The reply to one message body (``header_puid``: its ``Seldon-Puid`` header)."""
        document: Any = None
        puid = header_puid or ""
        try:
            try:
                document = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise errors.BadJson(f"the SeldonMessage is not valid JSON: {exc}") from None
            puid = _puid_of(document) or puid or self._new_puid()
            return self._predict(document, puid)
        except errors.ServekitError as exc:
            return _failure(0, "Prediction Failed", exc.message, puid or self._new_puid())
        except Exception as exc:  # a bug, not the message's fault: log it, answer anyway
            puid = puid or self._new_puid()
            log.exception("the message could not be answered", extra={"request_id": puid})
            reason = f"internal error: {type(exc).__name__}"
            return _failure(0, "Prediction Failed", reason, puid)

    def failure(self, body: bytes, header_puid: str | None, error: errors.ServekitError) -> Reply:
        """The FAILURE reply for ``body`` when ``error`` stopped its prediction (a timeout)."""
        try:
            puid = _puid_of(orjson.loads(body))
        except (orjson.JSONDecodeError, errors.ServekitError):
            puid = ""
        return _failure(
            0, "Prediction Failed", error.message, puid or header_puid or self._new_puid()
        )

    def _predict(self, document: Any, puid: str) -> Reply:
        found = self.seldon.predict(document, puid)
        meta = found.body.get("meta")
        message = {**found.body, "meta": {**(meta if type(meta) is dict else {}), "puid": puid}}
        encoded = self.seldon.plane.encode_result(message, puid)
        if len(encoded) > self.max_result_bytes:
            log.warning(
                "reply of %d bytes is over the limit of %d",
                len(encoded),
                self.max_result_bytes,
                extra={"request_id": puid},
            )
            return _failure(
                -1, "Payload size is greater than allowed size", "payload is large", puid
            )
        return Reply(encoded, puid)


def _puid_of(document: Any) -> str:
    """The request's ``meta.puid`` ('' when it has none); BadRequest when it is no string."""
    meta = document.get("meta") if type(document) is dict else None
    puid = meta.get("puid") if type(meta) is dict else None
    if puid is None:
        return ""
    if type(puid) is not str:
        raise errors.BadRequest(f'"meta.puid" must be a string, got {describe(puid)}')
    return puid


def _failure(code: int, info: str, reason: str, puid: str) -> Reply:
    status = {"code": code, "info": info, "reason": reason, "status": "FAILURE"}
    return Reply(orjson.dumps({"status": status, "meta": {"puid": puid}}), puid, failed=True)

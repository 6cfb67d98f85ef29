"""Seldon Core v1 interop, I/O-free: the SeldonMessage wire format, Seldon-style user
classes, and the codec that serves either kind of model to a Seldon client over the
one data plane.

Nothing here imports Flask, uWSGI, prometheus_client or sockets: the HTTP routes
(:mod:`servekit.http.seldon_routes`), the AMQP consumer and the component for Seldon's
own wrapper (:mod:`servekit.seldon.component`) are thin doors over
:class:`~servekit.protocols.seldon.codec.SeldonCodec`.
"""

from servekit.protocols.seldon.codec import SeldonCodec
from servekit.protocols.seldon.message import SeldonInput, decode, seldon_error

__all__ = ["SeldonCodec", "SeldonInput", "decode", "seldon_error"]

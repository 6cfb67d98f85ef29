"""Seldon Core v1 interop, I/O-free: the SeldonMessage wire format, Seldon-style user
classes, and the plane that serves either kind of model to a Seldon client.

Nothing here imports Flask, uWSGI, prometheus_client or sockets: the HTTP routes
(:mod:`servekit.http.seldon_routes`), the AMQP consumer and the component for Seldon's
own wrapper (:mod:`servekit.seldon.component`) are thin doors over
:class:`~servekit.seldon.plane.SeldonPlane`.
"""

from servekit.seldon.message import SeldonInput, decode, seldon_error
from servekit.seldon.plane import SeldonPlane

__all__ = ["SeldonInput", "SeldonPlane", "decode", "seldon_error"]

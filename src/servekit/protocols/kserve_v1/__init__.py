"""KServe's V1 protocol (TensorFlow Serving's REST API, as KServe serves it): a codec
over the one data plane. I/O-free.

:mod:`.request` (the ``instances`` document), :mod:`.batch` (instances as one batch of
a tensor model's inputs), :mod:`.codec` (:class:`KServeV1Codec`: instances to calls,
results to ``predictions``; the error shape) and :mod:`.schemas` (its messages as JSON
Schema). The routes are :mod:`servekit.http.v1_routes`.
"""

from servekit.protocols.kserve_v1.codec import KServeV1Codec, encode_error

__all__ = ["KServeV1Codec", "encode_error"]

"""The Open Inference Protocol (KServe/Triton "V2") over REST: a codec over the one data
plane, with the binary tensor data extension. I/O-free.

:mod:`.datatypes` (tensors as JSON), :mod:`.binary` (tensors as raw bytes),
:mod:`.request` (an inference request decoded), :mod:`.inputs` (tensors -> a model's
arguments, from its signature), :mod:`.outputs` (a result -> tensors) and :mod:`.codec`
(:class:`V2Codec`, the error shape). The routes are :mod:`servekit.http.v2_routes`.
"""

from servekit.protocols.v2.codec import V2Answer, V2Codec, encode_error, server_metadata

__all__ = ["V2Answer", "V2Codec", "encode_error", "server_metadata"]
